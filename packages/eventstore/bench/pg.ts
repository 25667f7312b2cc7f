// PostgreSQL cases: ours, raw `pg` as a single guarded INSERT (the unique (stream, version)
// constraint is the concurrency check) and as a 4-round-trip transaction, and Emmett. Emmett
// changes pg's type parsers for the whole process, so every case runs in its own process; each
// stays up, warmed up, and is timed in blocks that `run.ts` interleaves with the other sides'.
import { EventStore, ExpectedVersion } from "@chronicle/eventstore"
import { PgEventStore } from "@chronicle/eventstore/pg"
import { getPostgreSQLEventStore } from "@event-driven-io/emmett-postgresql"
import { Effect, Layer, ManagedRuntime } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import pg from "pg"
import { gc, metadata, payload, warmupAppends } from "./workload.js"

const url = process.env.CHRONICLE_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? "1")
const run = crypto.randomUUID().slice(0, 8)

const event = (stream: number, i: number) => ({
  eventId: crypto.randomUUID(),
  type: "ContentSaved",
  data: payload(stream, i),
  metadata
})

/** Runs `appends` appends, split among `concurrency` writers numbered from `firstWriter`. */
type Writers = (appends: number, firstWriter: number) => Promise<void>

const inParallel = (append: (writer: number, i: number) => Promise<unknown>): Writers => (appends, firstWriter) => {
  const per = Math.floor(appends / concurrency)
  return Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    for (let i = 0; i < per; i++) await append(firstWriter + w, i)
  })).then(() => undefined)
}

/** What one block of timed appends measured. */
export interface Block {
  readonly opsPerSec: number
  /** CPU µs per append: this process's, and the server's processes' */
  readonly clientMicros: number
  readonly serverMicros: number
}

/** One side of the comparison, set up and warmed up, timed block by block. */
export interface Side {
  readonly settings: string
  /** Times `appends` appends on fresh streams; `block` numbers them apart. */
  readonly block: (appends: number, block: number) => Promise<Block>
  readonly close: () => Promise<void>
}

/**
 * `concurrency` writers, each appending to its own streams, after a warm-up at the same
 * concurrency: every pooled connection is then open and has run the statements once (a
 * session's first call of a function or prepared statement pays for its planning).
 */
const sideOf = async (run: Writers, settings: string, close: () => Promise<void>): Promise<Side> => {
  await run(warmupAppends, 0)
  // One forced collection, inside the warm-up rather than before each block: a forced collection
  // throws optimized code away, and a block right after it pays to compile again (measured on our
  // side: about a hundred functions re-optimized, two dozen deoptimizations and ~90 µs more CPU per
  // append over the next 1,500 appends). The second half of the warm-up pays that instead.
  gc()
  await run(warmupAppends, 1_000_000)
  return {
    settings,
    close,
    block: async (count, block) => {
      const appends = Math.floor(count / concurrency) * concurrency
      // the scan of /proc stays outside the window the CPU figures cover
      const server = serverCpuMicros()
      const node = process.cpuUsage()
      const started = performance.now()
      await run(appends, (block + 1) * concurrency)
      const opsPerSec = appends / ((performance.now() - started) / 1000)
      const used = process.cpuUsage(node)
      const serverAfter = serverCpuMicros()
      return {
        opsPerSec,
        clientMicros: (used.user + used.system) / appends,
        serverMicros: server === undefined || serverAfter === undefined ? Number.NaN : (serverAfter - server) / appends
      }
    }
  }
}

// CPU time per append, on this process and on the server's processes: far steadier than
// throughput on a shared machine, and it says which side the time goes to. The server's figure
// counts every `postgres` process, so it is only meaningful while one side runs at a time.
const ticksPerSecond = 100
/** Total CPU of the local `postgres` processes in µs, when they are visible in /proc. */
const serverCpuMicros = (): number | undefined => {
  try {
    let ticks = 0
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
        if (!stat.includes("(postgres)")) continue
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
        ticks += Number(fields[11]) + Number(fields[12])
      } catch {
        // the process ended meanwhile
      }
    }
    return (ticks * 1e6) / ticksPerSecond
  } catch {
    return undefined
  }
}

// each writer appends 10 events per stream, so streams are new and existing
const target = (w: number, i: number) => ({ stream: `${run}-w${w}-s${Math.floor(i / 10)}`, version: i % 10 })

