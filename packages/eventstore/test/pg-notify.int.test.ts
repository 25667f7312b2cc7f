// PostgreSQL: an append in one process wakes subscribers in another through LISTEN/NOTIFY, long
// before their poll would have found it; and a store closed at any moment leaves no connection open.
import { EventStore, ExpectedVersion } from "@chronicle/eventstore"
import { PgEventStore } from "@chronicle/eventstore/pg"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { inject } from "vitest"

const pgUrl = inject("pgUrl")

// each store has its own pool and its own listening connection, as two processes would
const store = () => PgEventStore.layer({ url: pgUrl ?? "", pollInterval: "1 minute" }).pipe(Layer.orDie)

describe.skipIf(pgUrl === null)("PostgreSQL notifications", () => {
  it.live(
    "an append through one store wakes a subscriber of another within seconds, not its minute's poll",
    () =>
      Effect.gen(function*() {
        const writer = yield* Layer.build(store())
        const reader = yield* Layer.build(store())
        const category = `notify${crypto.randomUUID().replaceAll("-", "")}`
        const readers = EventStore.EventStore.pipe(Effect.provide(reader))
        const start = yield* Effect.flatMap(readers, (es) => es.head)
        const seen = yield* Effect.flatMap(readers, (es) =>
          es.subscribe({ from: start, filter: EventStore.category(category) }).pipe(
            Stream.take(1),
            Stream.runCollect
          )).pipe(Effect.fork)
        // the subscriber has caught up and waits; only a notification can wake it before a minute
        yield* Effect.sleep("300 millis")
        yield* Effect.flatMap(EventStore.EventStore, (es) =>
          es.append(
            `${category}-1`,
            [{ eventId: crypto.randomUUID(), type: "Noted", data: {} }],
            ExpectedVersion.NoStream
          )).pipe(
            Effect.provide(writer)
          )
        // bounded well under the poll, with room for a loaded machine
        const delivered = yield* Fiber.join(seen).pipe(Effect.timeout("10 seconds"))
        assert.deepStrictEqual(
          Chunk.toReadonlyArray(delivered).map((e) =>
            e.type
          ),
          ["Noted"]
        )
      }).pipe(Effect.scoped),
    20_000
  )

  // Closed while its LISTEN connection was still opening, the store used to leave that connection
  // open (8 to 11 of these 30 did), and an open connection keeps a process from exiting.
  it.live("a store closed at any moment after it starts leaves no connection open", () =>
    Effect.gen(function*() {
      const sockets = () => process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length
      // the connections of the test before are still closing for a moment
      yield* Effect.sleep("1 second")
      const before = sockets()
      for (let i = 0; i < 30; i++) {
        const scope = yield* Scope.make()
        yield* Layer.buildWithScope(store(), scope)
        yield* Effect.sleep(`${i % 10} millis`)
        yield* Scope.close(scope, Exit.void)
      }
      // closing sockets can take a moment on a loaded machine; a leaked one stays open for good
      let left = sockets() - before
      for (let waited = 0; left > 0 && waited < 5000; waited += 100) {
        yield* Effect.sleep("100 millis")
        left = sockets() - before
      }
      assert.isAtMost(left, 0)
    }), 60_000)
})
