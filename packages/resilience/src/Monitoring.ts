/**
 * A monitoring snapshot (the seed's dashboard): recent operations from any source (persistence,
 * a command bus, ...), per-operation totals, breaker states and recent alerts, as plain data an
 * app can serve as JSON.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option } from "effect"
import * as Alerts from "./Alerts.js"
import type * as CircuitBreaker from "./CircuitBreaker.js"

/**
 * An operation to record. `source` groups operations (`persistence`, `command-bus`), `name`
 * names one (`save`, `RenameDocument`).
 *
 * @since 0.1.0
 * @category models
 */
export interface OperationInput {
  readonly source: string
  readonly name: string
  readonly outcome: "success" | "failure"
  readonly durationMillis: number
  readonly detail?: string
}

/**
 * A recorded operation. `at` is an ISO-8601 timestamp.
 *
 * @since 0.1.0
 * @category models
 */
export interface Operation extends OperationInput {
  readonly at: string
}

/**
 * Totals for one `source` and `name`.
 *
 * @since 0.1.0
 * @category models
 */
export interface OperationTotals {
  readonly source: string
  readonly name: string
  readonly successes: number
  readonly failures: number
  readonly averageMillis: number
  readonly maxMillis: number
}

/**
 * An alert as it appears in a snapshot.
 *
 * @since 0.1.0
 * @category models
 */
export interface AlertView {
  readonly id: number
  readonly title: string
  readonly message: string
  readonly severity: Alerts.Severity
  readonly source: string
  readonly at: string
}

/**
 * Everything the dashboard shows, as JSON-ready data.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly generatedAt: string
  readonly operations: {
    readonly recent: ReadonlyArray<Operation>
    readonly totals: ReadonlyArray<OperationTotals>
  }
  readonly breakers: ReadonlyArray<CircuitBreaker.Snapshot>
  readonly alerts: ReadonlyArray<AlertView>
}

/**
 * The monitoring service.
 *
 * @since 0.1.0
 * @category services
 */
export interface Service {
  readonly record: (operation: OperationInput) => Effect.Effect<void>
  /** Includes a breaker's state in snapshots; breakers built with this service in context do it themselves. */
  readonly registerBreaker: (name: string, snapshot: Effect.Effect<CircuitBreaker.Snapshot>) => Effect.Effect<void>
  readonly snapshot: Effect.Effect<Snapshot>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Monitoring extends Context.Tag("@chronicle/resilience/Monitoring")<Monitoring, Service>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How many recent operations to keep (default 200). */
  readonly capacity?: number
}

interface MutableTotals {
  source: string
  name: string
  successes: number
  failures: number
  totalMillis: number
  maxMillis: number
}

/**
 * Builds the monitoring service; it reads recent alerts from `Alerts` when that is in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.gen(function*() {
    const capacity = Math.max(1, options.capacity ?? 200)
    const clock = yield* Effect.clock
    const alerts = yield* Effect.serviceOption(Alerts.Alerts)
    const recent: Array<Operation> = []
    const totals = new Map<string, MutableTotals>()
    const breakers = new Map<string, Effect.Effect<CircuitBreaker.Snapshot>>()
    return {
      record: (input) =>
        Effect.sync(() => {
          recent.push({ ...input, at: new Date(clock.unsafeCurrentTimeMillis()).toISOString() })
          if (recent.length > capacity) recent.splice(0, recent.length - capacity)
          const key = `${input.source}\u0000${input.name}`
          let entry = totals.get(key)
          if (entry === undefined) {
            entry = { source: input.source, name: input.name, successes: 0, failures: 0, totalMillis: 0, maxMillis: 0 }
            totals.set(key, entry)
          }
          if (input.outcome === "success") entry.successes++
          else entry.failures++
          entry.totalMillis += input.durationMillis
          entry.maxMillis = Math.max(entry.maxMillis, input.durationMillis)
        }),
      registerBreaker: (name, snapshot) => Effect.sync(() => void breakers.set(name, snapshot)),
      snapshot: Effect.gen(function*() {
        const breakerStates = yield* Effect.all(Array.from(breakers.values()))
        const alertList = Option.isSome(alerts) ? yield* alerts.value.recent : []
        return {
          generatedAt: new Date(clock.unsafeCurrentTimeMillis()).toISOString(),
          operations: {
            recent: recent.slice(),
            totals: Array.from(totals.values(), (t) => ({
              source: t.source,
              name: t.name,
              successes: t.successes,
              failures: t.failures,
              averageMillis: t.successes + t.failures === 0 ? 0 : t.totalMillis / (t.successes + t.failures),
              maxMillis: t.maxMillis
            }))
          },
          breakers: breakerStates,
          alerts: alertList.map((a) => ({
            id: a.id,
            title: a.title,
            message: a.message,
            severity: a.severity,
            source: a.source,
            at: a.at.toISOString()
          }))
        }
      })
    }
  })

/**
 * The monitoring service as a layer; provide `Alerts` to it to include alerts in snapshots.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Monitoring> => Layer.effect(Monitoring, make(options))

/**
 * Alerts and monitoring together: `Monitoring` reads the alerts it provides.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWithAlerts = (
  options: Options & { readonly alerts?: Alerts.Options } = {}
): Layer.Layer<Monitoring | Alerts.Alerts> =>
  layer(options).pipe(Layer.provideMerge(Alerts.layer(options.alerts ?? {})))

/**
 * Records an operation through the service in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const record = (operation: OperationInput): Effect.Effect<void, never, Monitoring> =>
  Effect.flatMap(Monitoring, (m) => m.record(operation))

/**
 * Records the outcome and duration of an effect as an operation, when `Monitoring` is in context.
 *
 * @since 0.1.0
 * @category combinators
 */
export const track =
  (source: string, name: string) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.serviceOption(Monitoring).pipe(
      Effect.flatMap(Option.match({
        onNone: () => self,
        onSome: (monitoring) =>
          Effect.clockWith((clock) => {
            const start = clock.unsafeCurrentTimeMillis()
            return Effect.onExit(self, (exit) =>
              monitoring.record({
                source,
                name,
                outcome: exit._tag === "Success" ? "success" : "failure",
                durationMillis: clock.unsafeCurrentTimeMillis() - start
              }))
          })
      }))
    )
