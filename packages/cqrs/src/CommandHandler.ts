/**
 * The common shape of a command handler: load the aggregate, decide, append. With bounded retries
 * on concurrency conflicts, idempotency by command id, and the command's correlation and causation
 * carried into the events it produces.
 *
 * @since 0.1.0
 */
import type { Envelope } from "@chronicle/domain"
import { EventStoreError } from "@chronicle/eventstore"
import { Effect, Option, Schedule, Schema, Stream } from "effect"
import { AggregateAlreadyExists, AggregateNotFound } from "./CqrsError.js"
import { fingerprint } from "./internal/fingerprint.js"
import type { MessageContext } from "./Message.js"
import type { Loaded, LoadError, Repository, SaveError } from "./Repository.js"

/**
 * What handling a command wrote: the stream, its new version, the global position of the last new
 * event (`null` when the command produced no events), and whether the command had already been
 * handled (its events were written by an earlier attempt with the same command id).
 *
 * @since 0.1.0
 * @category schemas
 */
export const CommandResult = Schema.Struct({
  streamId: Schema.String,
  version: Schema.Int,
  globalPosition: Schema.NullOr(Schema.Int),
  positions: Schema.Array(Schema.Int),
  eventIds: Schema.Array(Schema.String),
  duplicate: Schema.Boolean
})

/** @since 0.1.0 @category models */
export type CommandResult = typeof CommandResult.Type

/**
 * Every failure of the load → decide → append cycle besides the domain's own, as a schema, for the
 * `failure` of a command's `Schema.TaggedRequest`.
 *
 * @example
 * ```ts
 * class Deposit extends Schema.TaggedRequest<Deposit>()("Deposit", {
 *   payload: { accountId: Schema.String, amount: Schema.Int },
 *   success: CommandHandler.CommandResult,
 *   failure: Schema.Union(DomainError.InvariantViolated, CommandHandler.StoreFailure)
 * }) {}
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const StoreFailure = Schema.Union(
  AggregateNotFound,
  AggregateAlreadyExists,
  EventStoreError.WrongExpectedVersion,
  EventStoreError.StreamDeleted,
  EventStoreError.IdempotencyConflict,
  EventStoreError.InvalidRequest,
  EventStoreError.EventDecodeError,
  EventStoreError.EventStoreError
)

/** @since 0.1.0 @category models */
export type StoreFailure = typeof StoreFailure.Type

/**
 * Whether the aggregate must exist (`update`), must not (`create`), or either (`upsert`).
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = "create" | "update" | "upsert"

/**
 * The retry schedule used when none is given: up to 5 retries, exponential from 5 ms, jittered.
 *
 * @since 0.1.0
 * @category retries
 */
export const defaultRetry: Schedule.Schedule<unknown, unknown> = Schedule.exponential("5 millis", 2).pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(5))
)

/**
 * @since 0.1.0
 * @category models
 */
export interface ExecuteOptions {
  readonly mode?: Mode
  /** Retries after `WrongExpectedVersion` (a fresh load and decision each time); default `defaultRetry`. */
  readonly retry?: Schedule.Schedule<unknown, unknown>
  /** The command's id, correlation and causation (from the bus's `MessageContext`). */
  readonly context?: {
    readonly messageId: string
    readonly type?: string
    readonly correlationId?: string | null
    readonly causationId?: string | null
    readonly metadata?: Envelope.Metadata
  }
}

/**
 * Failures of `execute` besides the domain's.
 *
 * @since 0.1.0
 * @category errors
 */
export type ExecuteError = LoadError | SaveError | AggregateAlreadyExists

/**
 * Loads the aggregate `id`, decides `command` against it, and appends the events expecting the
 * loaded version; retried on conflicts. With a command id in `options.context`, the events get ids
 * derived from it and carry the command's type and fingerprint, so the same command id handled
 * twice writes its events once and answers with them, and the same id reused for another command
 * fails with `IdempotencyConflict` (see decision 0303).
 *
 * @since 0.1.0
 * @category handling
 */
