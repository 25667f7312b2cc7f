/**
 * Wraps any `EventStore` with a circuit breaker, retries and a timeout per operation, for transient
 * failures only: an `EventStoreError` (storage) or a timeout. `WrongExpectedVersion`,
 * `StreamDeleted`, `IdempotencyConflict`, `InvalidAppend` and decode errors are answers, not
 * outages: they are never retried and never count against the breaker.
 *
 * Retrying an append is safe because appends are idempotent by event id: a retry of events that
 * did land is a no-op. Streams (`streamEvents`, `allEvents`, `subscribe`) pass through unchanged:
 * restarting a stream midway is the reader's decision (it knows its position).
 *
 * @since 0.1.0
 */
import { EventStore, EventStoreError } from "@chronicle/eventstore"
import { Duration, Effect, Layer } from "effect"
import * as CircuitBreaker from "./CircuitBreaker.js"
import * as Retry from "./Retry.js"
import * as Timeout from "./Timeout.js"

/**
 * The operations that can be configured one by one.
 *
 * @since 0.1.0
 * @category models
 */
export type Operation =
  | "append"
  | "appendMany"
  | "readStream"
  | "readAll"
  | "head"
  | "streamInfo"
  | "deleteStream"
  | "saveSnapshot"
  | "loadSnapshot"

/**
 * Settings of one operation; `false` turns a policy off.
 *
 * @since 0.1.0
 * @category models
 */
export interface OperationOptions {
  readonly retry?: Retry.Options<Transient> | false
  readonly timeout?: Duration.DurationInput | false
  /** Whether the breaker guards this operation (default true). */
  readonly breaker?: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends OperationOptions {
  /** Names the breaker (default `eventstore`). */
  readonly name?: string
  /** Breaker settings (default: 5 consecutive transient failures, 30 s open). */
  readonly breakerOptions?: Omit<CircuitBreaker.Options<unknown>, "name" | "isFailure">
  /** Per-operation overrides of `retry`, `timeout` and `breaker`. */
  readonly operations?: Partial<Record<Operation, OperationOptions>>
}

/**
 * The failures worth retrying.
 *
 * @since 0.1.0
 * @category models
 */
export type Transient = EventStoreError.EventStoreError | Timeout.TimedOut

/**
 * Whether a failure is transient: a storage failure or a timeout.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTransient = (error: unknown): error is Transient =>
  error instanceof EventStoreError.EventStoreError || error instanceof Timeout.TimedOut

const defaultRetry: Retry.Options<Transient> = { times: 3, base: Duration.millis(50), maxDelay: Duration.seconds(2) }
const defaultTimeout = Duration.seconds(10)

/**
 * Wraps a store; returns the wrapped store and its breaker (for monitoring or manual isolation).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  store: EventStore.Service,
  options: Options = {}
): Effect.Effect<{ readonly store: EventStore.Service; readonly breaker: CircuitBreaker.CircuitBreaker<unknown> }> =>
  Effect.gen(function*() {
    const breaker = yield* CircuitBreaker.make<unknown>({
      ...options.breakerOptions,
      name: options.name ?? "eventstore",
      isFailure: isTransient
    })

    const settings = (operation: Operation) => {
      const own = options.operations?.[operation] ?? {}
      const retry = own.retry ?? options.retry ?? defaultRetry
      const timeout = own.timeout ?? options.timeout ?? defaultTimeout
      return {
        retry: retry === false ? undefined : Retry.schedule<unknown>({
          ...retry,
          while: (error) => isTransient(error) && (retry.while === undefined || retry.while(error))
        }),
        timeout: timeout === false ? undefined : timeout,
        breaker: own.breaker ?? options.breaker ?? true
      }
    }

    const guard = (operation: Operation) => {
      const s = settings(operation)
      return <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | EventStoreError.EventStoreError> => {
        const timed: Effect.Effect<A, E | Timeout.TimedOut> = s.timeout === undefined
          ? effect
          : Timeout.timeout(effect, s.timeout, `eventstore ${operation}`)
        const broken: Effect.Effect<A, E | Timeout.TimedOut | CircuitBreaker.CircuitOpen> = s.breaker
          ? breaker.execute(timed)
          : timed
        const retried = s.retry === undefined ? broken : Effect.retry(broken, s.retry)
        return Effect.catchIf(
          retried,
          (error): error is Timeout.TimedOut | CircuitBreaker.CircuitOpen =>
            error instanceof Timeout.TimedOut || error instanceof CircuitBreaker.CircuitOpen,
          (error) => Effect.fail(new EventStoreError.EventStoreError({ operation, cause: error }))
        )
      }
    }

    const append = guard("append")
    const appendMany = guard("appendMany")
    const readStream = guard("readStream")
    const readAll = guard("readAll")
    const head = guard("head")
    const streamInfo = guard("streamInfo")
    const deleteStream = guard("deleteStream")
    const saveSnapshot = guard("saveSnapshot")
    const loadSnapshot = guard("loadSnapshot")

    const wrapped: EventStore.Service = {
      append: (streamId, events, expected) => append(store.append(streamId, events, expected)),
      appendMany: (appends) => appendMany(store.appendMany(appends)),
      readStream: (streamId, readOptions) => readStream(store.readStream(streamId, readOptions)),
      streamEvents: store.streamEvents,
      readAll: (readOptions) => readAll(store.readAll(readOptions)),
      allEvents: store.allEvents,
      subscribe: store.subscribe,
      head: head(store.head),
      streamInfo: (streamId) => streamInfo(store.streamInfo(streamId)),
      deleteStream: (streamId, expected) => deleteStream(store.deleteStream(streamId, expected)),
      saveSnapshot: (streamId, snapshot) => saveSnapshot(store.saveSnapshot(streamId, snapshot)),
      loadSnapshot: (streamId) => loadSnapshot(store.loadSnapshot(streamId))
    }
    return { store: wrapped, breaker }
  })

/**
 * Decorates the `EventStore` in context: `ResilientEventStore.layer().pipe(Layer.provide(inner))`.
 *
 * @example
 * ```ts
 * import { EventStore } from "@chronicle/eventstore"
 * import { Layer } from "effect"
 * import { ResilientEventStore } from "@chronicle/resilience"
 *
 * const Store = ResilientEventStore.layer({ timeout: "5 seconds" }).pipe(Layer.provide(EventStore.layerMemory))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<EventStore.EventStore, never, EventStore.EventStore> =>
  Layer.effect(
    EventStore.EventStore,
    Effect.flatMap(EventStore.EventStore, (inner) => Effect.map(make(inner, options), ({ store }) => store))
  )
