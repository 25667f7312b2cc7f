/**
 * Fallbacks: what to answer when everything else failed.
 *
 * @since 0.1.0
 */
import type { Predicate } from "effect"
import { Effect } from "effect"
import { dual } from "effect/Function"

/**
 * Replaces any typed failure with the result of another effect.
 *
 * @since 0.1.0
 * @category combinators
 */
export const orElse: {
  <E, A2, E2, R2>(
    fallback: (error: E) => Effect.Effect<A2, E2, R2>
  ): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, E2, R | R2>
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    fallback: (error: E) => Effect.Effect<A2, E2, R2>
  ): Effect.Effect<A | A2, E2, R | R2>
} = dual(2, <A, E, R, A2, E2, R2>(
  self: Effect.Effect<A, E, R>,
  fallback: (error: E) => Effect.Effect<A2, E2, R2>
) => Effect.catchAll(self, fallback))

/**
 * Replaces any typed failure with a value.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Fallback } from "@chronicle/resilience"
 *
 * const price = Effect.fail("down").pipe(Fallback.orElseSucceed(() => 0))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const orElseSucceed: {
  <E, A2>(fallback: (error: E) => A2): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, never, R>
  <A, E, R, A2>(self: Effect.Effect<A, E, R>, fallback: (error: E) => A2): Effect.Effect<A | A2, never, R>
} = dual(
  2,
  <A, E, R, A2>(self: Effect.Effect<A, E, R>, fallback: (error: E) => A2) =>
    Effect.catchAll(self, (error) => Effect.succeed(fallback(error)))
)

/**
 * Falls back only for the errors the refinement selects; other errors pass through.
 *
 * @since 0.1.0
 * @category combinators
 */
export const orElseIf: {
  <E, EB extends E, A2, E2, R2>(
    refinement: Predicate.Refinement<E, EB>,
    fallback: (error: EB) => Effect.Effect<A2, E2, R2>
  ): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, Exclude<E, EB> | E2, R | R2>
  <A, E, R, EB extends E, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    refinement: Predicate.Refinement<E, EB>,
    fallback: (error: EB) => Effect.Effect<A2, E2, R2>
  ): Effect.Effect<A | A2, Exclude<E, EB> | E2, R | R2>
} = dual(3, <A, E, R, EB extends E, A2, E2, R2>(
  self: Effect.Effect<A, E, R>,
  refinement: Predicate.Refinement<E, EB>,
  fallback: (error: EB) => Effect.Effect<A2, E2, R2>
) => Effect.catchIf(self, refinement, fallback))