const rawTable = `CREATE TABLE IF NOT EXISTS bench_raw_events (
  position BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, stream_id TEXT NOT NULL, version INTEGER NOT NULL,
  type TEXT NOT NULL, data JSONB NOT NULL, metadata JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (stream_id, version))`

const settingsOf = async () => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const r = await client.query("SHOW synchronous_commit")
    return `synchronous_commit=${r.rows[0].synchronous_commit} concurrency=${concurrency}`
  } finally {
    await client.end()
  }
}

const oursWith = async (
  writersOf: (store: {
    readonly runtime: ManagedRuntime.ManagedRuntime<EventStore.EventStore, never>
    readonly append: (w: number, i: number) => Effect.Effect<unknown, unknown, EventStore.EventStore>
  }) => Writers
) => {
  const runtime = ManagedRuntime.make(
    PgEventStore.layer({ url, maxConnections: Math.max(concurrency, 2) }).pipe(Layer.orDie)
  )
  const append = (w: number, i: number) => {
    const { stream, version } = target(w, i)
    return Effect.flatMap(
      EventStore.EventStore,
      (es) => es.append(stream, [event(w, i)], ExpectedVersion.exact(version))
    )
  }
  await runtime.runPromise(EventStore.EventStore)
  return sideOf(writersOf({ runtime, append }), await settingsOf(), () => runtime.dispose())
}

export const cases: Record<string, () => Promise<Side>> = {
  // ours as an Effect program runs it: each writer a fiber, appending in sequence
  "pg-append/ours": () =>
    oursWith((store) => (appends, firstWriter) => {
      const per = Math.floor(appends / concurrency)
      return store.runtime.runPromise(Effect.forEach(
        Array.from({ length: concurrency }, (_, w) => firstWriter + w),
        (w) => Effect.forEach(Array.from({ length: per }, (_, i) => i), (i) => store.append(w, i), { discard: true }),
        { concurrency: "unbounded", discard: true }
      ))
    }),

  // ours called from promise code: one `runPromise` per append
  "pg-append/ours-promise": () =>
    oursWith((store) => inParallel((w, i) => store.runtime.runPromise(store.append(w, i)))),

  async "pg-append/raw-insert"() {
    const pool = new pg.Pool({ connectionString: url, max: Math.max(concurrency, 2) })
    await pool.query(rawTable)
    const append = async (w: number, i: number) => {
      const { stream, version } = target(w, i)
      const e = event(w, i)
      await pool.query({
        name: "raw-insert",
        text:
          "INSERT INTO bench_raw_events (event_id, stream_id, version, type, data, metadata) VALUES ($1, $2, $3, $4, $5, $6)",
        values: [e.eventId, stream, version + 1, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata)]
      })
    }
    return sideOf(inParallel(append), await settingsOf(), () => pool.end())
  },

  async "pg-append/raw-tx"() {
    const pool = new pg.Pool({ connectionString: url, max: Math.max(concurrency, 2) })
    await pool.query(rawTable)
    const append = async (w: number, i: number) => {
      const { stream, version } = target(w, i)
      const e = event(w, i)
      const client = await pool.connect()
      try {
        await client.query("BEGIN")
        const current = await client.query({
          name: "raw-version",
          text: "SELECT coalesce(max(version), 0) AS v FROM bench_raw_events WHERE stream_id = $1",
          values: [stream]
        })
        if (Number(current.rows[0].v) !== version) throw new Error("wrong expected version")
        await client.query({
          name: "raw-tx-insert",
          text:
            "INSERT INTO bench_raw_events (event_id, stream_id, version, type, data, metadata) VALUES ($1, $2, $3, $4, $5, $6)",
          values: [e.eventId, stream, version + 1, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata)]
        })
        await client.query("COMMIT")
      } catch (error) {
        await client.query("ROLLBACK")
        throw error
      } finally {
        client.release()
      }
    }
    return sideOf(inParallel(append), await settingsOf(), () => pool.end())
  },

  async "pg-append/emmett"() {
    const store = getPostgreSQLEventStore(url)
    const append = async (w: number, i: number) => {
      const { stream, version } = target(w, i)
      const e = event(w, i)
      await store.appendToStream(stream, [{ type: e.type, data: e.data, metadata: e.metadata }], {
        expectedStreamVersion: BigInt(version)
      })
    }
    return sideOf(inParallel(append), await settingsOf(), () => store.close())
  }
}
