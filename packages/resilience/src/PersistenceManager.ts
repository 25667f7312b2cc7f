/**
 * The seed's `PersistenceManager`: values stored by key with a priority, through a Schema.
 *
 * - `critical`: written through before `persist` returns (with a breaker and retries).
 *   A crash loses nothing `persist` returned for.
 * - `important`: written within `importantDelay` (default 100 ms) of the first unwritten change,
 *   repeated writes to one key coalescing. A crash loses at most that window of writes.
 * - `background`: batched write-behind every `backgroundInterval` (default 1 s) or every
 *   `backgroundMaxBatch` keys. A crash loses at most one interval (or batch) of writes.
 *
 * Closing the scope (a clean shutdown) flushes every pending write: a clean stop loses nothing
 * accepted. Reads see pending writes. A newer write of a key at any priority supersedes a pending
 * older one.
 *
 * @since 0.1.0
 */
import type { Queue } from "effect"
import { Context, Duration, Effect, Layer, Option, ParseResult, PubSub, Schema, Scope, Stream } from "effect"
import * as Alerts from "./Alerts.js"
import type * as CircuitBreaker from "./CircuitBreaker.js"
import * as Monitoring from "./Monitoring.js"
import * as PersistenceStrategy from "./PersistenceStrategy.js"
import type * as Retry from "./Retry.js"
import * as Storage from "./Storage.js"

/**
 * @since 0.1.0
 * @category models
 */
export const Priority = Schema.Literal("critical", "important", "background")

/**
 * @since 0.1.0
 * @category models
 */
export type Priority = typeof Priority.Type

/**
 * A value could not be encoded for storage, or a stored value does not decode with the schema.
 *
 * @since 0.1.0
 * @category errors
 */
