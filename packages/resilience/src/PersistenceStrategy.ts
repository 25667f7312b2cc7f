/**
 * How the persistence manager writes: immediately, debounced (coalescing repeated writes to a key),
 * batched (write-behind), or resilient (another strategy behind a circuit breaker and retries),
 * the seed's pluggable strategies.
 *
 * @since 0.1.0
 */
import { Deferred, Duration, Effect, ExecutionStrategy, FiberId, Option, Schema, Scope } from "effect"
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
  /** Waits for the writes under way (retries included), then writes everything pending. */
  readonly flush: Effect.Effect<void, PersistenceError>
  /** An accepted write of `key` that has not reached storage yet. */
  readonly pending: (key: string) => Effect.Effect<Option.Option<string>>
  readonly pendingKeys: Effect.Effect<ReadonlyArray<string>>
  /**
   * Drops a pending write of `key` (a newer write elsewhere supersedes it) and waits for a write of
   * it already under way, so the newer value lands after it.
   */
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

// An accepted value. Compared by identity: a newer write of the key replaces the entry, so a write
// that ends can tell whether the value it carried is still the latest one.
interface Entry {
  readonly value: string
}

// Reads go through the pending writes first (including writes under way), so a caller reads what
// it wrote.
const overlay = (
  inner: PersistenceStrategy,
  pending: Map<string, Entry>
): Pick<PersistenceStrategy, "load" | "exists" | "listKeys" | "pending" | "pendingKeys"> => ({
  load: (key) =>
    Effect.suspend(() => {
      const entry = pending.get(key)
      return entry === undefined ? inner.load(key) : Effect.succeed(Option.some(entry.value))
    }),
  exists: (key) => Effect.suspend(() => pending.has(key) ? Effect.succeed(true) : inner.exists(key)),
  listKeys: (prefix) =>
    Effect.map(inner.listKeys(prefix), (keys) => {
      const all = new Set(keys)
      for (const key of pending.keys()) if (key.startsWith(prefix)) all.add(key)
      return Array.from(all).sort()
    }),
  pending: (key) => Effect.sync(() => Option.map(Option.fromNullable(pending.get(key)), (entry) => entry.value)),
  pendingKeys: Effect.sync(() => Array.from(pending.keys()))
})

// Keys with a write under way, each with a latch opened when that write ends.
const makeWrites = () => {
  const writing = new Map<string, Deferred.Deferred<void>>()
  return {
    has: (key: string) => writing.has(key),
    /** Marks `keys` as being written until the returned effect runs. */
    begin: (keys: ReadonlyArray<string>): Effect.Effect<void> => {
      const done = Deferred.unsafeMake<void>(FiberId.none)
      for (const key of keys) writing.set(key, done)
      return Effect.suspend(() => {
        for (const key of keys) if (writing.get(key) === done) writing.delete(key)
        return Deferred.succeed(done, undefined)
      })
    },
    /** Waits for the write under way of `key`, if any. */
    await: (key: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const done = writing.get(key)
        return done === undefined ? Effect.void : Deferred.await(done)
      }),
    /** Waits until no write is under way. */
    idle: (): Effect.Effect<void> =>
      Effect.suspend(function loop(): Effect.Effect<void> {
        const busy = new Set(writing.values())
        return busy.size === 0
          ? Effect.void
          : Effect.zipRight(Effect.forEach(busy, Deferred.await, { discard: true }), Effect.suspend(loop))
      })
  }
}

