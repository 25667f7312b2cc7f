// The SQL adapter's tables, created by its own migrations in its own migrations table.
import { SqlClient } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import { Effect, Schedule } from "effect"
import { EventStoreError } from "../EventStoreError.js"
import { positionsPerTransaction } from "./sqlStatements.js"

const createTables = Effect.gen(function*() {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  yield* sql.onDialectOrElse({
    pg: () =>
      sql`CREATE TABLE IF NOT EXISTS chronicle_events (
        -- xid * 2^20 + n: see docs/decisions/0002
        position BIGINT PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        stream_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        category TEXT NOT NULL,
        type TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        data JSONB NOT NULL,
        metadata JSONB NOT NULL,
        correlation_id TEXT,
        causation_id TEXT,
        created_at TIMESTAMPTZ NOT NULL,
        UNIQUE (stream_id, version)
      )`,
    orElse: () =>
      sql`CREATE TABLE IF NOT EXISTS chronicle_events (
        position INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        stream_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        category TEXT NOT NULL,
        type TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        data TEXT NOT NULL,
        metadata TEXT NOT NULL,
        correlation_id TEXT,
        causation_id TEXT,
        created_at INTEGER NOT NULL,
        UNIQUE (stream_id, version)
      )`
  })
  yield* sql`CREATE INDEX IF NOT EXISTS chronicle_events_category ON chronicle_events (category, position)`
  yield* sql`CREATE TABLE IF NOT EXISTS chronicle_tombstones (
    stream_id TEXT PRIMARY KEY,
    deleted_at BIGINT NOT NULL
  )`
  yield* sql.onDialectOrElse({
    pg: () =>
      sql`CREATE TABLE IF NOT EXISTS chronicle_snapshots (
        stream_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        schema_version INTEGER NOT NULL,
        state JSONB NOT NULL,
        created_at BIGINT NOT NULL
      )`,
    orElse: () =>
      sql`CREATE TABLE IF NOT EXISTS chronicle_snapshots (
        stream_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        schema_version INTEGER NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL
      )`
  })
})

// PostgreSQL appends go through a function: PL/pgSQL keeps its statements' plans per session, where
// a plain statement from the client would be planned again on every append.
const createAppendFunction = Effect.gen(function*() {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  yield* sql.onDialectOrElse({
    pg: () =>
      sql.unsafe(`CREATE OR REPLACE FUNCTION chronicle_append(
          p_stream text, p_category text, p_now bigint, p_rows json, p_kind text, p_expected integer)
        RETURNS TABLE (out_position bigint, out_version integer) LANGUAGE plpgsql AS $$
        DECLARE
          v_current integer;
          v_lo bigint;
          v_base bigint;
        BEGIN
          IF EXISTS (SELECT 1 FROM chronicle_tombstones t WHERE t.stream_id = p_stream) THEN RETURN; END IF;
          SELECT coalesce(max(e.version), 0) INTO v_current FROM chronicle_events e WHERE e.stream_id = p_stream;
          IF (p_kind = 'NoStream' AND v_current <> 0) OR (p_kind = 'StreamExists' AND v_current = 0)
            OR (p_kind = 'Exact' AND v_current <> p_expected) THEN
            RETURN;
          END IF;
          -- positions are xid * 2^20 + n (docs/decisions/0002); later statements of the same
          -- transaction continue after the ones before
          v_lo := pg_current_xact_id()::text::bigint * ${positionsPerTransaction};
          SELECT coalesce(max(e.position), v_lo) INTO v_base FROM chronicle_events e
            WHERE e.position > v_lo AND e.position < v_lo + ${positionsPerTransaction};
          RETURN QUERY
            INSERT INTO chronicle_events AS e (position, event_id, stream_id, version, category, type, schema_version,
              data, metadata, correlation_id, causation_id, created_at)
            SELECT v_base + r.seq, r.event_id, p_stream, v_current + r.seq, p_category, r.type, r.schema_version,
              r.data, r.metadata, r.correlation_id, r.causation_id, to_timestamp(p_now::double precision / 1000)
            FROM json_to_recordset(p_rows) AS r(event_id text, seq integer, type text, schema_version integer,
              data jsonb, metadata jsonb, correlation_id text, causation_id text)
            -- again here: this statement's snapshot is taken after its lock, so an insert that waited
            -- for deleteStream sees its tombstone (docs/decisions/0009)
            WHERE NOT EXISTS (SELECT 1 FROM chronicle_tombstones t WHERE t.stream_id = p_stream)
            ORDER BY r.seq
            RETURNING e.position, e.version;
        END
        $$`),
    orElse: () => Effect.void
  })
})

// SQLite appends are plain inserts at versions the writer computed; this trigger refuses a version
// that would leave a gap (a stale expectation) and any event for a deleted stream
const createSqliteGuard = Effect.gen(function*() {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  yield* sql.onDialectOrElse({
    sqlite: () =>
      sql.unsafe(`CREATE TRIGGER IF NOT EXISTS chronicle_events_guard BEFORE INSERT ON chronicle_events
        BEGIN
          SELECT RAISE(ABORT, 'chronicle: stream deleted')
            WHERE EXISTS (SELECT 1 FROM chronicle_tombstones WHERE stream_id = NEW.stream_id);
          SELECT RAISE(ABORT, 'chronicle: version gap')
            WHERE NEW.version > 1 AND NOT EXISTS (
              SELECT 1 FROM chronicle_events WHERE stream_id = NEW.stream_id AND version = NEW.version - 1);
        END`),
    orElse: () => Effect.void
  })
})

// On SQLite the category index cost about a sixth of each single-event append (one more B-tree
// page written per commit); category reads scan by position instead (decision 0005).
const dropSqliteCategoryIndex = Effect.gen(function*() {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  yield* sql.onDialectOrElse({
    sqlite: () => sql.unsafe("DROP INDEX IF EXISTS chronicle_events_category"),
    orElse: () => Effect.void
  })
})

const run = Migrator.make({})({
  loader: Migrator.fromRecord({
    "0001_create_tables": createTables,
    "0002_append_function": createAppendFunction,
    "0003_sqlite_guard": createSqliteGuard,
    "0004_sqlite_no_category_index": dropSqliteCategoryIndex,
    // the function as it is now, for databases that ran 0002 before its insert checked the tombstone
    "0005_append_function_checks_tombstone_on_insert": createAppendFunction
  }),
  table: "chronicle_eventstore_migrations"
})

/** Runs the adapter's migrations; several processes starting at once retry until one has won. */
export const migrate = (sql: SqlClient.SqlClient) =>
  run.pipe(
    Effect.provideService(SqlClient.SqlClient, sql),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.intersect(Schedule.recurs(50)))),
    Effect.mapError((cause) => new EventStoreError({ operation: "migrate", cause })),
    Effect.asVoid
  )
