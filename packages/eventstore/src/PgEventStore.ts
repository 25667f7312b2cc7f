/**
 * The event store on PostgreSQL through `@effect/sql-pg`, woken by LISTEN/NOTIFY with polling as
 * the fallback. Also provides the `SqlClient` for read models and inline projections.
 *
 * @since 0.1.0
 */
import type { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqlError } from "@effect/sql/SqlError"
import type { Config, ConfigError } from "effect"
import type { Duration } from "effect"
import { Effect, Layer, Queue, Redacted, Schedule, Stream } from "effect"
import Pg from "pg"
import { EventStore } from "./EventStore.js"
import { EventStoreError } from "./EventStoreError.js"
import type { Driver } from "./internal/sql.js"
import { makeSql } from "./internal/sql.js"
import type * as SqlEventStore from "./SqlEventStore.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends WakeupOptions {
  /** A `postgres://` connection URL. */
  readonly url: string | Redacted.Redacted
  /** The most connections the pool opens (default 10). */
  readonly maxConnections?: number
}

/**
 * How the store wakes readers on PostgreSQL.
 *
 * @since 0.1.0
 * @category models
 */
export interface WakeupOptions extends Omit<SqlEventStore.Options, "wakeups" | "afterAppend"> {
  /**
   * The shortest time between two notifications this process sends (default 50 ms). Each NOTIFY is
   * a transaction of its own, and many of them slow concurrent appends down (measured: 20 ms
   * spacing cost half the throughput of 8 writers; 100 ms cost 10-20%).
   */
  readonly notifyInterval?: Duration.DurationInput
}

