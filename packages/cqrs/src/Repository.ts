/**
 * The event-sourced repository: loads an aggregate's state from its stream (and its latest
 * snapshot), appends new events with optimistic concurrency, snapshots by policy, and answers
 * temporal queries.
 *
 * @since 0.1.0
 */
import type { Aggregate, Envelope } from "@chronicle/domain"
import { EventStore, EventStoreError, ExpectedVersion, Serializer } from "@chronicle/eventstore"
import { Effect, Either, Option, ParseResult, Schema, Stream } from "effect"
import { AggregateAlreadyExists, AggregateNotFound } from "./CqrsError.js"
import { deterministicEventId } from "./internal/ids.js"
import type { SnapshotPolicy } from "./SnapshotPolicy.js"

/**
 * An aggregate as loaded: its state and the stream version that state reflects (0: no events yet).
 *
 * @since 0.1.0
 * @category models
 */
export interface Loaded<State> {
  readonly id: string
  readonly streamId: string
  readonly state: State
  /** The stream version the state reflects; the expected version of the next save. */
  readonly version: number
  /** The version covered by the latest snapshot (0 when there is none). */
  readonly snapshotVersion: number
}

/**
 * An aggregate after a save: the new state and version, and where the new events were written.
 *
 * @since 0.1.0
 * @category models
 */
export interface Saved<State> extends Loaded<State> {
  readonly eventIds: ReadonlyArray<string>
  /** The global position of each appended event. */
  readonly positions: ReadonlyArray<number>
  /** The global position of the last appended event; `null` when nothing was appended. */
  readonly globalPosition: number | null
  /** The store recognised the events (same ids, same place) as already written: nothing new was. */
  readonly duplicate: boolean
}

/**
 * What to record with saved events besides their data.
 *
 * @since 0.1.0
 * @category models
 */
export interface SaveOptions {
  readonly metadata?: Envelope.Metadata
  readonly correlationId?: string | null
  readonly causationId?: string | null
  /**
   * Derives each event's id from this key and the event's index: saving the same key again
   * writes nothing new, because the store recognises the ids (idempotent append).
   */
  readonly idempotencyKey?: string
}

/**
 * Snapshot configuration: the state's schema (what is stored is its encoded form), the policy, and
 * the version of the stored shape (a snapshot of another version is ignored and the stream replayed).
 *
 * @since 0.1.0
 * @category models
 */
export interface SnapshotOptions<State, StateEncoded = unknown> {
  readonly schema: Schema.Schema<State, StateEncoded>
  readonly policy: SnapshotPolicy
  readonly schemaVersion?: number
}

/**
 * Soft deletion by a domain event: `event` is the event `remove` appends, and `isDeleted` tells a
 * deleted state, which then loads as `AggregateNotFound` with `deleted: true`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeletionOptions<State, Event> {
  readonly event: (state: State, id: string) => Event
  readonly isDeleted: (state: State) => boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<State, Command, Event extends { readonly _tag: string }, EventEncoded, E, R, StateEncoded> {
  readonly aggregate: Aggregate.Aggregate<State, Command, Event, EventEncoded, E, R>
  /** Schema versions and upcasters of the aggregate's events. */
  readonly serializer?: Serializer.Options
  readonly snapshots?: SnapshotOptions<State, StateEncoded>
  readonly deletion?: DeletionOptions<State, Event>
}

/**
 * Failures of a read that may find nothing.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadError =
  | EventStoreError.EventDecodeError
  | EventStoreError.InvalidRequest
  | EventStoreError.EventStoreError

/**
 * Failures of a load.
 *
 * @since 0.1.0
 * @category errors
 */
export type LoadError = AggregateNotFound | ReadError

/**
 * Failures of a save.
 *
 * @since 0.1.0
 * @category errors
 */
export type SaveError = EventStoreError.AppendError

/**
 * A point in an aggregate's past: a stream version or an instant.
 *
 * @since 0.1.0
 * @category models
 */
export type PointInTime =
  | { readonly version: number }
  | { readonly timestamp: Date }

/**
 * The repository of one aggregate type.
 *
 * @since 0.1.0
 * @category models
 */
