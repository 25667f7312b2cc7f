// The SQL adapter, written once against SqlClient. An append is one guarded INSERT ... SELECT:
// the expected-version checks and the tombstone check are its WHERE clause, so it is atomic
// without a read-then-write race, in or out of a caller's transaction. When it inserts nothing,
// a slower diagnosis path works out which error to report (or that it was a retry).
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Duration, Effect, Metric, Option, Schedule, Stream, SubscriptionRef } from "effect"
import type { AppendResult, RecordedEvent, Service, StreamAppend } from "../EventStore.js"
import { categoryOf } from "../EventStore.js"
import { EventStoreError, IdempotencyConflict, InvalidRequest, StreamDeleted } from "../EventStoreError.js"
import * as ExpectedVersion from "../ExpectedVersion.js"
import { readLimit, resolveRetry, validate, validateStreamId, wrongVersion } from "./append.js"
import type { StoredId } from "./append.js"
import { makeService } from "./service.js"
import { migrate } from "./sqlSchema.js"

export interface SqlOptions {
  /** How often readers look for events written by other processes (default 100 ms). */
  readonly pollInterval?: Duration.DurationInput
  /** Extra wake-ups for subscriptions, e.g. PostgreSQL notifications. */
  readonly wakeups?: Stream.Stream<void>
  /** An append slower than this is logged as waiting (default 1 s). */
  readonly slowAppend?: Duration.DurationInput
}

/** The PostgreSQL lock that makes global positions commit in order (see docs/decisions). */
export const appendLockKey = 7_262_011_415

// the largest INTEGER both dialects store
const maxVersion = 2_147_483_647

export const appendDuration = Metric.timer("chronicle_eventstore_append_duration", "Time to append to the event store")
export const slowAppends = Metric.counter("chronicle_eventstore_slow_appends_total", {
  description: "Appends that waited longer than the slow-append threshold"
})

interface EventRow {
  readonly position: number | string | bigint
  readonly event_id: string
  readonly stream_id: string
  readonly version: number | string
  readonly type: string
  readonly schema_version: number | string
  readonly data: unknown
  readonly metadata: unknown
  readonly correlation_id: string | null
  readonly causation_id: string | null
  readonly created_at: number | string | Date
}

const columns = "position, event_id, stream_id, version, type, schema_version, data, metadata, correlation_id, causation_id, created_at"

// SQLite keeps JSON as text; PostgreSQL's driver hands jsonb back already parsed
const jsonFrom = (dialect: "pg" | "sqlite") => (value: unknown): unknown =>
  dialect === "sqlite" && typeof value === "string" ? JSON.parse(value) : value

const toDate = (value: number | string | Date): Date =>
  value instanceof Date ? value : new Date(typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value)

const toRecorded = (parseJson: (value: unknown) => unknown) => (row: EventRow): RecordedEvent => ({
  eventId: row.event_id,
  streamId: row.stream_id,
  streamVersion: Number(row.version),
  globalPosition: Number(row.position),
  type: row.type,
  schemaVersion: Number(row.schema_version),
  timestamp: toDate(row.created_at),
  correlationId: row.correlation_id,
  causationId: row.causation_id,
  metadata: parseJson(row.metadata) as RecordedEvent["metadata"],
  data: parseJson(row.data)
})

export const storeError = (operation: string) => (cause: SqlError) => new EventStoreError({ operation, cause })

const isUniqueViolation = (error: SqlError): boolean => {
  const text = `${String((error.cause as { code?: unknown } | undefined)?.code ?? "")} ${String(error.cause)}`
  return text.includes("23505") || text.includes("UNIQUE constraint failed") || text.includes("SQLITE_CONSTRAINT")
}

