/**
 * Inline projections: read models updated in the same transaction as the append, so they are
 * always consistent with the events; a failing handler fails the append and nothing is written.
 *
 * @since 0.1.0
 */
import { EventStore, EventStoreError } from "@chronicle/eventstore"
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Layer } from "effect"
import type { Projection } from "./Projection.js"
import { handles } from "./Projection.js"

/** The stored form of what an append wrote, for the handlers. */
const recordedOf = (
  appends: ReadonlyArray<EventStore.StreamAppend>,
  results: ReadonlyArray<EventStore.AppendResult>,
  now: Date
): Array<EventStore.RecordedEvent> =>
  appends.flatMap((append, i) => {
    const result = results[i]
    // a retry of an earlier append wrote nothing, so its events were applied the first time
    if (result.duplicate === true) return []
    const first = result.version - append.events.length
    return append.events.map((event, n) => ({
      eventId: event.eventId,
      streamId: append.streamId,
      streamVersion: first + n + 1,
      globalPosition: result.positions[n],
      type: event.type,
      schemaVersion: event.schemaVersion ?? 1,
      timestamp: now,
      correlationId: event.correlationId ?? null,
      causationId: event.causationId ?? null,
      metadata: event.metadata ?? {},
      // handlers see what a reader would: data as JSON, not the caller's objects
      data: JSON.parse(JSON.stringify(event.data)) as unknown
    }))
  })

/**
 * Wraps the `EventStore` so every append also runs these projections' handlers in its transaction.
 * Requires the store's `SqlClient` (the SQLite and PostgreSQL layers provide it).
 *
 * @example
 * ```ts
 * const StoreLive = InlineProjections.layer([DocumentTitles]).pipe(
 *   Layer.provideMerge(SqliteEventStore.layer({ filename: "app.db" }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E, R>(
  projections: ReadonlyArray<Projection<E, R>>
): Layer.Layer<EventStore.EventStore, E, EventStore.EventStore | SqlClient.SqlClient | R> =>
  Layer.effect(
    EventStore.EventStore,
    Effect.gen(function*() {
      const inner = yield* EventStore.EventStore
      const sql = yield* SqlClient.SqlClient
      const context = yield* Effect.context<R>()
      yield* Effect.forEach(projections, (p) => p.setup, { discard: true })

      const appendMany: EventStore.Service["appendMany"] = (appends) =>
        sql.withTransaction(Effect.gen(function*() {
          const results = yield* inner.appendMany(appends)
          const recorded = recordedOf(appends, results, new Date(yield* Clock.currentTimeMillis))
          for (const projection of projections) {
            const mine = recorded.filter((e) => handles(projection, e))
            if (mine.length === 0) continue
            yield* Effect.provide(
              projection.applyBatch !== undefined
                ? projection.applyBatch(mine)
                : Effect.forEach(mine, projection.apply, { discard: true }),
              context
            ).pipe(
              // the handler's failure (or a throw) rolls the append back and reaches the caller as a
              // store failure
              Effect.catchAllDefect(Effect.fail),
              Effect.mapError((cause) =>
                new EventStoreError.EventStoreError({ operation: `inline projection ${projection.name}`, cause })
              )
            )
          }
          return results
        })).pipe(
          Effect.catchTag(
            "SqlError",
            (cause) => Effect.fail(new EventStoreError.EventStoreError({ operation: "append", cause }))
          )
        )

      return {
        ...inner,
        append: (streamId, events, expected) =>
          Effect.map(appendMany([{ streamId, events, expected }]), (results) => results[0]),
        appendMany
      }
    })
  )
