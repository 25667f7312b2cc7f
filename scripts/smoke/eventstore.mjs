// Runs in a scratch project where @chronicle/eventstore was installed from its tarball.
import { EventStore, ExpectedVersion, Serializer } from "@chronicle/eventstore"
import { PgEventStore } from "@chronicle/eventstore/pg"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { Effect, Schema } from "effect"
import assert from "node:assert/strict"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const Created = Schema.TaggedStruct("Created", { title: Schema.String })
const serializer = Serializer.make(Created)
const roundTrip = Effect.gen(function*() {
  const store = yield* EventStore.EventStore
  const id = `Doc-${crypto.randomUUID()}`
  yield* store.append(id, [serializer.encode(Created.make({ title: "t" }))], ExpectedVersion.NoStream)
  const [event] = yield* serializer.decodeAll(yield* store.readStream(id))
  assert.equal(event.data.title, "t")
})
await Effect.runPromise(roundTrip.pipe(Effect.provide(EventStore.layerMemory)))
const filename = join(mkdtempSync(join(tmpdir(), "smoke-")), "events.db")
await Effect.runPromise(roundTrip.pipe(Effect.provide(SqliteEventStore.layer({ filename }))))
assert.equal(typeof PgEventStore.layer, "function")
if (process.env.CHRONICLE_PG_URL) {
  await Effect.runPromise(roundTrip.pipe(Effect.provide(PgEventStore.layer({ url: process.env.CHRONICLE_PG_URL }))))
}
console.log("@chronicle/eventstore ok")
