/**
 * Where the demo keeps its events and read models: a `postgres://` URL selects PostgreSQL,
 * anything else is a SQLite file path (default `./data/chronicle.db`).
 *
 * @since 0.0.0
 */
import type { EventStore, EventStoreError } from "@chronicle/eventstore"
import { PgEventStore } from "@chronicle/eventstore/pg"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import type { SqlClient } from "@effect/sql"
import { Config, ConfigError, Effect, Layer } from "effect"

/**
 * The database the apps use.
 *
 * @since 0.0.0
 * @category models
 */
export type Database =
  | { readonly _tag: "Postgres"; readonly url: string }
  | { readonly _tag: "Sqlite"; readonly filename: string }

/**
 * Reads a database from a URL or a path.
 *
 * @since 0.0.0
 * @category constructors
 */
export const parse = (value: string): Database =>
  /^postgres(ql)?:\/\//.test(value) ? { _tag: "Postgres", url: value } : { _tag: "Sqlite", filename: value }

/**
 * `DATABASE_URL`, default `./data/chronicle.db`.
 *
 * @since 0.0.0
 * @category config
 */
export const config: Config.Config<Database> = Config.string("DATABASE_URL").pipe(
  Config.withDefault("./data/chronicle.db"),
  Config.validate({ message: "DATABASE_URL must not be empty", validation: (value) => value.trim().length > 0 }),
  Config.map(parse)
)

/**
 * A printable description, without a password.
 *
 * @since 0.0.0
 * @category formatting
 */
export const describe = (database: Database): string =>
  database._tag === "Sqlite"
    ? `SQLite ${database.filename}`
    : `PostgreSQL ${database.url.replace(/:[^:@/]*@/, ":***@")}`

/**
 * The event store and its SQL client for a database.
 *
 * @since 0.0.0
 * @category layers
 */
export const layer = (
  database: Database
): Layer.Layer<
  EventStore.EventStore | SqlClient.SqlClient,
  EventStoreError.EventStoreError | ConfigError.ConfigError
> =>
  database._tag === "Postgres"
    ? PgEventStore.layer({ url: database.url })
    : SqliteEventStore.layer({ filename: database.filename })

/**
 * The event store and its SQL client, from `DATABASE_URL`.
 *
 * @since 0.0.0
 * @category layers
 */
export const layerConfig: Layer.Layer<
  EventStore.EventStore | SqlClient.SqlClient,
  EventStoreError.EventStoreError | ConfigError.ConfigError
> = Layer.unwrapEffect(Effect.map(config, layer))
