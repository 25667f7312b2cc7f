// The event store in memory: `pnpm --filter @chronicle/eventstore example:memory`.
import { EventStore, ExpectedVersion, Serializer } from "@chronicle/eventstore"
import { Chunk, Effect, Schema, Stream } from "effect"

const Created = Schema.TaggedStruct("Created", { title: Schema.String })
const Renamed = Schema.TaggedStruct("Renamed", { from: Schema.String, to: Schema.String })
const serializer = Serializer.make(Schema.Union(Created, Renamed))

export const program = (documentId: string) =>
  Effect.gen(function*() {
    const streamId = `Document-${documentId}`
    const store = yield* EventStore.EventStore
    const first = yield* store.append(
      streamId,
      [serializer.encode(Created.make({ title: "Draft" }))],
      ExpectedVersion.NoStream
    )
    yield* store.append(
      streamId,
      [serializer.encode(Renamed.make({ from: "Draft", to: "Plan" }), { correlationId: "req-1" })],
      ExpectedVersion.exact(first.version)
    )
    // a writer that lost the race gets a typed error
    const conflict = yield* Effect.flip(
      store.append(streamId, [serializer.encode(Created.make({ title: "x" }))], ExpectedVersion.exact(0))
    )
    console.log(conflict._tag, conflict.message)

    const history = yield* serializer.decodeAll(yield* store.readStream(streamId))
    console.log(history.map((e) => `${e.streamVersion} @${e.globalPosition}: ${JSON.stringify(e.data)}`))

    // catch up, then stay live, for every Document stream
    const seen = yield* store.subscribe({ filter: EventStore.category("Document") }).pipe(
      Stream.take(2),
      Stream.runCollect
    )
    console.log("subscription saw", Chunk.size(seen), "events")
  })

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program("1").pipe(Effect.provide(EventStore.layerMemory)))
}
