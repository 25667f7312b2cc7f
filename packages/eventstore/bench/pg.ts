// PostgreSQL cases: ours, raw `pg` as a single guarded INSERT (the unique (stream, version)
// constraint is the concurrency check) and as a 4-round-trip transaction, and Emmett. Emmett
// changes pg's type parsers for the whole process, so every case runs in its own process.
import { EventStore, ExpectedVersion } from "@chronicle/eventstore"
import { PgEventStore } from "@chronicle/eventstore/pg"
import { getPostgreSQLEventStore } from "@event-driven-io/emmett-postgresql"
import { Effect, Layer, ManagedRuntime } from "effect"
import pg from "pg"
import { measure, metadata, payload, pgAppends, warmupAppends } from "./workload.js"

const url = process.env.CHRONICLE_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? "1")
const run = crypto.randomUUID().slice(0, 8)

const event = (stream: number, i: number) => ({
  eventId: crypto.randomUUID(),
  type: "ContentSaved",
  data: payload(stream, i),
  metadata
})

/** `concurrency` writers, each appending to its own streams, `pgAppends` appends in all. */
const writers = async (append: (writer: number, i: number) => Promise<void>) => {
  const per = Math.floor(pgAppends / concurrency)
  return measure(per * concurrency, async () => {
    await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; i < per; i++) await append(w, i)
    }))
  })
}

// each writer appends 10 events per stream, so streams are new and existing
const target = (w: number, i: number) => ({ stream: `${run}-w${w}-s${Math.floor(i / 10)}`, version: i % 10 })

const rawTable = `CREATE TABLE IF NOT EXISTS bench_raw_events (
  position BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, stream_id TEXT NOT NULL, version INTEGER NOT NULL,
  type TEXT NOT NULL, data JSONB NOT NULL, metadata JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (stream_id, version))`

const settingsOf = async (pool: pg.Pool) => {
  const r = await pool.query("SHOW synchronous_commit")
  return `synchronous_commit=${r.rows[0].synchronous_commit} concurrency=${concurrency}`
}

export const cases: Record<string, () => Promise<{ opsPerSec: number; settings: string }>> = {
  async "pg-append/ours"() {
    const runtime = ManagedRuntime.make(
      PgEventStore.layer({ url, maxConnections: Math.max(concurrency, 2) }).pipe(Layer.orDie)
    )
    const append = (w: number, i: number) => {
      const { stream, version } = target(w, i)
      return runtime.runPromise(
        Effect.flatMap(EventStore.EventStore, (es) => es.append(stream, [event(w, i)], ExpectedVersion.exact(version)))
      )
    }
    await runtime.runPromise(EventStore.EventStore)
    for (let i = 0; i < warmupAppends; i++) await append(99, i)
    const opsPerSec = await writers(async (w, i) => {
      await append(w, i)
    })
    const pool = new pg.Pool({ connectionString: url, max: 1 })
    const settings = await settingsOf(pool)
    await pool.end()
    await runtime.dispose()
    return { opsPerSec, settings }
  },

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
    for (let i = 0; i < warmupAppends; i++) await append(99, i)
    const opsPerSec = await writers(append)
    const settings = await settingsOf(pool)
    await pool.end()
    return { opsPerSec, settings }
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
    for (let i = 0; i < warmupAppends; i++) await append(99, i)
    const opsPerSec = await writers(append)
    const settings = await settingsOf(pool)
    await pool.end()
    return { opsPerSec, settings }
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
    for (let i = 0; i < warmupAppends; i++) await append(99, i)
    const opsPerSec = await writers(append)
    await store.close()
    const pool = new pg.Pool({ connectionString: url, max: 1 })
    const settings = await settingsOf(pool)
    await pool.end()
    return { opsPerSec, settings }
  }
}
