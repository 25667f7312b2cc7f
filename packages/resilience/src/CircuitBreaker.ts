/**
 * Circuit breakers: closed, open, half-open (and isolated), with consecutive, count-window and
 * time-window policies, slow calls, growing open durations, probe limits, a stream of state
 * changes, metrics, alerts, and optional state shared through a `BreakerStore`.
 *
 * @since 0.1.0
 */
import type { Queue, Scope } from "effect"
import {
  Cause,
  Duration,
  Effect,
  Either,
  Exit,
  Metric,
  MetricLabel,
  Option,
  PubSub,
  Random,
  Schedule,
  Schema,
  Stream
} from "effect"
import { dual } from "effect/Function"
import * as Alerts from "./Alerts.js"
import type * as BreakerStore from "./BreakerStore.js"
import * as Monitoring from "./Monitoring.js"

/**
 * `Closed`: calls go through and outcomes are counted. `Open`: calls fail at once with
 * `CircuitOpen` until `halfOpenAt`. `HalfOpen`: a limited number of probes go through.
 * `Isolated`: opened by hand, stays open until `reset`.
 *
 * @since 0.1.0
 * @category models
 */
export const State = Schema.Literal("Closed", "Open", "HalfOpen", "Isolated")

/**
 * @since 0.1.0
 * @category models
 */
export type State = typeof State.Type

/**
 * A call was refused because the breaker is not closed.
 *
 * @since 0.1.0
 * @category errors
 */
export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
  breaker: Schema.String,
  state: Schema.Literal("Open", "HalfOpen", "Isolated"),
  /** When the breaker lets a probe through; null when isolated or when half-open probes are busy. */
  halfOpenAt: Schema.NullOr(Schema.DateFromNumber)
}) {
  override get message(): string {
    return this.halfOpenAt === null
      ? `circuit breaker ${this.breaker} is ${this.state}`
      : `circuit breaker ${this.breaker} is ${this.state} until ${this.halfOpenAt.toISOString()}`
  }
}

/**
 * When a closed breaker opens.
 *
 * - `Consecutive`: after `threshold` failures in a row, in admission order (see `consecutive`).
 * - `CountWindow`: when the failure rate over the last `size` calls reaches `failureRateThreshold`
 *   (0..1), once at least `minimumCalls` calls are in the window.
 * - `TimeWindow`: the same over the calls of the last `window`, kept in `buckets` buckets.
 *
 * @since 0.1.0
 * @category policies
 */
export type Policy =
  | { readonly _tag: "Consecutive"; readonly threshold: number }
  | {
    readonly _tag: "CountWindow"
    readonly size: number
    readonly failureRateThreshold: number
    readonly minimumCalls: number
  }
  | {
    readonly _tag: "TimeWindow"
    readonly window: Duration.Duration
    readonly buckets: number
    readonly failureRateThreshold: number
    readonly minimumCalls: number
  }

/**
 * Opens after `threshold` failures in a row (default 5, the seed's), counted in admission order:
 * only a success of a call admitted after the run's first failure resets the run. A call admitted
 * before it that succeeds later does not (the closed fast path does not observe successes while
 * the run is clean; see decision 0104).
 *
 * @since 0.1.0
 * @category policies
 */
export const consecutive = (threshold = 5): Policy => ({ _tag: "Consecutive", threshold: Math.max(1, threshold) })

/**
 * Opens when the failure rate of the last `size` calls reaches the threshold.
 *
 * @since 0.1.0
 * @category policies
 */
export const countWindow = (options: {
  readonly size: number
  readonly failureRateThreshold?: number
  readonly minimumCalls?: number
}): Policy => ({
  _tag: "CountWindow",
  size: Math.max(1, options.size),
  failureRateThreshold: options.failureRateThreshold ?? 0.5,
  minimumCalls: Math.max(1, options.minimumCalls ?? options.size)
})

/**
 * Opens when the failure rate of the calls of the last `window` reaches the threshold.
 *
 * @since 0.1.0
 * @category policies
 */
export const timeWindow = (options: {
  readonly window: Duration.DurationInput
  readonly buckets?: number
  readonly failureRateThreshold?: number
  readonly minimumCalls?: number
}): Policy => ({
  _tag: "TimeWindow",
  window: Duration.decode(options.window),
  buckets: Math.max(1, options.buckets ?? 10),
  failureRateThreshold: options.failureRateThreshold ?? 0.5,
  minimumCalls: Math.max(1, options.minimumCalls ?? 10)
})

