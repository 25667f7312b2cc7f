import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe } from "@effect/vitest"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { sqlKeyValueStoreSuite } from "./sqlSuite.js"

const directory = mkdtempSync(join(tmpdir(), "chronicle-resilience-"))
let n = 0

describe("SqlKeyValueStore (SQLite file)", () => {
  sqlKeyValueStoreSuite(
    SqliteClient.layer({ filename: join(directory, "kv.db") }),
    () => `kv_sqlite_${++n}`
  )
})
