// Inline and async projections end to end on a SQLite file:
// `npx tsx --conditions=@chronicle/source examples/read-side.ts` in packages/cqrs.
import { InlineProjections, Projection, Projections } from "@chronicle/cqrs"
import { EventStore, ExpectedVersion, Serializer } from "@chronicle/eventstore"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const DocumentCreated = Schema.TaggedStruct("DocumentCreated", { documentId: Schema.String, title: Schema.String })
const DocumentRenamed = Schema.TaggedStruct("DocumentRenamed", {
  documentId: Schema.String,
  oldTitle: Schema.String,
  newTitle: Schema.String
})
const serializer = Serializer.make(Schema.Union(DocumentCreated, DocumentRenamed))

// Inline: the titles table changes in the same transaction as the append.
const Titles = Projection.make({
  name: "titles",
  category: "Document",
  serializer,
  setup: Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`CREATE TABLE IF NOT EXISTS titles (id TEXT PRIMARY KEY, title TEXT NOT NULL)`
  ),
  reset: Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DELETE FROM titles`),
  handlers: {
    DocumentCreated: (e) =>
      Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql`INSERT INTO titles ${sql.insert({ id: e.documentId, title: e.title })}`
      ),
    DocumentRenamed: (e) =>
      Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql`UPDATE titles SET title = ${e.newTitle} WHERE id = ${e.documentId}`
      )
  }
})

// Async: a rename log kept by a worker from its checkpoint.
const Renames = Projection.make({
  name: "renames",
  category: "Document",
  serializer,
  setup: Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`CREATE TABLE IF NOT EXISTS renames (event_id TEXT PRIMARY KEY, document_id TEXT, change TEXT)`
  ),
  reset: Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DELETE FROM renames`),
  handlers: {
    DocumentRenamed: (e, envelope) =>
      Effect.flatMap(
        SqlClient.SqlClient,
        (sql) =>
          sql`INSERT INTO renames ${
            sql.insert({
              event_id: envelope.eventId,
              document_id: e.documentId,
              change: `${e.oldTitle} -> ${e.newTitle}`
            })
          }`
      )
  }
})

const program = Effect.gen(function*() {
  const store = yield* EventStore.EventStore
  const sql = yield* SqlClient.SqlClient
  const projections = yield* Projections.Projections
  yield* store.append(
    "Document-1",
    [serializer.encode(DocumentCreated.make({ documentId: "1", title: "Draft" }))],
    ExpectedVersion.NoStream
  )
  const renamed = yield* store.append(
    "Document-1",
    [serializer.encode(DocumentRenamed.make({ documentId: "1", oldTitle: "Draft", newTitle: "Plan" }))],
    ExpectedVersion.exact(1)
  )
  console.log("inline, right after the append:", yield* sql`SELECT * FROM titles`)
  // read your writes: wait until the async read model has applied the rename
  yield* projections.waitFor(renamed.positions[0], { projections: ["renames"], timeout: "5 seconds" })
  console.log("async, after waitFor:", yield* sql`SELECT document_id, change FROM renames`)
  console.log("status:", (yield* projections.status).map((s) => ({ name: s.name, state: s.state, lag: s.lag })))
})

const filename = join(mkdtempSync(join(tmpdir(), "chronicle-read-side-")), "app.db")
const StoreLive = SqliteEventStore.layer({ filename })
const AppLive = Layer.mergeAll(
  Projections.layerWorker([Renames]),
  InlineProjections.layer([Titles])
).pipe(Layer.provideMerge(StoreLive))

Effect.runPromise(program.pipe(Effect.provide(AppLive), Effect.scoped)).then(() => process.exit(0))
