// Projection catch-up over 100k events into a SQLite table: ours (a rebuild through `Projections`,
// batched handler) against a hand-written loop on raw better-sqlite3 doing the same work (read a
// batch, decode, sum per stream, upsert the rows, store the checkpoint, one transaction per batch).
// Each case runs in its own process, interleaved over rounds, and catches up on copies of the seeded
// file to warm up (BENCH_WARMUPS, default 3) before the timed catch-up; medians and the ratio are printed.
import { Projection, Projections } from "@chronicle/cqrs"
import { EventStore, ExpectedVersion, Serializer } from "@chronicle/eventstore"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { SqlClient } from "@effect/sql"
import Database from "better-sqlite3"
import { Effect, Layer, ManagedRuntime, Schema, Stream } from "effect"
import { execFileSync } from "node:child_process"
import { copyFileSync, mkdtempSync, rmSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const events = 100_000
const streams = 1_000
const batchSize = 500
const warmUps = Number(process.env.BENCH_WARMUPS ?? "3")

const Added = Schema.TaggedStruct("Added", { n: Schema.Int, note: Schema.String })
const serializer = Serializer.make(Added)

const seed = async (filename: string) => {
  const runtime = ManagedRuntime.make(SqliteEventStore.layer({ filename, synchronous: "NORMAL" }).pipe(Layer.orDie))
  await runtime.runPromise(Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    for (let s = 0; s < streams; s++) {
      const batch = Array.from(
        { length: events / streams },
        (_, i) => serializer.encode(Added.make({ n: i, note: "a note of about forty characters here" }))
      )
      yield* store.append(`Bench-${s}`, batch, ExpectedVersion.NoStream)
    }
  }))
  await runtime.dispose()
}

