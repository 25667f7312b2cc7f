/**
 * The event store on any `@effect/sql` client: SQLite or PostgreSQL. The layer leaves `SqlClient`
 * in its requirements, so the app chooses the driver.
 *
 * @since 0.1.0
 */
import type { SqlClient } from "@effect/sql"
import type { Effect, Scope } from "effect"
import { Layer } from "effect"
import { EventStore } from "./EventStore.js"
import type { Service } from "./EventStore.js"
import type { EventStoreError } from "./EventStoreError.js"
import type { SqlOptions } from "./internal/sql.js"
import { appendDuration, heldBack, makeSql, slowAppends } from "./internal/sql.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends SqlOptions {}

/**
 * Builds the service, running the adapter's migrations first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<Service, EventStoreError, SqlClient.SqlClient | Scope.Scope> =
  makeSql

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<EventStore, EventStoreError, SqlClient.SqlClient> =>
  Layer.scoped(EventStore, makeSql(options))

/**
 * The adapter's metrics: append durations, appends slower than `slowAppend`, and (PostgreSQL) how
 * long readers have been held back by an open transaction that wrote events.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = { appendDuration, slowAppends, heldBack } as const
