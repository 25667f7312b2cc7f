// A rebuild with swap on a SQLite file: the read model is rebuilt in a shadow table while readers
// keep the old one, then swapped in with its checkpoint in one transaction.
// `npx tsx --conditions=@chronicle/source examples/shadow-rebuild.ts` in packages/cqrs.
import { Projection, Projections } from "@chronicle/cqrs"
import { EventStore, ExpectedVersion, Serializer } from "@chronicle/eventstore"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema, Stream } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const DocumentCreated = Schema.TaggedStruct("DocumentCreated", { documentId: Schema.String, title: Schema.String })
const serializer = Serializer.make(Schema.Union(DocumentCreated))

// the projection declares its table and names it through Projection.table: `titles` for workers,
// `titles__rebuild` while a rebuild with swap replays into the shadow
const titles = Projection.table("titles")
const Titles = Projection.make({
  name: "titles",
  category: "Document",
  serializer,
  tables: ["titles"],
  setup: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t = yield* titles
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t)} (id TEXT PRIMARY KEY, title TEXT NOT NULL)`
    // index names derived from the table's, so the shadow's never clash with the live ones
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`${t}_title`)} ON ${sql(t)} (title)`
  }),
  handlers: {
    DocumentCreated: (e) =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const t = yield* titles
        yield* sql`INSERT INTO ${sql(t)} ${sql.insert({ id: e.documentId, title: e.title })}`
      })
  }
})

const program = Effect.gen(function*() {
  const store = yield* EventStore.EventStore
  const sql = yield* SqlClient.SqlClient
  const projections = yield* Projections.Projections
  for (let n = 1; n <= 5; n++) {
    yield* store.append(
      `Document-${n}`,
      [serializer.encode(DocumentCreated.make({ documentId: String(n), title: `Doc ${n}` }))],
      ExpectedVersion.NoStream
    )
  }
  // a model gone wrong: three rows lost
  yield* Titles.setup
  yield* sql`INSERT INTO titles ${sql.insert([{ id: "1", title: "Doc 1" }, { id: "2", title: "Doc 2" }])}`
  const count = Effect.map(sql<{ n: number }>`SELECT count(*) AS n FROM titles`, (rows) => rows[0].n)
  yield* projections.rebuild("titles", { swap: true }).pipe(
    Stream.runForEach((progress) =>
      Effect.flatMap(count, (n) => Effect.log(`rebuilt ${progress.done}/${progress.total}; readers see ${n} rows`))
    )
  )
  console.log("after the swap:", yield* sql`SELECT id, title FROM titles ORDER BY id`)
  console.log(
    "status:",
    (yield* projections.status).map((s) => ({ name: s.name, checkpoint: s.checkpoint, lag: s.lag }))
  )
})

const filename = join(mkdtempSync(join(tmpdir(), "chronicle-shadow-rebuild-")), "app.db")
const AppLive = Projections.layer([Titles], { batchSize: 2 }).pipe(
  Layer.provideMerge(SqliteEventStore.layer({ filename }))
)

Effect.runPromise(program.pipe(Effect.provide(AppLive))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
