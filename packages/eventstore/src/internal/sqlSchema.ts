// The SQL adapter's tables, created by its own migrations in its own migrations table.
import { SqlClient } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import { Effect, Schedule } from "effect"
import { EventStoreError } from "../EventStoreError.js"

const createTables = Effect.gen(function*() {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  yield* sql.onDialectOrElse({
    pg: () =>
      sql`CREATE TABLE IF NOT EXISTS chronicle_events (
        position BIGSERIAL PRIMARY KEY,
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

const run = Migrator.make({})({
  loader: Migrator.fromRecord({ "0001_create_tables": createTables }),
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
