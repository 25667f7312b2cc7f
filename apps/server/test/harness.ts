// Starts the real server and worker processes, as `pnpm start` does, on a database of the test's own.
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"

const root = fileURLToPath(new URL("../../../", import.meta.url))

export interface Proc {
  readonly name: string
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

// whatever happens to a test, no process outlives the test run
const running = new Set<ChildProcess>()
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL")
})

export const spawnApp = (
  name: "server" | "worker",
  env: Record<string, string>,
  args: ReadonlyArray<string> = []
): Proc => {
  const child = spawn(process.execPath, [
    "--import",
    "tsx",
    "--conditions=@chronicle/source",
    `apps/${name}/src/main.ts`,
    ...args
  ], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  running.add(child)
  child.once("exit", () => running.delete(child))
  let output = ""
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return {
    name,
    child,
    output: () => output,
    exited,
    stop: (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    }
  }
}

export const waitUntil = async (what: string, check: () => Promise<boolean>, timeoutMs = 60_000, everyMs = 100) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      if (await check()) return
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

export interface Database {
  readonly url: string
  readonly label: string
  readonly drop: () => Promise<void>
  /**
   * The newest event's position, read from the database directly. The store's head can lag it: on
   * PostgreSQL, readers stop below any transaction open on the server, and other test files hold
   * some. This moves exactly when something is written.
   */
  readonly newest: () => Promise<number>
  /**
   * Opens a transaction on a connection of its own that has read the events table, and returns
   * what ends it: on PostgreSQL it holds the store's head below anything written meanwhile, on
   * SQLite it pins a snapshot of the file.
   */
  readonly holdTransaction: () => Promise<() => Promise<void>>
}

export const sqliteDatabase = (): Database => {
  const dir = mkdtempSync(join(tmpdir(), "chronicle-e2e-"))
  return {
    url: join(dir, "chronicle.db"),
    label: "SQLite",
    drop: async () => rmSync(dir, { recursive: true, force: true }),
    newest: () =>
      Effect.runPromise(
        Effect.flatMap(
          SqlClient.SqlClient,
          (sql) => sql<{ n: number }>`SELECT coalesce(max(position), 0) AS n FROM chronicle_events`
        ).pipe(
          Effect.map((rows) => Number(rows[0].n)),
          Effect.provide(SqliteClient.layer({ filename: join(dir, "chronicle.db"), readonly: true }))
        )
      ),
    holdTransaction: async () => {
      const scope = Effect.runSync(Scope.make())
      const sql = await Effect.runPromise(
        Effect.map(
          Layer.buildWithScope(SqliteClient.layer({ filename: join(dir, "chronicle.db") }), scope),
          Context.get(SqlClient.SqlClient)
        )
      )
      await Effect.runPromise(Effect.zipRight(sql`BEGIN`, sql`SELECT count(*) FROM chronicle_events`))
      return () => Effect.runPromise(Effect.ensuring(Effect.asVoid(sql`COMMIT`), Scope.close(scope, Exit.void)))
    }
  }
}

// a fresh database on the server of `pgUrl`, dropped afterwards
export const postgresDatabase = async (pgUrl: string): Promise<Database> => {
  const name = `chronicle_e2e_${process.pid}_${Date.now().toString(36)}`
  const admin = new pg.Client({ connectionString: pgUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(pgUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    label: "PostgreSQL",
    newest: async () => {
      const client = new pg.Client({ connectionString: url.toString() })
      await client.connect()
      try {
        return Number((await client.query("SELECT coalesce(max(position), 0) AS n FROM chronicle_events")).rows[0].n)
      } finally {
        await client.end()
      }
    },
    holdTransaction: async () => {
      const client = new pg.Client({ connectionString: url.toString() })
      await client.connect()
      await client.query("BEGIN")
      await client.query("SELECT pg_current_xact_id(), count(*) FROM chronicle_events")
      return async () => {
        try {
          await client.query("COMMIT")
        } finally {
          await client.end()
        }
      }
    },
    drop: async () => {
      const client = new pg.Client({ connectionString: pgUrl })
      await client.connect()
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined)
      await client.end()
    }
  }
}

export interface Server {
  readonly base: string
  readonly proc: Proc
}

export const startServer = async (database: string, env: Record<string, string> = {}): Promise<Server> => {
  const port = await freePort()
  const proc = spawnApp("server", { PORT: String(port), DATABASE_URL: database, ...env })
  const base = `http://127.0.0.1:${port}`
  await Promise.race([
    // a request that arrives while the process still builds its layers may wait for long: time out
    waitUntil(
      `the server on ${base}`,
      async () => (await fetch(`${base}/health`, { signal: AbortSignal.timeout(2_000) })).status < 500
    ),
    proc.exited.then((code) => {
      throw new Error(`the server exited (${code}):\n${proc.output()}`)
    })
  ]).catch(async (error: unknown) => {
    await proc.stop("SIGKILL")
    throw error
  })
  return { base, proc }
}

export interface Response {
  readonly status: number
  readonly body: unknown
  readonly headers: Headers
}

export const request = async (
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {}
): Promise<Response> => {
  const init: RequestInit = { method, headers: { ...headers } }
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body)
    init.headers = { "content-type": "application/json", ...headers }
  }
  const response = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(30_000) })
  const text = await response.text()
  let parsed: unknown = text
  try {
    parsed = text.length === 0 ? null : JSON.parse(text)
  } catch {
    // not JSON
  }
  return { status: response.status, body: parsed, headers: response.headers }
}

export const json = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {}
