/**
 * The unit of work: tracks the aggregates a piece of work loads, creates, changes and deletes, and
 * commits all their new events in one atomic multi-stream append, each stream with its own expected
 * version. An identity map gives the same tracked aggregate for the same id within one unit.
 *
 * @since 0.1.0
 */
import type { Envelope } from "@chronicle/domain"
import { EventStore, ExpectedVersion } from "@chronicle/eventstore"
import type { EventStoreError } from "@chronicle/eventstore"
import type { Scope } from "effect"
import { Cause, Clock, Context, Effect, Exit, Layer } from "effect"
import { AggregateAlreadyExists, DeletionNotSupported, UnitOfWorkClosed } from "./CqrsError.js"
import type { LoadError, Repository } from "./Repository.js"

/**
 * How a tracked aggregate entered the unit.
 *
 * @since 0.1.0
 * @category models
 */
export type TrackedStatus = "new" | "loaded" | "deleted"

/**
 * An aggregate tracked by a unit of work: its current state (with the events recorded in this unit
 * applied), the version it was loaded at (the expected version of the commit) and its pending events.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tracked<State, Command, Event extends { readonly _tag: string }, E = never, R = never> {
  readonly repository: Repository<State, Command, Event, E, R>
  readonly id: string
  readonly streamId: string
  readonly state: State
  readonly version: number
  readonly snapshotVersion: number
  readonly pending: ReadonlyArray<Event>
  readonly status: TrackedStatus
}

// The one mutable record behind a tracked aggregate: the identity map hands out this object.
class Entry<State, Command, Event extends { readonly _tag: string }, E, R>
  implements Tracked<State, Command, Event, E, R>
{
  pending: Array<Event> = []
  constructor(
    readonly repository: Repository<State, Command, Event, E, R>,
    readonly id: string,
    readonly streamId: string,
    public state: State,
    public version: number,
    public snapshotVersion: number,
    public status: TrackedStatus
  ) {}

  record(events: ReadonlyArray<Event>) {
    let state = this.state
    for (const event of events) state = this.repository.aggregate.evolve(state, event)
    this.state = state
    for (const event of events) this.pending.push(event)
  }
}

/**
 * A committed event as handlers see it: the domain event (decoded) in its envelope. The timestamp
 * is the committing process's clock, which may differ slightly from the store's.
 *
 * @since 0.1.0
 * @category models
 */
export type CommittedEvent = Envelope.EventEnvelope<unknown>

/**
 * What a commit wrote.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommitResult {
  readonly appends: ReadonlyArray<EventStore.AppendResult>
  readonly events: ReadonlyArray<CommittedEvent>
}

/**
 * Failures of a commit: the append's. Nothing is written when it fails.
 *
 * @since 0.1.0
 * @category errors
 */
export type CommitError = EventStoreError.AppendError | UnitOfWorkClosed

/**
 * @since 0.1.0
 * @category models
 */
export interface UnitOfWork {
  /** Loads and tracks an aggregate; the same id gives the same tracked object. */
  readonly load: <S, C, Ev extends { readonly _tag: string }, E, R>(
    repository: Repository<S, C, Ev, E, R>,
    id: string
  ) => Effect.Effect<Tracked<S, C, Ev, E, R>, LoadError | UnitOfWorkClosed>
  /** Like `load`, but an aggregate without events is tracked as new at version 0. */
  readonly loadOrNew: <S, C, Ev extends { readonly _tag: string }, E, R>(
    repository: Repository<S, C, Ev, E, R>,
    id: string
  ) => Effect.Effect<Tracked<S, C, Ev, E, R>, LoadError | UnitOfWorkClosed>
  /** Tracks a new aggregate with its first events; the commit expects its stream not to exist. */
  readonly registerNew: <S, C, Ev extends { readonly _tag: string }, E, R>(
    repository: Repository<S, C, Ev, E, R>,
    id: string,
    events: ReadonlyArray<Ev>
  ) => Effect.Effect<Tracked<S, C, Ev, E, R>, AggregateAlreadyExists | UnitOfWorkClosed>
  /** Records new events of a tracked aggregate (registers it as modified). */
  readonly registerModified: <S, C, Ev extends { readonly _tag: string }, E, R>(
    tracked: Tracked<S, C, Ev, E, R>,
    events: ReadonlyArray<Ev>
  ) => Effect.Effect<void, UnitOfWorkClosed>
  /** Decides a command against the tracked state and records the resulting events. */
  readonly execute: <S, C, Ev extends { readonly _tag: string }, E, R>(
    tracked: Tracked<S, C, Ev, E, R>,
    command: C
  ) => Effect.Effect<ReadonlyArray<Ev>, E | UnitOfWorkClosed, R>
  /** Records the aggregate's domain deletion event (a tombstone cannot be part of an atomic commit). */
  readonly registerDeleted: <S, C, Ev extends { readonly _tag: string }, E, R>(
    tracked: Tracked<S, C, Ev, E, R>
  ) => Effect.Effect<void, DeletionNotSupported | UnitOfWorkClosed>
  /** Every tracked aggregate, in the order it was first tracked. */
  readonly tracked: Effect.Effect<ReadonlyArray<Tracked<unknown, unknown, { readonly _tag: string }, unknown, unknown>>>
  /** Appends every pending event in one atomic multi-stream append, then runs the commit handlers. */
  readonly commit: Effect.Effect<CommitResult, CommitError>
  /** Forgets every pending change; nothing was written. */
  readonly rollback: Effect.Effect<void>
  readonly status: Effect.Effect<"open" | "committed" | "rolledBack">
}

