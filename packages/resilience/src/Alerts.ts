/**
 * Alerts with a severity: published as a Stream, logged, counted in metrics, the recent ones kept.
 *
 * @since 0.1.0
 */
import type { Queue, Scope } from "effect"
import { Context, Effect, Layer, Metric, PubSub, Schema, Stream } from "effect"

/**
 * How urgent an alert is, from `info` (worth knowing) to `critical` (someone must act now).
 *
 * @since 0.1.0
 * @category models
 */
export const Severity = Schema.Literal("info", "warning", "high", "critical")

/**
 * @since 0.1.0
 * @category models
 */
export type Severity = typeof Severity.Type

/**
 * A raised alert. `source` names what raised it (a breaker, the persistence manager, an app).
 *
 * @since 0.1.0
 * @category models
 */
export const Alert = Schema.Struct({
  id: Schema.Number,
  title: Schema.String,
  message: Schema.String,
  severity: Severity,
  source: Schema.String,
  at: Schema.DateFromString
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Alert extends Schema.Schema.Type<typeof Alert> {}

/**
 * What a caller gives to raise an alert.
 *
 * @since 0.1.0
 * @category models
 */
export interface AlertInput {
  readonly title: string
  readonly message: string
  readonly severity: Severity
  readonly source?: string
}

/**
 * The alerts service.
 *
 * @since 0.1.0
 * @category services
 */
export interface Service {
  /** Publishes, logs (at a level matching the severity) and counts an alert. */
  readonly raise: (input: AlertInput) => Effect.Effect<void>
  /** Every alert raised from the moment the stream is run. */
  readonly alerts: Stream.Stream<Alert>
  /** Subscribes now, so no alert raised after this returns is missed. */
  readonly subscribe: Effect.Effect<Queue.Dequeue<Alert>, never, Scope.Scope>
  /** The most recent alerts, oldest first. */
  readonly recent: Effect.Effect<ReadonlyArray<Alert>>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Alerts extends Context.Tag("@chronicle/resilience/Alerts")<Alerts, Service>() {}

/**
 * Counts raised alerts, tagged by `severity`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const alertsTotal = Metric.counter("chronicle_alerts_total", {
  description: "Alerts raised, by severity",
  incremental: true
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How many recent alerts to keep for `recent` (default 100). */
  readonly capacity?: number
}

const logAt = (severity: Severity, text: string): Effect.Effect<void> => {
  switch (severity) {
    case "info":
      return Effect.logInfo(text)
    case "warning":
      return Effect.logWarning(text)
    case "high":
      return Effect.logError(text)
    case "critical":
      return Effect.logFatal(text)
  }
}

/**
 * Builds an alerts service.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.gen(function*() {
    const capacity = Math.max(1, options.capacity ?? 100)
    const pubsub = yield* PubSub.unbounded<Alert>()
    const clock = yield* Effect.clock
    const recent: Array<Alert> = []
    let nextId = 1
    const raise = (input: AlertInput): Effect.Effect<void> =>
      Effect.suspend(() => {
        const alert: Alert = {
          id: nextId++,
          title: input.title,
          message: input.message,
          severity: input.severity,
          source: input.source ?? "app",
          at: new Date(clock.unsafeCurrentTimeMillis())
        }
        recent.push(alert)
        if (recent.length > capacity) recent.splice(0, recent.length - capacity)
        return Effect.zipRight(
          Effect.zipRight(
            logAt(alert.severity, `[${alert.severity}] ${alert.title}: ${alert.message}`).pipe(
              Effect.annotateLogs({ alertSource: alert.source, alertId: alert.id })
            ),
            Metric.increment(Metric.tagged(alertsTotal, "severity", alert.severity))
          ),
          PubSub.publish(pubsub, alert)
        )
      })
    return {
      raise,
      alerts: Stream.fromPubSub(pubsub),
      subscribe: PubSub.subscribe(pubsub),
      recent: Effect.sync(() => recent.slice())
    }
  })

/**
 * The alerts service as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Alerts> => Layer.effect(Alerts, make(options))

/**
 * Raises an alert through the service in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const raise = (input: AlertInput): Effect.Effect<void, never, Alerts> =>
  Effect.flatMap(Alerts, (alerts) => alerts.raise(input))