/**
 * An open duration that grows with each consecutive opening: `initial * factor^(openings - 1)`,
 * capped at `max`.
 *
 * @since 0.1.0
 * @category policies
 */
export const exponentialOpenDuration = (options: {
  readonly initial: Duration.DurationInput
  readonly factor?: number
  readonly max: Duration.DurationInput
}): (openings: number) => Duration.Duration => {
  const initial = Duration.toMillis(options.initial)
  const max = Duration.toMillis(options.max)
  const factor = options.factor ?? 2
  return (openings) => Duration.millis(Math.min(max, initial * Math.pow(factor, Math.max(0, openings - 1))))
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<E = unknown> {
  /** Names the breaker in errors, metrics, alerts and the store. */
  readonly name: string
  /** Default `consecutive(5)`. */
  readonly policy?: Policy
  /** Fixed, or computed from the number of consecutive openings (1 for the first). Default 30 s. */
  readonly openDuration?: Duration.DurationInput | ((openings: number) => Duration.DurationInput)
  /** Probes allowed in flight at once while half-open (default 1). */
  readonly halfOpenMaxProbes?: number
  /** Successful probes needed to close (default 3, the seed's). */
  readonly successThreshold?: number
  /** A call that takes longer than this counts as a failure (its result is still returned). */
  readonly slowCallDuration?: Duration.DurationInput
  /** Which typed errors count as failures (default: all). Defects always count; interruptions never. */
  readonly isFailure?: (error: E) => boolean
}

/**
 * A change of state, as published on `changes`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StateChange {
  readonly breaker: string
  readonly from: State
  readonly to: State
  /** Epoch milliseconds. */
  readonly at: number
  readonly reason: string
  /** When the breaker half-opens, for a change to `Open`. */
  readonly halfOpenAt: number | null
}

/**
 * A point-in-time view of a breaker, plain data.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly name: string
  readonly state: State
  readonly halfOpenAt: number | null
  readonly openings: number
  readonly probesInFlight: number
  readonly halfOpenSuccesses: number
  /** Calls and failures the policy currently counts (its window, or the current run of failures). */
  readonly calls: number
  readonly failures: number
  readonly rejections: number
}

/**
 * A circuit breaker. `execute` guards an effect; the breaker judges errors of type `E`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CircuitBreaker<E = unknown> {
  readonly name: string
  /**
   * Guards an effect. The guarded effect consults the breaker each time it runs, not when it is
   * built, so it can be built once and run many times (retried, repeated, kept as a value); run
   * again in the closed state it allocates nothing.
   */
  readonly execute: <A, E2 extends E, R>(self: Effect.Effect<A, E2, R>) => Effect.Effect<A, E2 | CircuitOpen, R>
  readonly state: Effect.Effect<State>
  readonly snapshot: Effect.Effect<Snapshot>
  /** Opens the breaker by hand; it stays open until `reset`. */
  readonly isolate: Effect.Effect<void>
  /** Closes the breaker by hand and forgets counted failures. */
  readonly reset: Effect.Effect<void>
  /** State changes from the moment the stream is run. */
  readonly changes: Stream.Stream<StateChange>
  /** Subscribes now, so no change after this returns is missed. */
  readonly subscribe: Effect.Effect<Queue.Dequeue<StateChange>, never, Scope.Scope>
}

/**
 * Breaker state: 0 closed, 1 half-open, 2 open, 3 isolated; tagged by `breaker`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const stateGauge = Metric.gauge("chronicle_breaker_state", {
  description: "Circuit breaker state: 0 closed, 1 half-open, 2 open, 3 isolated"
})

/**
 * Calls through breakers, tagged by `breaker` and `outcome`: `admitted` (every call let through),
 * `failure`, `slow` (also counted as failures by the policy) and `ignored` (errors `isFailure`
 * rejects). Successes are `admitted - failure - ignored`, less calls interrupted or still running.
 *
 * @since 0.1.0
 * @category metrics
 */
export const callsTotal = Metric.counter("chronicle_breaker_calls_total", {
  description: "Calls through a circuit breaker, by outcome",
  incremental: true
})

