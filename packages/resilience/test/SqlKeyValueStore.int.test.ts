import { PgClient } from "@effect/sql-pg"
import { describe } from "@effect/vitest"
import { Redacted } from "effect"
import { inject } from "vitest"
import { sqlKeyValueStoreSuite } from "./sqlSuite.js"

const pgUrl = inject("pgUrl")
const run = `${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
let n = 0

describe.skipIf(pgUrl === null)("SqlKeyValueStore (PostgreSQL)", () => {
  sqlKeyValueStoreSuite(
    PgClient.layer({ url: Redacted.make(pgUrl ?? "") }),
    () => `kv_pg_${run}_${++n}`
  )
})
