// The serializer's list of stored types, read off the schema, and its typed decode failures.
import { Serializer } from "@chronicle/eventstore"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"

const recorded = (type: string, data: unknown, schemaVersion = 1) => ({
  eventId: "e-1",
  streamId: "S-1",
  streamVersion: 1,
  globalPosition: 1,
  type,
  schemaVersion,
  timestamp: new Date(0),
  correlationId: null,
  causationId: null,
  metadata: {},
  data
})

class Renamed extends Schema.TaggedClass<Renamed>()("Renamed", { title: Schema.String }) {}

describe("Serializer.types", () => {
  it("lists the tags of a union of tagged structs and classes", () => {
    const serializer = Serializer.make(
      Schema.Union(Schema.TaggedStruct("Created", { n: Schema.Number }), Renamed)
    )
    assert.deepStrictEqual([...serializer.types ?? []].sort(), ["Created", "Renamed"])
  })

  it("lists every literal of a tag that admits several", () => {
    const serializer = Serializer.make(Schema.Struct({ _tag: Schema.Literal("A", "B"), n: Schema.Number }))
    assert.deepStrictEqual([...serializer.types ?? []].sort(), ["A", "B"])
  })

  it("is undefined when a tag is not a literal", () => {
    const serializer = Serializer.make(Schema.Struct({ _tag: Schema.String }))
    assert.strictEqual(serializer.types, undefined)
  })
})

describe("Serializer.decode", () => {
  const Created = Schema.TaggedStruct("Created", { n: Schema.Number })
  const serializer = Serializer.make(Created, {
    versions: { Created: 2 },
    upcasters: { Created: { 1: (v1) => ({ ...v1, n: Number(v1.count) }) } }
  })

  it.effect("upcasts an older stored shape and decodes it", () =>
    Effect.gen(function*() {
      const envelope = yield* serializer.decode(recorded("Created", { _tag: "Created", count: "3" }, 1))
      assert.deepStrictEqual(envelope.data, { _tag: "Created", n: 3 })
      assert.strictEqual(envelope.globalPosition, 1)
    }))

  it.effect("refuses, typed, data that does not decode, a missing upcaster and a newer version", () =>
    Effect.gen(function*() {
      const bad = yield* Effect.flip(serializer.decode(recorded("Created", { _tag: "Created", n: "x" }, 2)))
      assert.strictEqual(bad._tag, "EventDecodeError")
      assert.include(bad.reason, "Expected number")
      const newer = yield* Effect.flip(serializer.decodeAll([recorded("Created", { _tag: "Created", n: 1 }, 3)]))
      assert.include(newer.reason, "newer than this code knows")
      const unknown = Serializer.make(Created, { versions: { Created: 3 } })
      const missing = yield* Effect.flip(unknown.decode(recorded("Created", { _tag: "Created", n: 1 }, 1)))
      assert.include(missing.reason, "no upcaster for Created from version 1")
    }))

  it.effect("refuses, typed, an event whose upcaster throws or whose upcasters rename in a loop", () =>
    Effect.gen(function*() {
      const throwing = Serializer.make(Created, {
        versions: { Created: 2 },
        upcasters: {
          Created: {
            1: () => {
              throw new Error("no count")
            }
          }
        }
      })
      const threw = yield* Effect.flip(throwing.decode(recorded("Created", { _tag: "Created" }, 1)))
      assert.strictEqual(threw._tag, "EventDecodeError")
      assert.include(threw.reason, "the upcaster of Created from version 1 failed: Error: no count")
      const Renamed = Schema.TaggedStruct("Renamed", { n: Schema.Number })
      const looping = Serializer.make(Schema.Union(Created, Renamed), {
        versions: { Created: 2, Renamed: 2 },
        upcasters: {
          Created: { 1: (v1) => ({ ...v1, _tag: "Renamed" }) },
          Renamed: { 1: (v1) => ({ ...v1, _tag: "Created" }) }
        }
      })
      const loop = yield* Effect.flip(looping.decodeAll([recorded("Created", { _tag: "Created", n: 1 }, 1)]))
      assert.include(loop.reason, "rename in a loop")
    }))
})
