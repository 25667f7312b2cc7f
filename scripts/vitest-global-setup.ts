// Finds out once per run whether a PostgreSQL server is reachable, so PostgreSQL suites run when it
// is and are skipped, with the reason printed, when it is not.
import { mkdirSync, writeFileSync } from "node:fs"
import pg from "pg"
import type { TestProject } from "vitest/node"

/// <reference path="../types/vitest-provided.d.ts" />

const defaultUrl = "postgres://postgres@127.0.0.1:5432/test"

const candidateUrl = (): string => {
  const fromEnv = process.env.CHRONICLE_PG_URL ?? process.env.DATABASE_URL
  return fromEnv !== undefined && fromEnv.startsWith("postgres") ? fromEnv : defaultUrl
}

export default async function setup(project: TestProject) {
  const url = candidateUrl()
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 })
  try {
    await client.connect()
    await client.query("select 1")
    project.provide("pgUrl", url)
    project.provide("pgSkipReason", "")
  } catch (error) {
    const reason = `no PostgreSQL server answered at ${url.replace(/:[^:@/]*@/, ":***@")} (${
      error instanceof Error ? error.message : String(error)
    }); set CHRONICLE_PG_URL to run the PostgreSQL suites`
    project.provide("pgUrl", null)
    project.provide("pgSkipReason", reason)
    // this runs once per project: say it once, and leave it for the summary of scripts/test.mjs
    if (process.env.CHRONICLE_PG_SKIP_REPORTED === undefined) {
      process.env.CHRONICLE_PG_SKIP_REPORTED = "1"
      console.warn(`\n[chronicle] PostgreSQL suites will be skipped: ${reason}\n`)
      mkdirSync(".test-results", { recursive: true })
      writeFileSync(".test-results/pg-skipped.txt", reason)
    }
  } finally {
    await client.end().catch(() => undefined)
  }
}
