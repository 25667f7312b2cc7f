import { EventStore, ExpectedVersion } from "@chronicle/eventstore"
import { ContentHash, Enrichment, Pipeline } from "@chronicle/pipeline"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Either, Exit, Option, TestClock } from "effect"

interface Doc {
  readonly id: string
  readonly content: string
}

const enrich = Enrichment.make({ streamId: (doc: Doc) => `Document-${doc.id}` })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) return assert.fail("expected a failure")
  return Option.getOrElse(Cause.failureOption(exit.cause), () => assert.fail(Cause.pretty(exit.cause)))
}

const seed = (streamId: string, count: number) =>
  Effect.flatMap(EventStore.EventStore, (store) =>
    store.append(
      streamId,
      Array.from({ length: count }, (_, i) => ({ eventId: `${streamId}-${i}`, type: "Seeded", data: { i } })),
      ExpectedVersion.Any
    ))

describe("Enrichment.make", () => {
  it.effect("adds the Clock's time, the stream's next version and the content hash", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2025, 4, 6, 7, 8, 9))
      yield* seed("Document-a", 2)
      const doc = { id: "a", content: "hello" }
      const result = yield* Pipeline.run(enrich, doc)
      assert.strictEqual(result.output.data, doc)
      assert.strictEqual(result.output.timestamp.toISOString(), "2025-05-06T07:08:09.000Z")
      assert.strictEqual(result.output.version, 3)
      assert.strictEqual(result.output.hash, ContentHash.sha256Hex("{\"content\":\"hello\",\"id\":\"a\"}"))
      assert.deepStrictEqual(result.metadata, { enriched: true, fieldsAdded: ["timestamp", "version", "hash"] })
      assert.strictEqual(result.steps[0].step, "enrich")
    }).pipe(Effect.provide(EventStore.layerMemory)))

  it.effect("a new stream's next version is 1", () =>
    Effect.gen(function*() {
      const result = yield* Pipeline.run(enrich, { id: "fresh", content: "" })
      assert.strictEqual(result.output.version, 1)
    }).pipe(Effect.provide(EventStore.layerMemory)))

  it.effect("hashOf chooses what is hashed", () =>
    Effect.gen(function*() {
      const byContent = Enrichment.make({
        streamId: (doc: Doc) => doc.id,
        hashOf: (doc) => doc.content,
        name: "enrich-content"
      })
      const result = yield* Pipeline.run(byContent, { id: "b", content: "text" })
      assert.strictEqual(result.output.hash, ContentHash.sha256Hex("\"text\""))
      assert.strictEqual(result.steps[0].step, "enrich-content")
    }).pipe(Effect.provide(EventStore.layerMemory)))

  it.effect("a deleted stream fails with StreamDeleted", () =>
    Effect.gen(function*() {
      yield* seed("Document-gone", 1)
      const store = yield* EventStore.EventStore
      yield* store.deleteStream("Document-gone")
      const failure = failureOf(yield* Effect.exit(Pipeline.run(enrich, { id: "gone", content: "" })))
      assert.strictEqual(failure.step, "enrich")
      assert.strictEqual(failure.error._tag, "StreamDeleted")
    }).pipe(Effect.provide(EventStore.layerMemory)))

  it.effect("data without a canonical JSON encoding fails with NotCanonicalJson", () =>
    Effect.gen(function*() {
      const loose = Enrichment.make({ streamId: (_: { readonly n: number }) => "Loose-1" })
      const failure = failureOf(yield* Effect.exit(Pipeline.run(loose, { n: Number.POSITIVE_INFINITY })))
      assert.strictEqual(failure.error._tag, "NotCanonicalJson")
      assert.isTrue(failure.error._tag === "NotCanonicalJson" && failure.error.path === "$.n")
    }).pipe(Effect.provide(EventStore.layerMemory)))

  it.effect("the building blocks work on their own", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000)
      assert.strictEqual((yield* Enrichment.timestamp).getTime(), 1_000)
      yield* seed("Solo-1", 4)
      assert.strictEqual(yield* Enrichment.nextVersion("Solo-1"), 5)
      assert.strictEqual(yield* Enrichment.contentHash([1, 2]), Either.getOrThrow(ContentHash.hash([1, 2])))
    }).pipe(Effect.provide(EventStore.layerMemory)))
})
