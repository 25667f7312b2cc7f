// A projection's tables by name: the live ones, or the shadow tables a rebuild with swap fills
// beside them and renames over them in one transaction, so readers never see a half-built model.
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, FiberRef } from "effect"
import { globalValue } from "effect/GlobalValue"

/** Logical table name → physical name, for the fiber applying a projection; empty: the names themselves. */
export const currentTables: FiberRef.FiberRef<ReadonlyMap<string, string>> = globalValue(
  Symbol.for("@chronicle/cqrs/Projection/currentTables"),
  () => FiberRef.unsafeMake<ReadonlyMap<string, string>>(new Map())
)

export const shadowSuffix = "__rebuild"

export const shadowName = (table: string): string => `${table}${shadowSuffix}`

// PostgreSQL truncates identifiers past 63 bytes, which would make two shadows one
const maxLength = 63 - shadowSuffix.length

/** Why a projection's tables cannot be rebuilt with swap, or `undefined` when they can. */
export const refusal = (tables: ReadonlyArray<string>): string | undefined => {
  if (tables.length === 0) {
    return "it declares no tables (give Projection.make `tables`, and name them in setup and handlers through Projection.table)"
  }
  for (const table of tables) {
    // lower case, so PostgreSQL's folding of unquoted names cannot make two spellings of one table
    if (!/^[a-z_][a-z0-9_]*$/.test(table)) {
      return `table ${JSON.stringify(table)} is not a lower-case SQL name (letters, digits and _)`
    }
    if (table.length > maxLength) return `table ${table} is longer than ${maxLength} characters`
    // the swap drops the live tables: never the library's own
    if (table.startsWith("chronicle_")) return `table ${table} uses the chronicle_ prefix, kept for Chronicle's tables`
    if (table.endsWith(shadowSuffix)) return `table ${table} ends with ${shadowSuffix}, kept for shadow tables`
  }
  if (new Set(tables).size !== tables.length) return "a table is declared twice"
  return undefined
}

/** Dialect-specific DDL for shadow tables (SQLite and PostgreSQL both run DDL in transactions). */
export const make = Effect.gen(function*() {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()

  const drop = (tables: ReadonlyArray<string>) =>
    Effect.forEach(tables, (table) => sql`DROP TABLE IF EXISTS ${sql(table)}`, { discard: true })

  const exists = (table: string): Effect.Effect<boolean, SqlError> =>
    Effect.map(
      sql.onDialectOrElse({
        pg: () => sql`SELECT 1 AS found WHERE to_regclass(${table}) IS NOT NULL`,
        orElse: () => sql`SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ${table}`
      }),
      (rows) => rows.length > 0
    )

  /**
   * Renaming a table keeps its indexes' names, so the shadow's (derived from the shadow's name)
   * would clash with the next rebuild's: give them the names setup gives the live table.
   */
  const renameIndexes = (live: string, shadow: string) =>
    sql.onDialectOrElse({
      pg: () =>
        Effect.flatMap(
          sql<{ name: string }>`SELECT i.relname AS name FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = to_regclass(${live})`,
          (rows) =>
            Effect.forEach(
              rows.filter((row) => row.name.startsWith(shadow)),
              // catalog only; an index behind a constraint renames the constraint too
              (row) => sql`ALTER INDEX ${sql(row.name)} RENAME TO ${sql(live + row.name.slice(shadow.length))}`,
              { discard: true }
            )
        ),
      // SQLite cannot rename an index: recreate it from the SQL it keeps (already pointing at the
      // renamed table); its automatic indexes were renamed with the table
      orElse: () =>
        Effect.flatMap(
          sql<{ name: string; sql: string }>`SELECT name, sql FROM sqlite_master
            WHERE type = 'index' AND tbl_name = ${live} AND sql IS NOT NULL`,
          (rows) =>
            Effect.forEach(
              rows.filter((row) => row.name.startsWith(shadow)),
              (row) =>
                Effect.zipRight(
                  sql`DROP INDEX ${sql(row.name)}`,
                  sql.unsafe(row.sql.replace(row.name, live + row.name.slice(shadow.length)))
                ),
              { discard: true }
            )
        )
    })

  /** Replaces each live table by its shadow. Run it in a transaction: a failure changes nothing. */
  const swap = (tables: ReadonlyArray<string>) =>
    Effect.forEach(tables, (live) => {
      const shadow = shadowName(live)
      return sql`DROP TABLE IF EXISTS ${sql(live)}`.pipe(
        Effect.zipRight(sql`ALTER TABLE ${sql(shadow)} RENAME TO ${sql(live)}`),
        Effect.zipRight(renameIndexes(live, shadow))
      )
    }, { discard: true })

  return { drop, exists, swap }
})
