// SQLite appends to one stream, and reads, run on a second connection of the store's own (decision 0007).
// These check that it never gets in the way of the client's own transactions.
import { EventStore, ExpectedVersion } from "@chronicle/eventstore"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, Stream } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const event = (n: number) => ({ eventId: crypto.randomUUID(), type: "Happened", data: { n } })
const fileStore = () =>
  SqliteEventStore.layer({ filename: join(mkdtempSync(join(tmpdir(), "chronicle-direct-")), "events.db") }).pipe(
    Layer.orDie
  )

describe("SQLite appends beside the client's transactions", () => {
  it.live("an append while a transaction reads then writes waits for it, and both land", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const sql = yield* SqlClient.SqlClient
      yield* store.append("Account-a", [event(0)], ExpectedVersion.NoStream)
      const transaction = yield* sql.withTransaction(Effect.gen(function*() {
        // a read first: a commit by another connection now would make the write below fail
        const before = yield* sql<{ n: number }>`SELECT count(*) AS n FROM chronicle_events`
        yield* Effect.sleep("150 millis")
        yield* store.append("Account-a", [event(1)], ExpectedVersion.exact(1))
        return before[0].n
      })).pipe(Effect.fork)
      yield* Effect.sleep("50 millis")
      const outside = yield* store.append("Account-b", [event(2)], ExpectedVersion.NoStream)
      assert.strictEqual(yield* Fiber.join(transaction), 1)
      assert.strictEqual(outside.version, 1)
      const all = yield* store.readAll()
      assert.deepStrictEqual(all.map((e) => [e.streamId, e.streamVersion]), [
        ["Account-a", 1],
        ["Account-a", 2],
        ["Account-b", 1]
      ])
    }).pipe(Effect.provide(fileStore())))

  it.live("a transaction that rolls back keeps out its own append and not one made beside it", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const sql = yield* SqlClient.SqlClient
      const transaction = yield* sql.withTransaction(Effect.gen(function*() {
        yield* store.append("Order-x", [event(1)], ExpectedVersion.NoStream)
        yield* Effect.sleep("100 millis")
        return yield* Effect.fail("abandoned" as const)
      })).pipe(Effect.flip, Effect.fork)
      yield* Effect.sleep("30 millis")
      yield* store.append("Order-y", [event(2)], ExpectedVersion.NoStream)
      assert.strictEqual(yield* Fiber.join(transaction), "abandoned")
      assert.deepStrictEqual((yield* store.readAll()).map((e) => e.streamId), ["Order-y"])
      assert.strictEqual((yield* store.streamInfo("Order-x")).version, 0)
    }).pipe(Effect.provide(fileStore())))

  it.live("reads inside a transaction see its own writes; reads beside it see only what is committed, at once", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const sql = yield* SqlClient.SqlClient
      yield* store.append("Cart-1", [event(0)], ExpectedVersion.NoStream)
      const transaction = yield* sql.withTransaction(Effect.gen(function*() {
        yield* store.append("Cart-1", [event(1)], ExpectedVersion.exact(1))
        const own = [
          (yield* store.readStream("Cart-1")).length,
          (yield* store.readAll({ filter: EventStore.category("Cart") })).length
        ]
        yield* Effect.sleep("400 millis")
        return own
      })).pipe(Effect.fork)
      yield* Effect.sleep("100 millis")
      // the transaction is still open: this read neither waits for it nor sees its write
      const started = Date.now()
      const beside = yield* store.readStream("Cart-1")
      assert.isBelow(Date.now() - started, 150)
      assert.strictEqual(beside.length, 1)
      // nor does a subscription, which reads the head first
      const subscribed = Date.now()
      const first = yield* store.subscribe({ filter: EventStore.category("Cart") }).pipe(Stream.runHead)
      assert.isBelow(Date.now() - subscribed, 150)
      assert.strictEqual(Option.getOrThrow(first).streamVersion, 1)
      assert.strictEqual(yield* store.head, 1)
      assert.deepStrictEqual(yield* Fiber.join(transaction), [2, 2])
      assert.strictEqual((yield* store.readStream("Cart-1")).length, 2)
      assert.strictEqual(yield* store.head, 2)
    }).pipe(Effect.provide(fileStore())))

  it.live("an in-memory database has no second connection and still appends and reads", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append("Memo-1", [event(1), event(2)], ExpectedVersion.NoStream)
      yield* store.append("Memo-1", [event(3)], ExpectedVersion.Any)
      assert.deepStrictEqual((yield* store.readStream("Memo-1")).map((e) => e.data), [{ n: 1 }, { n: 2 }, { n: 3 }])
    }).pipe(Effect.provide(SqliteEventStore.layer({ filename: ":memory:" }).pipe(Layer.orDie))))
})
