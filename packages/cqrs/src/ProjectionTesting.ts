/**
 * Testing projections: given events, then the read model holds ... . Applies events through a
 * projection's handlers in an in-memory SQLite database (or any `SqlClient` you provide).
 *
 * @since 0.1.0
 */
import type { Serializer } from "@chronicle/eventstore"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer } from "effect"
import type { Projection } from "./Projection.js"
import { handles } from "./Projection.js"

/**
 * A fresh in-memory SQLite database for one test.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<SqlClient.SqlClient | SqliteClient.SqliteClient> = SqliteClient.layer({
  filename: ":memory:"
}).pipe(Layer.orDie)

/**
 * Sets the projection up and applies the events, as stored events of the given streams, in one
 * transaction. Then query the read model and assert.
 *
 * @example
 * ```ts
 * it.effect("titles follow renames", () =>
 *   Effect.gen(function*() {
 *     yield* ProjectionTesting.given(DocumentTitles, serializer, [
 *       ["Document-1", DocumentCreated.make({ documentId: "1", title: "a" })],
 *       ["Document-1", DocumentRenamed.make({ documentId: "1", oldTitle: "a", newTitle: "b" })]
 *     ])
 *     const sql = yield* SqlClient.SqlClient
 *     assert.deepStrictEqual(yield* sql`SELECT title FROM titles`, [{ title: "b" }])
 *   }).pipe(Effect.provide(ProjectionTesting.layer)))
 * ```
 *
 * @since 0.1.0
 * @category testing
 */
export const given = <A extends { readonly _tag: string }, E, R>(
  projection: Projection<E, R>,
  serializer: Serializer.Serializer<A>,
  events: ReadonlyArray<readonly [streamId: string, event: A]>
): Effect.Effect<void, E | SqlError, R | SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* projection.setup
    const versions = new Map<string, number>()
    const recorded = events.map(([streamId, event], i) => {
      const version = (versions.get(streamId) ?? 0) + 1
      versions.set(streamId, version)
      const data = serializer.encode(event)
      return {
        eventId: data.eventId,
        streamId,
        streamVersion: version,
        globalPosition: i + 1,
        type: data.type,
        schemaVersion: data.schemaVersion ?? 1,
        timestamp: new Date(0),
        correlationId: null,
        causationId: null,
        metadata: {},
        data: JSON.parse(JSON.stringify(data.data)) as unknown
      }
    }).filter((e) => handles(projection, e))
    yield* sql.withTransaction(
      projection.applyBatch !== undefined
        ? projection.applyBatch(recorded)
        : Effect.forEach(recorded, projection.apply, { discard: true })
    )
  })
