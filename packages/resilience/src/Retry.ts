/**
 * Retry with exponential backoff, jitter, a cap, a maximum number of attempts and a predicate on
 * the typed error, built on `Schedule` so other packages can reuse the policy.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schedule } from "effect"
import { dual } from "effect/Function"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<E = unknown> {
  /** Retries after the first attempt (default 3): at most `times + 1` attempts. */
  readonly times?: number
  /** The first delay (default 100 ms). */
  readonly base?: Duration.DurationInput
  /** Each delay is the previous one times this (default 2). */
  readonly factor?: number
  /** No delay is longer than this, jitter included (default 30 s). */
  readonly maxDelay?: Duration.DurationInput
  /** Spread each delay randomly by ± this fraction (default 0.2); `false` or 0 for none. */
  readonly jitter?: number | false
  /** Stop retrying once this much time has passed since the first retry. */
  readonly maxElapsed?: Duration.DurationInput
  /** Which errors to retry (default: all). */
  readonly while?: (error: E) => boolean
}

/**
 * The retry policy as a `Schedule` that takes the error as input and outputs the next delay.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "@chronicle/resilience"
 *
 * const policy = Retry.schedule({ times: 5, base: "50 millis", maxDelay: "2 seconds" })
 * const program = Effect.retry(Effect.fail("flaky"), policy)
 * ```
 *
 * @since 0.1.0
 * @category schedules
 */
export const schedule = <E = unknown>(options: Options<E> = {}): Schedule.Schedule<Duration.Duration, E> => {
  const max = Duration.decode(options.maxDelay ?? Duration.seconds(30))
  const jitter = options.jitter === false ? 0 : Math.min(1, Math.max(0, options.jitter ?? 0.2))
  const base = Schedule.exponential(options.base ?? Duration.millis(100), options.factor ?? 2)
  const jittered = jitter === 0 ? base : Schedule.jitteredWith(base, { min: 1 - jitter, max: 1 + jitter })
  const capped = jittered.pipe(
    Schedule.modifyDelay((_, delay) => Duration.min(delay, max)),
    Schedule.intersect(Schedule.recurs(Math.max(0, options.times ?? 3))),
    Schedule.map(([delay]) => delay)
  )
  const bounded = options.maxElapsed === undefined ? capped : Schedule.upTo(capped, options.maxElapsed)
  const predicate = options.while
  return predicate === undefined ? bounded : Schedule.whileInput(bounded, (error: E) => predicate(error))
}

/**
 * Retries an effect with the policy.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "@chronicle/resilience"
 *
 * const program = Effect.fail({ _tag: "Busy" as const }).pipe(
 *   Retry.retry({ times: 3, base: "10 millis", while: (e) => e._tag === "Busy" })
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const retry: {
  <E>(options: Options<E>): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, options: Options<E>): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, options: Options<E>): Effect.Effect<A, E, R> =>
    Effect.retry(self, schedule(options))
)

/**
 * The delays the policy would wait, without jitter, for documentation and tests.
 *
 * @since 0.1.0
 * @category utils
 */
export const delays = (
  options: Omit<Options, "while" | "jitter" | "maxElapsed"> = {}
): ReadonlyArray<Duration.Duration> => {
  const base = Duration.toMillis(options.base ?? Duration.millis(100))
  const max = Duration.toMillis(options.maxDelay ?? Duration.seconds(30))
  const factor = options.factor ?? 2
  return Array.from(
    { length: Math.max(0, options.times ?? 3) },
    (_, i) => Duration.millis(Math.min(max, base * Math.pow(factor, i)))
  )
}