export const execute = <S, C, Ev extends { readonly _tag: string }, E, R>(
  repository: Repository<S, C, Ev, E, R>,
  id: string,
  command: C,
  options: ExecuteOptions = {}
): Effect.Effect<CommandResult, E | ExecuteError, R> => {
  const mode = options.mode ?? "upsert"
  const context = options.context
  const messageId = context?.messageId
  // The key includes the stream, so a command id reused for another aggregate is not a conflict.
  const idempotencyKey = messageId === undefined ? undefined : `${repository.streamId(id)}/${messageId}`
  const commandHash = context === undefined ? undefined : fingerprint(command)
  const saveOptions = context === undefined || idempotencyKey === undefined
    ? {}
    : {
      idempotencyKey,
      // The command caused these events; they join its conversation (or start one named after it).
      correlationId: context.correlationId ?? context.messageId,
      causationId: context.messageId,
      metadata: {
        ...context.metadata,
        commandId: context.messageId,
        ...(context.type === undefined ? {} : { commandType: context.type }),
        commandHash
      }
    }

  const load: Effect.Effect<Loaded<S>, LoadError | AggregateAlreadyExists> = mode === "update"
    ? repository.load(id)
    : mode === "create"
    ? Effect.flatMap(repository.loadOrNew(id), (loaded) =>
      loaded.version === 0
        ? Effect.succeed(loaded)
        : Effect.fail(
          new AggregateAlreadyExists({ aggregate: repository.aggregate.name, id, version: loaded.version })
        ))
    : repository.loadOrNew(id)

  const attempt = Effect.flatMap(
    load,
    (loaded) =>
      Effect.flatMap(
        repository.aggregate.decide(command, loaded.state),
        (events) =>
          Effect.map(repository.save(loaded, events, saveOptions), (saved): CommandResult => ({
            streamId: saved.streamId,
            version: saved.version,
            globalPosition: saved.globalPosition,
            positions: saved.positions,
            eventIds: saved.eventIds,
            duplicate: saved.duplicate
          }))
      )
  )

  const retried = Effect.retry(attempt, {
    schedule: options.retry ?? defaultRetry,
    while: (error) => isTagged(error, "WrongExpectedVersion")
  })

  if (context === undefined || messageId === undefined || commandHash === undefined) return retried
  const earlier = (scan: number | undefined) =>
    earlierResult(repository, id, { messageId, type: context.type, hash: commandHash }, scan)
  // The earlier handling is looked for only when this one wrote nothing, so a first handling costs
  // no extra read: a refusal, a failed load or an append conflict may all be a re-send that finds
  // the aggregate moved on (by its own events or later ones), and so may a decision with no events.
  return retried.pipe(
    Effect.catchAll((error) =>
      isTagged(error, "EventStoreError") || isTagged(error, "EventDecodeError") || isTagged(error, "InvalidRequest")
        ? Effect.fail(error)
        : Effect.flatMap(
          // A creation's events open the stream: a bounded look suffices.
          earlier(mode === "create" && isTagged(error, "AggregateAlreadyExists") ? createScan : undefined),
          Option.match({ onNone: () => Effect.fail(error), onSome: Effect.succeed })
        )
    ),
    Effect.flatMap((result) =>
      result.eventIds.length > 0
        ? Effect.succeed(result)
        : Effect.map(earlier(undefined), Option.getOrElse(() => result))
    )
  )
}

// How many events from the start of a stream a re-sent creation looks through for its own.
const createScan = 100

const isTagged = (error: unknown, tag: string): boolean =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === tag

// Finds the events an earlier handling of the command id wrote (they name it as their cause),
// scanning the stream. Events of another command under the same id (another type or fingerprint)
// are an `IdempotencyConflict`; events written before fingerprints were recorded match by type.
const earlierResult = <S, C, Ev extends { readonly _tag: string }, E, R>(
  repository: Repository<S, C, Ev, E, R>,
  id: string,
  command: { readonly messageId: string; readonly type: string | undefined; readonly hash: string },
  scan: number | undefined
): Effect.Effect<Option.Option<CommandResult>, LoadError | EventStoreError.IdempotencyConflict> =>
  repository.history(id).pipe(
    (events) => scan === undefined ? events : Stream.take(events, scan),
    Stream.filter((event) => event.causationId === command.messageId),
    Stream.runCollect,
    Effect.flatMap((chunk) => {
      const events = Array.from(chunk)
      const first = events.at(0)
      const last = events.at(-1)
      if (first === undefined || last === undefined) return Effect.succeed(Option.none())
      const storedType = first.metadata.commandType
      const storedHash = first.metadata.commandHash
      const same = (storedType === undefined || command.type === undefined || storedType === command.type) &&
        (storedHash === undefined || storedHash === command.hash)
      return same
        ? Effect.succeed(Option.some({
          streamId: last.streamId,
          version: last.streamVersion,
          globalPosition: last.globalPosition,
          positions: events.map((e) => e.globalPosition),
          eventIds: events.map((e) => e.eventId),
          duplicate: true
        }))
        : Effect.fail(
          new EventStoreError.IdempotencyConflict({
            streamId: last.streamId,
            eventIds: events.map((e) => e.eventId),
            reason: `command id ${command.messageId} was already used for another command${
              typeof storedType === "string" ? ` (${storedType})` : ""
            }`
          })
        )
    })
  )

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<M, C> {
  /** Which aggregate the command addresses. */
  readonly id: (command: M) => string
  /** The aggregate's command for this message; the message itself by default. */
  readonly command?: (message: M) => C
  readonly mode?: Mode
  readonly retry?: Schedule.Schedule<unknown, unknown>
}

/**
 * A bus handler for commands of one aggregate: `CommandBus.handler(Deposit, CommandHandler.fromAggregate(accounts, { id: (c) => c.accountId }))`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromAggregate = <S, C, Ev extends { readonly _tag: string }, E, R, M extends C>(
  repository: Repository<S, C, Ev, E, R>,
  options: Options<M, C> & { readonly command?: undefined }
): (command: M, context: MessageContext) => Effect.Effect<CommandResult, E | ExecuteError, R> =>
(message, context) =>
  execute(repository, options.id(message), message, {
    ...(options.mode === undefined ? {} : { mode: options.mode }),
    ...(options.retry === undefined ? {} : { retry: options.retry }),
    context
  })

/**
 * Like `fromAggregate`, for messages that map to the aggregate's commands.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromAggregateWith = <S, C, Ev extends { readonly _tag: string }, E, R, M>(
  repository: Repository<S, C, Ev, E, R>,
  options: Options<M, C> & { readonly command: (message: M) => C }
): (message: M, context: MessageContext) => Effect.Effect<CommandResult, E | ExecuteError, R> =>
(message, context) =>
  execute(repository, options.id(message), options.command(message), {
    ...(options.mode === undefined ? {} : { mode: options.mode }),
    ...(options.retry === undefined ? {} : { retry: options.retry }),
    context
  })