/**
 * A handler run after a commit for each committed event it accepts. Best effort: it runs in the
 * committing fiber after the append is durable, and its failure is logged, never the commit's.
 *
 * @since 0.1.0
 * @category models
 */
export type CommitHandler = (event: CommittedEvent) => Effect.Effect<void, unknown>

/**
 * The registry of commit handlers that units of work run after a commit.
 *
 * @since 0.1.0
 * @category tags
 */
export class CommitHandlers extends Context.Tag("@chronicle/cqrs/UnitOfWork/CommitHandlers")<CommitHandlers, {
  readonly register: (handler: CommitHandler) => Effect.Effect<void>
  readonly all: () => ReadonlyArray<CommitHandler>
}>() {}

/**
 * An empty registry of commit handlers; handlers add themselves with `onCommitted`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerCommitHandlers: Layer.Layer<CommitHandlers> = Layer.sync(CommitHandlers, () => {
  const handlers: Array<CommitHandler> = []
  return {
    register: (handler) => Effect.sync(() => void handlers.push(handler)),
    all: () => handlers
  }
})

/**
 * Registers a commit handler for one aggregate's events, with the handler's requirements taken from
 * the layer's context.
 *
 * @since 0.1.0
 * @category layers
 */
export const onCommitted = <Event, E, R>(
  aggregate: { readonly name: string; readonly events: { readonly Type: Event } },
  handler: (event: Envelope.EventEnvelope<Event>) => Effect.Effect<void, E, R>
): Layer.Layer<never, never, CommitHandlers | R> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const registry = yield* CommitHandlers
    const context = yield* Effect.context<R>()
    const prefix = `${aggregate.name}-`
    yield* registry.register((event) =>
      event.streamId.startsWith(prefix)
        ? Effect.provide(handler(event as Envelope.EventEnvelope<Event>), context)
        : Effect.void
    )
  }))

/**
 * Options for the events a unit commits.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly correlationId?: string | null
  readonly causationId?: string | null
  readonly metadata?: Envelope.Metadata
}

/**
 * Begins a unit of work on the `EventStore` in context (and the commit handlers, when provided).
 *
 * @since 0.1.0
 * @category constructors
 */
export const begin = (options: Options = {}): Effect.Effect<UnitOfWork, never, EventStore.EventStore> =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    const handlers = yield* Effect.serviceOption(CommitHandlers)
    return makeWith(store, handlers._tag === "Some" ? handlers.value.all : () => [], options)
  })

type AnyEntry = Entry<unknown, unknown, { readonly _tag: string }, unknown, unknown>

