/**
 * A `KeyValueStore` in an SQL table through `@effect/sql`'s `SqlClient`, for SQLite and PostgreSQL,
 * with listing by prefix and batched writes in one transaction.
 *
 * @since 0.1.0
 */
import { Error as PlatformError, KeyValueStore } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql"
import { Context, Effect, Layer, Option } from "effect"
import * as Storage from "./Storage.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The table to use, created if missing (default `chronicle_kv`). */
  readonly table?: string
}

interface Row {
  readonly value: string | null
  readonly value_bytes: Uint8Array | null
}

const toPlatformError = (method: string) => (cause: SqlError.SqlError) =>
  new PlatformError.SystemError({
    reason: "Unknown",
    module: "KeyValueStore",
    method,
    description: cause.message,
    cause
  })

const escapeLike = (prefix: string): string => prefix.replace(/[\\%_]/g, (c) => `\\${c}`)

/**
 * Creates the table if needed and returns the store. `withoutTransforms` keeps an app's column
 * name mapping away from these queries.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Storage.Service, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const table = sql(options.table ?? "chronicle_kv")
    const bytesType = sql.onDialectOrElse({ pg: () => sql.unsafe("BYTEA"), orElse: () => sql.unsafe("BLOB") })
    yield* sql`CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY, value TEXT, value_bytes ${bytesType})`
    const encoder = new TextEncoder()
    const decoder = new TextDecoder()

    const read = (key: string) =>
      sql<Row>`SELECT value, value_bytes FROM ${table} WHERE key = ${key}`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )
    const upsert = (rows: ReadonlyArray<{ key: string; value: string | null; value_bytes: Uint8Array | null }>) =>
      sql`INSERT INTO ${table} ${sql.insert(rows)}
          ON CONFLICT (key) DO UPDATE SET value = excluded.value, value_bytes = excluded.value_bytes`
    const rowFor = (key: string, value: string | Uint8Array) =>
      typeof value === "string"
        ? { key, value, value_bytes: null }
        : { key, value: null, value_bytes: value }

    const kv = KeyValueStore.make({
      get: (key) =>
        read(key).pipe(
          Effect.map(Option.map((row) => row.value ?? decoder.decode(row.value_bytes ?? new Uint8Array()))),
          Effect.mapError(toPlatformError("get"))
        ),
      getUint8Array: (key) =>
        read(key).pipe(
          Effect.map(Option.map((row) =>
            row.value_bytes === null ? encoder.encode(row.value ?? "") : new Uint8Array(row.value_bytes)
          )),
          Effect.mapError(toPlatformError("getUint8Array"))
        ),
      set: (key, value) => upsert([rowFor(key, value)]).pipe(Effect.asVoid, Effect.mapError(toPlatformError("set"))),
      remove: (key) =>
        sql`DELETE FROM ${table} WHERE key = ${key}`.pipe(Effect.asVoid, Effect.mapError(toPlatformError("remove"))),
      clear: sql`DELETE FROM ${table}`.pipe(Effect.asVoid, Effect.mapError(toPlatformError("clear"))),
      size: sql<{ readonly n: number | string | bigint }>`SELECT COUNT(*) AS n FROM ${table}`.pipe(
        Effect.map((rows) => Number(rows[0]?.n ?? 0)),
        Effect.mapError(toPlatformError("size"))
      ),
      has: (key) =>
        sql`SELECT 1 AS found FROM ${table} WHERE key = ${key}`.pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.mapError(toPlatformError("has"))
        )
    })

    return {
      kv,
      listKeys: (prefix) =>
        sql<{ readonly key: string }>`SELECT key FROM ${table} WHERE key LIKE ${
          escapeLike(prefix) + "%"
        } ESCAPE '\\' ORDER BY key`.pipe(
          Effect.map((rows) => rows.map((row) => row.key).filter((key) => key.startsWith(prefix))),
          Effect.mapError(toPlatformError("listKeys"))
        ),
      setMany: (entries) => {
        // One row per key (the last value wins): PostgreSQL refuses to update a row twice in one statement.
        const latest = new Map<string, string>()
        for (const [key, value] of entries) latest.set(key, value)
        const rows = Array.from(latest, ([key, value]) => rowFor(key, value))
        const chunks: Array<typeof rows> = []
        for (let i = 0; i < rows.length; i += 200) chunks.push(rows.slice(i, i + 200))
        return sql.withTransaction(Effect.forEach(chunks, upsert, { discard: true })).pipe(
          Effect.mapError(toPlatformError("setMany"))
        )
      }
    }
  })

/**
 * Provides both `Storage` and `KeyValueStore` over the `SqlClient` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<Storage.Storage | KeyValueStore.KeyValueStore, SqlError.SqlError, SqlClient.SqlClient> =>
  Layer.effectContext(
    Effect.map(
      make(options),
      (service) => Context.make(Storage.Storage, service).pipe(Context.add(KeyValueStore.KeyValueStore, service.kv))
    )
  )
