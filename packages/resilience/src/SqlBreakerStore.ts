/**
 * A `BreakerStore` in an SQL table through `SqlClient` (SQLite, PostgreSQL), with an atomic probe
 * lease: one conditional upsert decides who holds it, so two processes never both probe.
 *
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import * as BreakerStore from "./BreakerStore.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The table to use, created if missing (default `chronicle_breakers`). */
  readonly table?: string
}

const StateJson = Schema.parseJson(BreakerStore.PersistedState)

interface LeaseRow {
  readonly lease_owner: string | null
  readonly lease_until: number | string | bigint | null
}

/**
 * Creates the table if needed and returns the store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<BreakerStore.Service, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const table = sql(options.table ?? "chronicle_breakers")
    const bigint = sql.onDialectOrElse({ pg: () => sql.unsafe("BIGINT"), orElse: () => sql.unsafe("INTEGER") })
    yield* sql`CREATE TABLE IF NOT EXISTS ${table} (
      name TEXT PRIMARY KEY,
      state TEXT,
      lease_owner TEXT,
      lease_until ${bigint}
    )`
    const fail = (operation: string) => (cause: unknown) => new BreakerStore.BreakerStoreError({ operation, cause })

    return {
      get: (name) =>
        sql<{ readonly state: string | null }>`SELECT state FROM ${table} WHERE name = ${name}`.pipe(
          Effect.flatMap((rows) => {
            const text = rows[0]?.state
            return text === undefined || text === null
              ? Effect.succeed(Option.none<BreakerStore.PersistedState>())
              : Effect.map(Schema.decode(StateJson)(text), Option.some)
          }),
          Effect.mapError(fail("get"))
        ),
      set: (name, state) =>
        Schema.encode(StateJson)(state).pipe(
          Effect.flatMap((text) =>
            sql`INSERT INTO ${table} (name, state) VALUES (${name}, ${text})
                ON CONFLICT (name) DO UPDATE SET state = excluded.state`
          ),
          Effect.asVoid,
          Effect.mapError(fail("set"))
        ),
      acquireLease: (name, owner, now, until) =>
        sql.withTransaction(Effect.gen(function*() {
          // Takes the lease only if it is free, expired, or already ours: decided by the database.
          yield* sql`INSERT INTO ${table} (name, lease_owner, lease_until) VALUES (${name}, ${owner}, ${until})
            ON CONFLICT (name) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
            WHERE ${table}.lease_owner IS NULL OR ${table}.lease_owner = excluded.lease_owner
              OR ${table}.lease_until <= ${now}`
          const rows = yield* sql<LeaseRow>`SELECT lease_owner, lease_until FROM ${table} WHERE name = ${name}`
          const row = rows[0]
          return row === undefined || row.lease_owner === null
            ? { owner, until }
            : { owner: row.lease_owner, until: Number(row.lease_until ?? until) }
        })).pipe(Effect.mapError(fail("acquireLease"))),
      releaseLease: (name, owner) =>
        sql`UPDATE ${table} SET lease_owner = NULL, lease_until = NULL WHERE name = ${name} AND lease_owner = ${owner}`
          .pipe(
            Effect.asVoid,
            Effect.mapError(fail("releaseLease"))
          )
    }
  })

/**
 * The SQL breaker store as a layer over the `SqlClient` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<BreakerStore.BreakerStore, SqlError.SqlError, SqlClient.SqlClient> =>
  Layer.effect(BreakerStore.BreakerStore, make(options))