/**
 * Calls refused with `CircuitOpen`, tagged by `breaker`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const rejectionsTotal = Metric.counter("chronicle_breaker_rejections_total", {
  description: "Calls refused by an open circuit breaker",
  incremental: true
})

const gaugeValue: Record<State, number> = { Closed: 0, HalfOpen: 1, Open: 2, Isolated: 3 }
const alertNames: Record<State, string> = {
  Closed: "CLOSED",
  HalfOpen: "HALF-OPEN",
  Open: "OPEN",
  Isolated: "ISOLATED"
}

// Policy trackers: mutable, touched only synchronously from inside the breaker's effects.
interface Tracker {
  readonly success: (now: number) => void
  /** Records a failure; true when the breaker should open. */
  readonly failure: (now: number) => boolean
  readonly reset: () => void
  readonly counts: (now: number) => { readonly calls: number; readonly failures: number }
  /** True when a success would change nothing: the closed hot path then skips observing it. */
  readonly clean: () => boolean
}

const makeTracker = (policy: Policy): Tracker => {
  switch (policy._tag) {
    case "Consecutive": {
      let failures = 0
      let calls = 0
      return {
        success: () => {
          failures = 0
          calls = 0
        },
        failure: () => {
          calls++
          return ++failures >= policy.threshold
        },
        reset: () => {
          failures = 0
          calls = 0
        },
        counts: () => ({ calls, failures }),
        clean: () => failures === 0
      }
    }
    case "CountWindow": {
      const ring = new Uint8Array(policy.size)
      let index = 0
      let filled = 0
      let failures = 0
      const record = (failed: number) => {
        if (filled === policy.size) failures -= ring[index]
        else filled++
        ring[index] = failed
        failures += failed
        index = index + 1 === policy.size ? 0 : index + 1
      }
      return {
        success: () => record(0),
        failure: () => {
          record(1)
          return filled >= policy.minimumCalls && failures / filled >= policy.failureRateThreshold
        },
        reset: () => {
          ring.fill(0)
          index = 0
          filled = 0
          failures = 0
        },
        counts: () => ({ calls: filled, failures }),
        clean: () => false
      }
    }
    case "TimeWindow": {
      const bucketMillis = Math.max(1, Duration.toMillis(policy.window) / policy.buckets)
      const epochs = new Float64Array(policy.buckets).fill(-1)
      const calls = new Uint32Array(policy.buckets)
      const fails = new Uint32Array(policy.buckets)
      const slot = (now: number) => {
        const epoch = Math.floor(now / bucketMillis)
        const i = epoch % policy.buckets
        if (epochs[i] !== epoch) {
          epochs[i] = epoch
          calls[i] = 0
          fails[i] = 0
        }
        return i
      }
      const counts = (now: number) => {
        const current = Math.floor(now / bucketMillis)
        let total = 0
        let failures = 0
        for (let i = 0; i < policy.buckets; i++) {
          if (epochs[i] > current - policy.buckets && epochs[i] <= current) {
            total += calls[i]
            failures += fails[i]
          }
        }
        return { calls: total, failures }
      }
      return {
        success: (now) => {
          calls[slot(now)]++
        },
        failure: (now) => {
          const i = slot(now)
          calls[i]++
          fails[i]++
          const c = counts(now)
          return c.calls >= policy.minimumCalls && c.failures / c.calls >= policy.failureRateThreshold
        },
        reset: () => {
          epochs.fill(-1)
          calls.fill(0)
          fails.fill(0)
        },
        counts,
        clean: () => false
      }
    }
  }
}

const CLOSED = 0
const HALF_OPEN = 1
const OPEN = 2
const ISOLATED = 3
const stateNames: ReadonlyArray<State> = ["Closed", "HalfOpen", "Open", "Isolated"]

/**
 * Options for a breaker that shares its state through a `BreakerStore`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SharedOptions<E = unknown> extends Options<E> {
  readonly store: BreakerStore.Service
  /** How often to read the store to learn what other processes decided (default 1 s). */
  readonly syncInterval?: Duration.DurationInput
  /** How long a probe lease lasts (default: the open duration, at least 1 s). */
  readonly leaseDuration?: Duration.DurationInput
  /** Identifies this process in the store (default: a random id). */
  readonly owner?: string
}