export class ValueCodecError extends Schema.TaggedError<ValueCodecError>()("ValueCodecError", {
  key: Schema.String,
  direction: Schema.Literal("encode", "decode"),
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot ${this.direction} the value of ${this.key}: ${this.reason}`
  }
}

/**
 * What happened in the manager, for monitoring. Durations are in milliseconds, `at` in epoch ms.
 *
 * @since 0.1.0
 * @category models
 */
export type PersistenceEvent =
  | {
    readonly _tag: "Saved"
    readonly keys: ReadonlyArray<string>
    readonly priority: Priority
    readonly durationMillis: number
    readonly at: number
  }
  | {
    readonly _tag: "Failed"
    readonly keys: ReadonlyArray<string>
    readonly priority: Priority | null
    readonly operation: string
    readonly error: PersistenceStrategy.PersistenceError
    readonly durationMillis: number
    readonly at: number
  }
  | {
    readonly _tag: "Deleted"
    readonly key: string
    readonly durationMillis: number
    readonly at: number
  }
  | {
    readonly _tag: "Flushed"
    readonly count: number
    readonly durationMillis: number
    readonly at: number
  }

/**
 * The manager, typed by the values it stores.
 *
 * @since 0.1.0
 * @category models
 */
export interface Manager<A> {
  readonly persist: (
    key: string,
    value: A,
    priority: Priority
  ) => Effect.Effect<void, PersistenceStrategy.PersistenceError | ValueCodecError>
  readonly load: (
    key: string
  ) => Effect.Effect<Option.Option<A>, PersistenceStrategy.PersistenceError | ValueCodecError>
  readonly exists: (key: string) => Effect.Effect<boolean, PersistenceStrategy.PersistenceError>
  readonly delete: (key: string) => Effect.Effect<void, PersistenceStrategy.PersistenceError>
  readonly listKeys: (prefix: string) => Effect.Effect<ReadonlyArray<string>, PersistenceStrategy.PersistenceError>
  /** Writes every pending value now. */
  readonly flush: Effect.Effect<void, PersistenceStrategy.PersistenceError>
  readonly events: Stream.Stream<PersistenceEvent>
  /** Subscribes now, so no event after this returns is missed. */
  readonly subscribe: Effect.Effect<Queue.Dequeue<PersistenceEvent>, never, Scope.Scope>
  /** The same manager (same buffers, same storage) for values of another schema. */
  readonly forSchema: <B, I>(schema: Schema.Schema<B, I>) => Manager<B>
}

/**
 * The service in context stores JSON values; use `forSchema` for typed values.
 *
 * @since 0.1.0
 * @category tags
 */
export class PersistenceManager extends Context.Tag("@chronicle/resilience/PersistenceManager")<
  PersistenceManager,
  Manager<unknown>
>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default 100 ms. */
  readonly importantDelay?: Duration.DurationInput
  /** Default 1 s. */
  readonly backgroundInterval?: Duration.DurationInput
  /** Default 100. */
  readonly backgroundMaxBatch?: number
  /** The breaker and retries in front of storage; `false` to write without them. */
  readonly resilience?: false | {
    readonly name?: string
    readonly breaker?: Omit<CircuitBreaker.Options<PersistenceStrategy.PersistenceError>, "name">
    readonly retry?: Retry.Options<PersistenceStrategy.PersistenceError>
  }
  /** Replaces the strategy of a priority; it receives the (resilient) strategy that writes to storage. */
  readonly strategies?: Partial<
    Record<
      Priority,
      (
        base: PersistenceStrategy.PersistenceStrategy
      ) => Effect.Effect<PersistenceStrategy.PersistenceStrategy, never, Scope.Scope>
    >
  >
}

/**
 * Builds a manager over `storage`. Flushes when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  storage: Storage.Service,
  options: Options = {}
): Effect.Effect<Manager<unknown>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const alerts = yield* Effect.serviceOption(Alerts.Alerts)
    const monitoring = yield* Effect.serviceOption(Monitoring.Monitoring)
    const pubsub = yield* PubSub.unbounded<PersistenceEvent>()
    yield* Effect.addFinalizer(() => PubSub.shutdown(pubsub))

    const emit = (event: PersistenceEvent): Effect.Effect<void> => {
      const effects: Array<Effect.Effect<void>> = [PubSub.publish(pubsub, event)]
      if (Option.isSome(monitoring)) {
        const name = event._tag === "Saved" || event._tag === "Failed" ?
          `${event._tag === "Saved" ? "save" : event.operation}` :
          event._tag === "Deleted"
          ? "delete"
          : "flush"
        effects.push(monitoring.value.record({
          source: "persistence",
          name: event._tag === "Saved"
            ? `save:${event.priority}`
            : event._tag === "Failed"
            ? `${name}:${event.priority ?? "any"}`
            : name,
          outcome: event._tag === "Failed" ? "failure" : "success",
          durationMillis: event.durationMillis,
          ...(event._tag === "Failed" ? { detail: event.error.message } : {})
        }))
      }
      if (event._tag === "Failed" && Option.isSome(alerts)) {
        effects.push(alerts.value.raise({
          title: "Persistence Failed",
          message: event.error.message,
          severity: event.priority === "critical" ? "high" : "warning",
          source: "persistence"
        }))
      }
      return Effect.all(effects, { discard: true })
    }

    const reporter = (priority: Priority) => (report: PersistenceStrategy.WriteReport): Effect.Effect<void> =>
      Option.match(report.error, {
        onNone: () =>
          emit({
            _tag: "Saved",
            keys: report.keys,
            priority,
            durationMillis: report.durationMillis,
            at: clock.unsafeCurrentTimeMillis()
          }),
        onSome: (error) =>
          emit({
            _tag: "Failed",
            keys: report.keys,
            priority,
            operation: "save",
            error,
            durationMillis: report.durationMillis,
            at: clock.unsafeCurrentTimeMillis()
          })
      })

    const direct = PersistenceStrategy.immediate(storage)
    const base = options.resilience === false ? direct : yield* PersistenceStrategy.makeResilient(direct, {
      name: options.resilience?.name ?? "persistence",
      ...(options.resilience?.breaker === undefined ? {} : { breaker: options.resilience.breaker }),
      ...(options.resilience?.retry === undefined ? {} : { retry: options.resilience.retry })
    })
    const critical = options.strategies?.critical === undefined ? base : yield* options.strategies.critical(base)
    const important = options.strategies?.important === undefined
      ? yield* PersistenceStrategy.debounced(base, {
        delay: options.importantDelay ?? Duration.millis(100),
        onWrite: reporter("important")
      })
      : yield* options.strategies.important(base)
    const background = options.strategies?.background === undefined
      ? yield* PersistenceStrategy.batched(base, {
        interval: options.backgroundInterval ?? Duration.seconds(1),
        maxBatch: options.backgroundMaxBatch ?? 100,
        onWrite: reporter("background")
      })
      : yield* options.strategies.background(base)
    const byPriority: Record<Priority, PersistenceStrategy.PersistenceStrategy> = { critical, important, background }
    const buffered = [important, background]

    const timed = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.suspend(() => {
        const start = clock.unsafeCurrentTimeMillis()
        return Effect.map(Effect.either(effect), (result) => ({
          result,
          durationMillis: clock.unsafeCurrentTimeMillis() - start
        }))
      })

    const failed = (
      keys: ReadonlyArray<string>,
      priority: Priority | null,
      operation: string,
      error: PersistenceStrategy.PersistenceError,
      durationMillis: number
    ) => emit({ _tag: "Failed", keys, priority, operation, error, durationMillis, at: clock.unsafeCurrentTimeMillis() })

    const persistText = (key: string, text: string, priority: Priority) =>
      Effect.gen(function*() {
        const target = byPriority[priority]
        for (const strategy of [critical, ...buffered]) {
          if (strategy !== target) yield* strategy.discard(key)
        }
        const { durationMillis, result } = yield* timed(target.save(key, text))
        if (result._tag === "Left") {
          yield* failed([key], priority, "save", result.left, durationMillis)
          return yield* Effect.fail(result.left)
        }
        if (target === critical) {
          yield* emit({ _tag: "Saved", keys: [key], priority, durationMillis, at: clock.unsafeCurrentTimeMillis() })
        }
      })

    const loadText = (key: string) =>
      Effect.gen(function*() {
        for (const strategy of buffered) {
          const pending = yield* strategy.pending(key)
          if (Option.isSome(pending)) return pending
        }
        return yield* critical.load(key)
      })

    const pendingCount = Effect.map(
      Effect.forEach(buffered, (s) => s.pendingKeys),
      (lists) => lists.reduce((n, keys) => n + keys.length, 0)
    )

    const flush: Effect.Effect<void, PersistenceStrategy.PersistenceError> = Effect.gen(function*() {
      const count = yield* pendingCount
      const start = clock.unsafeCurrentTimeMillis()
      const results = yield* Effect.forEach([...buffered, critical], (s) => Effect.either(s.flush))
      const durationMillis = clock.unsafeCurrentTimeMillis() - start
      for (const result of results) {
        if (result._tag === "Left") {
          yield* failed([], null, "flush", result.left, durationMillis)
          return yield* Effect.fail(result.left)
        }
      }
      yield* emit({ _tag: "Flushed", count, durationMillis, at: clock.unsafeCurrentTimeMillis() })
    })

    yield* Effect.addFinalizer(() =>
      flush.pipe(
        Effect.catchAll((error) => Effect.logError("persistence manager: the final flush failed", error))
      )
    )

    const view = <B, I>(schema: Schema.Schema<B, I>): Manager<B> => {
      const codec = Schema.parseJson(schema)
      const encode = Schema.encode(codec)
      const decode = Schema.decodeUnknown(codec)
      return {
        persist: (key, value, priority) =>
          encode(value).pipe(
            Effect.mapError((error) =>
              new ValueCodecError({
                key,
                direction: "encode",
                reason: ParseResult.TreeFormatter.formatErrorSync(error)
              })
            ),
            Effect.flatMap((text) => persistText(key, text, priority))
          ),
        load: (key) =>
          loadText(key).pipe(
            Effect.flatMap(Option.match({
              onNone: () => Effect.succeed(Option.none<B>()),
              onSome: (text) =>
                decode(text).pipe(
                  Effect.map(Option.some),
                  Effect.mapError((error) =>
                    new ValueCodecError({
                      key,
                      direction: "decode",
                      reason: ParseResult.TreeFormatter.formatErrorSync(error)
                    })
                  )
                )
            }))
          ),
        exists: (key) =>
          Effect.gen(function*() {
            for (const strategy of buffered) {
              if (Option.isSome(yield* strategy.pending(key))) return true
            }
            return yield* critical.exists(key)
          }),
        delete: (key) =>
          Effect.gen(function*() {
            for (const strategy of buffered) yield* strategy.discard(key)
            const { durationMillis, result } = yield* timed(critical.delete(key))
            if (result._tag === "Left") {
              yield* failed([key], null, "delete", result.left, durationMillis)
              return yield* Effect.fail(result.left)
            }
            yield* emit({ _tag: "Deleted", key, durationMillis, at: clock.unsafeCurrentTimeMillis() })
          }),
        listKeys: (prefix) =>
          Effect.gen(function*() {
            const keys = new Set(yield* critical.listKeys(prefix))
            for (const strategy of buffered) {
              for (const key of yield* strategy.pendingKeys) if (key.startsWith(prefix)) keys.add(key)
            }
            return Array.from(keys).sort()
          }),
        flush,
        events: Stream.fromPubSub(pubsub),
        subscribe: PubSub.subscribe(pubsub),
        forSchema: view
      }
    }
    return view(Schema.Unknown)
  })

/**
 * A typed manager over the `Storage` in context, for values of `schema`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { PersistenceManager, Storage } from "@chronicle/resilience"
 *
 * const Settings = Schema.Struct({ theme: Schema.Literal("light", "dark") })
 * const program = Effect.gen(function*() {
 *   const settings = yield* PersistenceManager.makeFor(Settings)
 *   yield* settings.persist("settings/ada", { theme: "dark" }, "critical")
 *   return yield* settings.load("settings/ada")
 * }).pipe(Effect.scoped, Effect.provide(Storage.layerMemory))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFor = <A, I>(
  schema: Schema.Schema<A, I>,
  options: Options = {}
): Effect.Effect<Manager<A>, never, Scope.Scope | Storage.Storage> =>
  Effect.flatMap(Storage.Storage, (storage) => Effect.map(make(storage, options), (m) => m.forSchema(schema)))

/**
 * The manager as a layer over the `Storage` in context; it flushes when the layer is released.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<PersistenceManager, never, Storage.Storage> =>
  Layer.scoped(PersistenceManager, Effect.flatMap(Storage.Storage, (storage) => make(storage, options)))
