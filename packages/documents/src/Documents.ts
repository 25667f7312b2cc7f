/**
 * The document repository as a service, and the command bus handlers of every document command.
 *
 * @since 0.0.0
 */
import { CommandBus, CommandHandler, Repository } from "@chronicle/cqrs"
import type { EventStore } from "@chronicle/eventstore"
import { Context, Effect, Layer } from "effect"
import * as Document from "./Document.js"

const makeRepository = Repository.make({
  aggregate: Document.Document,
  // a deleted document loads as `AggregateNotFound { deleted: true }`: every change is refused
  deletion: {
    event: (state, id) =>
      Document.DocumentDeleted.make({
        documentId: Document.DocumentId.make(id),
        at: state.lastModified ?? new Date(0)
      }),
    isDeleted: (state) => state.status === "deleted"
  }
})

/**
 * The event-sourced repository of documents.
 *
 * @since 0.0.0
 * @category services
 */
export class Documents extends Context.Tag("@chronicle/documents/Documents")<
  Documents,
  Effect.Effect.Success<typeof makeRepository>
>() {}

/**
 * The repository on the `EventStore` in context.
 *
 * @since 0.0.0
 * @category layers
 */
export const layer: Layer.Layer<Documents, never, EventStore.EventStore> = Layer.effect(Documents, makeRepository)

/**
 * Registers the handler of every document command on the `CommandBus` in context: load → decide →
 * append (retried on conflicts), idempotent by command id.
 *
 * @since 0.0.0
 * @category layers
 */
export const layerHandlers = Layer.mergeAll(
  CommandBus.handler(
    Document.CreateDocument,
    Effect.map(
      Documents,
      (documents) =>
        CommandHandler.fromAggregate(documents, { id: (c: Document.CreateDocument) => c.documentId, mode: "create" })
    )
  ),
  CommandBus.handler(
    Document.SaveDocumentContent,
    Effect.map(
      Documents,
      (documents) =>
        CommandHandler.fromAggregate(documents, {
          id: (c: Document.SaveDocumentContent) => c.documentId,
          mode: "update"
        })
    )
  ),
  CommandBus.handler(
    Document.RenameDocument,
    Effect.map(
      Documents,
      (documents) =>
        CommandHandler.fromAggregate(documents, { id: (c: Document.RenameDocument) => c.documentId, mode: "update" })
    )
  ),
  CommandBus.handler(
    Document.AddCollaborator,
    Effect.map(
      Documents,
      (documents) =>
        CommandHandler.fromAggregate(documents, { id: (c: Document.AddCollaborator) => c.documentId, mode: "update" })
    )
  ),
  CommandBus.handler(
    Document.RemoveCollaborator,
    Effect.map(
      Documents,
      (documents) =>
        CommandHandler.fromAggregate(documents, {
          id: (c: Document.RemoveCollaborator) => c.documentId,
          mode: "update"
        })
    )
  ),
  CommandBus.handler(
    Document.DeleteDocument,
    Effect.map(
      Documents,
      (documents) =>
        CommandHandler.fromAggregate(documents, { id: (c: Document.DeleteDocument) => c.documentId, mode: "update" })
    )
  )
)
