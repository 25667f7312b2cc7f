/**
 * The persistence step: appends to the `EventStore`, or stores by key with a priority in the
 * `PersistenceManager` of `@chronicle/resilience`.
 *
 * @since 0.1.0
 */
import { EventStore, type EventStoreError, ExpectedVersion } from "@chronicle/eventstore"
import { PersistenceManager, type PersistenceStrategy } from "@chronicle/resilience"
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

/**
 * What the persistence-manager step passes on: its input, the key it was stored under and with
 * which priority.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stored<A> {
  readonly input: A
  readonly key: string
  readonly priority: PersistenceManager.Priority
}

/**
 * Every failure of the persistence-manager step.
 *
 * @since 0.1.0
 * @category errors
 */
export type PersistenceManagerError = PersistenceStrategy.PersistenceError | PersistenceManager.ValueCodecError

/**
 * A step that stores a value made from its input (`value`, the input itself by default; it must be
 * JSON-compatible) under `key` in the `PersistenceManager`, with a priority (`critical` by default:
 * durable when the step returns; `important` and `background` are written behind), and adds
 * `{ persisted: true, key, priority }` to the metadata. Its default name is `persist`.
 *
 * @example
 * ```ts
 * const persist = Persistence.toPersistenceManager({
 *   key: (doc: Enrichment.Enriched<Doc>) => `document_${doc.data.id}`,
 *   priority: "critical"
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const toPersistenceManager = <A>(options: {
  readonly key: (input: A) => string
  readonly value?: ((input: A) => unknown) | undefined
  readonly priority?: PersistenceManager.Priority | ((input: A) => PersistenceManager.Priority) | undefined
  readonly name?: string | undefined
}): Step.Step<A, Stored<A>, PersistenceManagerError, PersistenceManager.PersistenceManager> => {
  const { priority, value } = options
  return Step.make(
    options.name ?? "persist",
    (input: A) =>
      Effect.flatMap(PersistenceManager.PersistenceManager, (manager) => {
        const key = options.key(input)
        const chosen = priority === undefined ? "critical" : typeof priority === "function" ? priority(input) : priority
        return Effect.as(
          manager.persist(key, value === undefined ? input : value(input), chosen),
          { input, key, priority: chosen } satisfies Stored<A>
        )
      }),
    { metadata: ({ key, priority }) => ({ persisted: true, key, priority }) }
  )
}
