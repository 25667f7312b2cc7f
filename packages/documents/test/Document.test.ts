import { Scenario } from "@chronicle/domain/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Document from "../src/Document.js"

const id = Document.DocumentId.make("doc-1")
const ada = Document.UserId.make("ada")
const bob = Document.UserId.make("bob")
const at = new Date(0)
const blocks = [{ id: "b1", type: "paragraph" as const, content: "Hello world" }]

const created = Document.DocumentCreated.make({
  documentId: id,
  title: "Notes",
  authorId: ada,
  blocks,
  metadata: {},
  at
})
const deleted = Document.DocumentDeleted.make({ documentId: id, at })
const isInvariant = (invariant: string) => (error: { readonly _tag: string }) =>
  error._tag === "InvariantViolated" && "invariant" in error && error.invariant === invariant

describe("Document", () => {
  it.effect("creates a document", () =>
    Scenario.given(Document.Document)
      .when(new Document.CreateDocument({ documentId: id, title: "Notes", authorId: ada, blocks, metadata: {} }))
      .then(created))

  it.effect("refuses a document without blocks", () =>
    Scenario.given(Document.Document)
      .when(new Document.CreateDocument({ documentId: id, title: "Notes", authorId: ada, blocks: [], metadata: {} }))
      .thenFails(isInvariant("at least one block")))

  it.effect("refuses an empty block", () =>
    Scenario.given(Document.Document, [created])
      .when(
        new Document.SaveDocumentContent({
          documentId: id,
          blocks: [...blocks, { id: "b2", type: "paragraph", content: "   " }],
          metadata: {}
        })
      )
      .thenFails(isInvariant("no empty block")))

  it.effect("refuses two blocks with one id", () =>
    Scenario.given(Document.Document, [created])
      .when(new Document.SaveDocumentContent({ documentId: id, blocks: [...blocks, ...blocks], metadata: {} }))
      .thenFails(isInvariant("unique block ids")))

  it.effect("creates once", () =>
    Scenario.given(Document.Document, [created])
      .when(new Document.CreateDocument({ documentId: id, title: "Again", authorId: ada, blocks, metadata: {} }))
      .thenFails(isInvariant("created once")))

  it.effect("saves content", () =>
    Scenario.given(Document.Document, [created])
      .when(new Document.SaveDocumentContent({ documentId: id, blocks, metadata: { source: "test" } }))
      .then(Document.DocumentContentSaved.make({ documentId: id, blocks, metadata: { source: "test" }, at })))

  it.effect("a rename records the old and the new title", () =>
    Scenario.given(Document.Document, [created])
      .when(new Document.RenameDocument({ documentId: id, title: "Plans" }))
      .then(Document.DocumentRenamed.make({ documentId: id, oldTitle: "Notes", newTitle: "Plans", at })))

  it.effect("a stale expected version is a conflict with expected and actual", () =>
    Scenario.given(Document.Document, [created])
      .when(new Document.RenameDocument({ documentId: id, title: "Plans", expectedVersion: 0 }))
      .thenFails(new Document.VersionConflict({ documentId: id, expected: 0, actual: 1 })))

  it.effect("the current expected version passes", () =>
    Scenario.given(Document.Document, [created])
      .when(new Document.RenameDocument({ documentId: id, title: "Plans", expectedVersion: 1 }))
      .thenState((state) => state.title === "Plans" && state.version === 2))

  it.effect("adds and removes collaborators", () =>
    Effect.gen(function*() {
      const added = Document.CollaboratorAdded.make({ documentId: id, userId: bob, at })
      yield* Scenario.given(Document.Document, [created])
        .when(new Document.AddCollaborator({ documentId: id, userId: bob }))
        .then(added)
      yield* Scenario.given(Document.Document, [created, added])
        .when(new Document.AddCollaborator({ documentId: id, userId: bob }))
        .thenFails(isInvariant("collaborator added once"))
      yield* Scenario.given(Document.Document, [created])
        .when(new Document.AddCollaborator({ documentId: id, userId: ada }))
        .thenFails(isInvariant("collaborator is not the author"))
      yield* Scenario.given(Document.Document, [created, added])
        .when(new Document.RemoveCollaborator({ documentId: id, userId: bob }))
        .thenState((state) => state.collaboratorIds.length === 0)
      yield* Scenario.given(Document.Document, [created])
        .when(new Document.RemoveCollaborator({ documentId: id, userId: bob }))
        .thenFails(isInvariant("is a collaborator"))
    }))

  it.effect("nothing changes a deleted document", () =>
    Effect.gen(function*() {
      const history = [created, deleted]
      const commands: ReadonlyArray<Exclude<Document.DocumentCommand, Document.CreateDocument>> = [
        new Document.SaveDocumentContent({ documentId: id, blocks, metadata: {} }),
        new Document.RenameDocument({ documentId: id, title: "Plans" }),
        new Document.AddCollaborator({ documentId: id, userId: bob }),
        new Document.RemoveCollaborator({ documentId: id, userId: bob }),
        new Document.DeleteDocument({ documentId: id })
      ]
      for (const command of commands) {
        yield* Scenario.given(Document.Document, history).when(command).thenFails(isInvariant("not deleted"))
      }
    }))

  it.effect("a change to a document that does not exist is refused", () =>
    Scenario.given(Document.Document)
      .when(new Document.RenameDocument({ documentId: id, title: "Plans" }))
      .thenFails(isInvariant("exists")))

  it("the version counts events and the view shows the state", () => {
    const state = [created, Document.DocumentRenamed.make({ documentId: id, oldTitle: "Notes", newTitle: "Plans", at })]
      .reduce(Document.Document.evolve, Document.initialState)
    const view = Document.toView(state)
    assert.strictEqual(view.version, 2)
    assert.strictEqual(view.title, "Plans")
    assert.deepStrictEqual(view.content.blocks, blocks)
  })

  it("ids are restricted to a safe alphabet", () => {
    for (const bad of ["", "a/b", "../etc", "x".repeat(65), "a b", "é", "<script>"]) {
      assert.isTrue(Schema.decodeUnknownEither(Document.DocumentId)(bad)._tag === "Left", bad)
    }
    assert.isTrue(Schema.decodeUnknownEither(Document.DocumentId)("doc_1-A")._tag === "Right")
  })

  it("events survive encode then decode", () => {
    const encoded = Schema.encodeSync(Document.DocumentEvent)(created)
    const decoded = Schema.decodeUnknownSync(Document.DocumentEvent)(JSON.parse(JSON.stringify(encoded)))
    assert.deepStrictEqual(decoded, created)
  })
})
