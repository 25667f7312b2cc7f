// A rebuild asked of a worker's own service (an admin endpoint in the worker process, say) takes
// the projection over from that worker like from any other: the two never write at once.
import { Projections } from "@chronicle/cqrs"
import type { EventStore } from "@chronicle/eventstore"
import { PgEventStore } from "@chronicle/eventstore/pg"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import type { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inject } from "vitest"
import { addEvents, fresh, readModel, replay, totalsProjection } from "./projectionFixtures.js"

const pgUrl = inject("pgUrl")
const fast = { leaseTtl: "600 millis", acquireInterval: "100 millis", batchSize: 20 } as const

const cases = (store: () => Layer.Layer<EventStore.EventStore | SqlClient.SqlClient, unknown>) =>
  it.live(
    "a rebuild through the worker's own service hands the projection over and applies each event once",
    () =>
      Effect.gen(function*() {
        const cat = fresh("c")
        const table = fresh("t")
        // slow handlers, so the worker would still be applying events while the rebuild runs
        const projection = totalsProjection(table, { category: cat, onApply: () => Effect.sleep("2 millis") })
        const scope = yield* Scope.make()
        const worker = yield* Layer.buildWithScope(Projections.layerWorker([projection], fast), scope)
        const onWorker = <A, E>(effect: Effect.Effect<A, E, Projections.Projections>) =>
          Effect.provide(effect, Layer.succeedContext(worker))
        const first = yield* addEvents(cat, 4, 50)
        yield* onWorker(Effect.flatMap(Projections.Projections, (p) => p.waitFor(first, { timeout: "20 seconds" })))
        const rebuild = yield* onWorker(
          Effect.flatMap(Projections.Projections, (p) => Stream.runDrain(p.rebuild(projection.name)))
        ).pipe(Effect.fork)
        yield* Effect.sleep("100 millis")
        const more = yield* addEvents(cat, 4, 3, 1000)
        assert.isTrue(Exit.isSuccess(yield* Fiber.await(rebuild)))
        yield* onWorker(Effect.flatMap(Projections.Projections, (p) => p.waitFor(more, { timeout: "20 seconds" })))
        assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
        yield* Scope.close(scope, Exit.void)
      }).pipe(Effect.provide(store())),
    60_000
  )

describe("SQLite", () => {
  cases(() =>
    SqliteEventStore.layer({
      filename: join(mkdtempSync(join(tmpdir(), "chronicle-handover-")), "db.sqlite"),
      pollInterval: "20 millis"
    })
  )
})

describe.skipIf(pgUrl === null)("PostgreSQL", () => {
  cases(() => PgEventStore.layer({ url: pgUrl ?? "", pollInterval: "50 millis" }))
})
