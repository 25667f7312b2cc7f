// Where projections keep their state: checkpoints, leases and quarantined events, in SQL tables
// beside the read models, so a batch and its checkpoint commit together.
import { SqlClient } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Schedule } from "effect"

export interface Row {
  readonly name: string
  readonly position: number
  readonly state: string
  readonly lastError: string | null
  readonly owner: string | null
  readonly leaseUntil: number
  readonly updatedAt: number
}

export interface QuarantineRow {
  readonly projection: string
  readonly eventId: string
  readonly position: number
  readonly streamId: string
  readonly type: string
  readonly error: string
  readonly quarantinedAt: number
}

const createTables = Effect.gen(function*() {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  yield* sql`CREATE TABLE IF NOT EXISTS chronicle_projections (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'idle',
    last_error TEXT,
    owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL DEFAULT 0
  )`
  yield* sql`CREATE TABLE IF NOT EXISTS chronicle_projection_quarantine (
    projection TEXT NOT NULL,
    event_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    stream_id TEXT NOT NULL,
    type TEXT NOT NULL,
    error TEXT NOT NULL,
    quarantined_at BIGINT NOT NULL,
    PRIMARY KEY (projection, event_id)
  )`
})

const runMigrations = Migrator.make({})({
  loader: Migrator.fromRecord({ "0001_create_tables": createTables }),
  table: "chronicle_projections_migrations"
})

const toRow = (r: {
  name: string
  position: number | string
  state: string
  last_error: string | null
  owner: string | null
  lease_until: number | string
  updated_at: number | string
}): Row => ({
  name: r.name,
  position: Number(r.position),
  state: r.state,
  lastError: r.last_error,
  owner: r.owner,
  leaseUntil: Number(r.lease_until),
  updatedAt: Number(r.updated_at)
})

/** An event a rebuild quarantined while filling shadow tables: stored only if the swap commits. */
export interface Quarantined {
  readonly event: {
    readonly eventId: string
    readonly globalPosition: number
    readonly streamId: string
    readonly type: string
  }
  readonly error: string
  readonly at: number
}

