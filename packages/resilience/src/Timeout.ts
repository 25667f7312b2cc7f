/**
 * Timeouts that fail with a typed `TimedOut`.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schema } from "effect"
import { dual } from "effect/Function"

/**
 * The effect took longer than its time limit and was interrupted.
 *
 * @since 0.1.0
 * @category errors
 */
export class TimedOut extends Schema.TaggedError<TimedOut>()("TimedOut", {
  operation: Schema.String,
  durationMillis: Schema.Number
}) {
  override get message(): string {
    return `${this.operation} timed out after ${this.durationMillis} ms`
  }
}

/**
 * Fails with `TimedOut` if the effect does not finish within `duration`; the effect is interrupted.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Timeout } from "@chronicle/resilience"
 *
 * const program = Effect.never.pipe(Timeout.timeout("1 second", "load profile"))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const timeout: {
  (duration: Duration.DurationInput, operation?: string): <A, E, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | TimedOut, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, duration: Duration.DurationInput, operation?: string): Effect.Effect<
    A,
    E | TimedOut,
    R
  >
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(self: Effect.Effect<A, E, R>, duration: Duration.DurationInput, operation = "effect") => {
    const durationMillis = Duration.toMillis(duration)
    return Effect.timeoutFail(self, {
      duration,
      onTimeout: () => new TimedOut({ operation, durationMillis })
    })
  }
)
