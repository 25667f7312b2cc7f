import { CommandBus, InlineProjections, Middleware, QueryBus } from "@chronicle/cqrs"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Document from "../src/Document.js"
import * as Documents from "../src/Documents.js"
import * as ReadModel from "../src/ReadModel.js"

// the read models kept inline (in the append's transaction) on a SQLite file: the SQL of every
// handler and query, without a worker
const filename = join(mkdtempSync(join(tmpdir(), "chronicle-documents-")), "events.db")
const Store = InlineProjections.layer(ReadModel.projections).pipe(
  Layer.provideMerge(SqliteEventStore.layer({ filename }))
)
const AppLive = Layer.mergeAll(Documents.layerHandlers, ReadModel.layerQueries).pipe(
  Layer.provideMerge(Layer.mergeAll(
    CommandBus.layer({ middleware: [Middleware.validation] }),
    QueryBus.layer(),
    Documents.layer,
    Layer.effectDiscard(ReadModel.setup)
  )),
  Layer.provideMerge(Store)
)

const id = Document.DocumentId.make("rm-1")
const blocks = (content: string) => [{ id: "b1", type: "paragraph" as const, content }]

describe("document read models", () => {
  it.layer(AppLive, { timeout: 30_000 })((it) => {
    it.effect("keep the view, the search index and notifications", () =>
      Effect.gen(function*() {
        const send = (command: Document.DocumentCommand) => CommandBus.dispatch(command)
        yield* send(
          new Document.CreateDocument({
            documentId: id,
            title: "Quarterly plan",
            authorId: Document.UserId.make("ada"),
            blocks: blocks("Budget and hiring"),
            metadata: {}
          })
        )
        yield* send(new Document.AddCollaborator({ documentId: id, userId: Document.UserId.make("bob") }))
        yield* send(new Document.SaveDocumentContent({ documentId: id, blocks: blocks("Roadmap only"), metadata: {} }))
        yield* send(new Document.RenameDocument({ documentId: id, title: "Annual plan" }))

        const found = yield* QueryBus.dispatch(new ReadModel.GetDocument({ documentId: id }))
        assert.isTrue(Option.isSome(found))
        if (Option.isSome(found)) {
          assert.strictEqual(found.value.view.title, "Annual plan")
          assert.strictEqual(found.value.view.version, 4)
          assert.deepStrictEqual(found.value.view.collaboratorIds, ["bob"])
          assert.deepStrictEqual(found.value.view.content.blocks, blocks("Roadmap only"))
        }
        const search = (query: string) =>
          Effect.map(QueryBus.dispatch(new ReadModel.SearchDocuments({ query, limit: 10, offset: 0 })), (page) =>
            page.items.map((d) => d.id))
        assert.deepStrictEqual(yield* search("roadmap"), [id])
        assert.deepStrictEqual(yield* search("ANNUAL plan"), [id])
        assert.deepStrictEqual(yield* search("budget"), [])
        assert.deepStrictEqual(yield* search("quarterly"), [])
        const notes = yield* QueryBus.dispatch(new ReadModel.GetNotifications({ userId: "bob", limit: 10 }))
        assert.deepStrictEqual(
          notes.map((n) =>
            n.kind
          ),
          ["renamed", "updated", "added"]
        )

        yield* send(new Document.DeleteDocument({ documentId: id }))
        const deleted = yield* QueryBus.dispatch(new ReadModel.GetDocument({ documentId: id }))
        assert.isTrue(Option.isSome(deleted) && deleted.value.deleted)
        assert.deepStrictEqual(yield* search("roadmap"), [])
        const page = yield* QueryBus.dispatch(new ReadModel.ListDocuments({ limit: 10, offset: 0 }))
        assert.strictEqual(page.total, 0)
      }))
  })

  it("splits text into words", () => {
    assert.deepStrictEqual(ReadModel.words("Hello, hello WORLD! Café-au-lait 42"), [
      "hello",
      "world",
      "café",
      "au",
      "lait",
      "42"
    ])
  })
})