const makeInternal = <E>(
  options: Options<E>,
  shared: SharedOptions<E> | undefined
): Effect.Effect<CircuitBreaker<E> & { readonly sync: Effect.Effect<void> }> =>
  Effect.gen(function*() {
    const name = options.name
    const clock = yield* Effect.clock
    const alerts = yield* Effect.serviceOption(Alerts.Alerts)
    const monitoring = yield* Effect.serviceOption(Monitoring.Monitoring)
    const pubsub = yield* PubSub.unbounded<StateChange>()
    const tracker = makeTracker(options.policy ?? consecutive(5))
    const maxProbes = Math.max(1, options.halfOpenMaxProbes ?? 1)
    const successThreshold = Math.max(1, options.successThreshold ?? 3)
    const openDurationOption = options.openDuration ?? Duration.seconds(30)
    const openDurationFor = (openings: number): number =>
      typeof openDurationOption === "function"
        ? Duration.toMillis(openDurationOption(openings))
        : Duration.toMillis(openDurationOption)
    const slowMillis = options.slowCallDuration === undefined ? -1 : Duration.toMillis(options.slowCallDuration)
    const isFailure = options.isFailure
    const timed = slowMillis >= 0 || (options.policy?._tag === "TimeWindow")

    // Constant label arrays: a metric caches its hook per array, so updates skip the registry.
    const breakerLabels = [MetricLabel.make("breaker", name)]
    const outcomeLabels = (outcome: string) => [...breakerLabels, MetricLabel.make("outcome", outcome)]
    const admittedLabels = outcomeLabels("admitted")
    const failureLabels = outcomeLabels("failure")
    const slowLabels = outcomeLabels("slow")
    const ignoredLabels = outcomeLabels("ignored")
    const count = (labels: Array<MetricLabel.MetricLabel>) => callsTotal.unsafeUpdate(1, labels)
    // Admissions are the hot path: they reach the counter in batches of 256, and at every state
    // change, snapshot and state read.
    let unpublishedAdmissions = 0
    const publishAdmissions = () => {
      if (unpublishedAdmissions > 0) {
        callsTotal.unsafeUpdate(unpublishedAdmissions, admittedLabels)
        unpublishedAdmissions = 0
      }
    }
    const countAdmission = () => {
      if (++unpublishedAdmissions >= 256) publishAdmissions()
    }
    stateGauge.unsafeUpdate(0, breakerLabels)

    // The whole state lives in these variables. Effects run one fiber step at a time, so every
    // read-modify-write below happens synchronously, without Ref or STM on the hot path.
    let state = CLOSED
    let halfOpenAt = 0
    let openings = 0
    let probesInFlight = 0
    let halfOpenSuccesses = 0
    let rejections = 0
    let updatedAt = Number.NEGATIVE_INFINITY
    let acquiring = false
    // Bumped by every transition: a probe belongs to the half-open phase it was admitted in.
    let phase = 0
    // Until when this process holds the probe lease (shared breakers only).
    let leaseUntil = 0
    let rejection: Effect.Effect<never, CircuitOpen> = Effect.fail(
      new CircuitOpen({ breaker: name, state: "Open", halfOpenAt: null }, true)
    )

    const makeRejection = () => {
      rejection = Effect.fail(
        new CircuitOpen({
          breaker: name,
          state: state === ISOLATED ? "Isolated" : state === HALF_OPEN ? "HalfOpen" : "Open",
          halfOpenAt: state === OPEN ? new Date(halfOpenAt) : null
        }, true)
      )
    }
    const reject = (): Effect.Effect<never, CircuitOpen> => {
      rejections++
      rejectionsTotal.unsafeUpdate(1, breakerLabels)
      return rejection
    }

    const owner = shared?.owner ?? `${name}-${(yield* Random.nextIntBetween(0, 2 ** 31)).toString(36)}`
    const persist = (): Effect.Effect<void> => {
      if (shared === undefined) return Effect.void
      const persisted: BreakerStore.PersistedState = {
        state: state === ISOLATED ? "Isolated" : state === OPEN ? "Open" : "Closed",
        halfOpenAt: state === OPEN ? halfOpenAt : null,
        openings,
        updatedAt,
        owner
      }
      return shared.store.set(name, persisted).pipe(
        Effect.catchAll((error) => Effect.logWarning(`breaker ${name}: could not save its state`, error))
      )
    }

    const alertFor = (change: StateChange): Effect.Effect<void> => {
      if (Option.isNone(alerts)) return Effect.void
      const severity: Alerts.Severity = change.to === "Open"
        ? "warning"
        : change.to === "Isolated"
        ? "high"
        : "info"
      const title = change.to === "Open"
        ? "Circuit Opened"
        : change.to === "Closed"
        ? "Circuit Closed"
        : change.to === "HalfOpen"
        ? "Circuit Half-Open"
        : "Circuit Isolated"
      return alerts.value.raise({
        title,
        message: `Circuit breaker ${alertNames[change.to]} for ${name}: ${change.reason}`,
        severity,
        source: `breaker:${name}`
      })
    }

    // Changes state synchronously and returns the effect that announces it. `until` opens the
    // breaker until another process's probe lease ends, without counting an opening.
    const transition = (
      to: number,
      now: number,
      reason: string,
      save: boolean,
      until?: number
    ): Effect.Effect<void> => {
      const from = state
      if (from === to) return Effect.void
      state = to
      phase++
      updatedAt = now
      probesInFlight = 0
      halfOpenSuccesses = 0
      tracker.reset()
      if (to === OPEN) {
        if (until === undefined) {
          openings++
          halfOpenAt = now + openDurationFor(openings)
        } else {
          halfOpenAt = until
        }
      } else if (to === CLOSED) {
        openings = 0
      }
      if (to !== CLOSED) makeRejection()
      publishAdmissions()
      stateGauge.unsafeUpdate(gaugeValue[stateNames[to]], breakerLabels)
      const change: StateChange = {
        breaker: name,
        from: stateNames[from],
        to: stateNames[to],
        at: now,
        reason,
        halfOpenAt: to === OPEN ? halfOpenAt : null
      }
      const announce = Effect.zipRight(PubSub.publish(pubsub, change), alertFor(change))
      return save && to !== HALF_OPEN ? Effect.zipRight(persist(), announce) : announce
    }

    // Judges an exit: 1 failure, 0 success, -1 not counted.
    const judge = (cause: Cause.Cause<E>): number => {
      const failure = Cause.failureOrCause(cause)
      if (Either.isLeft(failure)) {
        return isFailure === undefined || isFailure(failure.left) ? 1 : -1
      }
      return Cause.isInterruptedOnly(failure.right) ? -1 : 1
    }

    const onClosedFailure = (cause: Cause.Cause<E>, now: number): Effect.Effect<void> => {
      if (state !== CLOSED) return Effect.void
      const verdict = judge(cause)
      if (verdict === 1) {
        count(failureLabels)
        if (tracker.failure(now)) return transition(OPEN, now, "failure threshold reached", true)
      } else {
        count(ignoredLabels)
        if (verdict === 0) tracker.success(now)
      }
      return Effect.void
    }

    // Built once: a closed, untimed call allocates no closure of its own.
    const untimedClosed = {
      onSuccess: <A>(a: A): Effect.Effect<A> => {
        if (state === CLOSED) tracker.success(0)
        return Effect.succeed(a)
      },
      onFailure: <X extends E>(cause: Cause.Cause<X>): Effect.Effect<never, X> => {
        const announce = onClosedFailure(cause, clock.unsafeCurrentTimeMillis())
        return announce === Effect.void ? Effect.failCause(cause) : Effect.zipRight(announce, Effect.failCause(cause))
      }
    }

    const timedClosed = <A, E2 extends E, R>(self: Effect.Effect<A, E2, R>): Effect.Effect<A, E2, R> => {
      const start = clock.unsafeCurrentTimeMillis()
      return Effect.matchCauseEffect(self, {
        onSuccess: (a) => {
          const now = clock.unsafeCurrentTimeMillis()
          if (slowMillis >= 0 && now - start > slowMillis) {
            count(slowLabels)
            if (state === CLOSED && tracker.failure(now)) {
              return Effect.as(transition(OPEN, now, "slow-call threshold reached", true), a)
            }
            return Effect.succeed(a)
          }
          if (state === CLOSED) tracker.success(now)
          return Effect.succeed(a)
        },
        onFailure: (cause) =>
          Effect.zipRight(onClosedFailure(cause, clock.unsafeCurrentTimeMillis()), Effect.failCause(cause))
      })
    }

    // Ends a probe of half-open phase `epoch`. A probe that ends in a later phase (the breaker
    // reopened, was reset, isolated or synced meanwhile) neither frees a slot nor counts there.
    const settle = (exit: Exit.Exit<unknown, E>, epoch: number, start: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (phase !== epoch) return Effect.void
        probesInFlight--
        const now = clock.unsafeCurrentTimeMillis()
        const verdict = Exit.isSuccess(exit)
          ? (slowMillis >= 0 && now - start > slowMillis ? 1 : 0)
          : judge(exit.cause)
        if (verdict === 1) {
          count(failureLabels)
          return Effect.zipRight(transition(OPEN, now, "a half-open probe failed", true), releaseLease)
        }
        if (verdict === 0) {
          if (++halfOpenSuccesses >= successThreshold) {
            return Effect.zipRight(
              transition(CLOSED, now, `${halfOpenSuccesses} half-open probes succeeded`, true),
              releaseLease
            )
          }
        }
        return Effect.void
      })

    // Takes a probe slot and installs its release in one uninterruptible step, so an interruption
    // at any point after it (while `announce`, the half-open transition's, runs too) frees the slot.
    const probe = <A, E2 extends E, R>(
      self: Effect.Effect<A, E2, R>,
      announce: Effect.Effect<void>
    ): Effect.Effect<A, E2 | CircuitOpen, R> =>
      Effect.uninterruptibleMask((restore) => {
        if (state !== HALF_OPEN) return Effect.zipRight(restore(announce), Effect.suspend(() => restore(admit(self))))
        if (probesInFlight >= maxProbes) return Effect.zipRight(restore(announce), reject())
        probesInFlight++
        countAdmission()
        const epoch = phase
        let start = clock.unsafeCurrentTimeMillis()
        const run = announce === Effect.void ? restore(self) : Effect.zipRight(
          restore(announce),
          Effect.suspend(() => {
            start = clock.unsafeCurrentTimeMillis()
            return restore(self)
          })
        )
        return Effect.onExit(run, (exit) => settle(exit, epoch, start))
      })

    const releaseLease: Effect.Effect<void> = shared === undefined
      ? Effect.void
      : shared.store.releaseLease(name, owner).pipe(Effect.catchAll(() => Effect.void))

    const leaseMillis = shared?.leaseDuration === undefined ? -1 : Duration.toMillis(shared.leaseDuration)
    const syncMillis = Duration.toMillis(shared?.syncInterval ?? Duration.seconds(1))

    // Takes or renews the probe lease (the caller set `acquiring`). None: this process holds it
    // until `leaseUntil`, or the store is unreachable (probing locally is safer than never
    // closing). Some: another process holds it until then.
    const takeLease = (store: BreakerStore.Service, now: number): Effect.Effect<Option.Option<number>> => {
      const until = now + Math.max(1000, leaseMillis >= 0 ? leaseMillis : openDurationFor(Math.max(1, openings)))
      return store.acquireLease(name, owner, now, until).pipe(
        Effect.map((lease) => {
          if (lease.owner !== owner) return Option.some(lease.until)
          leaseUntil = lease.until
          return Option.none<number>()
        }),
        Effect.catchAll((error) =>
          Effect.as(
            Effect.zipRight(
              Effect.sync(() => {
                leaseUntil = until
              }),
              Effect.logWarning(`breaker ${name}: could not take the probe lease`, error)
            ),
            Option.none<number>()
          )
        ),
        Effect.ensuring(Effect.sync(() => {
          acquiring = false
        }))
      )
    }

    // Another process holds the lease now: stop probing here until it ends.
    const leaseLost = (until: number, reason: string): Effect.Effect<void> =>
      transition(OPEN, clock.unsafeCurrentTimeMillis(), reason, false, until)

    // Open and past halfOpenAt: half-open locally, or, when shared, only with the probe lease.
    const halfOpen = <A, E2 extends E, R>(
      self: Effect.Effect<A, E2, R>,
      now: number
    ): Effect.Effect<A, E2 | CircuitOpen, R> => {
      if (shared === undefined) return probe(self, transition(HALF_OPEN, now, "open duration elapsed", false))
      if (acquiring) return reject()
      acquiring = true
      return Effect.flatMap(takeLease(shared.store, now), (heldByOther) => {
        if (state !== OPEN) return Effect.suspend(() => admit(self))
        if (Option.isSome(heldByOther)) {
          halfOpenAt = heldByOther.value
          makeRejection()
          return reject()
        }
        return probe(
          self,
          transition(HALF_OPEN, clock.unsafeCurrentTimeMillis(), "open duration elapsed (probe lease taken)", false)
        )
      })
    }

    // Half-open and shared, with the lease expired: a probe is admitted only once it is renewed.
    const probeShared = <A, E2 extends E, R>(
      store: BreakerStore.Service,
      self: Effect.Effect<A, E2, R>
    ): Effect.Effect<A, E2 | CircuitOpen, R> => {
      const now = clock.unsafeCurrentTimeMillis()
      if (now < leaseUntil) return probe(self, Effect.void)
      if (acquiring) return reject()
      acquiring = true
      const epoch = phase
      return Effect.flatMap(takeLease(store, now), (heldByOther) => {
        if (phase !== epoch) return Effect.suspend(() => admit(self))
        if (Option.isSome(heldByOther)) {
          return Effect.zipRight(
            leaseLost(heldByOther.value, "the probe lease expired and another process took it"),
            Effect.suspend(reject)
          )
        }
        return probe(self, Effect.void)
      })
    }

    const admit = <A, E2 extends E, R>(self: Effect.Effect<A, E2, R>): Effect.Effect<A, E2 | CircuitOpen, R> => {
      switch (state) {
        case CLOSED:
          countAdmission()
          if (timed) return timedClosed(self)
          // Nothing to reset on success: observe failures only, one step fewer per call.
          return tracker.clean()
            ? Effect.catchAllCause(self, untimedClosed.onFailure)
            : Effect.matchCauseEffect<A, E2, R, never, E2, never, A, never, never>(self, untimedClosed)
        case OPEN: {
          const now = clock.unsafeCurrentTimeMillis()
          return now < halfOpenAt ? reject() : halfOpen(self, now)
        }
        case HALF_OPEN:
          return shared === undefined ? probe(self, Effect.void) : probeShared(shared.store, self)
        default:
          return reject()
      }
    }

    // The guarded effect keeps the closed-state wrappers it builds: an effect built once and run
    // many times (a retried or repeated call, a guarded effect kept as a value) allocates nothing
    // per successful closed run. Effects are immutable descriptions, so a wrapper is reusable.
    const execute = <A, E2 extends E, R>(self: Effect.Effect<A, E2, R>): Effect.Effect<A, E2 | CircuitOpen, R> => {
      let observeFailures: Effect.Effect<A, E2, R> | undefined
      let observeBoth: Effect.Effect<A, E2, R> | undefined
      return Effect.suspend(() => {
        if (state !== CLOSED || timed) return admit(self)
        countAdmission()
        return tracker.clean()
          ? (observeFailures ??= Effect.catchAllCause(self, untimedClosed.onFailure))
          : (observeBoth ??= Effect.matchCauseEffect<A, E2, R, never, E2, never, A, never, never>(self, untimedClosed))
      })
    }

    const snapshotNow = (): Snapshot => {
      const now = clock.unsafeCurrentTimeMillis()
      const counts = tracker.counts(now)
      return {
        name,
        state: stateNames[state],
        halfOpenAt: state === OPEN ? halfOpenAt : null,
        openings,
        probesInFlight,
        halfOpenSuccesses,
        calls: counts.calls,
        failures: counts.failures,
        rejections
      }
    }

    // While probes run, renews the lease before it can expire (by the next sync), so a probe slower
    // than the lease keeps it; if another process took it meanwhile, the running probes no longer
    // count here (the phase ends) and this process stops probing.
    const renewWhileProbing = (store: BreakerStore.Service): Effect.Effect<void> =>
      Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        if (state !== HALF_OPEN || probesInFlight === 0 || acquiring || leaseUntil - now > syncMillis) {
          return Effect.void
        }
        acquiring = true
        const epoch = phase
        return Effect.flatMap(takeLease(store, now), (heldByOther) =>
          phase !== epoch || Option.isNone(heldByOther) ? Effect.void : Effect.zipRight(
            Effect.logWarning(`breaker ${name}: a probe outlived the probe lease; another process probes now`),
            leaseLost(heldByOther.value, "a probe outlived the probe lease and another process took it")
          ))
      })

    // Adopts what another process decided when it is newer than what this one knows.
    const sync: Effect.Effect<void> = shared === undefined ? Effect.void : shared.store.get(name).pipe(
      Effect.flatMap(Option.match({
        onNone: () => Effect.void,
        onSome: (remote) =>
          Effect.suspend(() => {
            if (remote.updatedAt < updatedAt || (remote.updatedAt === updatedAt && remote.owner === owner)) {
              return Effect.void
            }
            const now = clock.unsafeCurrentTimeMillis()
            if (remote.state === "Open" && remote.halfOpenAt !== null && state !== OPEN) {
              const announce = transition(OPEN, remote.updatedAt, `opened by ${remote.owner}`, false)
              openings = remote.openings
              halfOpenAt = remote.halfOpenAt
              updatedAt = remote.updatedAt
              makeRejection()
              return announce
            }
            if (remote.state === "Open" && remote.halfOpenAt !== null && state === OPEN) {
              halfOpenAt = Math.max(halfOpenAt, remote.halfOpenAt)
              openings = Math.max(openings, remote.openings)
              updatedAt = remote.updatedAt
              makeRejection()
              return Effect.void
            }
            if (remote.state === "Isolated" && state !== ISOLATED) {
              const announce = transition(ISOLATED, now, `isolated by ${remote.owner}`, false)
              updatedAt = remote.updatedAt
              return announce
            }
            if (remote.state === "Closed" && state !== CLOSED) {
              const announce = transition(CLOSED, now, `closed by ${remote.owner}`, false)
              updatedAt = remote.updatedAt
              return announce
            }
            updatedAt = remote.updatedAt
            return Effect.void
          })
      })),
      Effect.catchAll((error) => Effect.logWarning(`breaker ${name}: could not read the shared state`, error)),
      Effect.zipRight(renewWhileProbing(shared.store))
    )

    const breaker = {
      name,
      execute,
      state: Effect.sync(() => {
        publishAdmissions()
        return stateNames[state]
      }),
      snapshot: Effect.sync(() => {
        publishAdmissions()
        return snapshotNow()
      }),
      isolate: Effect.suspend(() => transition(ISOLATED, clock.unsafeCurrentTimeMillis(), "isolated by hand", true)),
      reset: Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        if (state === CLOSED) {
          tracker.reset()
          return Effect.void
        }
        return transition(CLOSED, now, "reset by hand", true)
      }),
      changes: Stream.fromPubSub(pubsub),
      subscribe: PubSub.subscribe(pubsub),
      sync
    }

    if (Option.isSome(monitoring)) {
      yield* monitoring.value.registerBreaker(name, breaker.snapshot)
    }
    return breaker
  })

