// `pnpm bench`: each case in its own process, interleaved over a few rounds; prints medians, the
// spread and the ratios the issue asks for. SQLite cases run once per process per round; the
// PostgreSQL sides stay up side by side and are timed in alternating blocks, so a change in the
// machine's load reaches every side alike.
import { type ChildProcess, execFileSync, fork } from "node:child_process"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"
import pg from "pg"
import type { Block } from "./pg.js"

const rounds = Number(process.env.BENCH_ROUNDS ?? "3")
const only = process.env.BENCH_ONLY
const here = fileURLToPath(new URL("./case.ts", import.meta.url))

const pgUrl = process.env.CHRONICLE_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"
/** Runs statements one after another on a connection of their own to `pgUrl`. */
const onServer = async (...statements: ReadonlyArray<string>) => {
  const client = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 2_000 })
  await client.connect()
  try {
    for (const statement of statements) await client.query(statement)
  } finally {
    await client.end()
  }
}
const pgUp = await onServer().then(() => true, () => false)

const sqliteCases = [
  "append/ours",
  "append/sql-floor",
  "append/raw",
  "append/emmett",
  "batch/ours",
  "batch/ours-per-stream",
  "batch/raw",
  "read/ours",
  "read/raw"
]
const pgCases = [
  "pg-append/ours",
  "pg-append/ours-promise",
  "pg-append/raw-insert",
  "pg-append/raw-tx",
  "pg-append/emmett"
]
const sqlitePlan = sqliteCases.filter((name) => only === undefined || name.includes(only))
const pgPlan = (pgUp ? [1, 8] : []).map((concurrency) => ({
  concurrency,
  // about a second of appends for our side
  appends: Number(process.env.BENCH_PG_APPENDS ?? (concurrency === 1 ? "1500" : "4000")),
  names: pgCases.filter((name) => only === undefined || `${name} c=${concurrency}`.includes(only))
})).filter((group) => group.names.length > 0)
const pgRounds = Number(process.env.BENCH_PG_ROUNDS ?? "7")

const results = new Map<string, Array<number>>()
const settings = new Map<string, string>()
// CPU µs per operation (PostgreSQL cases): this process's and the server's
const cpu = new Map<string, Array<{ clientMicros: number; serverMicros: number }>>()
const record = (label: string, opsPerSec: number) => {
  results.set(label, [...(results.get(label) ?? []), opsPerSec])
}
const execArgv = ["--expose-gc", "--import", "tsx", "--conditions=@chronicle/source"]

for (let round = 1; round <= rounds; round++) {
  for (const name of sqlitePlan) {
    const out = execFileSync(process.execPath, [...execArgv, here, name], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"]
    })
    const parsed = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { opsPerSec: number; settings: string }
    record(name, parsed.opsPerSec)
    settings.set(name, parsed.settings)
    process.stderr.write(`round ${round} ${name}: ${Math.round(parsed.opsPerSec)}/s\n`)
  }
}

// Every group of PostgreSQL sides runs in a database of its own, created empty: the tables of
// earlier runs and of the test suites (the `test` database held 480k of our events, 356 MB, more
// than shared_buffers) would otherwise weigh on one side and not another.
const benchDatabase = "chronicle_bench"
const freshDatabase = async (): Promise<string> => {
  try {
    await onServer(`DROP DATABASE IF EXISTS ${benchDatabase}`, `CREATE DATABASE ${benchDatabase}`)
    const url = new URL(pgUrl)
    url.pathname = `/${benchDatabase}`
    return url.toString()
  } catch (cause) {
    process.stderr.write(`could not create database ${benchDatabase} (${String(cause)}); using ${pgUrl} as it is\n`)
    return pgUrl
  }
}

/** A PostgreSQL side in its own process, warmed up and waiting for blocks to time. */
const startSide = async (name: string, concurrency: number, url: string) => {
  const child: ChildProcess = fork(here, [name], {
    execArgv,
    env: { ...process.env, CHRONICLE_PG_URL: url, BENCH_CONCURRENCY: String(concurrency) },
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  const next = <A>() =>
    new Promise<A>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`${name} exited with ${code}`))
      child.once("exit", onExit)
      child.once("message", (message) => {
        child.off("exit", onExit)
        resolve(message as A)
      })
    })
  const ready = await next<{ settings: string }>()
  return {
    settings: ready.settings,
    block: (appends: number, block: number) => {
      const answer = next<Block>()
      child.send({ appends, block })
      return answer
    },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve())
        child.send("done")
      })
  }
}

