// SQLite cases: ours, raw better-sqlite3 (the practical limit) and Emmett on node-sqlite3 with a
// shared connection. Every side uses WAL and the same synchronous setting.
import { EventStore, ExpectedVersion, Serializer } from "@chronicle/eventstore"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { SqlClient } from "@effect/sql"
import { getSQLiteEventStore, sqliteConnection } from "@event-driven-io/emmett-sqlite"
import Database from "better-sqlite3"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import {
  appendsPerStream,
  batchEvents,
  batchSize,
  measure,
  metadata,
  payload,
  readEvents,
  streamsCount,
  warmupAppends
} from "./workload.js"

const synchronous = (process.env.BENCH_SYNCHRONOUS ?? "NORMAL") as "NORMAL" | "FULL"

const rawSchema = `
  CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, stream_id TEXT NOT NULL, version INTEGER NOT NULL,
    type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, created_at INTEGER NOT NULL,
    UNIQUE (stream_id, version))`

const openRaw = (file: string) => {
  const db = new Database(file)
  db.pragma("journal_mode = WAL")
  db.pragma(`synchronous = ${synchronous}`)
  db.exec(rawSchema)
  return db
}

const settingsOf = (db: Database.Database) =>
  `journal_mode=${db.pragma("journal_mode", { simple: true })} synchronous=${
    db.pragma("synchronous", { simple: true })
  }`

const ours = (file: string) => {
  const runtime = ManagedRuntime.make(SqliteEventStore.layer({ filename: file, synchronous }).pipe(Layer.orDie))
  return {
    run: <A>(effect: Effect.Effect<A, unknown, EventStore.EventStore | SqlClient.SqlClient>) =>
      runtime.runPromise(effect),
    settings: () => {
      const db = new Database(file)
      const s = `journal_mode=${db.pragma("journal_mode", { simple: true })} synchronous=${
        synchronous === "FULL" ? 2 : 1
      } (set per connection)`
      db.close()
      return s
    },
    dispose: () => runtime.dispose()
  }
}

const event = (stream: number, i: number) => ({
  eventId: crypto.randomUUID(),
  type: "ContentSaved",
  data: payload(stream, i),
  metadata
})

/** Times `write` appending `batchEvents` events, `batchSize` to a stream, through our store. */
const oursBatches = async (
  file: string,
  write: (
    es: EventStore.Service,
    batches: ReadonlyArray<Array<ReturnType<typeof event>>>
  ) => Effect.Effect<unknown, unknown>
) => {
  const store = ours(file)
  const batches = Array.from(
    { length: batchEvents / batchSize },
    (_, s) => Array.from({ length: batchSize }, (_, i) => event(s, i))
  )
  // the store opened and migrated before the clock starts, as raw opens its file before it
  await store.run(EventStore.EventStore)
  const opsPerSec = await measure(
    batchEvents,
    () => store.run(Effect.asVoid(Effect.flatMap(EventStore.EventStore, (es) => write(es, batches))))
  )
  const settings = store.settings()
  await store.dispose()
  return { opsPerSec, settings }
}

