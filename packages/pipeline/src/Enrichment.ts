/**
 * The enrichment step: adds a timestamp, the stream's next version and a content hash.
 *
 * @since 0.1.0
 */
import { EventStore, EventStoreError } from "@chronicle/eventstore"
import { Clock, Effect } from "effect"
import * as ContentHash from "./ContentHash.js"
import * as Step from "./Step.js"

/**
 * Input data with what enrichment added: when (from the `Clock`), the version the stream will
 * have after this data is appended, and the content hash of the data.
 *
 * @since 0.1.0
 * @category models
 */
export interface Enriched<A> {
  readonly data: A
  readonly timestamp: Date
  readonly version: number
  readonly hash: string
}

/**
 * Every failure of the enrichment step.
 *
 * @since 0.1.0
 * @category errors
 */
export type EnrichmentError =
  | ContentHash.NotCanonicalJson
  | EventStoreError.StreamDeleted
  | EventStoreError.EventStoreError

/**
 * The current time from the `Clock` (so `TestClock` controls it in tests).
 *
 * @since 0.1.0
 * @category building blocks
 */
export const timestamp: Effect.Effect<Date> = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))

/**
 * The version a stream will have after one more event: its current version (from `streamInfo`)
 * plus one. A deleted stream fails with `StreamDeleted`.
 *
 * @since 0.1.0
 * @category building blocks
 */
export const nextVersion = (
  streamId: string
): Effect.Effect<number, EventStoreError.StreamDeleted | EventStoreError.EventStoreError, EventStore.EventStore> =>
  Effect.flatMap(EventStore.EventStore, (store) =>
    Effect.flatMap(store.streamInfo(streamId), (info) =>
      info.deleted
        ? Effect.fail(new EventStoreError.StreamDeleted({ streamId }))
        : Effect.succeed(info.version + 1)))

/**
 * The content hash of a value as an Effect: SHA-256 of its canonical JSON.
 *
 * @since 0.1.0
 * @category building blocks
 */
export const contentHash = (value: unknown): Effect.Effect<string, ContentHash.NotCanonicalJson> =>
  Effect.suspend(() => ContentHash.hash(value))

/**
 * A step that wraps its input with a timestamp, the next version of its stream (`streamId` says
 * which) and the content hash of the input (or of `hashOf(input)`), and adds
 * `{ enriched: true, fieldsAdded: ["timestamp", "version", "hash"] }` to the metadata. Its default
 * name is `enrich`.
 *
 * @example
 * ```ts
 * const enrich = Enrichment.make({ streamId: (doc: Doc) => `Document-${doc.id}` })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A>(options: {
  readonly streamId: (input: A) => string
  readonly hashOf?: ((input: A) => unknown) | undefined
  readonly name?: string | undefined
}): Step.Step<A, Enriched<A>, EnrichmentError, EventStore.EventStore> => {
  const hashOf = options.hashOf
  return Step.make(
    options.name ?? "enrich",
    (data: A) =>
      Effect.flatMap(
        contentHash(hashOf === undefined ? data : hashOf(data)),
        (hash) =>
          Effect.flatMap(nextVersion(options.streamId(data)), (version) =>
            Effect.map(timestamp, (timestamp): Enriched<A> => ({ data, timestamp, version, hash })))
      ),
    { metadata: { enriched: true, fieldsAdded: ["timestamp", "version", "hash"] } }
  )
}