// every group's database, so the summary and the cleanup cover each of them, not only the last
const databasesUsed = new Set<string>()
for (const group of pgPlan) {
  const databaseUsed = await freshDatabase()
  databasesUsed.add(databaseUsed)
  const sides: Array<{ label: string; side: Awaited<ReturnType<typeof startSide>> }> = []
  // warmed up one at a time, so no side's warm-up slows another's timed block
  for (const name of group.names) {
    sides.push({
      label: `${name} c=${group.concurrency}`,
      side: await startSide(name, group.concurrency, databaseUsed)
    })
  }
  for (let round = 0; round < pgRounds; round++) {
    // the order rotates, so no side always follows the same one
    for (let k = 0; k < sides.length; k++) {
      const { label, side } = sides[(round + k) % sides.length]
      const block = await side.block(group.appends, round)
      record(label, block.opsPerSec)
      settings.set(label, side.settings)
      cpu.set(label, [...(cpu.get(label) ?? []), block])
      process.stderr.write(`round ${round + 1} ${label}: ${Math.round(block.opsPerSec)}/s\n`)
    }
  }
  for (const { side } of sides) await side.stop()
}
const usedFresh = [...databasesUsed].some((url) => url !== pgUrl)
if (usedFresh) await onServer(`DROP DATABASE IF EXISTS ${benchDatabase}`)

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
const med = (label: string) => median(results.get(label) ?? [Number.NaN])

console.log(
  `\n@chronicle/eventstore benchmark: node ${process.version}, ${cpus().length} cores, ${rounds} rounds of the SQLite cases, ${pgRounds} interleaved blocks of each PostgreSQL case, medians (events/s)`
)
console.log(`| case | median | min–max | CPU µs/op client + server | settings |\n|---|---:|---:|---:|---|`)
for (const [label, xs] of results) {
  const used = cpu.get(label)
  const cpuCell = used === undefined
    ? ""
    : `${fmt(median(used.map((u) => u.clientMicros)))} + ${fmt(median(used.map((u) => u.serverMicros)))}`
  console.log(
    `| ${label} | ${fmt(median(xs))} | ${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))} | ${cpuCell} | ${
      settings.get(label)
    } |`
  )
}
const ratio = (a: string, b: string, goal?: number) => {
  if (!results.has(a) || !results.has(b)) return
  const r = med(a) / med(b)
  const verdict = goal === undefined ? "| for reference |" : `goal ≥ ${goal}× | ${r >= goal ? "met" : "NOT met"} |`
  console.log(`| ${a} ÷ ${b} | ${r.toFixed(2)}× | ${verdict}`)
}
console.log(`\n| ratio | value | goal | |\n|---|---:|---|---|`)
ratio("append/ours", "append/raw", 0.5)
ratio("append/ours", "append/emmett", 5)
// what the client alone allows: one bare statement per append through @effect/sql-sqlite-node
ratio("append/sql-floor", "append/raw")
ratio("append/ours", "append/sql-floor")
ratio("batch/ours", "batch/raw", 0.6)
ratio("read/ours", "read/raw", 0.5)
// ours-promise: the same appends, each run from promise code by its own `runPromise`
for (const ours of ["pg-append/ours", "pg-append/ours-promise"]) {
  for (const c of [1, 8]) {
    ratio(`${ours} c=${c}`, `pg-append/raw-insert c=${c}`, 0.5)
    ratio(`${ours} c=${c}`, `pg-append/raw-tx c=${c}`, 0.5)
    ratio(`${ours} c=${c}`, `pg-append/emmett c=${c}`, 2)
  }
}
if (!pgUp) console.log(`\nPostgreSQL cases skipped: no server answered at ${pgUrl}`)
else if (pgPlan.length > 0) {
  console.log(
    `\nPostgreSQL cases ran in ${
      !usedFresh
        ? `${pgUrl}, as it was (no fresh database could be created)`
        : databasesUsed.has(pgUrl)
        ? `a fresh database (${benchDatabase}) for some concurrencies and ${pgUrl} as it was for others`
        : `a fresh database (${benchDatabase}) on ${new URL(pgUrl).host}, created empty for each concurrency`
    }.`
  )
}
