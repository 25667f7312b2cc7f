/**
 * The history query (the seed's `includeHistory`): a stream's stored events, for audit trails and
 * "show me what happened" views.
 *
 * @since 0.1.0
 */
import { Envelope } from "@chronicle/domain"
import { EventStore, EventStoreError } from "@chronicle/eventstore"
import { Effect, Schema } from "effect"
import * as QueryBus from "./QueryBus.js"

/**
 * Reads a page of one stream's events, as stored (encoded data, with their envelopes).
 *
 * @since 0.1.0
 * @category queries
 */
export class GetStreamHistory extends Schema.TaggedRequest<GetStreamHistory>()("GetStreamHistory", {
  payload: {
    streamId: Schema.NonEmptyString,
    /** The first version to read (inclusive), 1 by default. */
    fromVersion: Schema.optional(Schema.Int.pipe(Schema.positive())),
    limit: Schema.optional(Schema.Int.pipe(Schema.positive()))
  },
  success: Schema.Array(Envelope.schema(Schema.Unknown)),
  failure: Schema.Union(EventStoreError.StreamDeleted, EventStoreError.InvalidRequest, EventStoreError.EventStoreError)
}) {}

/**
 * The handler of `GetStreamHistory` on the `EventStore` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = QueryBus.handler(
  GetStreamHistory,
  Effect.map(EventStore.EventStore, (store) => (query: GetStreamHistory) =>
    store.readStream(query.streamId, {
      ...(query.fromVersion === undefined ? {} : { from: query.fromVersion }),
      ...(query.limit === undefined ? {} : { limit: query.limit })
    }))
)
