// Real OS processes on one SQLite file: concurrent writers, and writers killed with SIGKILL.
import { EventStore } from "@chronicle/eventstore"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fixture, spawnTs, waitFor } from "./fixtures/processes.js"

const packageDir = dirname(dirname(fixture("x")))
const appender = fixture("appender.ts")

const readBack = (filename: string) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    return yield* store.readAll()
  }).pipe(Effect.provide(SqliteEventStore.layer({ filename })))

/** Every stream's versions are 1..n and every batch is wholly there or wholly absent. */
const checkIntegrity = (events: ReadonlyArray<EventStore.RecordedEvent>) => {
  const byStream = new Map<string, Array<number>>()
  const byBatch = new Map<string, number>()
  for (const e of events) {
    byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), e.streamVersion])
    const batch = String(e.metadata.batch)
    byBatch.set(batch, (byBatch.get(batch) ?? 0) + 1)
  }
  for (const [stream, versions] of byStream) {
    assert.deepStrictEqual(versions, versions.map((_, i) => i + 1), `versions of ${stream}`)
  }
  for (const [batch, size] of byBatch) assert.strictEqual(size, 3, `batch ${batch} is partly there`)
  const ids = events.map((e) => e.eventId)
  assert.strictEqual(new Set(ids).size, ids.length, "an event is duplicated")
  return new Set(byBatch.keys())
}

describe("SQLite shared by several processes", () => {
  it.live(
    "two processes appending to the same streams at once lose nothing and leave no gap",
    () =>
      Effect.gen(function*() {
        const filename = join(mkdtempSync(join(tmpdir(), "chronicle-proc-")), "events.db")
        // create the schema first so the two writers do not both migrate
        yield* readBack(filename)
        const writers = ["a", "b"].map((w) => spawnTs(appender, [filename, w, "150", "3"], packageDir))
        const codes = yield* Effect.promise(() => Promise.all(writers.map((w) => w.exited)))
        assert.deepStrictEqual(codes, [0, 0])
        const events = yield* readBack(filename)
        const batches = checkIntegrity(events)
        assert.strictEqual(events.length, 2 * 150 * 3)
        for (const w of writers) for (const line of w.lines) assert.isTrue(batches.has(JSON.parse(line).batch))
      }),
    120_000
  )

  it.live(
    "a writer killed with SIGKILL at random moments loses no acknowledged append and leaves none half-written",
    () =>
      Effect.gen(function*() {
        const filename = join(mkdtempSync(join(tmpdir(), "chronicle-kill-")), "events.db")
        yield* readBack(filename)
        const acknowledged = new Set<string>()
        const rounds = 8
        for (let round = 0; round < rounds; round++) {
          const child = spawnTs(appender, [filename, `r${round}`, "100000", "4"], packageDir)
          // let it get going, then kill it at a random moment
          yield* Effect.promise(() => waitFor(() => child.lines.length > 0, 30_000))
          yield* Effect.sleep(`${Math.floor(Math.random() * 150)} millis`)
          child.process.kill("SIGKILL")
          yield* Effect.promise(() => child.exited)
          for (const line of child.lines) acknowledged.add(JSON.parse(line).batch)
          const batches = checkIntegrity(yield* readBack(filename))
          for (const batch of acknowledged) assert.isTrue(batches.has(batch), `acknowledged ${batch} is missing`)
        }
        assert.isAbove(acknowledged.size, rounds)
      }),
    240_000
  )
})