const makeWith = (
  store: EventStore.Service,
  handlers: () => ReadonlyArray<CommitHandler>,
  options: Options
): UnitOfWork => {
  const entries = new Map<string, AnyEntry>()
  let status: "open" | "committed" | "rolledBack" = "open"

  const ensureOpen: Effect.Effect<void, UnitOfWorkClosed> = Effect.suspend(() =>
    status === "open" ? Effect.void : Effect.fail(new UnitOfWorkClosed({ status }))
  )

  // The identity map holds entries of every aggregate type under their stream id; a stream id
  // names one aggregate type, so an entry found under it has the caller's types.
  const lookup = <S, C, Ev extends { readonly _tag: string }, E, R>(
    streamId: string
  ): Entry<S, C, Ev, E, R> | undefined => entries.get(streamId) as Entry<S, C, Ev, E, R> | undefined

  const track = <S, C, Ev extends { readonly _tag: string }, E, R>(entry: Entry<S, C, Ev, E, R>) => {
    entries.set(entry.streamId, entry as unknown as AnyEntry)
    return entry
  }

  const loadWith = <S, C, Ev extends { readonly _tag: string }, E, R>(
    repository: Repository<S, C, Ev, E, R>,
    id: string,
    orNew: boolean
  ): Effect.Effect<Tracked<S, C, Ev, E, R>, LoadError | UnitOfWorkClosed> =>
    Effect.zipRight(
      ensureOpen,
      Effect.suspend(() => {
        const existing = lookup<S, C, Ev, E, R>(repository.streamId(id))
        if (existing !== undefined) return Effect.succeed(existing)
        return Effect.map(
          orNew ? repository.loadOrNew(id) : repository.load(id),
          (loaded) => {
            // another fiber of the same unit may have tracked it meanwhile: keep the first
            const raced = lookup<S, C, Ev, E, R>(loaded.streamId)
            if (raced !== undefined) return raced
            return track(
              new Entry(
                repository,
                id,
                loaded.streamId,
                loaded.state,
                loaded.version,
                loaded.snapshotVersion,
                loaded.version === 0 ? "new" : "loaded"
              )
            )
          }
        )
      })
    )

  const registerNew = <S, C, Ev extends { readonly _tag: string }, E, R>(
    repository: Repository<S, C, Ev, E, R>,
    id: string,
    events: ReadonlyArray<Ev>
  ): Effect.Effect<Tracked<S, C, Ev, E, R>, AggregateAlreadyExists | UnitOfWorkClosed> =>
    Effect.zipRight(
      ensureOpen,
      Effect.suspend(() => {
        const streamId = repository.streamId(id)
        const existing = lookup<S, C, Ev, E, R>(streamId)
        if (existing !== undefined && (existing.version > 0 || existing.pending.length > 0)) {
          return Effect.fail(
            new AggregateAlreadyExists({ aggregate: repository.aggregate.name, id, version: existing.version })
          )
        }
        const entry = existing ?? track(
          new Entry(repository, id, streamId, repository.aggregate.initialState, 0, 0, "new")
        )
        entry.record(events)
        return Effect.succeed(entry)
      })
    )

  const asEntry = <S, C, Ev extends { readonly _tag: string }, E, R>(tracked: Tracked<S, C, Ev, E, R>) =>
    Effect.zipRight(
      ensureOpen,
      Effect.suspend(() => {
        const entry = lookup<S, C, Ev, E, R>(tracked.streamId)
        // a tracked object from another unit is adopted by this one
        return Effect.succeed(
          entry ?? track(
            new Entry(
              tracked.repository,
              tracked.id,
              tracked.streamId,
              tracked.state,
              tracked.version,
              tracked.snapshotVersion,
              tracked.status
            )
          )
        )
      })
    )

  const registerModified: UnitOfWork["registerModified"] = (tracked, events) =>
    Effect.map(asEntry(tracked), (entry) => entry.record(events))

  const execute: UnitOfWork["execute"] = (tracked, command) =>
    Effect.flatMap(
      asEntry(tracked),
      (entry) => Effect.tap(entry.repository.aggregate.decide(command, entry.state), (events) => entry.record(events))
    )

  const registerDeleted: UnitOfWork["registerDeleted"] = (tracked) =>
    Effect.flatMap(asEntry(tracked), (entry) => {
      const deletion = entry.repository.deletion
      if (deletion === undefined) {
        return Effect.fail(new DeletionNotSupported({ aggregate: entry.repository.aggregate.name, id: entry.id }))
      }
      entry.record([deletion.event(entry.state, entry.id)])
      entry.status = "deleted"
      return Effect.void
    })

  // The append and the bookkeeping after it are uninterruptible, so an interruption cannot leave a
  // unit open over events that were written; the handlers after it can be interrupted.
  const write = Effect.uninterruptible(Effect.zipRight(
    ensureOpen,
    Effect.gen(function*() {
      const dirty = Array.from(entries.values()).filter((entry) => entry.pending.length > 0)
      const appends: Array<EventStore.StreamAppend> = []
      for (const entry of dirty) {
        const events = yield* entry.repository.toEventData(entry.pending, options)
        appends.push({
          streamId: entry.streamId,
          events,
          expected: entry.version === 0 ? ExpectedVersion.NoStream : ExpectedVersion.exact(entry.version)
        })
      }
      const results = appends.length === 0 ? [] : yield* store.appendMany(appends)
      status = "committed"
      const now = new Date(yield* Clock.currentTimeMillis)
      const committed: Array<CommittedEvent> = []
      for (let i = 0; i < dirty.length; i++) {
        const entry = dirty[i]
        const result = results[i]
        entry.pending.forEach((event, j) => {
          const data = appends[i].events[j]
          committed.push({
            eventId: data.eventId,
            streamId: entry.streamId,
            streamVersion: entry.version + j + 1,
            globalPosition: result.positions[j],
            type: event._tag,
            schemaVersion: data.schemaVersion ?? 1,
            timestamp: now,
            correlationId: data.correlationId ?? null,
            causationId: data.causationId ?? null,
            metadata: data.metadata ?? {},
            data: event
          })
        })
        const appended = entry.pending.length
        entry.version = result.version
        entry.pending = []
        entry.snapshotVersion = yield* entry.repository.snapshotAfterSave(
          {
            id: entry.id,
            streamId: entry.streamId,
            state: entry.state,
            version: entry.version,
            snapshotVersion: entry.snapshotVersion
          },
          appended
        )
      }
      return { appends: results, events: committed }
    })
  ))

  const commit: UnitOfWork["commit"] = Effect.tap(write, (result) => runHandlers(handlers(), result.events))

  const rollback: Effect.Effect<void> = Effect.sync(() => {
    if (status !== "open") return
    status = "rolledBack"
    entries.clear()
  })

  return {
    load: (repository, id) => loadWith(repository, id, false),
    loadOrNew: (repository, id) => loadWith(repository, id, true),
    registerNew,
    registerModified,
    execute,
    registerDeleted,
    tracked: Effect.sync(() => Array.from(entries.values())),
    commit,
    rollback,
    status: Effect.sync(() => status)
  }
}