const ours = async (filename: string) => {
  const projection = Projection.make<typeof Added.Type, unknown, SqlClient.SqlClient>({
    name: "bench-totals",
    category: "Bench",
    serializer,
    setup: Effect.flatMap(
      SqlClient.SqlClient,
      (sql) =>
        sql`CREATE TABLE IF NOT EXISTS totals (stream_id TEXT PRIMARY KEY, total INTEGER NOT NULL, events INTEGER NOT NULL)`
    ),
    reset: Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DELETE FROM totals`),
    handlers: {},
    applyBatch: (batch) =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const sums = new Map<string, { total: number; events: number }>()
        for (const e of batch) {
          const s = sums.get(e.streamId) ?? { total: 0, events: 0 }
          sums.set(e.streamId, { total: s.total + e.data.n, events: s.events + 1 })
        }
        const rows = [...sums].map(([stream_id, s]) => ({ stream_id, total: s.total, events: s.events }))
        yield* sql`INSERT INTO totals ${sql.insert(rows)} ON CONFLICT (stream_id) DO UPDATE
          SET total = totals.total + excluded.total, events = totals.events + excluded.events`
      })
  })
  const layer = Projections.layer([projection], { batchSize }).pipe(
    Layer.provideMerge(SqliteEventStore.layer({ filename, synchronous: "NORMAL" })),
    Layer.orDie
  )
  const runtime = ManagedRuntime.make(layer)
  await runtime.runPromise(EventStore.EventStore)
  const started = performance.now()
  await runtime.runPromise(Effect.flatMap(Projections.Projections, (p) => Stream.runDrain(p.rebuild("bench-totals"))))
  const seconds = (performance.now() - started) / 1000
  // a projection that applied nothing would be fast for the wrong reason
  const [row] = await runtime.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ applied: number }>`SELECT sum(events) AS applied FROM totals`)
  )
  if (row?.applied !== events) throw new Error(`ours applied ${row?.applied} of ${events} events`)
  await runtime.dispose()
  return events / seconds
}

const raw = (filename: string) => {
  const db = new Database(filename)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.exec(
    "CREATE TABLE IF NOT EXISTS raw_totals (stream_id TEXT PRIMARY KEY, total INTEGER NOT NULL, events INTEGER NOT NULL)"
  )
  db.exec("CREATE TABLE IF NOT EXISTS raw_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL)")
  const read = db.prepare(
    "SELECT position, stream_id, type, data FROM chronicle_events WHERE category = 'Bench' AND position > ? ORDER BY position LIMIT ?"
  )
  const upsert = db.prepare(`INSERT INTO raw_totals (stream_id, total, events) VALUES (?, ?, ?)
    ON CONFLICT (stream_id) DO UPDATE SET total = raw_totals.total + excluded.total, events = raw_totals.events + excluded.events`)
  const checkpoint = db.prepare(
    "INSERT INTO raw_checkpoints (name, position) VALUES ('raw', ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position"
  )
  const apply = db.transaction((rows: Array<{ position: number; stream_id: string; data: string }>) => {
    const sums = new Map<string, { total: number; events: number }>()
    for (const row of rows) {
      const data = JSON.parse(row.data) as { n: number }
      const s = sums.get(row.stream_id) ?? { total: 0, events: 0 }
      sums.set(row.stream_id, { total: s.total + data.n, events: s.events + 1 })
    }
    for (const [id, s] of sums) upsert.run(id, s.total, s.events)
    checkpoint.run(rows[rows.length - 1].position)
  })
  const started = performance.now()
  let position = 0
  for (;;) {
    const rows = read.all(position, batchSize) as Array<{ position: number; stream_id: string; data: string }>
    if (rows.length === 0) break
    apply(rows)
    position = rows[rows.length - 1].position
  }
  const seconds = (performance.now() - started) / 1000
  const applied = db.prepare("SELECT sum(events) FROM raw_totals").pluck().get()
  if (applied !== events) throw new Error(`raw applied ${applied} of ${events} events`)
  db.close()
  return events / seconds
}

const runCase = async (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), "chronicle-proj-bench-"))
  try {
    const seeded = join(dir, "seed.db")
    await seed(seeded)
    // each side catches up on copies to warm up (ours has far more code for the JIT to settle),
    // then is timed on a fresh copy
    const copy = (label: string) => {
      const filename = join(dir, `${label}.db`)
      copyFileSync(seeded, filename)
      return filename
    }
    const run = (filename: string) => name === "ours" ? ours(filename) : Promise.resolve(raw(filename))
    for (let i = 0; i < warmUps; i++) {
      const warmUp = copy(`warm-up-${i}`)
      await run(warmUp)
      rmSync(warmUp)
    }
    const timed = copy("timed")
    ;(globalThis as { gc?: () => void }).gc?.()
    const rate = await run(timed)
    process.stdout.write(`${JSON.stringify({ name, rate })}\n`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[2] !== undefined) {
  await runCase(process.argv[2])
  process.exit(0)
}

const rounds = Number(process.env.BENCH_ROUNDS ?? "3")
const results: Record<string, Array<number>> = { ours: [], raw: [] }
const script = fileURLToPath(import.meta.url)
for (let round = 1; round <= rounds; round++) {
  for (const name of ["ours", "raw"]) {
    const out = execFileSync(process.execPath, [
      "--expose-gc",
      "--import",
      "tsx",
      "--conditions=@chronicle/source",
      script,
      name
    ], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"]
    })
    const { rate } = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { rate: number }
    results[name].push(rate)
    process.stderr.write(`round ${round} ${name}: ${Math.round(rate)} events/s\n`)
  }
}
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
console.log(
  `\n@chronicle/cqrs projection catch-up: ${events} events, ${streams} streams, batches of ${batchSize}, ${warmUps} warm-up catch-ups; node ${process.version}, ${cpus().length} cores, ${rounds} rounds`
)
console.log("| case | median events/s | min–max |\n|---|---:|---:|")
for (const [name, xs] of Object.entries(results)) {
  console.log(`| ${name} | ${fmt(median(xs))} | ${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))} |`)
}
const ratio = median(results.ours) / median(results.raw)
console.log(
  `\n| ratio | value | goal |\n|---|---:|---|\n| ours ÷ raw | ${ratio.toFixed(2)}× | ≥ 0.5× ${
    ratio >= 0.5 ? "(met)" : "(NOT met)"
  } |`
)
