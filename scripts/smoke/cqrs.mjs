// Runs in a scratch project where @chronicle/cqrs was installed from its tarball.
import { Projection, Projections, Repository, UnitOfWork } from "@chronicle/cqrs"
import { Aggregate } from "@chronicle/domain"
import { EventStore, Serializer } from "@chronicle/eventstore"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import assert from "node:assert/strict"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const Added = Schema.TaggedStruct("Added", { n: Schema.Number })
const Counter = Aggregate.make({
  name: "Counter",
  events: Added,
  initialState: 0,
  decide: (n) => Effect.succeed([Added.make({ n })]),
  evolve: (s, e) => s + e.n
})

const Totals = Projection.make({
  name: "smoke-totals",
  category: "Counter",
  serializer: Serializer.make(Added),
  setup: Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`CREATE TABLE IF NOT EXISTS smoke_totals (id TEXT PRIMARY KEY, total REAL)`
  ),
  reset: Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DELETE FROM smoke_totals`),
  handlers: {
    Added: (e, envelope) =>
      Effect.flatMap(
        SqlClient.SqlClient,
        (sql) =>
          sql`INSERT INTO smoke_totals (id, total) VALUES (${envelope.streamId}, ${e.n})
        ON CONFLICT (id) DO UPDATE SET total = smoke_totals.total + excluded.total`
      )
  }
})

const program = Effect.gen(function*() {
  const counters = yield* Repository.make({ aggregate: Counter })
  yield* counters.add("a", [Added.make({ n: 2 })])
  const saved = yield* counters.handle("a", 3)
  assert.equal((yield* counters.load("a")).state, 5)
  yield* UnitOfWork.transactional(Effect.gen(function*() {
    const tracked = yield* UnitOfWork.load(counters, "a")
    yield* UnitOfWork.execute(tracked, 10)
  }))
  assert.equal((yield* counters.load("a")).state, 15)
  const projections = yield* Projections.Projections
  yield* projections.waitFor(saved.globalPosition ?? 0, { timeout: "10 seconds" })
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql`SELECT total FROM smoke_totals WHERE id = 'Counter-a'`
  assert.ok(row.total >= 5)
})

const filename = join(mkdtempSync(join(tmpdir(), "smoke-")), "app.db")
const layer = Projections.layerWorker([Totals]).pipe(Layer.provideMerge(SqliteEventStore.layer({ filename })))
await Effect.runPromise(program.pipe(Effect.provide(layer), Effect.scoped))
assert.equal(typeof EventStore.layerMemory, "object")
console.log("@chronicle/cqrs ok")
