// PostgreSQL: a transaction that appended and stays open must not let a subscription skip its
// event when a later append commits; appends wait for it, and say that they waited.
import { EventStore, ExpectedVersion, SqlEventStore } from "@chronicle/eventstore"
import { PgEventStore } from "@chronicle/eventstore/pg"
import { SqlClient } from "@effect/sql"
import { assert, describe, layer } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Metric, Stream } from "effect"
import { inject } from "vitest"

const pgUrl = inject("pgUrl")

describe.skipIf(pgUrl === null)("PostgreSQL commit order", () => {
  layer(PgEventStore.layer({ url: pgUrl ?? "", pollInterval: "50 millis", slowAppend: "200 millis" }), {
    excludeTestServices: true
  })((it) => {
    it.effect("a later append waits for an open one, and a subscription delivers both in order", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const sql = yield* SqlClient.SqlClient
        const cat = `ord${crypto.randomUUID().replaceAll("-", "")}`
        const start = yield* store.head
        const slowBefore = (yield* Metric.value(SqlEventStore.metrics.slowAppends)).count

        const appended = yield* Deferred.make<EventStore.AppendResult>()
        const release = yield* Deferred.make<void>()
        const first = yield* sql.withTransaction(Effect.gen(function*() {
          const result = yield* store.append(`${cat}-first`, [{ eventId: crypto.randomUUID(), type: "First", data: {} }], ExpectedVersion.Any)
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
        const second = yield* store.append(`${cat}-second`, [{ eventId: crypto.randomUUID(), type: "Second", data: {} }], ExpectedVersion.Any).pipe(Effect.fork)

        yield* Effect.sleep("400 millis")
        // the open transaction holds the later append back, so nothing has been delivered yet
        assert.isNull(yield* Fiber.poll(second).pipe(Effect.map((o) => o._tag === "None" ? null : o)))
        assert.isNull(yield* Fiber.poll(seen).pipe(Effect.map((o) => o._tag === "None" ? null : o)))

        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(first)
        const secondResult = yield* Fiber.join(second)
        const delivered = Chunk.toReadonlyArray(yield* Fiber.join(seen).pipe(Effect.timeout("10 seconds")))
        assert.deepStrictEqual(delivered.map((e) => e.type), ["First", "Second"])
        assert.deepStrictEqual(delivered.map((e) => e.globalPosition), [firstResult.positions[0], secondResult.positions[0]])
        assert.isAbove(secondResult.positions[0], firstResult.positions[0])
        // the waiting append said so: a metric (and a warning in the log)
        assert.isAbove((yield* Metric.value(SqlEventStore.metrics.slowAppends)).count, slowBefore)
      }))
  })
})
