/**
 * The server's services, wired in one place: configuration, the resilient event store on the
 * configured database, the buses with their handlers, the read models and monitoring.
 */
import { CommandBus, Middleware, Projections, QueryBus, StreamHistory } from "@chronicle/cqrs"
import { Database, Documents, ReadModel } from "@chronicle/documents"
import { EventStore } from "@chronicle/eventstore"
import { CircuitBreaker, Monitoring, ResilientEventStore } from "@chronicle/resilience"
import { Config, Context, Duration, Effect, Layer, Option, Redacted, Stream } from "effect"

export interface Settings {
  readonly port: number
  readonly token: Option.Option<Redacted.Redacted>
  readonly bodyLimit: number
  readonly readTimeout: Duration.Duration
  readonly database: Database.Database
}

/** `PORT`, `CHRONICLE_API_TOKEN`, `CHRONICLE_BODY_LIMIT` (bytes), `CHRONICLE_READ_TIMEOUT_MS`, `DATABASE_URL`. */
export const settingsConfig: Config.Config<Settings> = Config.all({
  port: Config.integer("PORT").pipe(
    Config.withDefault(3000),
    Config.validate({
      message: "PORT must be between 0 and 65535",
      validation: (port) => port >= 0 && port <= 65_535
    })
  ),
  token: Config.option(Config.redacted("CHRONICLE_API_TOKEN")).pipe(
    Config.map(Option.filter((token) => Redacted.value(token).length > 0))
  ),
  bodyLimit: Config.integer("CHRONICLE_BODY_LIMIT").pipe(
    Config.withDefault(1_048_576),
    Config.validate({
      message: "CHRONICLE_BODY_LIMIT must be a positive number of bytes",
      validation: (limit) => limit > 0
    })
  ),
  readTimeout: Config.integer("CHRONICLE_READ_TIMEOUT_MS").pipe(Config.withDefault(5_000), Config.map(Duration.millis)),
  database: Database.config
})

export class ServerSettings extends Context.Tag("@chronicle/server/ServerSettings")<ServerSettings, Settings>() {}

export const SettingsLive = Layer.effect(ServerSettings, settingsConfig)

/** The event store's circuit breaker, for health and the dashboard. */
export class StoreBreaker extends Context.Tag("@chronicle/server/StoreBreaker")<
  StoreBreaker,
  CircuitBreaker.CircuitBreaker<unknown>
>() {}

const ResilientLive = Layer.effectContext(Effect.gen(function*() {
  const inner = yield* EventStore.EventStore
  const { breaker, store } = yield* ResilientEventStore.make(inner, { name: "eventstore", timeout: "5 seconds" })
  return Context.make(EventStore.EventStore, store).pipe(Context.add(StoreBreaker, breaker))
}))

/** The configured database behind the resilient store (the server writes only through it). */
export const StoreLive = ResilientLive.pipe(
  Layer.provideMerge(Database.layerConfig),
  Layer.provideMerge(Monitoring.layerWithAlerts())
)

// the bus feed, recorded for the dashboard
const FeedLive = Layer.scopedDiscard(Effect.gen(function*() {
  const monitoring = yield* Monitoring.Monitoring
  const commands = yield* CommandBus.CommandBus
  const queries = yield* QueryBus.QueryBus
  yield* Stream.merge(commands.events, queries.events).pipe(
    Stream.runForEach((event) =>
      monitoring.record({
        source: event._tag.startsWith("Command") ? "commands" : "queries",
        name: event.type,
        outcome: event._tag === "CommandExecuted" || event._tag === "QueryExecuted" ? "success" : "failure",
        durationMillis: event.durationMillis,
        ...(event._tag === "CommandFailed" || event._tag === "QueryFailed" ? { detail: event.error } : {})
      })
    ),
    Effect.forkScoped
  )
}))

const BusesLive = Layer.mergeAll(
  CommandBus.layer({ middleware: [Middleware.metrics, Middleware.tracing] }),
  QueryBus.layer({ middleware: [Middleware.metrics] })
)

// the read model tables exist before the first query, whether or not a worker ran yet
const ReadModelTablesLive = Layer.effectDiscard(ReadModel.setup)

/** Everything the HTTP handlers use. */
export const ServicesLive = Layer.mergeAll(
  Documents.layerHandlers,
  ReadModel.layerQueries,
  StreamHistory.layer,
  FeedLive
).pipe(
  Layer.provideMerge(
    Layer.mergeAll(BusesLive, Documents.layer, Projections.layer(ReadModel.projections), ReadModelTablesLive)
  ),
  Layer.provideMerge(StoreLive),
  Layer.provideMerge(SettingsLive)
)