export interface Repository<State, Command, Event extends { readonly _tag: string }, E = never, R = never> {
  readonly aggregate: Aggregate.Aggregate<State, Command, Event, unknown, E, R>
  readonly serializer: Serializer.Serializer<Event>
  readonly deletion: DeletionOptions<State, Event> | undefined
  /** The stream of one instance: `${aggregate.name}-${id}`. */
  readonly streamId: (id: string) => string
  /** Loads the current state, from the latest snapshot plus the events after it. */
  readonly load: (id: string) => Effect.Effect<Loaded<State>, LoadError>
  /** `load`, under the seed's name. */
  readonly getById: (id: string) => Effect.Effect<Loaded<State>, LoadError>
  /** Loads, or gives `None` when there is no such aggregate. */
  readonly find: (id: string) => Effect.Effect<Option.Option<Loaded<State>>, ReadError>
  /** Loads, or gives the initial state at version 0 when the stream has no events (not when deleted). */
  readonly loadOrNew: (id: string) => Effect.Effect<Loaded<State>, LoadError>
  readonly exists: (id: string) => Effect.Effect<boolean, ReadError>
  /** Time travel: the state as of a stream version, or as of an instant (events stored at or before it). */
  readonly loadAt: (id: string, at: PointInTime) => Effect.Effect<Loaded<State>, LoadError>
  /** The aggregate's events, decoded, oldest first. */
  readonly history: (id: string) => Stream.Stream<Envelope.EventEnvelope<Event>, LoadError>
  /** Appends events to a loaded aggregate, expecting the stream still at the loaded version. */
  readonly save: (
    loaded: Loaded<State>,
    events: ReadonlyArray<Event>,
    options?: SaveOptions
  ) => Effect.Effect<Saved<State>, SaveError>
  /** Creates an aggregate: its stream must not exist yet. */
  readonly add: (
    id: string,
    events: ReadonlyArray<Event>,
    options?: SaveOptions
  ) => Effect.Effect<Saved<State>, SaveError | AggregateAlreadyExists>
  /** Loads, asks `change` for new events given the state, and saves them. */
  readonly update: <E2, R2>(
    id: string,
    change: (state: State) => Effect.Effect<ReadonlyArray<Event>, E2, R2>,
    options?: SaveOptions
  ) => Effect.Effect<Saved<State>, LoadError | SaveError | E2, R2>
  /** Loads (or starts a new aggregate), decides the command, and saves the events. */
  readonly handle: (
    id: string,
    command: Command,
    options?: SaveOptions
  ) => Effect.Effect<Saved<State>, LoadError | SaveError | E, R>
  /**
   * Deletes: appends the domain deletion event when the repository has one, or tombstones the
   * stream when it has none (see decision 0302).
   */
  readonly remove: (id: string, options?: SaveOptions) => Effect.Effect<void, LoadError | SaveError>
  /** Tombstones the stream: its events leave reads for good (they stay in the global log). */
  readonly tombstone: (id: string) => Effect.Effect<void, AggregateNotFound | SaveError>
  /** Encodes events for the store, as `save` does; for units of work. */
  readonly toEventData: (
    events: ReadonlyArray<Event>,
    options?: SaveOptions
  ) => Effect.Effect<ReadonlyArray<EventStore.EventData>, EventStoreError.InvalidRequest>
  /** Writes a snapshot if the policy asks for one; never fails (a snapshot is a cache). */
  readonly snapshotAfterSave: (saved: Loaded<State>, appended: number) => Effect.Effect<number>
}

