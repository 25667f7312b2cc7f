/**
 * A projection: a name, the events it handles, and handlers that keep a read model up to date.
 *
 * @since 0.1.0
 */
import type { Envelope } from "@chronicle/domain"
import type { EventStoreError, Serializer } from "@chronicle/eventstore"
import { EventStore } from "@chronicle/eventstore"
import { Effect, FiberRef } from "effect"
import { InvalidProjection } from "./CqrsError.js"
import * as Tables from "./internal/tables.js"

/**
 * A projection, ready to run inline (in the append's transaction) or asynchronously (in a worker,
 * from its checkpoint).
 *
 * @since 0.1.0
 * @category models
 */
export interface Projection<E = unknown, R = never> {
  readonly name: string
  /** Only streams of this category are read (pushed into the query); all streams when absent. */
  readonly category: string | undefined
  /** The event types it handles; others are passed over (but still move its checkpoint). */
  readonly eventTypes: ReadonlySet<string>
  /**
   * `true` (the default): the read model lives in the event store's SQL database, so each batch and
   * its checkpoint commit in one transaction: every event is applied exactly once. `false`: for
   * other sinks; events are applied at least once, with the event id at hand to deduplicate.
   */
  readonly transactional: boolean
  /**
   * The read model's tables, by their live names (empty when not declared). Declaring them lets
   * `Projections.rebuild(name, { swap: true })` build the model in shadow tables and swap them in.
   */
  readonly tables: ReadonlyArray<string>
  /** Creates the read model's tables if they are missing. Idempotent. */
  readonly setup: Effect.Effect<void, E, R>
  /** Empties the read model before a rebuild. */
  readonly reset: Effect.Effect<void, E, R>
  /** Applies one stored event. Events it does not handle never reach it. */
  readonly apply: (event: EventStore.RecordedEvent) => Effect.Effect<void, E, R>
  /**
   * Applies a batch of stored events at once (e.g. one multi-row upsert), when the projection can;
   * otherwise batches are applied event by event with `apply`.
   */
  readonly applyBatch: ((events: ReadonlyArray<EventStore.RecordedEvent>) => Effect.Effect<void, E, R>) | undefined
}

/**
 * Handlers by event tag: each gets the decoded event and its envelope.
 *
 * @since 0.1.0
 * @category models
 */
export type Handlers<A extends { readonly _tag: string }, E, R> = {
  readonly [Tag in A["_tag"]]?: (
    event: Extract<A, { readonly _tag: Tag }>,
    envelope: Envelope.EventEnvelope<Extract<A, { readonly _tag: Tag }>>
  ) => Effect.Effect<void, E, R>
}

