// The SQL adapter, written once against SqlClient. On SQLite an append is plain INSERTs that a
// unique index and a guard trigger refuse when the expectation no longer holds (decision 0003); on
// PostgreSQL it is one call of the `chronicle_append` function. When nothing is inserted, a slower
// diagnosis path works out which error to report (or that it was a retry of an earlier append).
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import { Clock, Context, Deferred, Duration, Effect, Exit, FiberId, FiberRef, Metric, Option, Stream } from "effect"
import type { AppendResult, RecordedEvent, Service, StreamAppend } from "../EventStore.js"
import { EventStoreError, InvalidRequest, StreamDeleted } from "../EventStoreError.js"
import * as ExpectedVersion from "../ExpectedVersion.js"
import {
  encodeAppends,
  encodeSnapshot,
  mixedRetry,
  readLimit,
  resolveRetry,
  validateDelete,
  validateFrom,
  validateStreamId,
  wrongVersion
} from "./append.js"
import type { StoredId } from "./append.js"
import { makeService } from "./service.js"
import { migrate } from "./sqlSchema.js"
import type { EncodedEvent } from "./sqlStatements.js"
import {
  maxVersion,
  pgAppend,
  positionsPerTransaction,
  rowsPerStatement,
  sqliteAppend,
  sqliteVersionText
} from "./sqlStatements.js"

export interface SqlOptions {
  /** How often readers look for events written by other processes (default 100 ms). */
  readonly pollInterval?: Duration.DurationInput
  /** Extra wake-ups for subscriptions, e.g. PostgreSQL notifications. */
  readonly wakeups?: Stream.Stream<void>
  /** Called after each successful append, e.g. to notify other processes. */
  readonly afterAppend?: () => void
  /** An append slower than this is logged as waiting (default 1 s). */
  readonly slowAppend?: Duration.DurationInput
  /** On PostgreSQL, a reader held back this long by an open transaction says so (default 5 s). */
  readonly heldBackWarning?: Duration.DurationInput
}

/**
 * What a driver-specific layer can add to the adapter, beyond the `SqlClient` it is written against.
 */
export interface Driver {
  /**
   * Runs one of the store's own statements by itself, in its own implicit transaction, as a named
   * prepared statement on a connection of the client's pool, and calls back with its rows. Appends
   * to one stream outside a caller's transaction go through it: the server keeps their plans
   * (decision 0006), and a callback costs the hot path no effect steps.
   */
  readonly prepared?: <Row extends object>(
    name: string,
    text: string,
    params: ReadonlyArray<unknown>,
    callback: (error: SqlError | undefined, rows: ReadonlyArray<Row>) => void
  ) => void
  /** SQLite: a connection of the driver's own for appends to one stream (decision 0007). */
  readonly direct?: DirectConnection
}

/** Another connection holds the database's write lock: the caller goes the general way, which waits. */
export const Busy: unique symbol = Symbol.for("@chronicle/eventstore/Busy")

/**
 * A SQLite connection beside the client's, used synchronously: a statement on it runs to its end
 * within one call, in its own implicit transaction, and never waits for the write lock.
 */
export interface DirectConnection {
  /** Runs a statement that writes. */
  readonly run: (text: string, params: ReadonlyArray<unknown>) => Inserted | typeof Busy | SqlError
  /** Runs a query and returns its first row. */
  readonly get: <Row extends object>(
    text: string,
    params: ReadonlyArray<unknown>
  ) => Row | undefined | typeof Busy | SqlError
  /** Runs a query and returns its rows as arrays of column values, in the query's column order. */
  readonly rows: (text: string, params: ReadonlyArray<unknown>) => ReadonlyArray<unknown> | typeof Busy | SqlError
  /**
   * Runs `body` in a transaction that takes the write lock first (BEGIN IMMEDIATE): committed if
   * `keep` accepts what it returns, rolled back otherwise.
   */
  readonly transaction: <A>(body: () => A, keep: (result: A) => boolean) => A | typeof Busy | SqlError
}

/** What a SQLite INSERT reports. */
interface Inserted {
  readonly changes: number
  readonly lastInsertRowid: number | bigint
}

/**
 * SQLite numbers the rows of one INSERT consecutively (each takes max(position) + 1 under the
 * write lock), so its positions follow from the last row id and the count: no RETURNING rows.
 * `false` when the statement inserted fewer rows than asked.
 */
