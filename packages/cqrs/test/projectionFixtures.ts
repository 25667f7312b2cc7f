// A read model that is wrong if any event is applied twice or skipped: per-stream totals.
import { Projection } from "@chronicle/cqrs"
import { EventStore, ExpectedVersion, Serializer } from "@chronicle/eventstore"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Data, Effect, Ref, Schema } from "effect"

/** The fixture's handler refuses some values on demand, to make poison events. */
export class Refused extends Data.TaggedError("Refused")<{ readonly n: number }> {
  override get message() {
    return `refusing ${this.n}`
  }
}

export const Added = Schema.TaggedStruct("Added", { n: Schema.Int })
export const Noted = Schema.TaggedStruct("Noted", { text: Schema.String })
export const CounterEvent = Schema.Union(Added, Noted)
export const serializer = Serializer.make(CounterEvent)

/**
 * Per-stream totals in `tableName`, which it declares and names through `Projection.table` (so it
 * can be rebuilt with swap) unless `declareTables` is false; `extraTables` are declared and created too.
 */
export const totalsProjection = (tableName: string, options: {
  readonly category?: string
  readonly failOn?: Ref.Ref<ReadonlySet<number>>
  /** Values whose handler throws (a defect) instead of failing. */
  readonly throwOn?: Ref.Ref<ReadonlySet<number>>
  readonly batched?: boolean
  /** Batched, with no per-event handlers at all. */
  readonly batchOnly?: boolean
  readonly declareTables?: boolean
  readonly extraTables?: ReadonlyArray<string>
  /** Called at the start of every handler call, e.g. to watch the tables it writes to. */
  readonly onApply?: (table: string) => Effect.Effect<void>
} = {}) => {
  const declared = options.declareTables !== false
  const extra = options.extraTables ?? []
  // undeclared, it names its table directly, as projections did before `tables`
  const name = (logical: string) => declared ? Projection.table(logical) : Effect.succeed(logical)
  return Projection.make<typeof CounterEvent.Type, SqlError | Refused, SqlClient.SqlClient>({
    name: `totals-${tableName}`,
    ...(options.category === undefined ? {} : { category: options.category }),
    serializer,
    ...(declared ? { tables: [tableName, ...extra] } : {}),
    setup: Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const t = yield* name(tableName)
      yield* sql.unsafe(
        `CREATE TABLE IF NOT EXISTS ${t} (stream_id TEXT PRIMARY KEY, total BIGINT NOT NULL, events BIGINT NOT NULL)`
      )
      yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS ${t}_total ON ${t} (total)`)
      for (const logical of extra) {
        const x = yield* name(logical)
        yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${x} (id TEXT PRIMARY KEY)`)
      }
    }),
    reset: Effect.flatMap(
      SqlClient.SqlClient,
      (sql) => Effect.flatMap(name(tableName), (t) => sql.unsafe(`DELETE FROM ${t}`))
    ),
    handlers: options.batchOnly === true ? {} : {
      Added: (event, envelope) =>
        Effect.gen(function*() {
          const table = yield* name(tableName)
          if (options.onApply !== undefined) yield* options.onApply(table)
          const failing = options.failOn === undefined ? new Set<number>() : yield* Ref.get(options.failOn)
          if (failing.has(event.n)) {
            return yield* Effect.fail(new Refused({ n: event.n }))
          }
          const throwing = options.throwOn === undefined ? new Set<number>() : yield* Ref.get(options.throwOn)
          if (throwing.has(event.n)) {
            yield* Effect.sync(() => {
              throw new TypeError(`cannot read ${event.n}`)
            })
          }
          const sql = yield* SqlClient.SqlClient
          yield* sql`INSERT INTO ${sql(table)} (stream_id, total, events) VALUES (${envelope.streamId}, ${event.n}, 1)
            ON CONFLICT (stream_id) DO UPDATE SET total = ${sql(table)}.total + excluded.total, events = ${
            sql(table)
          }.events + 1`
        })
    },
    ...(options.batched === true || options.batchOnly === true
      ? {
        applyBatch: (
          envelopes: ReadonlyArray<{ readonly streamId: string; readonly data: typeof CounterEvent.Type }>
        ) =>
          Effect.gen(function*() {
            const sql = yield* SqlClient.SqlClient
            const table = yield* name(tableName)
            const sums = new Map<string, { total: number; events: number }>()
            for (const e of envelopes) {
              if (e.data._tag !== "Added") continue
              const s = sums.get(e.streamId) ?? { total: 0, events: 0 }
              sums.set(e.streamId, { total: s.total + e.data.n, events: s.events + 1 })
            }
            if (sums.size === 0) return
            const rows = [...sums].map(([id, s]) => ({ stream_id: id, total: s.total, events: s.events }))
            yield* sql`INSERT INTO ${sql(table)} ${sql.insert(rows)}
              ON CONFLICT (stream_id) DO UPDATE SET total = ${sql(table)}.total + excluded.total, events = ${
              sql(table)
            }.events + excluded.events`
          })
      }
      : {})
  })
}

/** What the read model must hold: a fresh replay of the store's events (up to a position, if given). */
export const replay = (category: string, upTo = Number.MAX_SAFE_INTEGER) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    const events = yield* serializer.decodeAll(yield* store.readAll({ filter: EventStore.category(category) }))
    const totals = new Map<string, { total: number; events: number }>()
    for (const e of events) {
      if (e.data._tag !== "Added" || e.globalPosition > upTo) continue
      const t = totals.get(e.streamId) ?? { total: 0, events: 0 }
      totals.set(e.streamId, { total: t.total + e.data.n, events: t.events + 1 })
    }
    return [...totals].map(([stream_id, t]) => ({ stream_id, ...t })).sort((a, b) =>
      a.stream_id.localeCompare(b.stream_id)
    )
  })

export const readModel = (table: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql.unsafe<{ stream_id: string; total: number | string; events: number | string }>(
      `SELECT stream_id, total, events FROM ${table} ORDER BY stream_id`
    )
    return rows.map((r) => ({ stream_id: r.stream_id, total: Number(r.total), events: Number(r.events) }))
      .sort((a, b) => a.stream_id.localeCompare(b.stream_id))
  })

export const addEvents = (category: string, streams: number, perStream: number, start = 1) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    let last = 0
    for (let i = 0; i < perStream; i++) {
      for (let s = 0; s < streams; s++) {
        const result = yield* store.append(
          `${category}-${s}`,
          [serializer.encode(Added.make({ n: start + i })), serializer.encode(Noted.make({ text: "x" }))],
          ExpectedVersion.Any
        )
        last = result.positions[1]
      }
    }
    return last
  })

export const fresh = (prefix: string) => `${prefix}${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`
