/**
 * The seed's document persistence pipeline (validate → enrich → persist → notify) on
 * `@chronicle/pipeline`, in front of the command bus: the content hash it computes is recorded in
 * the saved event's metadata.
 *
 * @since 0.0.0
 */
import type { CommandHandler } from "@chronicle/cqrs"
import { CommandBus } from "@chronicle/cqrs"
import { Enrichment, Notification, Pipeline, Step, Validation } from "@chronicle/pipeline"
import { Context, Effect, Option } from "effect"
import * as Document from "./Document.js"

/**
 * A save as it leaves the pipeline: the command's result and the content hash.
 *
 * @since 0.0.0
 * @category models
 */
export interface Saved {
  readonly result: CommandHandler.CommandResult
  readonly contentHash: string
}

/**
 * The failures a save can have, from whichever step failed.
 *
 * @since 0.0.0
 * @category errors
 */
export type SaveFailure =
  | Effect.Effect.Error<ReturnType<typeof send>>
  | Validation.ValidationFailed
  | Enrichment.EnrichmentError

/**
 * The command id of the save (an HTTP `Idempotency-Key`), when the caller has one: provide it
 * around `Pipeline.run` so the same save twice writes once.
 *
 * @since 0.0.0
 * @category context
 */
export class CommandId extends Context.Tag("@chronicle/documents/SavePipeline/CommandId")<CommandId, string>() {}

const send = (bus: CommandBus.Service, enriched: Enrichment.Enriched<Document.SaveDocumentContent>) =>
  Effect.flatMap(Effect.serviceOption(CommandId), (commandId) =>
    bus.dispatch(
      new Document.SaveDocumentContent({
        ...enriched.data,
        metadata: { ...enriched.data.metadata, contentHash: enriched.hash }
      }),
      {
        metadata: { source: "http", pipeline: "save-document" },
        ...(Option.isSome(commandId) ? { messageId: commandId.value } : {})
      }
    ))

/**
 * Builds the pipeline on the `CommandBus` in context. Validation refuses fields the command does
 * not know; enrichment adds the time, the stream's next version and a SHA-256 of the blocks; the
 * persist step sends `SaveDocumentContent` (with the hash in its metadata); notification logs the
 * save and never fails the pipeline.
 *
 * @since 0.0.0
 * @category constructors
 */
export const make = Effect.map(CommandBus.CommandBus, (bus) =>
  Pipeline.make(
    Validation.schema(Document.SaveDocumentContent, { onExcessProperty: "error" }),
    Enrichment.make({
      streamId: (command: Document.SaveDocumentContent) => Document.streamId(command.documentId),
      hashOf: (command) => command.blocks
    }),
    Step.make(
      "persist",
      (enriched: Enrichment.Enriched<Document.SaveDocumentContent>) =>
        Effect.map(send(bus, enriched), (result): Saved => ({ result, contentHash: enriched.hash })),
      { metadata: (saved) => ({ version: saved.result.version, globalPosition: saved.result.globalPosition }) }
    ),
    Notification.make((saved: Saved) =>
      Effect.logDebug(`saved ${saved.result.streamId} at version ${saved.result.version} (${saved.contentHash})`)
    )
  ))