const runHandlers = (
  handlers: ReadonlyArray<CommitHandler>,
  events: ReadonlyArray<CommittedEvent>
): Effect.Effect<void> =>
  handlers.length === 0
    ? Effect.void
    : Effect.forEach(
      events,
      (event) =>
        Effect.forEach(handlers, (handler) =>
          Effect.catchAllCause(handler(event), (cause) =>
            Cause.isInterruptedOnly(cause)
              ? Effect.void
              : Effect.logWarning(
                `commit handler failed for ${event.type} ${event.eventId}; the commit stands`,
                cause
              ))),
      {
        discard: true
      }
    )

/**
 * The unit of work of the current transactional effect.
 *
 * @since 0.1.0
 * @category tags
 */
export class Current extends Context.Tag("@chronicle/cqrs/UnitOfWork")<Current, UnitOfWork>() {}

/**
 * A unit of work bound to a scope: when the scope closes without a commit, the unit rolls back.
 *
 * @since 0.1.0
 * @category constructors
 */
export const scoped = (options: Options = {}): Effect.Effect<UnitOfWork, never, EventStore.EventStore | Scope.Scope> =>
  Effect.acquireRelease(begin(options), (unit) => unit.rollback)

/**
 * Runs an effect in a new unit of work: commits when it succeeds, rolls back when it fails or is
 * interrupted. Inside, the module's accessors (`load`, `execute`...) use that unit.
 *
 * @example
 * ```ts
 * const transfer = UnitOfWork.transactional(Effect.gen(function*() {
 *   const from = yield* UnitOfWork.load(accounts, "a")
 *   const to = yield* UnitOfWork.load(accounts, "b")
 *   yield* UnitOfWork.execute(from, { _tag: "Withdraw", amount: 10 })
 *   yield* UnitOfWork.execute(to, { _tag: "Deposit", amount: 10 })
 * }))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const transactional = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: Options = {}
): Effect.Effect<A, E | CommitError, Exclude<R, Current> | EventStore.EventStore> =>
  Effect.scoped(
    Effect.flatMap(scoped(options), (unit) =>
      Effect.flatMap(
        Effect.provideService(effect, Current, unit),
        (value) => Effect.as(unit.commit, value)
      ))
  )

/**
 * Like `transactional`, but also returns what the commit wrote.
 *
 * @since 0.1.0
 * @category combinators
 */
