import { CommandBus, Middleware, Projections, QueryBus } from "@chronicle/cqrs"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Document from "../src/Document.js"
import * as Documents from "../src/Documents.js"
import * as ReadModel from "../src/ReadModel.js"

// the read models as a worker keeps them (no inline projections), rebuilt in place and with swap
const filename = join(mkdtempSync(join(tmpdir(), "chronicle-documents-rebuild-")), "events.db")
const AppLive = Layer.mergeAll(Documents.layerHandlers, ReadModel.layerQueries).pipe(
  Layer.provideMerge(Layer.mergeAll(
    CommandBus.layer({ middleware: [Middleware.validation] }),
    QueryBus.layer(),
    Documents.layer,
    Projections.layer(ReadModel.projections, { batchSize: 3 }),
    Layer.effectDiscard(ReadModel.setup)
  )),
  Layer.provideMerge(SqliteEventStore.layer({ filename }))
)

const blocks = (content: string) => [{ id: "b1", type: "paragraph" as const, content }]

/** Every row of every read model table, in a stable order. */
const snapshot = Effect.gen(function*() {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  return {
    view: yield* sql`SELECT * FROM documents_view ORDER BY id`,
    search: yield* sql`SELECT * FROM documents_search ORDER BY word, document_id, source`,
    members: yield* sql`SELECT * FROM documents_members ORDER BY document_id, user_id`,
    notifications: yield* sql`SELECT * FROM documents_notifications ORDER BY id`,
    indexes: yield* sql`SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' ORDER BY name`,
    tables: yield* sql`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'documents_%' ORDER BY name`
  }
})

const rebuildAll = (swap: boolean) =>
  Effect.flatMap(Projections.Projections, (projections) =>
    Effect.forEach(
      ReadModel.projections,
      (projection) => Stream.runDrain(projections.rebuild(projection.name, { swap })),
      { discard: true }
    ))

describe("document read models", () => {
  it.layer(AppLive, { timeout: 30_000 })((it) => {
    it.effect("rebuilt with swap, equal the models rebuilt in place", () =>
      Effect.gen(function*() {
        const send = (command: Document.DocumentCommand) => CommandBus.dispatch(command)
        for (const n of [1, 2, 3]) {
          const documentId = Document.DocumentId.make(`rb-${n}`)
          yield* send(
            new Document.CreateDocument({
              documentId,
              title: `Plan ${n}`,
              authorId: Document.UserId.make("ada"),
              blocks: blocks(`Budget ${n}`),
              metadata: {}
            })
          )
          yield* send(new Document.AddCollaborator({ documentId, userId: Document.UserId.make("bob") }))
          yield* send(new Document.SaveDocumentContent({ documentId, blocks: blocks("Roadmap"), metadata: {} }))
          yield* send(new Document.RenameDocument({ documentId, title: `Annual plan ${n}` }))
          if (n === 2) yield* send(new Document.RemoveCollaborator({ documentId, userId: Document.UserId.make("bob") }))
          if (n === 3) yield* send(new Document.DeleteDocument({ documentId }))
        }
        yield* rebuildAll(false)
        const inPlace = yield* snapshot
        assert.strictEqual(inPlace.view.length, 3)
        assert.isAbove(inPlace.search.length, 0)
        assert.isAbove(inPlace.notifications.length, 0)

        // models gone wrong, then rebuilt beside the live ones and swapped in
        const sql = yield* SqlClient.SqlClient
        yield* sql`DELETE FROM documents_view WHERE id = 'rb-1'`
        yield* sql`DELETE FROM documents_search`
        yield* sql`DELETE FROM documents_notifications WHERE user_id = 'bob'`
        yield* rebuildAll(true)
        assert.deepStrictEqual(yield* snapshot, inPlace)
        const page = yield* QueryBus.dispatch(new ReadModel.SearchDocuments({ query: "roadmap", limit: 10, offset: 0 }))
        assert.deepStrictEqual(page.items.map((d) => d.id), ["rb-1", "rb-2"])

        // and again: the swapped tables carry the live index names, so nothing clashes
        yield* rebuildAll(true)
        assert.deepStrictEqual(yield* snapshot, inPlace)
      }))
  })
})
