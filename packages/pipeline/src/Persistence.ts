/**
 * The persistence step: appends to the `EventStore` (or, with `toPersistenceManager`, stores by key
 * in the `PersistenceManager`).
 *
 * @since 0.1.0
 */
import { EventStore, type EventStoreError, ExpectedVersion } from "@chronicle/eventstore"
import { Effect } from "effect"
import type { Enriched } from "./Enrichment.js"
import * as Step from "./Step.js"

/**
 * What the event-store persistence step passes on: its input and what the append wrote.
 *
 * @since 0.1.0
 * @category models
 */
export interface Appended<A> {
  readonly input: A
  readonly append: EventStore.AppendResult
}

/**
 * The expectation that makes an append of enriched data safe against concurrent writers: the
 * stream is still at the version enrichment read (`version - 1`).
 *
 * @since 0.1.0
 * @category expectations
 */
export const expectedFromEnriched = (input: Enriched<unknown>): ExpectedVersion.ExpectedVersion =>
  ExpectedVersion.exact(input.version - 1)

/**
 * A step that appends the input's events to its stream with the given expectation (`Any` when
 * none is given) and adds `{ persisted: true, streamId, streamVersion }` to the metadata. Its
 * default name is `persist`.
 *
 * @example
 * ```ts
 * const persist = Persistence.toEventStore({
 *   streamId: (doc: Enrichment.Enriched<Doc>) => `Document-${doc.data.id}`,
 *   events: (doc) => [{ eventId: `${doc.data.id}-${doc.version}`, type: "DocumentSaved", data: doc.data }],
 *   expected: Persistence.expectedFromEnriched
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const toEventStore = <A>(options: {
  readonly streamId: (input: A) => string
  readonly events: (input: A) => ReadonlyArray<EventStore.EventData>
  readonly expected?: ((input: A) => ExpectedVersion.ExpectedVersion) | undefined
  readonly name?: string | undefined
}): Step.Step<A, Appended<A>, EventStoreError.AppendError, EventStore.EventStore> => {
  const expected = options.expected
  return Step.make(
    options.name ?? "persist",
    (input: A) =>
      Effect.flatMap(EventStore.EventStore, (store) =>
        Effect.map(
          store.append(
            options.streamId(input),
            options.events(input),
            expected === undefined ? ExpectedVersion.Any : expected(input)
          ),
          (append): Appended<A> => ({ input, append })
        )),
    {
      metadata: ({ append }) => ({ persisted: true, streamId: append.streamId, streamVersion: append.version })
    }
  )
}