/**
 * Builds a breaker whose state lives in this process.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "@chronicle/resilience"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ name: "payments", policy: CircuitBreaker.consecutive(5) })
 *   return yield* breaker.execute(Effect.succeed("paid"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E = unknown>(options: Options<E>): Effect.Effect<CircuitBreaker<E>> =>
  Effect.map(makeInternal(options, undefined), ({ sync: _sync, ...breaker }) => breaker)

/**
 * Builds a breaker that hydrates its state from a `BreakerStore`, saves every transition there,
 * reads it every `syncInterval` to learn what other processes decided, and takes the half-open
 * probe as a lease so only one process probes at a time. See `docs/decisions/0101`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeShared = <E = unknown>(
  options: SharedOptions<E>
): Effect.Effect<CircuitBreaker<E>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const internal = yield* makeInternal(options, options)
    yield* internal.sync
    yield* internal.sync.pipe(
      Effect.repeat(Schedule.spaced(options.syncInterval ?? Duration.seconds(1))),
      Effect.interruptible,
      Effect.forkScoped
    )
    const { sync: _sync, ...breaker } = internal
    return breaker
  })

/**
 * Guards an effect with a breaker.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withBreaker: {
  <E>(
    breaker: CircuitBreaker<E>
  ): <A, E2 extends E, R>(self: Effect.Effect<A, E2, R>) => Effect.Effect<A, E2 | CircuitOpen, R>
  <A, E2 extends E, R, E>(
    self: Effect.Effect<A, E2, R>,
    breaker: CircuitBreaker<E>
  ): Effect.Effect<A, E2 | CircuitOpen, R>
} = dual(
  2,
  <A, E2 extends E, R, E>(self: Effect.Effect<A, E2, R>, breaker: CircuitBreaker<E>) => breaker.execute(self)
)
