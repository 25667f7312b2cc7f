// PostgreSQL: a transaction that appended and stays open must not let a subscription skip its
// event when a later append commits first; readers wait for it, and say that they wait.
import { EventStore, ExpectedVersion, SqlEventStore } from "@chronicle/eventstore"
import { PgEventStore } from "@chronicle/eventstore/pg"
import { SqlClient } from "@effect/sql"
import { assert, describe, layer } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Metric, Stream } from "effect"
import { inject } from "vitest"

const pgUrl = inject("pgUrl")

describe.skipIf(pgUrl === null)("PostgreSQL commit order", () => {
  layer(PgEventStore.layer({ url: pgUrl ?? "", pollInterval: "50 millis", heldBackWarning: "200 millis" }), {
    excludeTestServices: true
  })((it) => {
    it.effect("a later append commits first, and a subscription delivers both in order once the first commits", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const sql = yield* SqlClient.SqlClient
        const cat = `ord${crypto.randomUUID().replaceAll("-", "")}`
        const start = yield* store.head

        const appended = yield* Deferred.make<EventStore.AppendResult>()
        const release = yield* Deferred.make<void>()
        const first = yield* sql.withTransaction(Effect.gen(function*() {
          const result = yield* store.append(`${cat}-first`, [{
            eventId: crypto.randomUUID(),
            type: "First",
            data: {}
          }], ExpectedVersion.Any)
          yield* Deferred.succeed(appended, result)
          yield* Deferred.await(release)
          return result
        })).pipe(Effect.fork)
        const firstResult = yield* Deferred.await(appended)

        const seen = yield* store.subscribe({ from: start, filter: EventStore.category(cat) }).pipe(
          Stream.take(2),
          Stream.runCollect,
          Effect.fork
        )
        const second = yield* store.append(`${cat}-second`, [{
          eventId: crypto.randomUUID(),
          type: "Second",
          data: {}
        }], ExpectedVersion.Any).pipe(Effect.fork)

        // the later append is not blocked: it commits while the first transaction is still open
        const secondResult = yield* Fiber.join(second).pipe(Effect.timeout("5 seconds"))
        assert.isAbove(secondResult.positions[0], firstResult.positions[0])
        yield* Effect.sleep("600 millis")
        // the open transaction holds readers below its position, so nothing has been delivered
        assert.strictEqual((yield* Fiber.poll(seen))._tag, "None")
        // and readers say they are held back
        assert.isAbove((yield* Metric.value(SqlEventStore.metrics.heldBack)).value, 0.2)

        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(first)
        const delivered = Chunk.toReadonlyArray(yield* Fiber.join(seen).pipe(Effect.timeout("10 seconds")))
        assert.deepStrictEqual(delivered.map((e) => e.type), ["First", "Second"])
        assert.deepStrictEqual(delivered.map((e) => e.globalPosition), [
          firstResult.positions[0],
          secondResult.positions[0]
        ])
      }))
  })
})
