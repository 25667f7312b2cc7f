// The append statements, per dialect, with their text cached: the hot path passes plain
// parameters and never compiles SQL fragments.
import type { StreamAppend } from "../EventStore.js"
import { categoryOf } from "../EventStore.js"

export type Dialect = "pg" | "sqlite"

/** The largest INTEGER both dialects store. */
export const maxVersion = 2_147_483_647

/**
 * PostgreSQL positions are `xid * 2^20 + n`: ordered like transaction ids, so a reader that stops
 * below the oldest running transaction (`pg_snapshot_xmin`) never skips a late committer.
 */
export const positionsPerTransaction = 1_048_576

/** One row per event, in the order the statement's parameters expect. */
export interface EncodedEvent {
  readonly eventId: string
  readonly type: string
  readonly schemaVersion: number
  readonly data: string
  readonly metadata: string
  readonly correlationId: string | null
  readonly causationId: string | null
}

/** Rows per SQLite statement: 11 parameters each stays far below SQLite's 32766. */
export const rowsPerStatement = 500

const columns =
  "event_id, stream_id, version, category, type, schema_version, data, metadata, correlation_id, causation_id, created_at"

const sqliteTexts = new Map<number, string>()
const sqliteText = (count: number) => {
  let text = sqliteTexts.get(count)
  if (text === undefined) {
    const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    text = `INSERT INTO chronicle_events (${columns}) VALUES ${Array.from({ length: count }, () => row).join(", ")}`
    sqliteTexts.set(count, text)
  }
  return text
}

/** SQLite: the number of events a stream holds. */
export const sqliteVersionText = "SELECT coalesce(max(version), 0) AS v FROM chronicle_events WHERE stream_id = ?"

/**
 * SQLite: plain inserts at versions `after + 1, after + 2, ...`, `rowsEach` rows a statement. The
 * unique (stream, version) index refuses a version already taken and a trigger refuses a gap or a
 * deleted stream, so a stale `after` inserts nothing.
 */
export const sqliteAppend = (
  streamId: string,
  after: number,
  events: ReadonlyArray<EncodedEvent>,
  now: number,
  rowsEach = rowsPerStatement
): Array<{ readonly text: string; readonly params: Array<unknown>; readonly rows: number }> => {
  const category = categoryOf(streamId)
  const statements: Array<{ text: string; params: Array<unknown>; rows: number }> = []
  for (let start = 0; start < events.length; start += rowsEach) {
    const end = Math.min(start + rowsEach, events.length)
    const params: Array<unknown> = []
    for (let i = start; i < end; i++) {
      const e = events[i]
      params.push(
        e.eventId,
        streamId,
        after + i + 1,
        category,
        e.type,
        e.schemaVersion,
        e.data,
        e.metadata,
        e.correlationId,
        e.causationId,
        now
      )
    }
    statements.push({ text: sqliteText(end - start), params, rows: end - start })
  }
  return statements
}

// One event appended by itself, in a transaction of its own, as a prepared statement: a plain
// statement rather than the function (measured: about a third more appends a second at 8 writers,
// the server being the bottleneck). Being its transaction's only statement, its position is the
// transaction's first.
const pgSingleText = `INSERT INTO chronicle_events AS e (position, event_id, stream_id, version, category, type,
    schema_version, data, metadata, correlation_id, causation_id, created_at)
  SELECT pg_current_xact_id()::text::bigint * ${positionsPerTransaction} + 1, $1, $2, s.version + 1, $3, $4, $5,
    $6::jsonb, $7::jsonb, $8, $9, to_timestamp($10::double precision / 1000)
  FROM (SELECT coalesce(max(g.version), 0) AS version FROM chronicle_events g WHERE g.stream_id = $2) s
  WHERE NOT EXISTS (SELECT 1 FROM chronicle_tombstones t WHERE t.stream_id = $2)
    AND CASE $11::text WHEN 'Any' THEN true WHEN 'NoStream' THEN s.version = 0
      WHEN 'StreamExists' THEN s.version > 0 ELSE s.version = $12::integer END
  RETURNING e.position, e.version`

/**
 * PostgreSQL: the `chronicle_append` function checks the expectation and inserts in one call; a
 * single event in a prepared transaction of its own (`alone`) takes a plain statement instead.
 */
export const pgAppend = (
  append: StreamAppend,
  events: ReadonlyArray<EncodedEvent>,
  now: number,
  alone: boolean
): { readonly name: string; readonly text: string; readonly params: Array<unknown> } => {
  const { expected, streamId } = append
  // no stream reaches a version beyond an INTEGER: such an expectation is simply wrong, where the
  // parameter itself would fail
  const expectedVersion = expected._tag !== "Exact" ? 0 : expected.version <= maxVersion ? expected.version : -1
  if (alone && events.length === 1) {
    const e = events[0]
    return {
      name: "chronicle_append_single",
      text: pgSingleText,
      params: [
        e.eventId,
        streamId,
        categoryOf(streamId),
        e.type,
        e.schemaVersion,
        e.data,
        e.metadata,
        e.correlationId,
        e.causationId,
        now,
        expected._tag,
        expectedVersion
      ]
    }
  }
  // data and metadata are already JSON text: splice them in rather than parse and re-encode
  const rows = `[${
    events.map((e, i) =>
      `{"event_id":${JSON.stringify(e.eventId)},"seq":${i + 1},"type":${
        JSON.stringify(e.type)
      },"schema_version":${e.schemaVersion},"data":${e.data},"metadata":${e.metadata},"correlation_id":${
        JSON.stringify(e.correlationId)
      },"causation_id":${JSON.stringify(e.causationId)}}`
    ).join(",")
  }]`
  return {
    name: "chronicle_append_1",
    text: "SELECT out_position AS position, out_version AS version FROM chronicle_append($1, $2, $3, $4::json, $5, $6)",
    params: [streamId, categoryOf(streamId), now, rows, expected._tag, expectedVersion]
  }
}
