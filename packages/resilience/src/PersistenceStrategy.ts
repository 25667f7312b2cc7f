/**
 * How the persistence manager writes: immediately, debounced (coalescing repeated writes to a key),
 * batched (write-behind), or resilient (another strategy behind a circuit breaker and retries),
 * the seed's pluggable strategies.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Duration, Effect, Option, Schema } from "effect"
import * as CircuitBreaker from "./CircuitBreaker.js"
import * as Retry from "./Retry.js"
import type * as Storage from "./Storage.js"

/**
 * The storage underneath failed, or refused (an open breaker); the original failure is the `cause`.
 *
 * @since 0.1.0
 * @category errors
 */
export class PersistenceError extends Schema.TaggedError<PersistenceError>()("PersistenceError", {
  operation: Schema.String,
  key: Schema.NullOr(Schema.String),
  cause: Schema.Defect
}) {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `persistence ${this.operation}${this.key === null ? "" : ` of ${this.key}`} failed: ${reason}`
  }
}

/**
 * A strategy. Buffering strategies hold accepted writes in `pending` until they reach storage.
 *
 * @since 0.1.0
 * @category models
 */
export interface PersistenceStrategy {
  readonly name: string
  readonly save: (key: string, value: string) => Effect.Effect<void, PersistenceError>
  readonly saveMany: (entries: ReadonlyArray<readonly [string, string]>) => Effect.Effect<void, PersistenceError>
  readonly load: (key: string) => Effect.Effect<Option.Option<string>, PersistenceError>
  readonly exists: (key: string) => Effect.Effect<boolean, PersistenceError>
  readonly delete: (key: string) => Effect.Effect<void, PersistenceError>
  readonly listKeys: (prefix: string) => Effect.Effect<ReadonlyArray<string>, PersistenceError>
  /** Writes everything pending now. */
  readonly flush: Effect.Effect<void, PersistenceError>
  /** An accepted write of `key` that has not reached storage yet. */
  readonly pending: (key: string) => Effect.Effect<Option.Option<string>>
  readonly pendingKeys: Effect.Effect<ReadonlyArray<string>>
  /** Drops a pending write of `key` (a newer write elsewhere supersedes it). */
  readonly discard: (key: string) => Effect.Effect<void>
}

/**
 * What a buffering strategy reports after each write to the strategy under it.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteReport {
  readonly keys: ReadonlyArray<string>
  readonly durationMillis: number
  readonly error: Option.Option<PersistenceError>
}

const noPending = {
  pending: () => Effect.succeed(Option.none<string>()),
  pendingKeys: Effect.succeed<ReadonlyArray<string>>([]),
  discard: () => Effect.void
}

/**
 * Writes straight to storage: durable when it returns (as durable as the store).
 *
 * @since 0.1.0
 * @category constructors
 */
export const immediate = (storage: Storage.Service): PersistenceStrategy => {
  const fail = (operation: string, key: string | null) => (cause: unknown) =>
    new PersistenceError({ operation, key, cause })
  return {
    name: "immediate",
    save: (key, value) => Effect.mapError(storage.kv.set(key, value), fail("save", key)),
    saveMany: (entries) =>
      entries.length === 0 ? Effect.void : Effect.mapError(storage.setMany(entries), fail("saveMany", null)),
    load: (key) => Effect.mapError(storage.kv.get(key), fail("load", key)),
    exists: (key) => Effect.mapError(storage.kv.has(key), fail("exists", key)),
    delete: (key) => Effect.mapError(storage.kv.remove(key), fail("delete", key)),
    listKeys: (prefix) => Effect.mapError(storage.listKeys(prefix), fail("listKeys", prefix)),
    flush: Effect.void,
    ...noPending
  }
}

// Reads go through the pending writes first, so a caller reads what it wrote.
const overlay = (
  inner: PersistenceStrategy,
  pending: Map<string, string>
): Pick<PersistenceStrategy, "load" | "exists" | "listKeys" | "pending" | "pendingKeys" | "discard"> => ({
  load: (key) =>
    Effect.suspend(() => {
      const value = pending.get(key)
      return value === undefined ? inner.load(key) : Effect.succeed(Option.some(value))
    }),
  exists: (key) => Effect.suspend(() => pending.has(key) ? Effect.succeed(true) : inner.exists(key)),
  listKeys: (prefix) =>
    Effect.map(inner.listKeys(prefix), (keys) => {
      const all = new Set(keys)
      for (const key of pending.keys()) if (key.startsWith(prefix)) all.add(key)
      return Array.from(all).sort()
    }),
  pending: (key) => Effect.sync(() => Option.fromNullable(pending.get(key))),
  pendingKeys: Effect.sync(() => Array.from(pending.keys())),
  discard: (key) => Effect.sync(() => void pending.delete(key))
})

