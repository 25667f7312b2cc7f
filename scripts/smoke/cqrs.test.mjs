// Runs with Vitest in a scratch project where @chronicle/cqrs was installed from its tarball.
import { Projection } from "@chronicle/cqrs"
import { ProjectionTesting } from "@chronicle/cqrs/testing"
import { Serializer } from "@chronicle/eventstore"
import { SqlClient } from "@effect/sql"
import { assert, it } from "@effect/vitest"
import { Effect, Schema } from "effect"

const Named = Schema.TaggedStruct("Named", { name: Schema.String })
const serializer = Serializer.make(Named)
const Names = Projection.make({
  name: "names",
  serializer,
  setup: Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE TABLE names (id TEXT PRIMARY KEY, name TEXT)`),
  handlers: {
    Named: (e, envelope) =>
      Effect.flatMap(
        SqlClient.SqlClient,
        (sql) =>
          sql`INSERT INTO names (id, name) VALUES (${envelope.streamId}, ${e.name}) ON CONFLICT (id) DO UPDATE SET name = excluded.name`
      )
  }
})

it.effect("ProjectionTesting from the tarball", () =>
  Effect.gen(function*() {
    yield* ProjectionTesting.given(Names, serializer, [["P-1", Named.make({ name: "a" })], [
      "P-1",
      Named.make({ name: "b" })
    ]])
    const sql = yield* SqlClient.SqlClient
    assert.deepStrictEqual(yield* sql`SELECT name FROM names`, [{ name: "b" }])
  }).pipe(Effect.provide(ProjectionTesting.layer)))