export const transactionalWithResult = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: Options = {}
): Effect.Effect<readonly [A, CommitResult], E | CommitError, Exclude<R, Current> | EventStore.EventStore> =>
  Effect.scoped(
    Effect.flatMap(scoped(options), (unit) =>
      Effect.flatMap(
        Effect.provideService(effect, Current, unit),
        (value) => Effect.map(unit.commit, (result) => [value, result] as const)
      ))
  )

/**
 * Loads and tracks an aggregate in the current unit.
 *
 * @since 0.1.0
 * @category accessors
 */
export const load = <S, C, Ev extends { readonly _tag: string }, E, R>(
  repository: Repository<S, C, Ev, E, R>,
  id: string
): Effect.Effect<Tracked<S, C, Ev, E, R>, LoadError | UnitOfWorkClosed, Current> =>
  Effect.flatMap(Current, (unit) => unit.load(repository, id))

/**
 * Loads and tracks an aggregate in the current unit, or tracks a new one.
 *
 * @since 0.1.0
 * @category accessors
 */
export const loadOrNew = <S, C, Ev extends { readonly _tag: string }, E, R>(
  repository: Repository<S, C, Ev, E, R>,
  id: string
): Effect.Effect<Tracked<S, C, Ev, E, R>, LoadError | UnitOfWorkClosed, Current> =>
  Effect.flatMap(Current, (unit) => unit.loadOrNew(repository, id))

/**
 * Tracks a new aggregate in the current unit.
 *
 * @since 0.1.0
 * @category accessors
 */
export const registerNew = <S, C, Ev extends { readonly _tag: string }, E, R>(
  repository: Repository<S, C, Ev, E, R>,
  id: string,
  events: ReadonlyArray<Ev>
): Effect.Effect<Tracked<S, C, Ev, E, R>, AggregateAlreadyExists | UnitOfWorkClosed, Current> =>
  Effect.flatMap(Current, (unit) => unit.registerNew(repository, id, events))

/**
 * Records events of a tracked aggregate in the current unit.
 *
 * @since 0.1.0
 * @category accessors
 */
export const registerModified = <S, C, Ev extends { readonly _tag: string }, E, R>(
  tracked: Tracked<S, C, Ev, E, R>,
  events: ReadonlyArray<Ev>
): Effect.Effect<void, UnitOfWorkClosed, Current> =>
  Effect.flatMap(Current, (unit) => unit.registerModified(tracked, events))

/**
 * Decides a command against a tracked aggregate in the current unit.
 *
 * @since 0.1.0
 * @category accessors
 */
export const execute = <S, C, Ev extends { readonly _tag: string }, E, R>(
  tracked: Tracked<S, C, Ev, E, R>,
  command: C
): Effect.Effect<ReadonlyArray<Ev>, E | UnitOfWorkClosed, R | Current> =>
  Effect.flatMap(Current, (unit) => unit.execute(tracked, command))

/**
 * Registers a tracked aggregate as deleted (by its domain deletion event) in the current unit.
 *
 * @since 0.1.0
 * @category accessors
 */
export const registerDeleted = <S, C, Ev extends { readonly _tag: string }, E, R>(
  tracked: Tracked<S, C, Ev, E, R>
): Effect.Effect<void, DeletionNotSupported | UnitOfWorkClosed, Current> =>
  Effect.flatMap(Current, (unit) => unit.registerDeleted(tracked))

/**
 * The exit of a unit's commit, for callers who manage a unit by hand.
 *
 * @since 0.1.0
 * @category combinators
 */
export const commitOrRollback = <A, E>(
  unit: UnitOfWork,
  exit: Exit.Exit<A, E>
): Effect.Effect<A, E | CommitError> =>
  Exit.isSuccess(exit) ? Effect.as(unit.commit, exit.value) : Effect.zipRight(unit.rollback, exit)