/**
 * Holds each key's latest value and writes it at most `delay` after the first unwritten change:
 * repeated writes within that time coalesce into one. A failed write stays pending and is tried
 * again after `retryDelay` (default 1 s). The background fibers live in the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const debounced = (
  inner: PersistenceStrategy,
  options: {
    readonly delay: Duration.DurationInput
    readonly retryDelay?: Duration.DurationInput
    readonly onWrite?: (report: WriteReport) => Effect.Effect<void>
  }
): Effect.Effect<PersistenceStrategy, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const clock = yield* Effect.clock
    const pending = new Map<string, string>()
    const scheduled = new Set<string>()
    const onWrite = options.onWrite ?? (() => Effect.void)
    const retryDelay = options.retryDelay ?? Duration.seconds(1)

    const writeKey = (key: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        scheduled.delete(key)
        const value = pending.get(key)
        if (value === undefined) return Effect.void
        pending.delete(key)
        const start = clock.unsafeCurrentTimeMillis()
        return inner.save(key, value).pipe(
          Effect.matchEffect({
            onSuccess: () =>
              onWrite({ keys: [key], durationMillis: clock.unsafeCurrentTimeMillis() - start, error: Option.none() }),
            onFailure: (error) =>
              Effect.suspend(() => {
                if (!pending.has(key)) pending.set(key, value)
                return Effect.zipRight(
                  onWrite({
                    keys: [key],
                    durationMillis: clock.unsafeCurrentTimeMillis() - start,
                    error: Option.some(error)
                  }),
                  schedule(key, retryDelay)
                )
              })
          })
        )
      })

    const schedule = (key: string, delay: Duration.DurationInput): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (scheduled.has(key)) return Effect.void
        scheduled.add(key)
        return Effect.asVoid(Effect.forkIn(Effect.zipRight(Effect.sleep(delay), writeKey(key)), scope))
      })

    const flush: Effect.Effect<void, PersistenceError> = Effect.suspend(() => {
      const entries = Array.from(pending)
      pending.clear()
      if (entries.length === 0) return inner.flush
      const start = clock.unsafeCurrentTimeMillis()
      return inner.saveMany(entries).pipe(
        Effect.tapBoth({
          onSuccess: () =>
            onWrite({
              keys: entries.map(([key]) => key),
              durationMillis: clock.unsafeCurrentTimeMillis() - start,
              error: Option.none()
            }),
          onFailure: (error) =>
            Effect.suspend(() => {
              for (const [key, value] of entries) if (!pending.has(key)) pending.set(key, value)
              return onWrite({
                keys: entries.map(([key]) => key),
                durationMillis: clock.unsafeCurrentTimeMillis() - start,
                error: Option.some(error)
              })
            })
        }),
        Effect.zipRight(inner.flush)
      )
    })

    return {
      name: `debounced(${inner.name})`,
      save: (key, value) =>
        Effect.suspend(() => {
          pending.set(key, value)
          return schedule(key, options.delay)
        }),
      saveMany: (entries) =>
        Effect.forEach(entries, ([key, value]) =>
          Effect.suspend(() => {
            pending.set(key, value)
            return schedule(key, options.delay)
          }), { discard: true }),
      delete: (key) => Effect.zipRight(Effect.sync(() => pending.delete(key)), inner.delete(key)),
      flush,
      ...overlay(inner, pending)
    }
  })

/**
 * Write-behind: collects writes and saves them together every `interval`, or as soon as
 * `maxBatch` keys are pending. A failed batch stays pending for the next one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const batched = (
  inner: PersistenceStrategy,
  options: {
    readonly interval: Duration.DurationInput
    readonly maxBatch?: number
    readonly onWrite?: (report: WriteReport) => Effect.Effect<void>
  }
): Effect.Effect<PersistenceStrategy, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const clock = yield* Effect.clock
    const pending = new Map<string, string>()
    const maxBatch = Math.max(1, options.maxBatch ?? 100)
    const onWrite = options.onWrite ?? (() => Effect.void)
    const lock = yield* Effect.makeSemaphore(1)

    const writeBatch: Effect.Effect<void, PersistenceError> = lock.withPermits(1)(Effect.suspend(() => {
      const entries = Array.from(pending)
      pending.clear()
      if (entries.length === 0) return Effect.void
      const start = clock.unsafeCurrentTimeMillis()
      const keys = entries.map(([key]) => key)
      return inner.saveMany(entries).pipe(
        Effect.tapBoth({
          onSuccess: () =>
            onWrite({ keys, durationMillis: clock.unsafeCurrentTimeMillis() - start, error: Option.none() }),
          onFailure: (error) =>
            Effect.suspend(() => {
              for (const [key, value] of entries) if (!pending.has(key)) pending.set(key, value)
              return onWrite({
                keys,
                durationMillis: clock.unsafeCurrentTimeMillis() - start,
                error: Option.some(error)
              })
            })
        })
      )
    }))

    yield* Effect.sleep(options.interval).pipe(
      Effect.zipRight(Effect.ignore(writeBatch)),
      Effect.forever,
      Effect.interruptible,
      Effect.forkIn(scope)
    )

    const enqueue = (key: string, value: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        pending.set(key, value)
        return pending.size >= maxBatch ? Effect.asVoid(Effect.forkIn(Effect.ignore(writeBatch), scope)) : Effect.void
      })

    return {
      name: `batched(${inner.name})`,
      save: enqueue,
      saveMany: (entries) => Effect.forEach(entries, ([key, value]) => enqueue(key, value), { discard: true }),
      delete: (key) => Effect.zipRight(Effect.sync(() => pending.delete(key)), inner.delete(key)),
      flush: Effect.zipRight(writeBatch, inner.flush),
      ...overlay(inner, pending)
    }
  })

/**
 * The seed's `ResilientPersistenceStrategy`: every operation of `inner` goes through a circuit
 * breaker and retries (`retry(breaker(operation))`). A refusal by the open breaker becomes a
 * `PersistenceError` whose cause is the `CircuitOpen`, and is not retried.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resilient = (
  inner: PersistenceStrategy,
  options: {
    readonly breaker: CircuitBreaker.CircuitBreaker<PersistenceError>
    readonly retry?: Retry.Options<PersistenceError>
  }
): PersistenceStrategy => {
  const userWhile = options.retry?.while
  const schedule = options.retry === undefined ?
    undefined :
    Retry.schedule<PersistenceError | CircuitBreaker.CircuitOpen>({
      ...options.retry,
      while: (error) => error instanceof PersistenceError && (userWhile === undefined || userWhile(error))
    })
  const guard = <A>(operation: string, key: string | null, effect: Effect.Effect<A, PersistenceError>) => {
    const broken = options.breaker.execute(effect)
    return (schedule === undefined ? broken : Effect.retry(broken, schedule)).pipe(
      Effect.mapError((error) =>
        error instanceof PersistenceError ? error : new PersistenceError({ operation, key, cause: error })
      )
    )
  }
  return {
    name: `resilient(${inner.name})`,
    save: (key, value) => guard("save", key, inner.save(key, value)),
    saveMany: (entries) => guard("saveMany", null, inner.saveMany(entries)),
    load: (key) => guard("load", key, inner.load(key)),
    exists: (key) => guard("exists", key, inner.exists(key)),
    delete: (key) => guard("delete", key, inner.delete(key)),
    listKeys: (prefix) => guard("listKeys", prefix, inner.listKeys(prefix)),
    flush: guard("flush", null, inner.flush),
    pending: inner.pending,
    pendingKeys: inner.pendingKeys,
    discard: inner.discard
  }
}

/**
 * `resilient` with a new breaker named `name` (defaults: 5 consecutive failures, 30 s open) and
 * 3 retries from 50 ms.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeResilient = (
  inner: PersistenceStrategy,
  options: {
    readonly name: string
    readonly breaker?: Omit<CircuitBreaker.Options<PersistenceError>, "name">
    readonly retry?: Retry.Options<PersistenceError>
  }
): Effect.Effect<PersistenceStrategy> =>
  Effect.map(
    CircuitBreaker.make<PersistenceError>({ ...options.breaker, name: options.name }),
    (breaker) => resilient(inner, { breaker, retry: options.retry ?? { times: 3, base: Duration.millis(50) } })
  )
