/**
 * The event store on an embedded SQLite file (WAL mode) through `@effect/sql-sqlite-node`.
 * Several processes may share one file. Also provides the `SqlClient`, so read models and inline
 * projections can write in the same transactions as appends.
 *
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import type { Config, ConfigError } from "effect"
import { Duration, Effect, Layer } from "effect"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import type { EventStore } from "./EventStore.js"
import { EventStoreError } from "./EventStoreError.js"
import * as SqlEventStore from "./SqlEventStore.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends SqlEventStore.Options {
  /** The database file; its folder is created if missing. */
  readonly filename: string
  /**
   * `FULL` (the default) makes an append survive a power cut once it returns; `NORMAL` only a
   * process crash, and is faster.
   */
  readonly synchronous?: "FULL" | "NORMAL"
  /** How long a writer waits for another process's write lock (default 5 s). */
  readonly busyTimeout?: Duration.DurationInput
}

/**
 * The SQLite client with Chronicle's connection settings: WAL, synchronous, busy timeout.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (
  options: Options
): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient, EventStoreError> => {
  const settings = Layer.effectDiscard(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(`PRAGMA busy_timeout = ${Duration.toMillis(options.busyTimeout ?? "5 seconds")}`)
      yield* sql.unsafe(`PRAGMA synchronous = ${options.synchronous ?? "FULL"}`)
    }).pipe(Effect.orDie)
  )
  const client = Layer.unwrapEffect(Effect.sync(() => {
    if (options.filename !== ":memory:") mkdirSync(dirname(options.filename), { recursive: true })
    return SqliteClient.layer({ filename: options.filename })
  })).pipe(Layer.mapError((cause) => new EventStoreError({ operation: "connect", cause })))
  return Layer.provideMerge(settings, client)
}

/**
 * The event store on a SQLite file, with the client it uses.
 *
 * @example
 * ```ts
 * const StoreLive = SqliteEventStore.layer({ filename: "./data/chronicle.db" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<EventStore | SqliteClient.SqliteClient | SqlClient.SqlClient, EventStoreError> =>
  Layer.provideMerge(SqlEventStore.layer(options), layerClient(options))

/**
 * The same, configured from `Config`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<Options>
): Layer.Layer<
  EventStore | SqliteClient.SqliteClient | SqlClient.SqlClient,
  EventStoreError | ConfigError.ConfigError
> => Layer.unwrapEffect(Effect.map(config, layer))