export const makeSql = (options: SqlOptions = {}) =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    yield* migrate(sql)
    const dialect = sql.onDialectOrElse({ pg: () => "pg" as const, orElse: () => "sqlite" as const })
    const parseJson = jsonFrom(dialect)
    const recorded = toRecorded(parseJson)
    const pollInterval = Duration.decode(options.pollInterval ?? "100 millis")
    const slowAppend = Duration.toMillis(options.slowAppend ?? "1 second")
    // bumped on every local commit and every outside wake-up; subscribers wait on it or a poll
    const signals = yield* SubscriptionRef.make(0)

    const insertRows = (appends: ReadonlyArray<StreamAppend>, now: number) => {
      let ord = 0
      const rows = appends.flatMap((append) =>
        append.events.map((event, i) => ({
          ord: ord++,
          event_id: event.eventId,
          stream_id: append.streamId,
          seq: i + 1,
          category: categoryOf(append.streamId),
          type: event.type,
          schema_version: event.schemaVersion ?? 1,
          data: event.data,
          metadata: event.metadata ?? {},
          correlation_id: event.correlationId ?? null,
          causation_id: event.causationId ?? null
        }))
      )
      const streamIds = appends.map((a) => a.streamId)
      const guards = appends.flatMap((append) => {
        const current = sql`coalesce((SELECT max(g.version) FROM chronicle_events g WHERE g.stream_id = ${append.streamId}), 0)`
        switch (append.expected._tag) {
          case "Any":
            return []
          case "NoStream":
            return [sql`${current} = 0`]
          case "StreamExists":
            return [sql`${current} > 0`]
          case "Exact":
            return [sql`${current} = ${append.expected.version}`]
        }
      })
      const guard = sql.and([
        sql`NOT EXISTS (SELECT 1 FROM chronicle_tombstones t WHERE ${sql.in("t.stream_id", streamIds)})`,
        ...guards
      ])
      if (dialect === "pg") {
        return sql<EventRow>`
          WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(${appendLockKey}) AS locked),
          woken AS MATERIALIZED (SELECT pg_notify('chronicle_events', '') AS notified FROM lock)
          INSERT INTO chronicle_events (event_id, stream_id, version, category, type, schema_version, data, metadata, correlation_id, causation_id, created_at)
          SELECT r.event_id, r.stream_id,
            coalesce((SELECT max(e.version) FROM chronicle_events e WHERE e.stream_id = r.stream_id), 0) + r.seq,
            r.category, r.type, r.schema_version, r.data, r.metadata, r.correlation_id, r.causation_id,
            to_timestamp(${now}::double precision / 1000)
          FROM json_to_recordset(${JSON.stringify(rows)}::json) AS r(
            event_id text, stream_id text, seq int, category text, type text, schema_version int,
            data jsonb, metadata jsonb, correlation_id text, causation_id text, ord bigint)
          CROSS JOIN lock CROSS JOIN woken
          WHERE ${guard}
          ORDER BY r.ord
          RETURNING ${sql.literal(columns)}`
      }
      return sql<EventRow>`
        INSERT INTO chronicle_events (event_id, stream_id, version, category, type, schema_version, data, metadata, correlation_id, causation_id, created_at)
        SELECT r.value ->> '$.event_id', r.value ->> '$.stream_id',
          coalesce((SELECT max(e.version) FROM chronicle_events e WHERE e.stream_id = r.value ->> '$.stream_id'), 0) + (r.value ->> '$.seq'),
          r.value ->> '$.category', r.value ->> '$.type', r.value ->> '$.schema_version', r.value -> '$.data', r.value -> '$.metadata',
          r.value ->> '$.correlation_id', r.value ->> '$.causation_id', ${now}
        FROM json_each(${JSON.stringify(rows)}) r
        WHERE ${guard}
        ORDER BY r.key
        RETURNING ${sql.literal(columns)}`
    }

    const versionsOf = (streamIds: ReadonlyArray<string>) =>
      Effect.map(
        sql<{ stream_id: string; version: number | string }>`
          SELECT stream_id, max(version) AS version FROM chronicle_events WHERE ${sql.in("stream_id", streamIds)} GROUP BY stream_id`,
        (rows) => new Map(rows.map((r) => [r.stream_id, Number(r.version)]))
      )

    const tombstonesOf = (streamIds: ReadonlyArray<string>) =>
      Effect.map(
        sql<{ stream_id: string }>`SELECT stream_id FROM chronicle_tombstones WHERE ${sql.in("stream_id", streamIds)}`,
        (rows) => new Set(rows.map((r) => r.stream_id))
      )

    const storedIds = (eventIds: ReadonlyArray<string>) =>
      eventIds.length === 0 ? Effect.succeed<Array<StoredId>>([]) : Effect.map(
        sql<{ event_id: string; stream_id: string; version: number | string; position: number | string }>`
          SELECT event_id, stream_id, version, position FROM chronicle_events WHERE ${sql.in("event_id", eventIds)}`,
        (rows) =>
          rows.map((r) => ({
            eventId: r.event_id,
            streamId: r.stream_id,
            streamVersion: Number(r.version),
            globalPosition: Number(r.position)
          }))
      )

    // The guarded insert wrote nothing or hit a unique constraint: find out why. Returns the
    // earlier results when the whole call was a retry, or `undefined` when it should run again.
    const diagnose = (appends: ReadonlyArray<StreamAppend>) =>
      Effect.gen(function*() {
        const streamIds = appends.map((a) => a.streamId)
        const deleted = yield* tombstonesOf(streamIds)
        const versions = yield* versionsOf(streamIds)
        const stored = yield* storedIds(appends.flatMap((a) => a.events.map((e) => e.eventId)))
        const results: Array<AppendResult> = []
        let retriedAll = true
        for (const append of appends) {
          if (deleted.has(append.streamId)) return yield* Effect.fail(new StreamDeleted({ streamId: append.streamId }))
          const retried = yield* resolveRetry(append, stored.filter((s) => append.events.some((e) => e.eventId === s.eventId)))
          if (retried !== undefined) {
            results.push(retried)
            continue
          }
          retriedAll = false
          const actual = versions.get(append.streamId) ?? 0
          if (!ExpectedVersion.matches(append.expected, actual)) return yield* Effect.fail(wrongVersion(append, actual))
        }
        if (retriedAll) return results
        // some were retries and others new: a mix is never a clean retry
        if (results.length > 0) {
          return yield* Effect.fail(
            new IdempotencyConflict({
              streamId: results[0].streamId,
              eventIds: stored.map((s) => s.eventId),
              reason: "part of this multi-stream append is already stored and part is not"
            })
          )
        }
        return undefined
      })

    const appendMany: Service["appendMany"] = (appends) =>
      Effect.gen(function*() {
        yield* validate(appends)
        const total = appends.reduce((n, a) => n + a.events.length, 0)
        if (total === 0) {
          // nothing to write: still check the expectations and tombstones
          const diagnosed = yield* diagnose(appends).pipe(Effect.mapError((e) => e._tag === "SqlError" ? storeError("append")(e) : e))
          if (diagnosed !== undefined) return diagnosed
          const versions = yield* versionsOf(appends.map((a) => a.streamId)).pipe(Effect.mapError(storeError("append")))
          return appends.map((a) => ({ streamId: a.streamId, version: versions.get(a.streamId) ?? 0, positions: [] }))
        }
        const started = yield* Clock.currentTimeMillis
        const attempt = Effect.gen(function*() {
          const inserted = yield* insertRows(appends, started).pipe(
            Effect.map(Option.some),
            Effect.catchIf(isUniqueViolation, () => Effect.succeed(Option.none<ReadonlyArray<EventRow>>()))
          )
          if (Option.isSome(inserted) && inserted.value.length === total) {
            const rows = inserted.value
            return appends.map((append) => {
              const mine = rows.filter((r) => r.stream_id === append.streamId)
              return {
                streamId: append.streamId,
                version: mine.length === 0 ? 0 : Number(mine[mine.length - 1].version),
                positions: mine.map((r) => Number(r.position))
              }
            })
          }
          const diagnosed = yield* diagnose(appends)
          if (diagnosed !== undefined) return diagnosed
          // a concurrent writer moved a stream that this call expected nothing of: try again
          return yield* Effect.fail("retry" as const)
        })
        const results = yield* attempt.pipe(
          Effect.retry({ while: (e) => e === "retry", schedule: Schedule.recurs(20) }),
          Effect.catchIf((e): e is "retry" => e === "retry", () =>
            Effect.fail(new EventStoreError({ operation: "append", cause: new Error("too much contention on the appended streams") }))),
          Effect.catchTag("SqlError", (e) => Effect.fail(storeError("append")(e)))
        )
        const finished = yield* Clock.currentTimeMillis
        const took = finished - started
        yield* Metric.update(appendDuration, Duration.millis(took))
        if (took > slowAppend) {
          yield* Metric.increment(slowAppends)
          yield* Effect.logWarning(
            `event store append took ${took} ms: it waited for the append lock or the database; a long transaction that appended may be holding it`
          )
        }
        yield* SubscriptionRef.update(signals, (n) => n + 1)
        return results
      })

    const readStream: Service["readStream"] = (streamId, options = {}) =>
      Effect.gen(function*() {
        yield* validateStreamId(streamId)
        const limit = yield* readLimit(options.limit, streamId)
        const backwards = options.direction === "backwards"
        const rows = yield* (backwards
          ? sql<EventRow>`SELECT ${sql.literal(columns)} FROM chronicle_events
              WHERE stream_id = ${streamId} AND version <= ${Math.min(options.from ?? maxVersion, maxVersion)}
              ORDER BY version DESC LIMIT ${Math.min(limit, 1_000_000_000)}`
          : sql<EventRow>`SELECT ${sql.literal(columns)} FROM chronicle_events
              WHERE stream_id = ${streamId} AND version >= ${Math.min(options.from ?? 1, maxVersion)}
              ORDER BY version ASC LIMIT ${Math.min(limit, 1_000_000_000)}`).pipe(Effect.mapError(storeError("readStream")))
        const deleted = yield* tombstonesOf([streamId]).pipe(Effect.mapError(storeError("readStream")))
        if (deleted.has(streamId)) return yield* Effect.fail(new StreamDeleted({ streamId }))
        return rows.map(recorded)
      })

    const readAll: Service["readAll"] = (options = {}) =>
      Effect.gen(function*() {
        const limit = Math.min(yield* readLimit(options.limit), 1_000_000_000)
        const from = options.from ?? 0
        if (!Number.isInteger(from) || from < 0) {
          return yield* Effect.fail(new InvalidRequest({ streamId: "", reason: `position must be a non-negative integer, got ${from}` }))
        }
        const filter = options.filter
        const where = filter === undefined || filter._tag === "All"
          ? sql`position > ${from}`
          : filter._tag === "Stream"
          ? sql`stream_id = ${filter.streamId} AND position > ${from}`
          : sql`category = ${filter.category} AND position > ${from}`
        const rows = yield* sql<EventRow>`SELECT ${sql.literal(columns)} FROM chronicle_events WHERE ${where}
          ORDER BY position ASC LIMIT ${limit}`.pipe(Effect.mapError(storeError("readAll")))
        return rows.map(recorded)
      })

    const head = sql<{ head: number | string | null }>`SELECT max(position) AS head FROM chronicle_events`.pipe(
      Effect.map((rows) => Number(rows[0]?.head ?? 0)),
      Effect.mapError(storeError("head"))
    )

    const streamInfo: Service["streamInfo"] = (streamId) =>
      Effect.gen(function*() {
        const versions = yield* versionsOf([streamId])
        const deleted = yield* tombstonesOf([streamId])
        return { streamId, version: versions.get(streamId) ?? 0, deleted: deleted.has(streamId) }
      }).pipe(Effect.mapError(storeError("streamInfo")))

    const deleteStream: Service["deleteStream"] = (streamId, expected = ExpectedVersion.Any) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const current = sql`coalesce((SELECT max(g.version) FROM chronicle_events g WHERE g.stream_id = ${streamId}), 0)`
        const check = expected._tag === "Any"
          ? sql`1 = 1`
          : expected._tag === "NoStream"
          ? sql`${current} = 0`
          : expected._tag === "StreamExists"
          ? sql`${current} > 0`
          : sql`${current} = ${expected.version}`
        const inserted = yield* sql<{ stream_id: string }>`
          INSERT INTO chronicle_tombstones (stream_id, deleted_at)
          SELECT ${streamId}, ${now} WHERE ${check}
          ON CONFLICT (stream_id) DO NOTHING
          RETURNING stream_id`
        if (inserted.length === 1) return
        const deleted = yield* tombstonesOf([streamId])
        if (deleted.has(streamId)) return yield* Effect.fail(new StreamDeleted({ streamId }))
        const versions = yield* versionsOf([streamId])
        return yield* Effect.fail(wrongVersion({ streamId, events: [], expected }, versions.get(streamId) ?? 0))
      }).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(storeError("deleteStream")(e))))

    const saveSnapshot: Service["saveSnapshot"] = (streamId, snapshot) =>
      Effect.gen(function*() {
        yield* validateStreamId(streamId)
        if (!Number.isInteger(snapshot.version) || snapshot.version < 1) {
          return yield* Effect.fail(new InvalidRequest({ streamId, reason: "a snapshot's version must be a positive integer" }))
        }
        const state = JSON.stringify(snapshot.state)
        if (state === undefined) {
          return yield* Effect.fail(new InvalidRequest({ streamId, reason: "a snapshot's state must be JSON-compatible" }))
        }
        const now = yield* Clock.currentTimeMillis
        yield* sql`
          INSERT INTO chronicle_snapshots (stream_id, version, schema_version, state, created_at)
          VALUES (${streamId}, ${snapshot.version}, ${snapshot.schemaVersion ?? 1}, ${state}, ${now})
          ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, schema_version = excluded.schema_version,
            state = excluded.state, created_at = excluded.created_at`.pipe(Effect.mapError(storeError("saveSnapshot")))
      })

    const loadSnapshot: Service["loadSnapshot"] = (streamId) =>
      sql<{ version: number | string; schema_version: number | string; state: unknown; created_at: number | string }>`
        SELECT version, schema_version, state, created_at FROM chronicle_snapshots WHERE stream_id = ${streamId}`.pipe(
        Effect.map((rows) =>
          Option.map(Option.fromNullable(rows[0]), (row) => ({
            streamId,
            version: Number(row.version),
            schemaVersion: Number(row.schema_version),
            state: parseJson(row.state),
            timestamp: toDate(row.created_at)
          }))
        ),
        Effect.mapError(storeError("loadSnapshot"))
      )

    if (options.wakeups !== undefined) {
      yield* options.wakeups.pipe(
        Stream.runForEach(() => SubscriptionRef.update(signals, (n) => n + 1)),
        Effect.forkScoped
      )
    }

    // other processes write too, so a local signal only shortens the wait; the poll bounds it
    const awaitChange = () =>
      signals.changes.pipe(Stream.drop(1), Stream.take(1), Stream.runDrain, Effect.race(Effect.sleep(pollInterval)))

    return makeService({
      appendMany,
      readStream,
      readAll,
      head,
      streamInfo,
      deleteStream,
      saveSnapshot,
      loadSnapshot,
      awaitChange
    })
  })
