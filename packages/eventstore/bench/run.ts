// `pnpm bench`: each case in its own process, interleaved over a few rounds; prints medians, the
// spread and the ratios the issue asks for.
import { execFileSync } from "node:child_process"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"
import pg from "pg"

const rounds = Number(process.env.BENCH_ROUNDS ?? "3")
const only = process.env.BENCH_ONLY
const here = fileURLToPath(new URL("./case.ts", import.meta.url))

const pgUrl = process.env.CHRONICLE_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const pgUp = await (async () => {
  const client = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 2_000 })
  try {
    await client.connect()
    await client.end()
    return true
  } catch {
    return false
  }
})()

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
const plan = [
  ...sqliteCases.map((name) => ({ name, label: name, env: {} })),
  ...(pgUp
    ? [1, 8].flatMap((c) =>
      pgCases.map((name) => ({ name, label: `${name} c=${c}`, env: { BENCH_CONCURRENCY: String(c) } }))
    )
    : [])
].filter((c) => only === undefined || c.label.includes(only))

const results = new Map<string, Array<number>>()
const settings = new Map<string, string>()
// CPU µs per operation (PostgreSQL cases): this process's and the server's
const cpu = new Map<string, Array<{ clientMicros: number; serverMicros: number }>>()
for (let round = 1; round <= rounds; round++) {
  for (const c of plan) {
    const out = execFileSync(process.execPath, [
      "--expose-gc",
      "--import",
      "tsx",
      "--conditions=@chronicle/source",
      here,
      c.name
    ], {
      env: { ...process.env, ...c.env },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"]
    })
    const line = out.trim().split("\n").at(-1) ?? "{}"
    const parsed = JSON.parse(line) as {
      opsPerSec: number
      settings: string
      cpu?: { clientMicros: number; serverMicros: number }
    }
    results.set(c.label, [...(results.get(c.label) ?? []), parsed.opsPerSec])
    settings.set(c.label, parsed.settings)
    if (parsed.cpu !== undefined) cpu.set(c.label, [...(cpu.get(c.label) ?? []), parsed.cpu])
    process.stderr.write(`round ${round} ${c.label}: ${Math.round(parsed.opsPerSec)}/s\n`)
  }
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
const med = (label: string) => median(results.get(label) ?? [Number.NaN])

console.log(
  `\n@chronicle/eventstore benchmark: node ${process.version}, ${cpus().length} cores, ${rounds} rounds, medians (events/s)`
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