export const cases: Record<string, (file: string) => Promise<{ opsPerSec: number; settings: string }>> = {
  async "append/ours"(file) {
    const store = ours(file)
    await store.run(Effect.gen(function*() {
      const es = yield* EventStore.EventStore
      for (let s = 0; s < warmupAppends; s++) yield* es.append(`warm-${s}`, [event(s, 0)], ExpectedVersion.NoStream)
    }))
    const opsPerSec = await measure(streamsCount * appendsPerStream, () =>
      store.run(Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        for (let v = 0; v < appendsPerStream; v++) {
          for (let s = 0; s < streamsCount; s++) {
            yield* es.append(`doc-${s}`, [event(s, v)], ExpectedVersion.exact(v))
          }
        }
      })))
    const settings = store.settings()
    await store.dispose()
    return { opsPerSec, settings }
  },

  // For reference, the floor the client sets: the same single-row INSERT per append through
  // `@effect/sql-sqlite-node`, with no validation, no expectation check and no bookkeeping.
  async "append/sql-floor"(file) {
    const store = ours(file)
    const sql = (await store.run(SqlClient.SqlClient)).withoutTransforms()
    const insert = (streamId: string, version: number, e: ReturnType<typeof event>) =>
      sql.unsafe(
        `INSERT INTO chronicle_events (event_id, stream_id, version, category, type, schema_version, data, metadata,
          correlation_id, causation_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          e.eventId,
          streamId,
          version,
          "doc",
          e.type,
          1,
          JSON.stringify(e.data),
          JSON.stringify(e.metadata),
          null,
          null,
          Date.now()
        ]
      ).raw
    await store.run(Effect.gen(function*() {
      for (let s = 0; s < warmupAppends; s++) yield* insert(`warm-${s}`, 1, event(s, 0))
    }))
    const opsPerSec = await measure(streamsCount * appendsPerStream, () =>
      store.run(Effect.gen(function*() {
        for (let v = 0; v < appendsPerStream; v++) {
          for (let s = 0; s < streamsCount; s++) yield* insert(`doc-${s}`, v + 1, event(s, v))
        }
      })))
    const settings = store.settings()
    await store.dispose()
    return { opsPerSec, settings }
  },

  async "append/raw"(file) {
    const db = openRaw(file)
    const version = db.prepare("SELECT coalesce(max(version), 0) AS v FROM events WHERE stream_id = ?").pluck()
    const insert = db.prepare(
      "INSERT INTO events (event_id, stream_id, version, type, data, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    const append = db.transaction((streamId: string, expected: number, e: ReturnType<typeof event>) => {
      if (version.get(streamId) !== expected) throw new Error("wrong expected version")
      insert.run(
        e.eventId,
        streamId,
        expected + 1,
        e.type,
        JSON.stringify(e.data),
        JSON.stringify(e.metadata),
        Date.now()
      )
    })
    for (let s = 0; s < warmupAppends; s++) append.immediate(`warm-${s}`, 0, event(s, 0))
    const opsPerSec = await measure(streamsCount * appendsPerStream, () => {
      for (let v = 0; v < appendsPerStream; v++) {
        for (let s = 0; s < streamsCount; s++) append.immediate(`doc-${s}`, v, event(s, v))
      }
    })
    const settings = settingsOf(db)
    db.close()
    return { opsPerSec, settings }
  },

  async "append/emmett"(file) {
    const connection = sqliteConnection({ fileName: file })
    await connection.command("PRAGMA journal_mode = WAL")
    await connection.command(`PRAGMA synchronous = ${synchronous}`)
    const store = getSQLiteEventStore({ fileName: file, connectionOptions: { singleton: true, connection } })
    const append = (streamId: string, expected: number, e: ReturnType<typeof event>) =>
      store.appendToStream(streamId, [{ type: e.type, data: e.data, metadata: e.metadata }], {
        expectedStreamVersion: BigInt(expected)
      })
    for (let s = 0; s < warmupAppends; s++) await append(`warm-${s}`, 0, event(s, 0))
    const opsPerSec = await measure(streamsCount * appendsPerStream, async () => {
      for (let v = 0; v < appendsPerStream; v++) {
        for (let s = 0; s < streamsCount; s++) await append(`doc-${s}`, v, event(s, v))
      }
    })
    const mode = await connection.querySingle<{ journal_mode: string }>("PRAGMA journal_mode")
    const sync = await connection.querySingle<{ synchronous: number }>("PRAGMA synchronous")
    connection.close()
    return { opsPerSec, settings: `journal_mode=${mode?.journal_mode} synchronous=${sync?.synchronous}` }
  },

  // The goal case: every stream's batch in one atomic appendMany, one transaction, as raw does.
  "batch/ours": (file) =>
    oursBatches(file, (es, batches) =>
      es.appendMany(
        batches.map((events, s) => ({ streamId: `batch-${s}`, events, expected: ExpectedVersion.NoStream }))
      )),

  // For reference: one append (one transaction) per stream of 1,000 events.
  "batch/ours-per-stream": (file) =>
    oursBatches(
      file,
      (es, batches) =>
        Effect.forEach(batches, (events, s) => es.append(`batch-${s}`, events, ExpectedVersion.NoStream), {
          discard: true
        })
    ),

  async "batch/raw"(file) {
    const db = openRaw(file)
    const insert = db.prepare(
      "INSERT INTO events (event_id, stream_id, version, type, data, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    const streams = batchEvents / batchSize
    const batches = Array.from({ length: streams }, (_, s) => Array.from({ length: batchSize }, (_, i) => event(s, i)))
    const opsPerSec = await measure(batchEvents, () => {
      db.transaction(() => {
        for (let s = 0; s < streams; s++) {
          batches[s].forEach((e, i) =>
            insert.run(
              e.eventId,
              `batch-${s}`,
              i + 1,
              e.type,
              JSON.stringify(e.data),
              JSON.stringify(e.metadata),
              Date.now()
            )
          )
        }
      }).immediate()
    })
    const settings = settingsOf(db)
    db.close()
    return { opsPerSec, settings }
  },

  async "read/ours"(file) {
    const Block = Schema.Struct({ id: Schema.String, type: Schema.String, content: Schema.String })
    const ContentSaved = Schema.TaggedStruct("ContentSaved", {
      documentId: Schema.String,
      title: Schema.String,
      blocks: Schema.Array(Block),
      author: Schema.String
    })
    const serializer = Serializer.make(ContentSaved)
    const store = ours(file)
    await store.run(Effect.gen(function*() {
      const es = yield* EventStore.EventStore
      for (let part = 0; part < readEvents / 1000; part++) {
        const events = Array.from(
          { length: 1000 },
          (_, i) => serializer.encode(ContentSaved.make(payload(0, part * 1000 + i)), { metadata })
        )
        yield* es.append("long-0", events, ExpectedVersion.exact(part * 1000))
      }
      yield* es.readStream("long-0")
    }))
    const reads = 5
    const opsPerSec = await measure(readEvents * reads, () =>
      store.run(Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        for (let r = 0; r < reads; r++) {
          const decoded = yield* serializer.decodeAll(yield* es.readStream("long-0"))
          if (decoded.length !== readEvents) throw new Error("short read")
        }
      })))
    const settings = store.settings()
    await store.dispose()
    return { opsPerSec, settings }
  },

  async "read/raw"(file) {
    const db = openRaw(file)
    const insert = db.prepare(
      "INSERT INTO events (event_id, stream_id, version, type, data, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    db.transaction(() => {
      for (let i = 0; i < readEvents; i++) {
        const e = event(0, i)
        insert.run(
          e.eventId,
          "long-0",
          i + 1,
          e.type,
          JSON.stringify({ _tag: "ContentSaved", ...e.data }),
          JSON.stringify(metadata),
          Date.now()
        )
      }
    })()
    const read = db.prepare(
      "SELECT position, event_id, stream_id, version, type, data, metadata, created_at FROM events WHERE stream_id = ? ORDER BY version"
    )
    const reads = 5
    const opsPerSec = await measure(readEvents * reads, () => {
      for (let r = 0; r < reads; r++) {
        const rows = read.all("long-0") as Array<{ data: string; metadata: string }>
        const decoded = rows.map((row) => ({ ...row, data: JSON.parse(row.data), metadata: JSON.parse(row.metadata) }))
        if (decoded.length !== readEvents) throw new Error("short read")
      }
    })
    const settings = settingsOf(db)
    db.close()
    return { opsPerSec, settings }
  }
}