/**
 * The event store, woken by notifications on PostgreSQL.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStore = (
  options: WakeupOptions = {}
): Layer.Layer<EventStore, EventStoreError, PgClient.PgClient | SqlClient.SqlClient> => storeWith(options)

// appends wake readers in every process through this channel
const channel = "chronicle_events"

const storeWith = (
  options: WakeupOptions,
  owned?: { readonly driver: Driver; readonly listen: Stream.Stream<void, SqlError> }
): Layer.Layer<EventStore, EventStoreError, PgClient.PgClient | SqlClient.SqlClient> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const pg = yield* PgClient.PgClient
    // NOTIFY inside an append would serialize every commit on the notification queue's lock, so
    // appends only mark that something changed and this fiber notifies, outside their transactions
    const changed = yield* Queue.sliding<void>(1)
    // notifications are spaced out (see notifyInterval); a lost one only delays a reader until its poll
    const { notifyInterval, ...storeOptions } = options
    // not `PgClient.notify`: it binds the payload as a parameter, which NOTIFY refuses (so every
    // call failed, and cost the pool a connection), and its listener drops empty payloads. On a
    // pool of the store's own it is a prepared statement: about half the client CPU.
    const notifyText = `SELECT pg_notify('${channel}', 'append')`
    const prepared = owned?.driver.prepared
    const notify = prepared === undefined
      ? pg.unsafe(notifyText)
      : Effect.async<void>((resume) => prepared("chronicle_notify", notifyText, [], () => resume(Effect.void)))
    yield* Queue.take(changed).pipe(
      // uninterruptible: a notify cut off while its connection is still opening would leave that
      // connection open after the pool has closed, and keep the process alive
      Effect.zipRight(notify.pipe(Effect.ignore, Effect.uninterruptible)),
      Effect.zipRight(Effect.sleep(notifyInterval ?? "50 millis")),
      Effect.forever,
      Effect.forkScoped
    )
    return Layer.scoped(
      EventStore,
      makeSql({
        // notifications wake readers, so polling is only the fallback
        pollInterval: "500 millis",
        ...storeOptions,
        afterAppend: () => Queue.unsafeOffer(changed, undefined),
        // a broken LISTEN connection is re-opened; meanwhile polling keeps subscriptions moving
        wakeups: (owned?.listen ?? pg.listen(channel).pipe(Stream.map((): void => undefined))).pipe(
          Stream.retry(Schedule.exponential("100 millis").pipe(Schedule.union(Schedule.spaced("5 seconds")))),
          Stream.catchAll(() => Stream.empty)
        )
      }, owned?.driver)
    )
  }))

// The store's own statements as named prepared statements on the pool's connections (the pool
// keeps which connection has prepared which): no planning on the server, and no per-statement
// bookkeeping of the generic client on the hot path (decision 0006).
const preparedOn = (pool: Pg.Pool): Driver => ({
  prepared: (name, text, params, callback) => {
    pool.query({ name, text, values: params as Array<unknown> }, (cause, result) => {
      if (cause) callback(new SqlError({ cause, message: "Failed to execute statement" }), [])
      else callback(undefined, result.rows)
    })
  }
})

// LISTEN on a connection of its own, opened and closed with the stream's scope. Not
// `PgClient.listen`: a shutdown that comes while its connection is still opening leaves that
// connection open (its cache drops the scope when interrupted right after acquiring), and an open
// connection keeps the process from exiting.
const listenOn = (pool: Pg.Pool): Stream.Stream<void, SqlError> =>
  Stream.asyncPush<void, SqlError>((emit) =>
    Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const client = new Pg.Client(pool.options)
          client.on("error", (cause) => emit.fail(new SqlError({ cause, message: "LISTEN connection failed" })))
          client.on("notification", (message) => {
            if (message.channel === channel) emit.single(undefined)
          })
          try {
            await client.connect()
            await client.query(`LISTEN ${channel}`)
          } catch (cause) {
            await client.end().catch(() => undefined)
            throw cause
          }
          return client
        },
        catch: (cause) => new SqlError({ cause, message: "Failed to listen" })
      }),
      (client) => Effect.promise(() => client.end().catch(() => undefined)).pipe(Effect.timeoutOption("1 second"))
    )
  )

// The pool is ours, so the store can prepare its statements on it; the SqlClient shares it.
const poolLayer = (url: string | Redacted.Redacted, maxConnections: number | undefined) =>
  Effect.gen(function*() {
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool = new Pg.Pool({
          connectionString: typeof url === "string" ? url : Redacted.value(url),
          application_name: "chronicle",
          ...(maxConnections === undefined ? {} : { max: maxConnections })
        })
        // an idle connection's error is reported here; without a listener it would end the process
        pool.on("error", () => {})
        return pool
      }),
      (pool) => Effect.promise(() => pool.end()).pipe(Effect.timeoutOption("1 second"))
    )
    yield* Effect.tryPromise({
      try: () => pool.query("SELECT 1"),
      catch: (cause) => new EventStoreError({ operation: "connect", cause })
    }).pipe(
      Effect.timeoutFail({
        duration: "5 seconds",
        onTimeout: () => new EventStoreError({ operation: "connect", cause: new Error("connection timed out") })
      })
    )
    return pool
  })

/**
 * The event store on PostgreSQL, with the client it uses.
 *
 * @example
 * ```ts
 * const StoreLive = PgEventStore.layer({ url: "postgres://postgres@127.0.0.1:5432/app" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<EventStore | PgClient.PgClient | SqlClient.SqlClient, EventStoreError | ConfigError.ConfigError> => {
  const { maxConnections, url, ...storeOptions } = options
  return Layer.unwrapScoped(Effect.map(poolLayer(url, maxConnections), (pool) =>
    Layer.provideMerge(
      storeWith(storeOptions, { driver: preparedOn(pool), listen: listenOn(pool) }),
      PgClient.layerFromPool({ acquire: Effect.succeed(pool) }).pipe(
        Layer.mapError((cause) => new EventStoreError({ operation: "connect", cause }))
      )
    )))
}

/**
 * The same, configured from `Config`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<Options>
): Layer.Layer<EventStore | PgClient.PgClient | SqlClient.SqlClient, EventStoreError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(config, layer))
