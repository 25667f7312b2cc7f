import { EventStore } from "@chronicle/eventstore"
import { Enrichment, Notification, Persistence, Pipeline, Step, Validation } from "@chronicle/pipeline"
import { Retry } from "@chronicle/resilience"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Option, Ref, Schema } from "effect"

// The seed's document pipeline, as in the README and examples/document-pipeline.ts.
const DocumentData = Schema.Struct({
  id: Schema.NonEmptyTrimmedString,
  content: Schema.String,
  metadata: Schema.Struct({ author: Schema.NonEmptyTrimmedString })
})
type DocumentData = typeof DocumentData.Type
type Saved = Persistence.Appended<Enrichment.Enriched<DocumentData>>

const streamOf = (doc: DocumentData) => `Document-${doc.id}`

const documentPipeline = (options: {
  readonly notify: (saved: Saved) => Effect.Effect<void>
  readonly afterEnrich?: Step.Step<Enrichment.Enriched<DocumentData>, Enrichment.Enriched<DocumentData>>
}) => {
  const persist = Persistence.toEventStore({
    streamId: (doc: Enrichment.Enriched<DocumentData>) => streamOf(doc.data),
    events: (doc) => [{
      eventId: `${doc.data.id}@${doc.version}#${doc.hash.slice(0, 8)}`,
      type: "DocumentSaved",
      data: doc.data,
      metadata: { contentHash: doc.hash }
    }],
    expected: Persistence.expectedFromEnriched
  }).pipe(Step.timeout("2 seconds"))
  const enrich = Enrichment.make({ streamId: streamOf })
  const enrichAndPersist = Pipeline.make(
    enrich,
    options.afterEnrich ?? Step.sync("pass", (doc: Enrichment.Enriched<DocumentData>) => doc),
    persist
  ).pipe(Step.retry(Retry.schedule({
    times: 3,
    base: "1 millis",
    jitter: false,
    while: (error: { readonly _tag: string }) => error._tag === "WrongExpectedVersion"
  })))
  return Pipeline.make(Validation.schema(DocumentData), enrichAndPersist, Notification.make(options.notify))
}

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) return assert.fail("expected a failure")
  return Option.getOrElse(Cause.failureOption(exit.cause), () => assert.fail(Cause.pretty(exit.cause)))
}

describe("the seed's document pipeline", () => {
  it.effect("validates, enriches, appends and notifies, gathering every step's metadata", () =>
    Effect.gen(function*() {
      const notified = yield* Ref.make<ReadonlyArray<string>>([])
      const pipeline = documentPipeline({
        notify: (saved) => Ref.update(notified, (all) => [...all, `${saved.append.streamId}@${saved.append.version}`])
      })
      const input: unknown = { id: "doc123", content: "Hello", metadata: { author: "user123" } }
      const first = yield* Pipeline.run(pipeline, input)
      const second = yield* Pipeline.run(pipeline, {
        id: "doc123",
        content: "Hello again",
        metadata: { author: "user123" }
      })
      assert.strictEqual(first.output.append.version, 1)
      assert.strictEqual(second.output.append.version, 2)
      assert.notStrictEqual(first.output.input.hash, second.output.input.hash)
      assert.deepStrictEqual(first.steps.map((record) => record.step), [
        "validate",
        "enrich",
        "pass",
        "persist",
        "notify"
      ])
      assert.deepStrictEqual(Object.keys(first.metadata).sort(), [
        "enriched",
        "fieldsAdded",
        "notified",
        "persisted",
        "streamId",
        "streamVersion",
        "validated"
      ])
      assert.deepStrictEqual(yield* Ref.get(notified), ["Document-doc123@1", "Document-doc123@2"])
      const store = yield* EventStore.EventStore
      const events = yield* store.readStream("Document-doc123")
      assert.deepStrictEqual(events.map((event) => event.metadata.contentHash), [
        first.output.input.hash,
        second.output.input.hash
      ])
    }).pipe(Effect.provide(EventStore.layerMemory)))

  it.effect("invalid input fails at validate with every issue and writes nothing", () =>
    Effect.gen(function*() {
      const pipeline = documentPipeline({ notify: () => Effect.void })
      const failure = failureOf(yield* Effect.exit(Pipeline.run(pipeline, { id: " ", metadata: { author: "" } })))
      assert.strictEqual(failure.step, "validate")
      assert.strictEqual(failure.error._tag, "ValidationFailed")
      assert.isTrue(failure.error._tag === "ValidationFailed" && failure.error.issues.length === 3)
      const store = yield* EventStore.EventStore
      assert.strictEqual(yield* store.head, 0)
    }).pipe(Effect.provide(EventStore.layerMemory)))

  it.live("two concurrent saves of one document both land: the loser re-enriches and retries", () =>
    Effect.gen(function*() {
      // Both runs wait here after enrichment, so both read version 0 before either appends.
      const arrived = yield* Ref.make(0)
      const bothEnriched = yield* Deferred.make<void>()
      const barrier = Step.tap(
        "barrier",
        (_: Enrichment.Enriched<DocumentData>) =>
          Effect.flatMap(
            Ref.updateAndGet(arrived, (n) => n + 1),
            (n) => n >= 2 ? Deferred.succeed(bothEnriched, undefined) : Deferred.await(bothEnriched)
          )
      )
      const pipeline = documentPipeline({ notify: () => Effect.void, afterEnrich: barrier })
      const [a, b] = yield* Effect.all([
        Pipeline.run(pipeline, { id: "race", content: "from A", metadata: { author: "a" } }),
        Pipeline.run(pipeline, { id: "race", content: "from B", metadata: { author: "b" } })
      ], { concurrency: 2 })
      assert.deepStrictEqual([a.output.append.version, b.output.append.version].sort(), [1, 2])
      assert.isAtLeast(yield* Ref.get(arrived), 3, "the losing run went through enrichment again")
      const store = yield* EventStore.EventStore
      const events = yield* store.readStream("Document-race")
      assert.deepStrictEqual(events.map((event) => Schema.decodeUnknownSync(DocumentData)(event.data).content).sort(), [
        "from A",
        "from B"
      ])
    }).pipe(Effect.provide(EventStore.layerMemory)))
})
