/**
 * Middleware wraps every handled command or query of a bus: validation, logging, tracing, metrics,
 * retries, timeouts, or your own. A bus applies its middleware in the order given: the first is the
 * outermost (it sees the message first and the outcome last).
 *
 * @since 0.1.0
 */
import type { Duration, Schedule } from "effect"
import { Effect, Either, Metric, MetricBoundaries, MetricLabel, ParseResult } from "effect"
import type { BusError } from "./CqrsError.js"
import { MessageRejected, ValidationError } from "./CqrsError.js"
import { outcomeOf } from "./internal/outcome.js"
import type { MessageContext } from "./Message.js"

/**
 * A middleware: given the rest of the pipeline (`next`) and the message's context, the effect to
 * run instead. It may add the bus's own failures (`BusError`), never remove the handler's.
 *
 * @since 0.1.0
 * @category models
 */
export interface Middleware {
  readonly name: string
  readonly apply: <A, E>(next: Effect.Effect<A, E>, context: MessageContext) => Effect.Effect<A, E | BusError>
}

/**
 * Defines a middleware.
 *
 * @example
 * ```ts
 * const audit = Middleware.make("audit", (next, context) =>
 *   Effect.zipRight(Effect.log(`handling ${context.type}`), next))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  name: string,
  apply: <A, E>(next: Effect.Effect<A, E>, context: MessageContext) => Effect.Effect<A, E | BusError>
): Middleware => ({ name, apply })

/**
 * Checks each message against its schema before the handler runs; a mismatch fails with
 * `ValidationError` and runs nothing.
 *
 * @since 0.1.0
 * @category middleware
 */
export const validation: Middleware = make("validation", (next, context) =>
  Either.match(context.validate(), {
    onLeft: (error) =>
      Effect.fail(
        new ValidationError({
          kind: context.kind,
          type: context.type,
          reason: ParseResult.TreeFormatter.formatErrorSync(error)
        })
      ),
    onRight: () => next
  }))

/**
 * Logs each message's outcome and duration, annotated with its type and ids; failures at warning
 * level.
 *
 * @since 0.1.0
 * @category middleware
 */
export const logging: Middleware = make("logging", (next, context) =>
  Effect.suspend(() => {
    const start = performance.now()
    return Effect.onExit(next, (exit) => {
      const outcome = outcomeOf(exit)
      const message = `${context.kind} ${context.type}: ${outcome}`
      const log = outcome === "success" ? Effect.logDebug(message) : Effect.logWarning(message)
      return log.pipe(
        Effect.annotateLogs({
          messageId: context.messageId,
          correlationId: context.correlationId ?? "",
          durationMillis: performance.now() - start
        })
      )
    })
  }))

/**
 * Runs each message in a tracing span named `${kind} ${type}` with its ids as attributes.
 *
 * @since 0.1.0
 * @category middleware
 */
export const tracing: Middleware = make(
  "tracing",
  (next, context) =>
    Effect.withSpan(next, `${context.kind} ${context.type}`, {
      kind: "internal",
      attributes: {
        "chronicle.message.kind": context.kind,
        "chronicle.message.type": context.type,
        "chronicle.message.id": context.messageId,
        "chronicle.correlation.id": context.correlationId ?? ""
      }
    })
)

/**
 * The counter `metrics` updates, before tagging (kind, type, outcome).
 *
 * @since 0.1.0
 * @category metrics
 */
export const messageCount = Metric.counter("chronicle_cqrs_messages_total", {
  description: "commands and queries handled",
  incremental: true
})

/**
 * The histogram of handling time in milliseconds `metrics` updates, before tagging.
 *
 * @since 0.1.0
 * @category metrics
 */
export const messageDuration = Metric.histogram(
  "chronicle_cqrs_message_duration_ms",
  MetricBoundaries.exponential({ start: 0.05, factor: 2, count: 18 }),
  "command and query handling time in milliseconds"
)

/**
 * Counts messages and records their durations (milliseconds), tagged by kind, type and outcome.
 *
 * @since 0.1.0
 * @category middleware
 */
export const metrics: Middleware = (() => {
  // Tag sets are built once per (kind, type, outcome), not per message.
  const labels = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
  const labelsFor = (kind: string, type: string, outcome: string) => {
    const key = `${kind}\u0000${type}\u0000${outcome}`
    let found = labels.get(key)
    if (found === undefined) {
      found = [MetricLabel.make("kind", kind), MetricLabel.make("type", type), MetricLabel.make("outcome", outcome)]
      labels.set(key, found)
    }
    return found
  }
  return make("metrics", (next, context) =>
    Effect.suspend(() => {
      const start = performance.now()
      return Effect.onExit(next, (exit) =>
        Effect.sync(() => {
          const tags = labelsFor(context.kind, context.type, outcomeOf(exit))
          messageCount.unsafeUpdate(1, tags)
          messageDuration.unsafeUpdate(performance.now() - start, tags)
        }))
    }))
})()

/**
 * Retries the rest of the pipeline while `while` holds for its failure, on a `Schedule`. For
 * concurrency conflicts, `CommandHandler` already retries inside the handler; this is for
 * policies that cut across handlers.
 *
 * @since 0.1.0
 * @category middleware
 */
export const retry = (options: {
  readonly schedule: Schedule.Schedule<unknown, unknown>
  readonly while: (error: unknown) => boolean
}): Middleware => make("retry", (next) => Effect.retry(next, { schedule: options.schedule, while: options.while }))

/**
 * Fails a message with `MessageRejected` when it takes longer than `duration`.
 *
 * @since 0.1.0
 * @category middleware
 */
export const timeout = (duration: Duration.DurationInput): Middleware =>
  make("timeout", (next, context) =>
    Effect.timeoutFail(next, {
      duration,
      onTimeout: () => new MessageRejected({ kind: context.kind, type: context.type, reason: "timed out" })
    }))