/**
 * Holds each key's latest value and writes it at most `delay` after the first unwritten change:
 * repeated writes within that time coalesce into one. Writes of one key are serialized and land in
 * the order they were accepted; a failed write stays pending (unless a newer value superseded it)
 * and is tried again after `retryDelay` (default 1 s). `flush` waits for the writes under way,
 * retries included, then writes everything pending; `discard` waits for a write of the key under
 * way, so a newer value written elsewhere lands after it. The background fibers live in the scope.
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
    // A scope made now closes after finalizers added later (the manager's final flush), so a write
    // under way or waiting for its retry is still alive when the flush waits for it.
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const clock = yield* Effect.clock
    const pending = new Map<string, Entry>()
    const scheduled = new Set<string>()
    const writes = makeWrites()
    const onWrite = options.onWrite ?? (() => Effect.void)
    const retryDelay = options.retryDelay ?? Duration.seconds(1)

    // Writes `entries` (each the pending entry of its key when taken). A failed entry that is still
    // the latest of its key stays pending and is tried again after `retryDelay`.
    const write = (
      entries: ReadonlyArray<readonly [string, Entry]>
    ): Effect.Effect<void, PersistenceError> =>
      Effect.suspend(() => {
        const keys = entries.map(([key]) => key)
        const end = writes.begin(keys)
        const start = clock.unsafeCurrentTimeMillis()
        const report = (error: Option.Option<PersistenceError>) =>
          onWrite({ keys, durationMillis: clock.unsafeCurrentTimeMillis() - start, error })
        const saved = entries.length === 1
          ? inner.save(keys[0], entries[0][1].value)
          : inner.saveMany(entries.map(([key, entry]) => [key, entry.value] as const))
        return saved.pipe(
          Effect.tapBoth({
            onSuccess: () =>
              Effect.suspend(() => {
                for (const [key, entry] of entries) if (pending.get(key) === entry) pending.delete(key)
                return report(Option.none())
              }),
            onFailure: (error) =>
              Effect.zipRight(
                report(Option.some(error)),
                Effect.forEach(
                  entries,
                  ([key, entry]) => pending.get(key) === entry ? schedule(key, retryDelay) : Effect.void,
                  { discard: true }
                )
              )
          }),
          Effect.ensuring(Effect.zipRight(
            end,
            // A value accepted while this write was under way waited for it; write it now.
            Effect.suspend(() => {
              const written = new Map(entries)
              return Effect.forEach(keys, (key) => {
                const entry = pending.get(key)
                return entry !== undefined && written.get(key) !== entry ? schedule(key, Duration.zero) : Effect.void
              }, { discard: true })
            })
          ))
        )
      })

    const writeKey = (key: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        scheduled.delete(key)
        const entry = pending.get(key)
        // A write of the key under way reschedules this one when it ends.
        if (entry === undefined || writes.has(key)) return Effect.void
        return Effect.ignore(write([[key, entry]]))
      })

    const schedule = (key: string, delay: Duration.DurationInput): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (scheduled.has(key)) return Effect.void
        scheduled.add(key)
        return Effect.asVoid(Effect.forkIn(Effect.zipRight(Effect.sleep(delay), writeKey(key)), scope))
      })

    const flush: Effect.Effect<void, PersistenceError> = writes.idle().pipe(
      Effect.zipRight(Effect.suspend(() => {
        const entries = Array.from(pending).filter(([key]) => !writes.has(key))
        // A key skipped here is being written by a write that started since: wait for it too.
        return Effect.zipRight(entries.length === 0 ? Effect.void : write(entries), writes.idle())
      })),
      Effect.zipRight(inner.flush)
    )

    const accept = (key: string, value: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        pending.set(key, { value })
        return schedule(key, options.delay)
      })

    const discard = (key: string): Effect.Effect<void> =>
      Effect.zipRight(Effect.sync(() => void pending.delete(key)), writes.await(key))

    return {
      name: `debounced(${inner.name})`,
      save: accept,
      saveMany: (entries) => Effect.forEach(entries, ([key, value]) => accept(key, value), { discard: true }),
      delete: (key) => Effect.zipRight(discard(key), inner.delete(key)),
      flush,
      discard,
      ...overlay(inner, pending)
    }
  })

/**
 * Write-behind: collects writes and saves them together every `interval`, or as soon as
 * `maxBatch` keys are waiting. Batches are written one at a time; a failed batch stays pending for
 * the next one, except values a newer write replaced. `flush` waits for the batch under way, then
 * writes the rest; `discard` waits for a batch under way that holds the key.
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
    // See `debounced`: this scope outlives the manager's final flush.
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const clock = yield* Effect.clock
    // Every accepted value not yet in storage, batch under way included (reads see it).
    const pending = new Map<string, Entry>()
    // Keys whose latest value no batch has taken yet.
    const queued = new Set<string>()
    const writes = makeWrites()
    const maxBatch = Math.max(1, options.maxBatch ?? 100)
    const onWrite = options.onWrite ?? (() => Effect.void)
    const lock = yield* Effect.makeSemaphore(1)
    let triggered = false

    const writeBatch: Effect.Effect<void, PersistenceError> = lock.withPermits(1)(Effect.suspend(() => {
      triggered = false
      const entries: Array<readonly [string, Entry]> = []
      for (const key of queued) {
        const entry = pending.get(key)
        if (entry !== undefined) entries.push([key, entry])
      }
      queued.clear()
      if (entries.length === 0) return Effect.void
      const start = clock.unsafeCurrentTimeMillis()
      const keys = entries.map(([key]) => key)
      const end = writes.begin(keys)
      return inner.saveMany(entries.map(([key, entry]) => [key, entry.value] as const)).pipe(
        Effect.tapBoth({
          onSuccess: () =>
            Effect.suspend(() => {
              for (const [key, entry] of entries) if (pending.get(key) === entry) pending.delete(key)
              return onWrite({ keys, durationMillis: clock.unsafeCurrentTimeMillis() - start, error: Option.none() })
            }),
          onFailure: (error) =>
            Effect.suspend(() => {
              // Only values still the latest go back: a newer one is queued or written already.
              for (const [key, entry] of entries) if (pending.get(key) === entry) queued.add(key)
              return onWrite({
                keys,
                durationMillis: clock.unsafeCurrentTimeMillis() - start,
                error: Option.some(error)
              })
            })
        }),
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            for (const [key, entry] of entries) if (pending.get(key) === entry) queued.add(key)
          })
        ),
        Effect.ensuring(end)
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
        pending.set(key, { value })
        queued.add(key)
        if (queued.size < maxBatch || triggered) return Effect.void
        triggered = true
        return Effect.asVoid(Effect.forkIn(Effect.ignore(writeBatch), scope))
      })

    const discard = (key: string): Effect.Effect<void> =>
      Effect.zipRight(
        Effect.sync(() => {
          pending.delete(key)
          queued.delete(key)
        }),
        writes.await(key)
      )

    return {
      name: `batched(${inner.name})`,
      save: enqueue,
      saveMany: (entries) => Effect.forEach(entries, ([key, value]) => enqueue(key, value), { discard: true }),
      delete: (key) => Effect.zipRight(discard(key), inner.delete(key)),
      flush: Effect.zipRight(writeBatch, inner.flush),
      discard,
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
