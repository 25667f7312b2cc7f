/**
 * Bulkheads: at most `maxConcurrent` calls at once, at most `maxQueue` waiting, the rest rejected
 * with a typed `BulkheadRejected`.
 *
 * @since 0.1.0
 */
import { Effect, Metric, Schema } from "effect"
import { dual } from "effect/Function"

/**
 * The bulkhead was full: every slot busy and the queue at its limit.
 *
 * @since 0.1.0
 * @category errors
 */
export class BulkheadRejected extends Schema.TaggedError<BulkheadRejected>()("BulkheadRejected", {
  bulkhead: Schema.String,
  maxConcurrent: Schema.Number,
  maxQueue: Schema.Number
}) {
  override get message(): string {
    return `bulkhead ${this.bulkhead} is full (${this.maxConcurrent} running, ${this.maxQueue} queued)`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly name: string
  readonly maxConcurrent: number
  /** Calls allowed to wait for a slot (default 0: reject as soon as every slot is busy). */
  readonly maxQueue?: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly active: number
  readonly queued: number
  readonly rejected: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Bulkhead {
  readonly name: string
  readonly execute: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadRejected, R>
  readonly stats: Effect.Effect<Stats>
}

/**
 * Calls refused by a bulkhead, tagged by `bulkhead`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const rejectionsTotal = Metric.counter("chronicle_bulkhead_rejections_total", {
  description: "Calls refused by a full bulkhead",
  incremental: true
})

/**
 * Builds a bulkhead. Waiting calls get a slot in arrival order; an interrupted waiter leaves the queue.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Bulkhead> =>
  Effect.gen(function*() {
    const maxConcurrent = Math.max(1, options.maxConcurrent)
    const maxQueue = Math.max(0, options.maxQueue ?? 0)
    const semaphore = yield* Effect.makeSemaphore(maxConcurrent)
    const rejectedMetric = Metric.tagged(rejectionsTotal, "bulkhead", options.name)
    const rejection = Effect.fail(
      new BulkheadRejected({ bulkhead: options.name, maxConcurrent, maxQueue }, true)
    )
    // Admitted = running + waiting; both change only inside synchronous sections.
    let admitted = 0
    let active = 0
    let rejected = 0
    const leave = Effect.sync(() => {
      admitted--
    })
    const enter = Effect.sync(() => {
      active++
    })
    const exit = Effect.sync(() => {
      active--
    })
    const execute = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadRejected, R> =>
      Effect.suspend((): Effect.Effect<A, E | BulkheadRejected, R> => {
        if (admitted >= maxConcurrent + maxQueue) {
          rejected++
          rejectedMetric.unsafeUpdate(1, [])
          return rejection
        }
        admitted++
        return semaphore.withPermits(1)(Effect.zipRight(enter, Effect.ensuring(self, exit))).pipe(
          Effect.ensuring(leave)
        )
      })
    return {
      name: options.name,
      execute,
      stats: Effect.sync(() => ({ active, queued: admitted - active, rejected }))
    }
  })

/**
 * Runs an effect inside a bulkhead.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withBulkhead: {
  (bulkhead: Bulkhead): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadRejected, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, bulkhead: Bulkhead): Effect.Effect<A, E | BulkheadRejected, R>
} = dual(2, <A, E, R>(self: Effect.Effect<A, E, R>, bulkhead: Bulkhead) => bulkhead.execute(self))