const collectPositions = (result: Inserted, rows: number, positions: Array<number>): boolean => {
  if (result.changes !== rows) return false
  const last = Number(result.lastInsertRowid)
  for (let p = last - rows + 1; p <= last; p++) positions.push(p)
  return true
}

export const appendDuration = Metric.timer("chronicle_eventstore_append_duration", "Time to append to the event store")
export const slowAppends = Metric.counter("chronicle_eventstore_slow_appends_total", {
  description: "Appends that waited longer than the slow-append threshold"
})
export const heldBack = Metric.gauge("chronicle_eventstore_reader_held_back_seconds", {
  description: "How long readers have been held back by an open transaction that wrote events (PostgreSQL)"
})

// Event rows are read as arrays, in this column order: better-sqlite3 builds an object per row
// at about twice the cost of an array (measured: 500 rows of 11 columns, 1.0-1.2 ms as objects,
// 0.55 ms as arrays), and a projection's catch-up is mostly reading rows.
type EventRow = readonly [
  position: number | string | bigint,
  eventId: string,
  streamId: string,
  version: number | string,
  type: string,
  schemaVersion: number | string,
  data: unknown,
  metadata: unknown | null,
  correlationId: string | null,
  causationId: string | null,
  createdAt: number | string | Date
]

// most events carry no metadata: reading `{}` as NULL spares a string and a JSON.parse per event
// (measured: 0.5 of the 1.4 µs an event takes to map, on a slow machine)
const columns =
  "position, event_id, stream_id, version, type, schema_version, data, nullif(metadata, '{}'), correlation_id, causation_id, created_at"

// The same reads as text for SQLite (`selectRows`), where every position is final: SQLite has one
// writer at a time.
const sqliteReads = {
  all: `SELECT ${columns} FROM chronicle_events WHERE position > ? ORDER BY position ASC LIMIT ?`,
  stream: `SELECT ${columns} FROM chronicle_events WHERE stream_id = ? AND position > ? ORDER BY position ASC LIMIT ?`,
  category: `SELECT ${columns} FROM chronicle_events WHERE category = ? AND position > ? ORDER BY position ASC LIMIT ?`,
  streamForwards:
    `SELECT ${columns} FROM chronicle_events WHERE stream_id = ? AND version >= ? ORDER BY version ASC LIMIT ?`,
  streamBackwards:
    `SELECT ${columns} FROM chronicle_events WHERE stream_id = ? AND version <= ? ORDER BY version DESC LIMIT ?`,
  tombstone: "SELECT stream_id FROM chronicle_tombstones WHERE stream_id = ?",
  head: "SELECT max(position) AS head FROM chronicle_events"
}

// SQLite keeps JSON as text; PostgreSQL's driver hands jsonb back already parsed
const jsonFrom = (dialect: "pg" | "sqlite") => (value: unknown): unknown =>
  dialect === "sqlite" && typeof value === "string" ? JSON.parse(value) : value

const toDate = (value: number | string | Date): Date =>
  value instanceof Date ? value : new Date(typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value)

const toRecorded = (parseJson: (value: unknown) => unknown) => (row: EventRow): RecordedEvent => ({
  eventId: row[1],
  streamId: row[2],
  streamVersion: Number(row[3]),
  globalPosition: Number(row[0]),
  type: row[4],
  schemaVersion: Number(row[5]),
  timestamp: toDate(row[10]),
  correlationId: row[8],
  causationId: row[9],
  metadata: (row[7] === null ? {} : parseJson(row[7])) as RecordedEvent["metadata"],
  data: parseJson(row[6])
})

export const storeError = (operation: string) => (cause: SqlError) => new EventStoreError({ operation, cause })

// PostgreSQL: two transactions that each guard a stream the other writes can wait on each other
// (see insertStream); the server aborts one, and the append tries again
const isDeadlock = (error: SqlError): boolean =>
  String((error.cause as { code?: unknown } | undefined)?.code ?? "") === "40P01"

const isUniqueViolation = (error: SqlError): boolean => {
  const text = `${String((error.cause as { code?: unknown } | undefined)?.code ?? "")} ${String(error.cause)}`
  return text.includes("23505") || text.includes("UNIQUE constraint failed") || text.includes("SQLITE_CONSTRAINT")
}

interface AppendedRow {
  readonly position: number | string
  readonly version: number | string
}