/**
 * Defines a projection from a serializer (the events' schema, with upcasters) and handlers by tag.
 *
 * @example
 * ```ts
 * const DocumentTitles = Projection.make({
 *   name: "document-titles",
 *   category: "Document",
 *   serializer: DocumentSerializer,
 *   setup: Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE TABLE IF NOT EXISTS titles (id TEXT PRIMARY KEY, title TEXT)`),
 *   reset: Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DELETE FROM titles`),
 *   handlers: {
 *     DocumentCreated: (e) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql`INSERT INTO titles ${sql.insert({ id: e.documentId, title: e.title })}`),
 *     DocumentRenamed: (e) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql`UPDATE titles SET title = ${e.newTitle} WHERE id = ${e.documentId}`)
 *   }
 * })
 *
 * // with its tables declared and named through `Projection.table`, it can be rebuilt with swap
 * const titles = Projection.table("titles")
 * const SwappableTitles = Projection.make({
 *   name: "document-titles",
 *   category: "Document",
 *   serializer: DocumentSerializer,
 *   tables: ["titles"],
 *   setup: Effect.gen(function*() {
 *     const sql = yield* SqlClient.SqlClient
 *     const t = yield* titles
 *     yield* sql`CREATE TABLE IF NOT EXISTS ${sql(t)} (id TEXT PRIMARY KEY, title TEXT)`
 *     // index names derived from the table's, so a shadow's never clash with the live ones
 *     yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`${t}_title`)} ON ${sql(t)} (title)`
 *   }),
 *   handlers: {
 *     DocumentCreated: (e) =>
 *       Effect.flatMap(titles, (t) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql`INSERT INTO ${sql(t)} ${sql.insert({ id: e.documentId, title: e.title })}`))
 *   }
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A extends { readonly _tag: string }, E = never, R = never>(options: {
  readonly name: string
  readonly category?: string
  readonly serializer: Serializer.Serializer<A>
  readonly handlers: Handlers<A, E, R>
  readonly setup?: Effect.Effect<void, E, R>
  readonly reset?: Effect.Effect<void, E, R>
  readonly transactional?: boolean
  /**
   * The read model's tables (live names). Setup, reset and handlers must then name them through
   * `Projection.table`, and derive index names from the name it gives.
   */
  readonly tables?: ReadonlyArray<string>
  /**
   * Applies a decoded batch at once. It gets every event type the serializer decodes, whether
   * `handlers` has a handler for it or not.
   */
  readonly applyBatch?: (events: ReadonlyArray<Envelope.EventEnvelope<A>>) => Effect.Effect<void, E, R>
}): Projection<E | EventStoreError.EventDecodeError | InvalidProjection, R> => {
  // dispatch by tag: each handler gets the member of the union that carries its tag
  const handlers = options.handlers as unknown as Readonly<
    Record<string, (event: A, envelope: Envelope.EventEnvelope<A>) => Effect.Effect<void, E, R>>
  >
  // a batch handler gets every event its serializer decodes; stored types that upcast into a
  // handled tag are read too
  const batchTypes = options.applyBatch === undefined ? [] : options.serializer.types
  const setup = options.setup ?? Effect.void
  const eventTypes = new Set([
    ...Object.keys(handlers).filter((tag) => handlers[tag] !== undefined),
    ...batchTypes ?? [],
    ...options.serializer.upcastedTypes
  ])
  return {
    name: options.name,
    category: options.category,
    eventTypes,
    transactional: options.transactional ?? true,
    tables: options.tables ?? [],
    // workers and inline projections run setup first: a batch handler that cannot know its
    // types stops there instead of passing every event over
    setup: batchTypes === undefined
      ? Effect.fail(
        new InvalidProjection({
          projection: options.name,
          reason: "applyBatch needs a serializer whose schema names its tags as literals"
        })
      )
      : setup,
    reset: options.reset ?? Effect.void,
    apply: (recorded) =>
      Effect.flatMap(options.serializer.decode(recorded), (envelope) => {
        const handler = handlers[envelope.data._tag]
        return handler === undefined ? Effect.void : handler(envelope.data, envelope)
      }),
    applyBatch: options.applyBatch === undefined
      ? undefined
      : ((applyBatch) => (recorded: ReadonlyArray<EventStore.RecordedEvent>) =>
        Effect.flatMap(options.serializer.decodeAll(recorded), applyBatch))(options.applyBatch)
  }
}

/**
 * Whether a projection handles this stored event.
 *
 * @since 0.1.0
 * @category filtering
 */
export const handles = (projection: Projection<unknown, unknown>, event: EventStore.RecordedEvent): boolean =>
  projection.eventTypes.has(event.type) &&
  (projection.category === undefined || EventStore.categoryOf(event.streamId) === projection.category)

/**
 * The name to use for one of a projection's declared tables: the table itself, or its shadow
 * (`<table>__rebuild`) while `Projections.rebuild(name, { swap: true })` replays into shadow tables,
 * so the same setup, reset and handlers write to either. During a swap rebuild, asking for a table
 * the projection did not declare is a defect: its writes would land in the live model.
 *
 * @example
 * ```ts
 * DocumentRenamed: (e) =>
 *   Effect.gen(function*() {
 *     const sql = yield* SqlClient.SqlClient
 *     const titles = yield* Projection.table("titles")
 *     yield* sql`UPDATE ${sql(titles)} SET title = ${e.newTitle} WHERE id = ${e.documentId}`
 *   })
 * ```
 *
 * @since 0.1.0
 * @category tables
 */
export const table = (name: string): Effect.Effect<string> =>
  FiberRef.getWith(Tables.currentTables, (tables) => {
    if (tables.size === 0) return Effect.succeed(name)
    const physical = tables.get(name)
    return physical === undefined
      ? Effect.dieMessage(
        `table ${name} is not among the projection's declared tables (${[...tables.keys()].join(", ")})`
      )
      : Effect.succeed(physical)
  })

/**
 * The shadow table a rebuild with swap fills for a live table (`<table>__rebuild`).
 *
 * @since 0.1.0
 * @category tables
 */
export const shadowTable = (name: string): string => Tables.shadowName(name)