/**
 * The repository type of an aggregate.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Of<A> = A extends Aggregate.Aggregate<infer S, infer C, infer Ev, infer _I, infer E, infer R>
  ? [Ev] extends [{ readonly _tag: string }] ? Repository<S, C, Ev, E, R> : never
  : never

/**
 * Builds a repository on the `EventStore` in context.
 *
 * @example
 * ```ts
 * const accounts = yield* Repository.make({
 *   aggregate: Account,
 *   snapshots: { schema: AccountState, policy: SnapshotPolicy.every(50) }
 * })
 * const account = yield* accounts.load("42")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <
  State,
  Command,
  Event extends { readonly _tag: string },
  EventEncoded,
  E = never,
  R = never,
  StateEncoded = unknown
>(
  options: Options<State, Command, Event, EventEncoded, E, R, StateEncoded>
): Effect.Effect<Repository<State, Command, Event, E, R>, never, EventStore.EventStore> =>
  Effect.map(EventStore.EventStore, (store) => makeWith(store, options))

/**
 * Builds a repository on a given event store service.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWith = <
  State,
  Command,
  Event extends { readonly _tag: string },
  EventEncoded,
  E = never,
  R = never,
  StateEncoded = unknown
>(
  store: EventStore.Service,
  options: Options<State, Command, Event, EventEncoded, E, R, StateEncoded>
): Repository<State, Command, Event, E, R> => {
  const aggregate = options.aggregate
  const serializer = Serializer.make(aggregate.events, options.serializer)
  const snapshots = options.snapshots
  const snapshotVersion = snapshots?.schemaVersion ?? 1
  const decodeState = snapshots === undefined ? undefined : Schema.decodeUnknownEither(snapshots.schema)
  const encodeState = snapshots === undefined ? undefined : Schema.encodeEither(snapshots.schema)
  const encodeEvent = Schema.encodeEither(aggregate.events)
  const deletion = options.deletion
  const toStreamId = (id: string) => `${aggregate.name}-${id}`

  const notFound = (id: string, deleted: boolean) => new AggregateNotFound({ aggregate: aggregate.name, id, deleted })

  const readSnapshot = (
    streamId: string
  ): Effect.Effect<Option.Option<{ state: State; version: number }>, EventStoreError.EventStoreError> => {
    if (decodeState === undefined) return Effect.succeed(Option.none())
    return Effect.flatMap(store.loadSnapshot(streamId), (found) => {
      if (Option.isNone(found) || found.value.schemaVersion !== snapshotVersion) return Effect.succeed(Option.none())
      const snapshot = found.value
      return Either.match(decodeState(snapshot.state), {
        onLeft: (error) =>
          Effect.as(
            Effect.logWarning(`ignoring snapshot of ${streamId}@${snapshot.version}: it does not decode`).pipe(
              Effect.annotateLogs("reason", ParseResult.TreeFormatter.formatErrorSync(error))
            ),
            Option.none()
          ),
        onRight: (state) => Effect.succeed(Option.some({ state, version: snapshot.version }))
      })
    })
  }

  const foldRecorded = (
    state: State,
    recorded: ReadonlyArray<EventStore.RecordedEvent>
  ): Effect.Effect<State, EventStoreError.EventDecodeError> =>
    Effect.map(serializer.decodeAll(recorded), (decoded) => {
      let next = state
      for (const envelope of decoded) next = aggregate.evolve(next, envelope.data)
      return next
    })

  // Reads the snapshot (when allowed) then the events after it, up to `limit` events.
  const replay = (
    id: string,
    options: { readonly useSnapshot: (version: number) => boolean; readonly upTo?: number }
  ): Effect.Effect<Loaded<State>, ReadError | AggregateNotFound> =>
    Effect.gen(function*() {
      const streamId = toStreamId(id)
      const snapshot = Option.filter(yield* readSnapshot(streamId), (s) => options.useSnapshot(s.version))
      const base = Option.match(snapshot, {
        onNone: () => ({ state: aggregate.initialState, version: 0 }),
        onSome: (s) => s
      })
      const limit = options.upTo === undefined ? undefined : options.upTo - base.version
      const recorded = limit !== undefined && limit <= 0
        ? []
        : yield* store.readStream(streamId, { from: base.version + 1, ...(limit === undefined ? {} : { limit }) }).pipe(
          Effect.catchTag("StreamDeleted", () => Effect.fail(notFound(id, true)))
        )
      const state = yield* foldRecorded(base.state, recorded)
      return {
        id,
        streamId,
        state,
        version: base.version + recorded.length,
        snapshotVersion: Option.isSome(snapshot) ? snapshot.value.version : 0
      }
    })

  const checkFound = (loaded: Loaded<State>): Effect.Effect<Loaded<State>, AggregateNotFound> =>
    loaded.version === 0
      ? Effect.fail(notFound(loaded.id, false))
      : deletion?.isDeleted(loaded.state)
      ? Effect.fail(notFound(loaded.id, true))
      : Effect.succeed(loaded)

  const always = () => true
  const load = (id: string) => Effect.flatMap(replay(id, { useSnapshot: always }), checkFound)

  const loadOrNew = (id: string) =>
    Effect.flatMap(
      replay(id, { useSnapshot: always }),
      (loaded) => loaded.version === 0 ? Effect.succeed(loaded) : checkFound(loaded)
    )

  const find = (id: string) =>
    load(id).pipe(
      Effect.map(Option.some),
      Effect.catchTag("AggregateNotFound", () => Effect.succeed(Option.none<Loaded<State>>()))
    )

  const exists = (id: string): Effect.Effect<boolean, ReadError> =>
    Effect.flatMap(store.streamInfo(toStreamId(id)), (info) =>
      info.deleted || info.version === 0
        ? Effect.succeed(false)
        : deletion === undefined
        ? Effect.succeed(true)
        : Effect.map(find(id), Option.isSome))

  const loadAsOf = (id: string, instant: Date): Effect.Effect<Loaded<State>, LoadError> =>
    Effect.gen(function*() {
      const streamId = toStreamId(id)
      const cutoff = instant.getTime()
      const snapshot = yield* readSnapshot(streamId)
      // A snapshot helps only if the event it ends at was stored at or before the instant.
      let base = { state: aggregate.initialState, version: 0 }
      if (Option.isSome(snapshot)) {
        const at = yield* store.readStream(streamId, { from: snapshot.value.version, limit: 1 }).pipe(
          Effect.catchTag("StreamDeleted", () => Effect.fail(notFound(id, true)))
        )
        if (at.length === 1 && at[0].timestamp.getTime() <= cutoff) base = snapshot.value
      }
      const recorded = yield* store.streamEvents(streamId, { from: base.version + 1 }).pipe(
        Stream.takeWhile((event) => event.timestamp.getTime() <= cutoff),
        Stream.runCollect,
        Effect.catchTag("StreamDeleted", () => Effect.fail(notFound(id, true)))
      )
      const events = Array.from(recorded)
      const state = yield* foldRecorded(base.state, events)
      return yield* checkFound({
        id,
        streamId,
        state,
        version: base.version + events.length,
        snapshotVersion: base.version
      })
    })

  const loadAt = (id: string, at: PointInTime): Effect.Effect<Loaded<State>, LoadError> =>
    "version" in at
      ? Effect.flatMap(replay(id, { useSnapshot: (v) => v <= at.version, upTo: Math.max(0, at.version) }), checkFound)
      : loadAsOf(id, at.timestamp)

  const history = (id: string): Stream.Stream<Envelope.EventEnvelope<Event>, LoadError> =>
    store.streamEvents(toStreamId(id)).pipe(
      Stream.catchTag("StreamDeleted", () => Stream.fail(notFound(id, true))),
      Stream.mapEffect(serializer.decode)
    )

  const toEventData = (
    events: ReadonlyArray<Event>,
    saveOptions: SaveOptions = {}
  ): Effect.Effect<ReadonlyArray<EventStore.EventData>, EventStoreError.InvalidRequest> =>
    Effect.suspend(() => {
      const out: Array<EventStore.EventData> = []
      for (let i = 0; i < events.length; i++) {
        const event = events[i]
        // Encode first so an event that breaks its schema is a typed failure, not a throw.
        const encoded = encodeEvent(event)
        if (Either.isLeft(encoded)) {
          return Effect.fail(
            new EventStoreError.InvalidRequest({
              streamId: aggregate.name,
              reason: `event ${event._tag} does not match its schema: ${
                ParseResult.TreeFormatter.formatErrorSync(encoded.left)
              }`
            })
          )
        }
        out.push(serializer.encode(event, {
          ...(saveOptions.idempotencyKey === undefined
            ? {}
            : { eventId: deterministicEventId(saveOptions.idempotencyKey, i) }),
          ...(saveOptions.metadata === undefined ? {} : { metadata: saveOptions.metadata }),
          correlationId: saveOptions.correlationId ?? null,
          causationId: saveOptions.causationId ?? null
        }))
      }
      return Effect.succeed(out)
    })

  const snapshotAfterSave = (saved: Loaded<State>, appended: number): Effect.Effect<number> => {
    if (snapshots === undefined || encodeState === undefined) return Effect.succeed(saved.snapshotVersion)
    if (!snapshots.policy({ version: saved.version, snapshotVersion: saved.snapshotVersion, appended })) {
      return Effect.succeed(saved.snapshotVersion)
    }
    return Either.match(encodeState(saved.state), {
      onLeft: (error) =>
        Effect.as(
          Effect.logWarning(`snapshot of ${saved.streamId} skipped: its state does not encode`).pipe(
            Effect.annotateLogs("reason", ParseResult.TreeFormatter.formatErrorSync(error))
          ),
          saved.snapshotVersion
        ),
      onRight: (state) =>
        store.saveSnapshot(saved.streamId, { version: saved.version, state, schemaVersion: snapshotVersion }).pipe(
          Effect.as(saved.version),
          Effect.catchAll((error) =>
            Effect.as(
              Effect.logWarning(`snapshot of ${saved.streamId}@${saved.version} failed; the events are saved`).pipe(
                Effect.annotateLogs("error", error.message)
              ),
              saved.snapshotVersion
            )
          )
        )
    })
  }

  const append = (
    loaded: Loaded<State>,
    events: ReadonlyArray<Event>,
    expected: ExpectedVersion.ExpectedVersion,
    saveOptions: SaveOptions | undefined
  ): Effect.Effect<Saved<State>, SaveError> => {
    if (events.length === 0) {
      return Effect.succeed({ ...loaded, eventIds: [], positions: [], globalPosition: null, duplicate: false })
    }
    return Effect.gen(function*() {
      const data = yield* toEventData(events, saveOptions)
      const result = yield* store.append(loaded.streamId, data, expected)
      let state = loaded.state
      for (const event of events) state = aggregate.evolve(state, event)
      const saved: Saved<State> = {
        id: loaded.id,
        streamId: loaded.streamId,
        state,
        version: result.version,
        snapshotVersion: loaded.snapshotVersion,
        eventIds: data.map((d) => d.eventId),
        positions: result.positions,
        globalPosition: result.positions.at(-1) ?? null,
        duplicate: result.duplicate ?? false
      }
      const snapshotAt = yield* snapshotAfterSave(saved, events.length)
      return snapshotAt === saved.snapshotVersion ? saved : { ...saved, snapshotVersion: snapshotAt }
    })
  }

  const expectedOf = (version: number) => version === 0 ? ExpectedVersion.NoStream : ExpectedVersion.exact(version)

  const save = (loaded: Loaded<State>, events: ReadonlyArray<Event>, saveOptions?: SaveOptions) =>
    append(loaded, events, expectedOf(loaded.version), saveOptions)

  const fresh = (id: string): Loaded<State> => ({
    id,
    streamId: toStreamId(id),
    state: aggregate.initialState,
    version: 0,
    snapshotVersion: 0
  })

  const add = (id: string, events: ReadonlyArray<Event>, saveOptions?: SaveOptions) =>
    append(fresh(id), events, ExpectedVersion.NoStream, saveOptions).pipe(
      Effect.catchTag(
        "WrongExpectedVersion",
        (error) => Effect.fail(new AggregateAlreadyExists({ aggregate: aggregate.name, id, version: error.actual }))
      )
    )

  const update = <E2, R2>(
    id: string,
    change: (state: State) => Effect.Effect<ReadonlyArray<Event>, E2, R2>,
    saveOptions?: SaveOptions
  ) =>
    Effect.flatMap(
      load(id),
      (loaded) => Effect.flatMap(change(loaded.state), (events) => save(loaded, events, saveOptions))
    )

  const handle = (id: string, command: Command, saveOptions?: SaveOptions) =>
    Effect.flatMap(
      loadOrNew(id),
      (loaded) => Effect.flatMap(aggregate.decide(command, loaded.state), (events) => save(loaded, events, saveOptions))
    )

  const tombstone = (id: string): Effect.Effect<void, AggregateNotFound | SaveError> =>
    store.deleteStream(toStreamId(id), ExpectedVersion.StreamExists).pipe(
      Effect.catchTags({
        WrongExpectedVersion: () => Effect.fail(notFound(id, false)),
        StreamDeleted: () => Effect.fail(notFound(id, true))
      })
    )

  const remove = (id: string, saveOptions?: SaveOptions): Effect.Effect<void, LoadError | SaveError> =>
    deletion === undefined
      ? tombstone(id)
      : Effect.asVoid(
        Effect.flatMap(load(id), (loaded) => save(loaded, [deletion.event(loaded.state, id)], saveOptions))
      )

  return {
    aggregate: aggregate as Aggregate.Aggregate<State, Command, Event, unknown, E, R>,
    serializer,
    deletion,
    streamId: toStreamId,
    load,
    getById: load,
    find,
    loadOrNew,
    exists,
    loadAt,
    history,
    save,
    add,
    update,
    handle,
    remove,
    tombstone,
    toEventData,
    snapshotAfterSave
  }
}
