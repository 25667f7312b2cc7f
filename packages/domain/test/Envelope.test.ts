import { Envelope } from "@chronicle/domain"
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { AccountEvent } from "./fixtures.js"

describe("Envelope", () => {
  it("causedBy joins the trigger's conversation and names it as the cause", () => {
    assert.deepStrictEqual(Envelope.causedBy({ eventId: "e2", correlationId: "c1" }), {
      correlationId: "c1",
      causationId: "e2"
    })
  })

  it("causedBy starts a conversation named after a trigger that has none", () => {
    assert.deepStrictEqual(Envelope.causedBy({ eventId: "e1", correlationId: null }), {
      correlationId: "e1",
      causationId: "e1"
    })
  })

  it("causedByMessage keeps a given correlation", () => {
    assert.deepStrictEqual(Envelope.causedByMessage("cmd-1", "conv"), { correlationId: "conv", causationId: "cmd-1" })
    assert.deepStrictEqual(Envelope.causedByMessage("cmd-1"), { correlationId: "cmd-1", causationId: "cmd-1" })
  })

  it("the envelope schema round-trips through JSON", () => {
    const codec = Envelope.schema(AccountEvent)
    const envelope = {
      eventId: "e1",
      streamId: "Account-1",
      streamVersion: 1,
      globalPosition: 7,
      type: "AccountOpened",
      schemaVersion: 1,
      timestamp: new Date("2026-01-02T03:04:05.000Z"),
      correlationId: "c",
      causationId: null,
      metadata: { tenant: "t1" },
      data: { _tag: "AccountOpened" as const, owner: "ada" }
    }
    const json = JSON.parse(JSON.stringify(Schema.encodeSync(codec)(envelope)))
    assert.strictEqual(json.timestamp, "2026-01-02T03:04:05.000Z")
    assert.deepStrictEqual(Schema.decodeUnknownSync(codec)(json), envelope)
  })

  it("the envelope schema rejects a bad version", () => {
    const codec = Envelope.schema(AccountEvent)
    assert.throws(() => Schema.decodeUnknownSync(codec)({ streamVersion: 1.5 }))
  })
})
