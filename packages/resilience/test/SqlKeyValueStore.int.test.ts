import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { afterAll, describe } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { inject } from "vitest"
import { sqlKeyValueStoreSuite } from "./sqlSuite.js"

const pgUrl = inject("pgUrl")
const run = `${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
const created: Array<string> = []
const client = PgClient.layer({ url: Redacted.make(pgUrl ?? "") })

describe.skipIf(pgUrl === null)("SqlKeyValueStore (PostgreSQL)", () => {
  sqlKeyValueStoreSuite(client, () => {
    const name = `kv_pg_${run}_${created.length + 1}`
    created.push(name)
    return name
  })

  // The tables are unique to this run: drop them so repeated runs don't pile them up.
  afterAll(() =>
    Effect.runPromise(
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        Effect.forEach(created, (name) => sql`DROP TABLE IF EXISTS ${sql(name)}`, { discard: true })).pipe(
          Effect.provide(client),
          Effect.orDie
        )
    )
  )
})