export const make = Effect.gen(function*() {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  // several processes may start at once: retry until one has migrated
  yield* runMigrations.pipe(Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.intersect(Schedule.recurs(50)))))

  const ensure = (name: string) =>
    sql`INSERT INTO chronicle_projections (name) VALUES (${name}) ON CONFLICT (name) DO NOTHING`

  const get = (name: string): Effect.Effect<Row | undefined, SqlError> =>
    Effect.map(
      sql`SELECT * FROM chronicle_projections WHERE name = ${name}`,
      (rows) => rows[0] === undefined ? undefined : toRow(rows[0] as Parameters<typeof toRow>[0])
    )

  const all: Effect.Effect<ReadonlyArray<Row>, SqlError> = Effect.map(
    sql`SELECT * FROM chronicle_projections ORDER BY name`,
    (rows) => rows.map((r) => toRow(r as Parameters<typeof toRow>[0]))
  )

  /**
   * Takes the lease if it is free, expired or already ours, the projection has not failed, and no
   * rebuild has asked for it (a handover request lapses after three lease times, in case the
   * rebuild died before taking the lease: taking it then clears the request).
   */
  const acquire = (name: string, owner: string, now: number, ttl: number) =>
    Effect.map(
      sql`UPDATE chronicle_projections SET owner = ${owner}, lease_until = ${now + ttl}, updated_at = ${now},
          state = CASE WHEN state = 'handover' THEN 'idle' ELSE state END
        WHERE name = ${name} AND state <> 'failed' AND (owner IS NULL OR owner = ${owner} OR lease_until < ${now})
          AND NOT (state = 'handover' AND updated_at > ${now - 3 * ttl})
        RETURNING name`,
      (rows) => rows.length === 1
    )

  /** Asks the current owner to let go: its next checkpoint update fails and it releases. */
  const requestHandover = (name: string, now: number) =>
    sql`UPDATE chronicle_projections SET state = 'handover', updated_at = ${now} WHERE name = ${name} AND state <> 'rebuilding'`

  /** Takes the lease for a rebuild once the owner has let go (or its lease expired), even if failed. */
  const acquireForRebuild = (name: string, owner: string, now: number, ttl: number) =>
    Effect.map(
      sql`UPDATE chronicle_projections SET owner = ${owner}, lease_until = ${
        now + ttl
      }, state = 'rebuilding', updated_at = ${now}
        WHERE name = ${name} AND (owner IS NULL OR owner = ${owner} OR lease_until < ${now})
        RETURNING name`,
      (rows) => rows.length === 1
    )

  /**
   * Moves the checkpoint and renews the lease, only while we own it: in the batch's transaction,
   * a worker that lost its lease commits nothing.
   */
  const advance = (name: string, owner: string, position: number, state: string, now: number, ttl: number) =>
    Effect.map(
      sql`UPDATE chronicle_projections SET position = ${position}, state = ${state}, last_error = NULL,
          lease_until = ${now + ttl}, updated_at = ${now}
        WHERE name = ${name} AND owner = ${owner} AND state <> 'handover'
        RETURNING name`,
      (rows) => rows.length === 1
    )

  /** Renews the lease without moving the checkpoint (a rebuild filling shadow tables), while we own it. */
  const renew = (name: string, owner: string, now: number, ttl: number) =>
    Effect.map(
      sql`UPDATE chronicle_projections SET lease_until = ${now + ttl}, updated_at = ${now}
        WHERE name = ${name} AND owner = ${owner} AND state <> 'handover'
        RETURNING name`,
      (rows) => rows.length === 1
    )

  /**
   * A rebuild with swap: the checkpoint becomes the position the shadow tables reached, and the
   * shadow's quarantined events replace the live model's, only while the rebuild owns the lease.
   */
  const swapCheckpoint = (
    name: string,
    owner: string,
    position: number,
    quarantined: ReadonlyArray<Quarantined>,
    now: number,
    ttl: number
  ) =>
    Effect.gen(function*() {
      const owned = yield* sql`UPDATE chronicle_projections SET position = ${position}, last_error = NULL,
          lease_until = ${now + ttl}, updated_at = ${now}
        WHERE name = ${name} AND owner = ${owner} AND state = 'rebuilding'
        RETURNING name`
      if (owned.length !== 1) return false
      yield* sql`DELETE FROM chronicle_projection_quarantine WHERE projection = ${name}`
      yield* Effect.forEach(quarantined, (q) => quarantine(name, q.event, q.error, q.at), { discard: true })
      return true
    })

  /**
   * Lets go of the lease, if we still hold it: whether we did. A released handover stays a
   * handover, so other workers keep off until the rebuild takes it.
   */
  const release = (name: string, owner: string, state: string, lastError: string | null, now: number) =>
    Effect.map(
      sql`UPDATE chronicle_projections SET owner = NULL, lease_until = 0,
          state = CASE WHEN state = 'handover' THEN 'handover' ELSE ${state} END,
          last_error = ${lastError}, updated_at = CASE WHEN state = 'handover' THEN updated_at ELSE ${now} END
        WHERE name = ${name} AND owner = ${owner}
        RETURNING name`,
      (rows) => rows.length === 1
    )

  /** Lets a projection that stopped on a poison event run again; any other state is left as it is. */
  const resume = (name: string, now: number) =>
    sql`UPDATE chronicle_projections SET state = 'idle', last_error = NULL, updated_at = ${now}
      WHERE name = ${name} AND state = 'failed'`

  /** Moves the checkpoint back to the start, while we own the lease: whether we did. */
  const resetCheckpoint = (name: string, owner: string, now: number) =>
    Effect.gen(function*() {
      const owned = yield* sql`UPDATE chronicle_projections SET position = 0, last_error = NULL, updated_at = ${now}
        WHERE name = ${name} AND owner = ${owner}
        RETURNING name`
      if (owned.length !== 1) return false
      yield* sql`DELETE FROM chronicle_projection_quarantine WHERE projection = ${name}`
      return true
    })

  /**
   * Whether the checkpoint has passed a position, locking the projection's row until the
   * transaction ends on PostgreSQL, so a rebuild cannot move the checkpoint back meanwhile.
   */
  const passed = (name: string, position: number) =>
    Effect.map(
      sql.onDialectOrElse({
        pg: () =>
          sql`SELECT name FROM chronicle_projections WHERE name = ${name} AND position >= ${position} FOR UPDATE`,
        orElse: () => sql`SELECT name FROM chronicle_projections WHERE name = ${name} AND position >= ${position}`
      }),
      (rows) => rows.length === 1
    )

  const quarantine = (
    name: string,
    event: {
      readonly eventId: string
      readonly globalPosition: number
      readonly streamId: string
      readonly type: string
    },
    error: string,
    now: number
  ) =>
    sql`INSERT INTO chronicle_projection_quarantine (projection, event_id, position, stream_id, type, error, quarantined_at)
      VALUES (${name}, ${event.eventId}, ${event.globalPosition}, ${event.streamId}, ${event.type}, ${error}, ${now})
      ON CONFLICT (projection, event_id) DO UPDATE SET error = excluded.error, quarantined_at = excluded.quarantined_at`

  const quarantined = (name?: string): Effect.Effect<ReadonlyArray<QuarantineRow>, SqlError> =>
    Effect.map(
      name === undefined
        ? sql`SELECT * FROM chronicle_projection_quarantine ORDER BY projection, position`
        : sql`SELECT * FROM chronicle_projection_quarantine WHERE projection = ${name} ORDER BY position`,
      (rows) =>
        rows.map((r) => {
          const row = r as {
            projection: string
            event_id: string
            position: number | string
            stream_id: string
            type: string
            error: string
            quarantined_at: number | string
          }
          return {
            projection: row.projection,
            eventId: row.event_id,
            position: Number(row.position),
            streamId: row.stream_id,
            type: row.type,
            error: row.error,
            quarantinedAt: Number(row.quarantined_at)
          }
        })
    )

  const unquarantine = (name: string, eventId: string) =>
    sql`DELETE FROM chronicle_projection_quarantine WHERE projection = ${name} AND event_id = ${eventId}`

  /** Events after a position in the event store's table, for lag and rebuild totals. */
  const countAfter = (position: number, category: string | undefined) =>
    Effect.map(
      category === undefined
        ? sql<{ n: number | string }>`SELECT count(*) AS n FROM chronicle_events WHERE position > ${position}`
        : category.includes("-")
        // no stream's category has a dash
        ? Effect.succeed([{ n: 0 }])
        : sql.onDialectOrElse({
          // SQLite keeps no category index, but a category is a stream-id prefix ("Cat" and
          // "Cat-..."), and the (stream_id, version) index carries the position: counting in it
          // reads no event rows (PostgreSQL's collations need not order "-" before ".")
          sqlite: () =>
            sql<{ n: number | string }>`SELECT count(*) AS n FROM chronicle_events
              WHERE (stream_id = ${category} OR (stream_id >= ${`${category}-`} AND stream_id < ${`${category}.`}))
              AND position > ${position}`,
          orElse: () =>
            sql<{ n: number | string }>`SELECT count(*) AS n FROM chronicle_events
              WHERE category = ${category} AND position > ${position}`
        }),
      (rows) => Number(rows[0]?.n ?? 0)
    ).pipe(Effect.orElseSucceed(() => 0))

  return {
    sql,
    ensure,
    get,
    all,
    acquire,
    requestHandover,
    acquireForRebuild,
    advance,
    renew,
    swapCheckpoint,
    release,
    resume,
    resetCheckpoint,
    passed,
    quarantine,
    quarantined,
    unquarantine,
    countAfter
  }
})

export type ProjectionStore = Effect.Effect.Success<typeof make>