/** The statement inserted fewer rows than asked: the guard refused, or a constraint fired. */
class NotInserted {
  readonly _tag = "NotInserted"
}

type AppendFailure = Exclude<import("../EventStoreError.js").AppendError, InvalidRequest> | SqlError

export const makeSql = (options: SqlOptions = {}, driver?: Driver) =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const clock = yield* Effect.clock
    yield* migrate(sql)
    const dialect = sql.onDialectOrElse({ pg: () => "pg" as const, orElse: () => "sqlite" as const })
    const parseJson = jsonFrom(dialect)
    const recorded = toRecorded(parseJson)
    const pollInterval = Duration.decode(options.pollInterval ?? "100 millis")
    const slowAppend = Duration.toMillis(options.slowAppend ?? "1 second")
    const heldBackAfter = Duration.toMillis(options.heldBackWarning ?? "5 seconds")
    const afterAppend = options.afterAppend

    // completed by the next local append or outside wake-up; subscribers also poll
    let wake: Deferred.Deferred<void> | undefined
    const signal = () => {
      if (wake !== undefined) {
        Deferred.unsafeDone(wake, Exit.void)
        wake = undefined
      }
    }

    const currentVersion = (streamId: string) =>
      Effect.map(
        sql<
          { v: number | string }
        >`SELECT coalesce(max(version), 0) AS v FROM chronicle_events WHERE stream_id = ${streamId}`,
        (rows) => Number(rows[0]?.v ?? 0)
      )

    const refused = (error: SqlError) => isUniqueViolation(error) || String(error.cause).includes("chronicle: ")

    const toResult = (streamId: string, rows: ReadonlyArray<AppendedRow>) => ({
      streamId,
      version: rows.length === 0 ? 0 : Number(rows[rows.length - 1].version),
      positions: rows.map((r) => Number(r.position))
    })

    /** How an append's statements run, and whether each is a prepared transaction of its own. */
    interface Run {
      readonly run: <Row extends object>(
        name: string,
        text: string,
        params: ReadonlyArray<unknown>
      ) => Effect.Effect<ReadonlyArray<Row>, SqlError>
      readonly alone: boolean
    }
    // only PostgreSQL appends use the driver's prepared statements, only SQLite ones its own connection
    const prepared = dialect === "pg" ? driver?.prepared : undefined
    const direct = dialect === "sqlite" ? driver?.direct : undefined
    const viaClient: Run = { run: (_name, text, params) => sql.unsafe(text, params), alone: false }
    const standalone: Run = {
      run: prepared === undefined ? viaClient.run : <Row extends object>(
        name: string,
        text: string,
        params: ReadonlyArray<unknown>
      ) =>
        Effect.async<ReadonlyArray<Row>, SqlError>((resume) => {
          prepared<Row>(
            name,
            text,
            params,
            (error, rows) => resume(error === undefined ? Effect.succeed(rows) : Effect.fail(error))
          )
        }),
      // a plain statement pays off only prepared: unprepared, the server would plan it on every
      // call, where the function keeps its plans
      alone: prepared !== undefined
    }

    /** Inserts one stream's events if its expectation holds; fails with NotInserted otherwise. */
    const insertStream = (
      append: StreamAppend,
      events: ReadonlyArray<EncodedEvent>,
      now: number,
      run: Run
    ): Effect.Effect<AppendResult, NotInserted | SqlError> => {
      if (events.length === 0) {
        // on PostgreSQL, anything but the standalone run is inside a transaction (see atomically)
        const { _tag } = append.expected
        if (dialect === "pg" && run !== standalone && (_tag === "Exact" || _tag === "NoStream")) {
          return pgGuard(append)
        }
        // nothing to write, but the expectation and the tombstone are still checked
        return Effect.flatMap(
          Effect.zip(currentVersion(append.streamId), tombstonesOf([append.streamId])),
          ([version, deleted]) =>
            deleted.size === 0 && ExpectedVersion.matches(append.expected, version)
              ? Effect.succeed({ streamId: append.streamId, version, positions: [] })
              : Effect.fail(new NotInserted())
        )
      }
      if (dialect === "pg") {
        const { name, params, text } = pgAppend(append, events, now, run.alone)
        return run.run<AppendedRow>(name, text, params).pipe(
          Effect.catchIf(isUniqueViolation, () => Effect.fail(new NotInserted())),
          Effect.filterOrFail((rows) => rows.length === events.length, () => new NotInserted()),
          Effect.map((rows) => toResult(append.streamId, rows))
        )
      }
      const expected = append.expected
      return expected._tag === "Exact"
        ? sqliteInsert(append.streamId, expected.version, events, now)
        : expected._tag === "NoStream"
        ? sqliteInsert(append.streamId, 0, events, now)
        : Effect.flatMap(currentVersion(append.streamId), (v) =>
          expected._tag === "StreamExists" && v === 0
            ? Effect.fail(new NotInserted())
            : sqliteInsert(append.streamId, v, events, now))
    }

    // An exact expectation of a stream this transaction does not write. Under READ COMMITTED, a
    // plain check would not see another transaction's uncommitted events there, and that one could
    // not see ours: both could commit (write skew). So the guard inserts the stream's next version
    // as a placeholder row and removes it again: the unique (stream, version) index makes it wait
    // for any writer of that version and fail if one committed, and makes a later writer wait for
    // this transaction. Its ROW EXCLUSIVE lock also serializes it with deleteStream. The row never
    // commits, so no reader sees it. Statements run inside the caller's transaction only.
    const pgGuard = (append: StreamAppend): Effect.Effect<AppendResult, NotInserted | SqlError> => {
      const expected = append.expected._tag === "Exact" ? append.expected.version : 0
      return sql<{ version: number | string }>`
        INSERT INTO chronicle_events (position, event_id, stream_id, version, category, type, schema_version,
          data, metadata, created_at)
        SELECT -pg_current_xact_id()::text::bigint, 'chronicle-guard-' || pg_current_xact_id()::text,
          ${append.streamId}, s.version + 1, '', '', 1, 'null', '{}', now()
        FROM (SELECT coalesce(max(g.version), 0) AS version FROM chronicle_events g
          WHERE g.stream_id = ${append.streamId}) s
        WHERE NOT EXISTS (SELECT 1 FROM chronicle_tombstones t WHERE t.stream_id = ${append.streamId})
          AND s.version = ${expected <= maxVersion ? expected : -1}
        RETURNING version`.pipe(
        Effect.catchIf(isUniqueViolation, () => Effect.fail(new NotInserted())),
        Effect.filterOrFail((rows) => rows.length === 1, () => new NotInserted()),
        Effect.zipLeft(sql`DELETE FROM chronicle_events WHERE position = -pg_current_xact_id()::text::bigint`),
        Effect.as({ streamId: append.streamId, version: expected, positions: [] })
      )
    }

    const sqliteInsert = (
      streamId: string,
      after: number,
      events: ReadonlyArray<EncodedEvent>,
      now: number
    ): Effect.Effect<AppendResult, NotInserted | SqlError> => {
      const statements = sqliteAppend(streamId, after, events, now)
      const positions: Array<number> = []
      const run = (statement: typeof statements[number]) =>
        Effect.flatMap(
          sql.unsafe(statement.text, statement.params).raw,
          (result) =>
            collectPositions(result as Inserted, statement.rows, positions)
              ? Effect.void
              : Effect.fail(new NotInserted())
        )
      return (statements.length === 1 ? run(statements[0]) : Effect.forEach(statements, run, { discard: true })).pipe(
        Effect.catchIf(
          (error): error is SqlError => error._tag === "SqlError" && refused(error),
          () => Effect.fail(new NotInserted())
        ),
        Effect.as({ streamId, version: after + events.length, positions })
      )
    }

    // A PostgreSQL statement that fails inside a transaction aborts it, so inside a caller's
    // transaction the insert runs in a savepoint; outside, it is one autocommitted statement,
    // prepared when the driver can.
    const atomically = <A, E, R>(effect: (run: Run) => Effect.Effect<A, E, R>, several: boolean) =>
      several
        ? sql.withTransaction(effect(viaClient))
        : dialect === "sqlite"
        ? effect(viaClient)
        : Effect.flatMap(
          Effect.serviceOption(SqlClient.TransactionConnection),
          (inTransaction) => Option.isSome(inTransaction) ? sql.withTransaction(effect(viaClient)) : effect(standalone)
        )

    const versionsOf = (streamIds: ReadonlyArray<string>) =>
      Effect.map(
        sql<{ stream_id: string; version: number | string }>`
          SELECT stream_id, max(version) AS version FROM chronicle_events WHERE ${
          sql.in("stream_id", streamIds)
        } GROUP BY stream_id`,
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
    const diagnose = (
      appends: ReadonlyArray<StreamAppend>
    ): Effect.Effect<Array<AppendResult> | undefined, AppendFailure> =>
      Effect.gen(function*() {
        const streamIds = appends.map((a) => a.streamId)
        const deleted = yield* tombstonesOf(streamIds)
        const versions = yield* versionsOf(streamIds)
        const stored = yield* storedIds(appends.flatMap((a) => a.events.map((e) => e.eventId)))
        const results: Array<AppendResult> = []
        let retries = 0
        let fresh = 0
        for (const append of appends) {
          if (deleted.has(append.streamId)) return yield* Effect.fail(new StreamDeleted({ streamId: append.streamId }))
          const retried = yield* resolveRetry(
            append,
            stored.filter((s) => append.events.some((e) => e.eventId === s.eventId))
          )
          if (retried !== undefined) {
            results.push(retried)
            retries++
            continue
          }
          const actual = versions.get(append.streamId) ?? 0
          if (!ExpectedVersion.matches(append.expected, actual)) return yield* Effect.fail(wrongVersion(append, actual))
          // a guard (no events) is neither a retry nor new: its expectation holds, as in the call it retries
          if (append.events.length === 0) results.push({ streamId: append.streamId, version: actual, positions: [] })
          else fresh++
        }
        if (fresh === 0) return results
        // some were retries and others new: a mix is never a clean retry
        if (retries > 0) {
          return yield* Effect.fail(mixedRetry(
            results.find((r) => r.duplicate === true)?.streamId ?? appends[0].streamId,
            stored.map((s) => s.eventId)
          ))
        }
        return undefined
      })

    type Attempted = Effect.Effect<ReadonlyArray<AppendResult>, Exclude<AppendFailure, SqlError> | EventStoreError>

    /** One call of `appendMany`, validated and encoded. */
    interface Call {
      readonly appends: ReadonlyArray<StreamAppend>
      readonly encoded: ReadonlyArray<ReadonlyArray<EncodedEvent>>
      /** More than one statement: run in a transaction to stay all or nothing. */
      readonly several: boolean
      readonly now: number
    }

    const attempt = (call: Call, tries: number): Attempted =>
      Effect.catchAll(
        atomically(
          (run) =>
            call.appends.length === 1
              ? Effect.map(insertStream(call.appends[0], call.encoded[0], call.now, run), (result) => [result])
              : Effect.forEach(call.appends, (append, i) => insertStream(append, call.encoded[i], call.now, run)),
          call.several
        ),
        (error) => recover(error, call, tries)
      )

    /** After a failed insert: a store error, the earlier result of a retried append, or another try. */
    const recover = (error: AppendFailure | NotInserted, call: Call, tries: number): Attempted =>
      error._tag === "SqlError"
        ? isDeadlock(error) && tries < 20 ? attempt(call, tries + 1) : Effect.fail(storeError("append")(error))
        : error._tag !== "NotInserted"
        ? Effect.fail(error)
        : Effect.flatMap(
          Effect.catchTag(diagnose(call.appends), "SqlError", (e) => Effect.fail(storeError("append")(e))),
          (retried) =>
            retried !== undefined
              ? Effect.succeed(retried)
              : tries < 20
              // a concurrent writer moved a stream that this call had no exact expectation of
              ? attempt(call, tries + 1)
              : Effect.fail(
                new EventStoreError({
                  operation: "append",
                  cause: new Error("too much contention on the appended streams")
                })
              )
        )

    // The common case on a driver, one stream outside a caller's transaction: the statement's
    // callback checks what it inserted, so the append takes two effect steps in all; anything
    // else (a refusal, an error) goes the general way.
    const appendAlone = (call: Call, prepared: NonNullable<Driver["prepared"]>): Attempted =>
      Effect.async((resume) => {
        const append = call.appends[0]
        const events = call.encoded[0]
        const { name, params, text } = pgAppend(append, events, call.now, true)
        prepared<AppendedRow>(name, text, params, (error, rows) => {
          if (error === undefined && rows.length === events.length) {
            return resume(Effect.succeed([toResult(append.streamId, rows)]))
          }
          resume(recover(error === undefined || isUniqueViolation(error) ? new NotInserted() : error, call, 0))
        })
      })

    type DirectFailure = NotInserted | SqlError | typeof Busy
    const failed = (outcome: unknown): outcome is DirectFailure =>
      outcome === Busy || outcome instanceof NotInserted || outcome instanceof SqlError

    /** Inserts one stream's events on the direct connection, `rowsEach` rows a statement. */
    const insertDirect = (
      append: StreamAppend,
      events: ReadonlyArray<EncodedEvent>,
      now: number,
      rowsEach: number,
      connection: DirectConnection
    ): AppendResult | DirectFailure => {
      const expected = append.expected
      let after = expected._tag === "Exact" ? expected.version : 0
      if (expected._tag === "Any" || expected._tag === "StreamExists") {
        const row = connection.get<{ v: number }>(sqliteVersionText, [append.streamId])
        if (failed(row)) return row
        after = row?.v ?? 0
        if (expected._tag === "StreamExists" && after === 0) return new NotInserted()
      }
      const positions: Array<number> = []
      for (const statement of sqliteAppend(append.streamId, after, events, now, rowsEach)) {
        const result = connection.run(statement.text, statement.params)
        if (failed(result)) return result instanceof SqlError && refused(result) ? new NotInserted() : result
        if (!collectPositions(result, statement.rows, positions)) return new NotInserted()
      }
      return { streamId: append.streamId, version: after + events.length, positions }
    }

    // SQLite outside a caller's transaction, on the driver's own connection: the whole append runs
    // synchronously, in no effect step. One stream and one statement: in its own implicit
    // transaction. Several streams or many events: in one transaction, one prepared single-row
    // INSERT per event (measured: faster than statements of 500 rows once no statement pays the
    // client's cost). `undefined` when another connection holds the write lock or a transaction
    // runs on the client; a refusal or an error goes the general way.
    const appendDirect = (call: Call, connection: DirectConnection): Attempted | undefined => {
      const outcome = call.several
        ? connection.transaction(() => {
          const results: Array<AppendResult> = []
          for (let i = 0; i < call.appends.length; i++) {
            const result = insertDirect(call.appends[i], call.encoded[i], call.now, 1, connection)
            if (failed(result)) return result
            results.push(result)
          }
          return results
        }, Array.isArray)
        : insertDirect(call.appends[0], call.encoded[0], call.now, rowsPerStatement, connection)
      if (outcome === Busy) return undefined
      if (outcome instanceof SqlError) return recover(refused(outcome) ? new NotInserted() : outcome, call, 0)
      if (outcome instanceof NotInserted) return recover(outcome, call, 0)
      return Effect.succeed(Array.isArray(outcome) ? outcome : [outcome])
    }

    // Validation and encoding are synchronous, and so is the bookkeeping after the write: an
    // append costs few effect steps besides its statement.
    const appendMany: Service["appendMany"] = (appends) =>
      Effect.withFiberRuntime((fiber): ReturnType<Service["appendMany"]> => {
        const encoded = encodeAppends(appends)
        if (encoded instanceof InvalidRequest) return Effect.fail(encoded)
        let total = 0
        for (const events of encoded) total += events.length
        const started = clock.unsafeCurrentTimeMillis()
        const labels = fiber.getFiberRef(FiberRef.currentMetricLabels)
        const written = (results: ReadonlyArray<AppendResult>): ReturnType<Service["appendMany"]> => {
          const took = clock.unsafeCurrentTimeMillis() - started
          signal()
          afterAppend?.()
          appendDuration.unsafeUpdate(Duration.millis(took), labels)
          if (took <= slowAppend) return Effect.succeed(results)
          slowAppends.unsafeUpdate(1, labels)
          return Effect.as(
            Effect.logWarning(`event store append of ${total} events took ${took} ms (locks, I/O or size)`),
            results
          )
        }
        const call: Call = {
          appends,
          encoded,
          several: appends.length > 1 || (dialect === "sqlite" && total > rowsPerStatement),
          now: started
        }
        const outside = Option.isNone(Context.getOption(fiber.currentContext, SqlClient.TransactionConnection))
        if (outside && prepared !== undefined && appends.length === 1 && total > 0) {
          return Effect.flatMap(appendAlone(call, prepared), written)
        }
        // an append with no events only checks its expectation: the general way does
        if (outside && direct !== undefined && encoded.every((events) => events.length > 0)) {
          const attempted = appendDirect(call, direct)
          if (attempted !== undefined) return Effect.flatMap(attempted, written)
        }
        return Effect.flatMap(attempt(call, 0), written)
      })

    // Readers stop below the oldest running transaction: every position under it is final (see
    // docs/decisions/0002). SQLite has one writer at a time, so everything committed is final.
    const safeBound = dialect === "pg"
      ? sql.literal(`position < pg_snapshot_xmin(pg_current_snapshot())::text::bigint * ${positionsPerTransaction}`)
      : sql.literal("1 = 1")

    // PostgreSQL reads through the client, with `pg`'s statement. SQLite reads outside a caller's
    // transaction run `text` on the store's own connection, with no effect step or per-statement
    // work of the client (a catch-up reads hundreds of pages); inside a transaction, or when the
    // connection fails, the client runs the same text, and so sees the transaction's writes.
    const selectRows = (
      pg: () => Effect.Effect<ReadonlyArray<unknown>, SqlError>,
      text: string,
      params: ReadonlyArray<unknown>
    ): Effect.Effect<ReadonlyArray<unknown>, SqlError> =>
      dialect === "pg" ? pg() : Effect.withFiberRuntime((fiber) => {
        const inTransaction = Option.isSome(Context.getOption(fiber.currentContext, SqlClient.TransactionConnection))
        const rows = direct === undefined || inTransaction ? Busy : direct.rows(text, params)
        return rows === Busy || rows instanceof SqlError ? sql.unsafe(text, params).values : Effect.succeed(rows)
      })

    const readStream: Service["readStream"] = (streamId, options = {}) =>
      Effect.gen(function*() {
        yield* validateStreamId(streamId)
        yield* validateFrom(streamId, options.from)
        const limit = Math.min(yield* readLimit(options.limit, streamId), 1_000_000_000)
        const backwards = options.direction === "backwards"
        const from = Math.min(options.from ?? (backwards ? maxVersion : 1), maxVersion)
        const rows = yield* (backwards
          ? selectRows(
            () =>
              sql`SELECT ${sql.literal(columns)} FROM chronicle_events
                WHERE stream_id = ${streamId} AND version <= ${from} ORDER BY version DESC LIMIT ${limit}`.values,
            sqliteReads.streamBackwards,
            [streamId, from, limit]
          )
          : selectRows(
            () =>
              sql`SELECT ${sql.literal(columns)} FROM chronicle_events
                WHERE stream_id = ${streamId} AND version >= ${from} ORDER BY version ASC LIMIT ${limit}`.values,
            sqliteReads.streamForwards,
            [streamId, from, limit]
          )).pipe(Effect.mapError(storeError("readStream")))
        const deleted = yield* selectRows(
          () => sql`SELECT stream_id FROM chronicle_tombstones WHERE stream_id = ${streamId}`.values,
          sqliteReads.tombstone,
          [streamId]
        ).pipe(Effect.mapError(storeError("readStream")))
        if (deleted.length > 0) return yield* Effect.fail(new StreamDeleted({ streamId }))
        return (rows as ReadonlyArray<EventRow>).map(recorded)
      })

    const readAll: Service["readAll"] = (options = {}) =>
      Effect.gen(function*() {
        const limit = Math.min(yield* readLimit(options.limit), 1_000_000_000)
        const from = options.from ?? 0
        if (!Number.isInteger(from) || from < 0) {
          return yield* Effect.fail(
            new InvalidRequest({ streamId: "", reason: `position must be a non-negative integer, got ${from}` })
          )
        }
        const filter = options.filter
        const [where, text, params] = filter === undefined || filter._tag === "All"
          ? [() => sql`position > ${from}`, sqliteReads.all, [from, limit]]
          : filter._tag === "Stream"
          ? [() => sql`stream_id = ${filter.streamId} AND position > ${from}`, sqliteReads.stream, [
            filter.streamId,
            from,
            limit
          ]]
          : [() => sql`category = ${filter.category} AND position > ${from}`, sqliteReads.category, [
            filter.category,
            from,
            limit
          ]]
        const rows = yield* selectRows(
          () =>
            sql`SELECT ${sql.literal(columns)} FROM chronicle_events
              WHERE ${where()} AND ${safeBound} ORDER BY position ASC LIMIT ${limit}`.values,
          text,
          params
        ).pipe(Effect.mapError(storeError("readAll")))
        return (rows as ReadonlyArray<EventRow>).map(recorded)
      })

    // on the same connection as the pages a subscription reads after it: a head read on the client
    // inside another fiber's open transaction could count rows that page does not see
    const head = selectRows(
      () => sql`SELECT max(position) AS head FROM chronicle_events WHERE ${safeBound}`.values,
      sqliteReads.head,
      []
    ).pipe(
      Effect.map((rows) => Number((rows as ReadonlyArray<readonly [number | string | null]>)[0]?.[0] ?? 0)),
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
        yield* validateDelete(streamId, expected)
        const now = yield* Clock.currentTimeMillis
        const refusal = Effect.gen(function*() {
          const deleted = yield* tombstonesOf([streamId])
          if (deleted.has(streamId)) return yield* Effect.fail(new StreamDeleted({ streamId }))
          const versions = yield* versionsOf([streamId])
          return yield* Effect.fail(wrongVersion({ streamId, events: [], expected }, versions.get(streamId) ?? 0))
        })
        if (dialect === "pg") {
          // Serialized with appends (docs/decisions/0009): the lock waits for every transaction that
          // inserted events to end, and makes later inserts wait for this one, so the version read
          // below is final and every append after it sees the tombstone.
          return yield* sql.withTransaction(Effect.gen(function*() {
            yield* sql`LOCK TABLE chronicle_events IN SHARE ROW EXCLUSIVE MODE`
            const version = (yield* versionsOf([streamId])).get(streamId) ?? 0
            const inserted = ExpectedVersion.matches(expected, version)
              ? yield* sql<{ stream_id: string }>`
                INSERT INTO chronicle_tombstones (stream_id, deleted_at) VALUES (${streamId}, ${now})
                ON CONFLICT (stream_id) DO NOTHING RETURNING stream_id`
              : []
            if (inserted.length === 0) return yield* refusal
          }))
        }
        // SQLite has one writer at a time: the check and the insert are one statement
        const current =
          sql`coalesce((SELECT max(g.version) FROM chronicle_events g WHERE g.stream_id = ${streamId}), 0)`
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
        if (inserted.length === 0) return yield* refusal
      }).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(storeError("deleteStream")(e))))

    const saveSnapshot: Service["saveSnapshot"] = (streamId, snapshot) =>
      Effect.gen(function*() {
        const state = yield* encodeSnapshot(streamId, snapshot)
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
      yield* options.wakeups.pipe(Stream.runForEach(() => Effect.sync(signal)), Effect.forkScoped)
    }

    // On PostgreSQL, an open transaction that wrote events holds readers below its position;
    // after a while that is worth saying, with who holds it.
    let heldSince: number | undefined
    let warned = false
    const checkHeldBack = Effect.gen(function*() {
      const [row] = yield* sql<{ newest: string | number | null; safe: string | number | null; xmin: string }>`
        SELECT (SELECT max(position) FROM chronicle_events) AS newest,
          (SELECT max(position) FROM chronicle_events WHERE ${safeBound}) AS safe,
          pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`
      const now = yield* Clock.currentTimeMillis
      if (row === undefined || Number(row.newest ?? 0) <= Number(row.safe ?? 0)) {
        heldSince = undefined
        warned = false
        return yield* Metric.set(heldBack, 0)
      }
      heldSince ??= now
      yield* Metric.set(heldBack, (now - heldSince) / 1000)
      if (!warned && now - heldSince >= heldBackAfter) {
        warned = true
        const holders = yield* sql<
          { pid: number; xact_start: Date | null; state: string | null; query: string | null }
        >`
          SELECT pid, xact_start, state, left(query, 200) AS query FROM pg_stat_activity WHERE backend_xid::text = ${row.xmin}`
        yield* Effect.logWarning(
          `event store readers have been held back for ${now - heldSince} ms by open transaction ${row.xmin}` +
            (holders.length > 0 ? ` (pid ${holders[0].pid}, ${holders[0].state}: ${holders[0].query})` : "") +
            `: events committed after it become visible once it commits or rolls back`
        )
      }
    }).pipe(Effect.catchAll(() => Effect.void))

    // other processes write too, so a local signal only shortens the wait; the poll bounds it
    const awaitChange = () =>
      Effect.suspend(() => {
        wake ??= Deferred.unsafeMake<void>(FiberId.none)
        return Deferred.await(wake).pipe(
          Effect.race(Effect.sleep(pollInterval)),
          Effect.zipRight(dialect === "pg" ? checkHeldBack : Effect.void)
        )
      })

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
