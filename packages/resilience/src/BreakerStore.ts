/**
 * Where circuit breakers keep their state so a restarted process, or another process, sees it:
 * one process opens a breaker, the others learn it; the half-open probe is taken as a lease.
 *
 * @since 0.1.0
 */
import { KeyValueStore } from "@effect/platform"
import { Context, Data, Effect, Layer, Option, Schema } from "effect"

/**
 * The shared state of one breaker. Times are epoch milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export const PersistedState = Schema.Struct({
  state: Schema.Literal("Closed", "Open", "Isolated"),
  /** When an open breaker lets a probe through; null unless open. */
  halfOpenAt: Schema.NullOr(Schema.Number),
  /** Consecutive openings without a close in between (drives a growing open duration). */
  openings: Schema.Number,
  updatedAt: Schema.Number,
  /** The process that wrote this state. */
  owner: Schema.String
})

/**
 * @since 0.1.0
 * @category models
 */
export interface PersistedState extends Schema.Schema.Type<typeof PersistedState> {}

/**
 * A probe lease: the process that holds it may send half-open probes until `until`.
 *
 * @since 0.1.0
 * @category models
 */
export const Lease = Schema.Struct({ owner: Schema.String, until: Schema.Number })

/**
 * @since 0.1.0
 * @category models
 */
export interface Lease extends Schema.Schema.Type<typeof Lease> {}

/**
 * The store failed; the breaker keeps working on its local state.
 *
 * @since 0.1.0
 * @category errors
 */
export class BreakerStoreError extends Data.TaggedError("BreakerStoreError")<{
  readonly operation: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `breaker store ${this.operation} failed`
  }
}

/**
 * The breaker store port.
 *
 * @since 0.1.0
 * @category services
 */
export interface Service {
  readonly get: (name: string) => Effect.Effect<Option.Option<PersistedState>, BreakerStoreError>
  readonly set: (name: string, state: PersistedState) => Effect.Effect<void, BreakerStoreError>
  /**
   * Takes the probe lease for `name` until `until` if nobody else holds an unexpired one at `now`.
   * Returns the lease that holds afterwards: the caller has it when `owner` is its own.
   */
  readonly acquireLease: (
    name: string,
    owner: string,
    now: number,
    until: number
  ) => Effect.Effect<Lease, BreakerStoreError>
  /** Gives the lease back if `owner` holds it. */
  readonly releaseLease: (name: string, owner: string) => Effect.Effect<void, BreakerStoreError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class BreakerStore extends Context.Tag("@chronicle/resilience/BreakerStore")<BreakerStore, Service>() {}

/**
 * An in-memory store: shares state between breakers of one process (and between tests).
 * Lease acquisition is atomic.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<Service> = Effect.sync(() => {
  const states = new Map<string, PersistedState>()
  const leases = new Map<string, Lease>()
  return {
    get: (name) => Effect.sync(() => Option.fromNullable(states.get(name))),
    set: (name, state) => Effect.sync(() => void states.set(name, state)),
    acquireLease: (name, owner, now, until) =>
      Effect.sync(() => {
        const current = leases.get(name)
        if (current !== undefined && current.owner !== owner && current.until > now) return current
        const lease = { owner, until }
        leases.set(name, lease)
        return lease
      }),
    releaseLease: (name, owner) =>
      Effect.sync(() => {
        if (leases.get(name)?.owner === owner) leases.delete(name)
      })
  }
})

const StateJson = Schema.parseJson(PersistedState)
const LeaseJson = Schema.parseJson(Lease)

/**
 * A store over any `KeyValueStore` (memory, file system, the SQL one in `@chronicle/resilience/sql`).
 * Keys are `<prefix>state/<name>` and `<prefix>lease/<name>`. A `KeyValueStore` has no
 * compare-and-set, so the lease is read, written, then read back: two processes racing within one
 * round trip can both probe. That is the documented bound: at most a few extra probes, never a
 * stampede.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromKeyValueStore = (
  kv: KeyValueStore.KeyValueStore,
  options: { readonly prefix?: string } = {}
): Service => {
  const prefix = options.prefix ?? "chronicle/breaker/"
  const wrap = (operation: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.mapError(self, (cause) => new BreakerStoreError({ operation, cause }))
  const readLease = (name: string) =>
    kv.get(`${prefix}lease/${name}`).pipe(
      Effect.flatMap(Option.match({
        onNone: () => Effect.succeed(Option.none<Lease>()),
        onSome: (text) => Effect.map(Schema.decode(LeaseJson)(text), Option.some)
      }))
    )
  return {
    get: (name) =>
      kv.get(`${prefix}state/${name}`).pipe(
        Effect.flatMap(Option.match({
          onNone: () => Effect.succeed(Option.none<PersistedState>()),
          onSome: (text) => Effect.map(Schema.decode(StateJson)(text), Option.some)
        })),
        wrap("get")
      ),
    set: (name, state) =>
      Schema.encode(StateJson)(state).pipe(
        Effect.flatMap((text) => kv.set(`${prefix}state/${name}`, text)),
        wrap("set")
      ),
    acquireLease: (name, owner, now, until) =>
      Effect.gen(function*() {
        const current = yield* readLease(name)
        if (Option.isSome(current) && current.value.owner !== owner && current.value.until > now) {
          return current.value
        }
        const text = yield* Schema.encode(LeaseJson)({ owner, until })
        yield* kv.set(`${prefix}lease/${name}`, text)
        const after = yield* readLease(name)
        return Option.getOrElse(after, () => ({ owner, until }))
      }).pipe(wrap("acquireLease")),
    releaseLease: (name, owner) =>
      readLease(name).pipe(
        Effect.flatMap((current) =>
          Option.isSome(current) && current.value.owner === owner
            ? kv.remove(`${prefix}lease/${name}`)
            : Effect.void
        ),
        wrap("releaseLease")
      )
  }
}

/**
 * The in-memory store as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<BreakerStore> = Layer.effect(BreakerStore, makeMemory)

/**
 * A store over the `KeyValueStore` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKeyValueStore = (
  options: { readonly prefix?: string } = {}
): Layer.Layer<BreakerStore, never, KeyValueStore.KeyValueStore> =>
  Layer.effect(BreakerStore, Effect.map(KeyValueStore.KeyValueStore, (kv) => fromKeyValueStore(kv, options)))
