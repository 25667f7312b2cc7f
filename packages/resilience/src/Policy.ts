/**
 * The explicit composition of the resilience policies, outermost first:
 * `fallback(retry(breaker(timeout(bulkhead(effect)))))`.
 *
 * - The bulkhead is innermost: it limits what actually reaches the dependency.
 * - The timeout wraps it, so time spent queued counts against the caller's budget.
 * - The breaker sees each attempt, timeouts included, and fails fast while open.
 * - Retry repeats whole attempts through the breaker; it never retries `CircuitOpen` or
 *   `BulkheadRejected` (retrying a refusal only adds load).
 * - The fallback answers once everything else has failed.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import { Effect } from "effect"
import * as Bulkheads from "./Bulkhead.js"
import * as CircuitBreaker from "./CircuitBreaker.js"
import * as Retry from "./Retry.js"
import * as Timeout from "./Timeout.js"

/**
 * The errors the policies themselves add.
 *
 * @since 0.1.0
 * @category models
 */
export type PolicyError = CircuitBreaker.CircuitOpen | Timeout.TimedOut | Bulkheads.BulkheadRejected

/**
 * Which policies to apply; each one is optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E> {
  readonly bulkhead?: Bulkheads.Bulkhead
  readonly timeout?: Duration.DurationInput
  readonly breaker?: CircuitBreaker.CircuitBreaker<NoInfer<E> | Timeout.TimedOut | Bulkheads.BulkheadRejected>
  readonly retry?: Retry.Options<E | Timeout.TimedOut>
  /** Names the operation in `TimedOut`. */
  readonly operation?: string
}

const isRefusal = (error: unknown): error is CircuitBreaker.CircuitOpen | Bulkheads.BulkheadRejected =>
  error instanceof CircuitBreaker.CircuitOpen || error instanceof Bulkheads.BulkheadRejected

/**
 * Applies the policies in the documented order.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker, Policy } from "@chronicle/resilience"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ name: "search" })
 *   return yield* Effect.succeed(42).pipe(
 *     Policy.wrap({ breaker, timeout: "2 seconds", retry: { times: 2 } })
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const wrap =
  <E>(options: Options<E>) => <A, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | PolicyError, R> => {
    const bulkheaded: Effect.Effect<A, E | Bulkheads.BulkheadRejected, R> = options.bulkhead === undefined
      ? self
      : options.bulkhead.execute(self)
    const timed: Effect.Effect<A, E | Bulkheads.BulkheadRejected | Timeout.TimedOut, R> = options.timeout === undefined
      ? bulkheaded
      : Timeout.timeout(bulkheaded, options.timeout, options.operation ?? "effect")
    const broken: Effect.Effect<A, E | PolicyError, R> = options.breaker === undefined
      ? timed
      : options.breaker.execute(timed)
    const retryOptions = options.retry
    if (retryOptions === undefined) return broken
    const userWhile = retryOptions.while
    return Effect.retry(
      broken,
      Retry.schedule<E | PolicyError>({
        ...retryOptions,
        while: (error) => !isRefusal(error) && (userWhile === undefined || userWhile(error))
      })
    )
  }

/**
 * Applies the policies, then answers failures with `fallback`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const wrapWithFallback = <E, A2, E2, R2>(
  options: Options<E> & { readonly fallback: (error: E | PolicyError) => Effect.Effect<A2, E2, R2> }
) =>
<A, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A | A2, E2, R | R2> =>
  Effect.catchAll(wrap(options)(self), options.fallback)
