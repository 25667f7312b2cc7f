/**
 * The event store on an embedded SQLite file (WAL mode) through `@effect/sql-sqlite-node`.
 * Several processes may share one file. Also provides the `SqlClient`, so read models and inline
 * projections can write in the same transactions as appends.
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { SqlError } from "@effect/sql/SqlError"
import type BetterSqlite3 from "better-sqlite3"
import type { Config, ConfigError } from "effect"
import { Context, Duration, Effect, Layer } from "effect"
import { mkdirSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname } from "node:path"
import { EventStore } from "./EventStore.js"
import { EventStoreError } from "./EventStoreError.js"
import type { DirectConnection } from "./internal/sql.js"
import { Busy, makeSql } from "./internal/sql.js"
import type * as SqlEventStore from "./SqlEventStore.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends SqlEventStore.Options {
  /** The database file; its folder is created if missing. */
  readonly filename: string
  /**
   * `FULL` (the default) makes an append survive a power cut once it returns; `NORMAL` only a
   * process crash, and is faster.
   */
  readonly synchronous?: "FULL" | "NORMAL"
  /** How long a writer waits for another process's write lock (default 5 s). */
  readonly busyTimeout?: Duration.DurationInput
}

/**
 * The SQLite client with Chronicle's connection settings: WAL, synchronous, busy timeout.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (
  options: Options
): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient, EventStoreError> => clientCounting(options, { open: 0 })

/** Transactions running on the client, which the direct connection must not commit beside. */
interface Transactions {
  open: number
}

// The client, counting the transactions that run on it: a commit on the direct connection while one
// is open could make that transaction's first write after a read fail (SQLITE_BUSY_SNAPSHOT).
const clientCounting = (options: Options, transactions: Transactions) => {
  const settings = Layer.effectDiscard(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(`PRAGMA busy_timeout = ${Duration.toMillis(options.busyTimeout ?? "5 seconds")}`)
      yield* sql.unsafe(`PRAGMA synchronous = ${options.synchronous ?? "FULL"}`)
    }).pipe(Effect.orDie)
  )
  const client = Layer.scopedContext(Effect.gen(function*() {
    if (options.filename !== ":memory:") mkdirSync(dirname(options.filename), { recursive: true })
    const client = yield* SqliteClient.make({ filename: options.filename })
    const withTransaction = client.withTransaction
    // the client is ours, made just above: its transactions are counted, nothing else changes
    Object.assign(client, {
      withTransaction: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.acquireUseRelease(
          Effect.sync(() => transactions.open++),
          () => withTransaction(effect),
          () => Effect.sync(() => transactions.open--)
        )
    })
    return Context.make(SqliteClient.SqliteClient, client).pipe(Context.add(SqlClient.SqlClient, client))
  })).pipe(
    Layer.provide(Reactivity.layer),
    Layer.mapError((cause) => new EventStoreError({ operation: "connect", cause }))
  )
  return Layer.provideMerge(settings, client)
}

/**
 * The event store on a SQLite file, with the client it uses.
 *
 * @example
 * ```ts
 * const StoreLive = SqliteEventStore.layer({ filename: "./data/chronicle.db" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<EventStore | SqliteClient.SqliteClient | SqlClient.SqlClient, EventStoreError> =>
  Layer.unwrapEffect(Effect.sync(() => {
    const transactions: Transactions = { open: 0 }
    return Layer.provideMerge(
      Layer.scoped(
        EventStore,
        Effect.flatMap(
          directConnection(options, transactions),
          (direct) => makeSql(options, direct === undefined ? {} : { direct })
        )
      ),
      clientCounting(options, transactions)
    )
  }))

// the better-sqlite3 that @effect/sql-sqlite-node runs on, so the store adds no dependency of its own
const loadDriver = (): typeof BetterSqlite3 =>
  createRequire(createRequire(import.meta.url).resolve("@effect/sql-sqlite-node"))("better-sqlite3")

const isBusy = (cause: unknown) => String((cause as { code?: unknown }).code ?? "").startsWith("SQLITE_BUSY")

/**
 * A second connection to the file, for appends and reads (decision 0007). It never waits for
 * the write lock (timeout 0): when another process holds it, or a transaction is open on the
 * client, the append goes through the client, which waits. Opened once the client has put the
 * file in WAL mode; its statements are prepared on first use, after the store's migrations. None
 * for an in-memory database, which a second connection would not share.
 */
const directConnection = (options: Options, transactions: Transactions) =>
  Effect.gen(function*() {
    yield* SqlClient.SqlClient
    if (options.filename === ":memory:" || options.filename === "") return undefined
    const Database = loadDriver()
    const db = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const db = new Database(options.filename, { timeout: 0 })
          db.pragma(`synchronous = ${options.synchronous ?? "FULL"}`)
          return db
        },
        catch: (cause) => new EventStoreError({ operation: "connect", cause })
      }),
      (db) => Effect.sync(() => db.close())
    )
    // one prepared statement per text: the store's few statements, its INSERTs by row count
    const statements = new Map<string, BetterSqlite3.Statement>()
    const prepared = (text: string) => {
      let statement = statements.get(text)
      if (statement === undefined) {
        statement = db.prepare(text)
        statements.set(text, statement)
      }
      return statement
    }
    // reads return rows as arrays, on statements of their own kept in that mode
    const readers = new Map<string, BetterSqlite3.Statement>()
    const reader = (text: string) => {
      let statement = readers.get(text)
      if (statement === undefined) {
        statement = db.prepare(text).raw(true)
        readers.set(text, statement)
      }
      return statement
    }
    // a failed COMMIT may already have ended the transaction
    const rollback = () => {
      if (db.inTransaction) prepared("ROLLBACK").run()
    }
    const failure = (cause: unknown) =>
      isBusy(cause) ? Busy : new SqlError({ cause, message: "Failed to execute statement" })
    const connection: DirectConnection = {
      run: (text, params) => {
        if (transactions.open > 0) return Busy
        try {
          return prepared(text).run(...params)
        } catch (cause) {
          return failure(cause)
        }
      },
      get: <Row extends object>(text: string, params: ReadonlyArray<unknown>) => {
        if (transactions.open > 0) return Busy
        try {
          return prepared(text).get(...params) as Row | undefined
        } catch (cause) {
          return failure(cause)
        }
      },
      // a read needs no lock: it sees what was committed when it started, whatever the client does
      rows: (text, params) => {
        try {
          return reader(text).all(...params)
        } catch (cause) {
          return failure(cause)
        }
      },
      transaction: (body, keep) => {
        if (transactions.open > 0) return Busy
        try {
          prepared("BEGIN IMMEDIATE").run()
        } catch (cause) {
          return failure(cause)
        }
        try {
          const result = body()
          if (keep(result)) prepared("COMMIT").run()
          else rollback()
          return result
        } catch (cause) {
          rollback()
          return failure(cause)
        }
      }
    }
    return connection
  })

/**
 * The same, configured from `Config`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<Options>
): Layer.Layer<
  EventStore | SqliteClient.SqliteClient | SqlClient.SqlClient,
  EventStoreError | ConfigError.ConfigError
> => Layer.unwrapEffect(Effect.map(config, layer))
