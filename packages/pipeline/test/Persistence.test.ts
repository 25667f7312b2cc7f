import { EventStore, ExpectedVersion } from "@chronicle/eventstore"
import { Enrichment, Persistence, Pipeline, Step } from "@chronicle/pipeline"
import { PersistenceManager, Storage } from "@chronicle/resilience"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Ref, Schedule } from "effect"

interface Doc {
  readonly id: string
  readonly content: string
}

const streamOf = (doc: Doc) => `Document-${doc.id}`

const persist = Persistence.toEventStore({
  streamId: (doc: Enrichment.Enriched<Doc>) => streamOf(doc.data),
  events: (doc) => [{
    eventId: `${doc.data.id}-${doc.version}`,
    type: "DocumentSaved",
    data: doc.data,
    metadata: { hash: doc.hash }
  }],
  expected: Persistence.expectedFromEnriched
})

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) return assert.fail("expected a failure")
  return Option.getOrElse(Cause.failureOption(exit.cause), () => assert.fail(Cause.pretty(exit.cause)))
}

describe("Persistence.toEventStore", () => {
  const pipeline = Pipeline.make(Enrichment.make({ streamId: streamOf }), persist)

  it.effect("appends the events to the stream and reports where they went", () =>
    Effect.gen(function*() {
      const result = yield* Pipeline.run(pipeline, { id: "p1", content: "first" })
      assert.strictEqual(result.output.append.streamId, "Document-p1")
      assert.strictEqual(result.output.append.version, 1)
      assert.strictEqual(result.output.input.data.content, "first")
      assert.deepStrictEqual(result.metadata, {
        enriched: true,
        fieldsAdded: ["timestamp", "version", "hash"],
        persisted: true,
        streamId: "Document-p1",
        streamVersion: 1
      })
      const second = yield* Pipeline.run(pipeline, { id: "p1", content: "second" })
      assert.strictEqual(second.output.append.version, 2)
      const store = yield* EventStore.EventStore
      const events = yield* store.readStream("Document-p1")
      assert.deepStrictEqual(events.map((event) => event.data), [{ id: "p1", content: "first" }, {
        id: "p1",
        content: "second"
      }])
      assert.strictEqual(events[1].metadata.hash, second.output.input.hash)
    }).pipe(Effect.provide(EventStore.layerMemory)))

  it.effect("a writer that appended after enrichment makes the append fail with WrongExpectedVersion", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const sneaky = Step.tap(
        "concurrent-writer",
        (_: Enrichment.Enriched<Doc>) =>
          store.append(
            "Document-p2",
            [{ eventId: "other-writer", type: "DocumentSaved", data: {} }],
            ExpectedVersion.Any
          )
      )
      const racing = Pipeline.make(Enrichment.make({ streamId: streamOf }), sneaky, persist)
      const failure = failureOf(yield* Effect.exit(Pipeline.run(racing, { id: "p2", content: "mine" })))
      assert.strictEqual(failure.step, "persist")
      assert.strictEqual(failure.error._tag, "WrongExpectedVersion")
      assert.deepStrictEqual(failure.metadata, { enriched: true, fieldsAdded: ["timestamp", "version", "hash"] })
      assert.strictEqual((yield* store.streamInfo("Document-p2")).version, 1)
    }).pipe(Effect.provide(EventStore.layerMemory)))

  it.effect("retrying enrich-then-persist on a version conflict reads the new version and succeeds", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const interfered = yield* Ref.make(false)
      const sneakyOnce = Step.tap("concurrent-writer", (_: Enrichment.Enriched<Doc>) =>
        Effect.whenEffect(
          Effect.zipRight(
            store.append("Document-p3", [{ eventId: "other", type: "DocumentSaved", data: {} }], ExpectedVersion.Any),
            Ref.set(interfered, true)
          ),
          Effect.map(Ref.get(interfered), (done) => !done)
        ))
      const retried = Pipeline.make(Enrichment.make({ streamId: streamOf }), sneakyOnce, persist).pipe(
        Step.retry({
          schedule: Schedule.recurs(2),
          while: (e: { readonly _tag: string }) => e._tag === "WrongExpectedVersion"
        })
      )
      const result = yield* Pipeline.run(retried, { id: "p3", content: "mine" })
      assert.strictEqual(result.output.append.version, 2)
      assert.strictEqual(result.output.input.version, 2)
      assert.deepStrictEqual(result.steps.map((record) => record.step), ["enrich", "concurrent-writer", "persist"])
    }).pipe(Effect.provide(EventStore.layerMemory)))

  it.effect("without an expectation it appends at any version", () =>
    Effect.gen(function*() {
      const anyVersion = Persistence.toEventStore({
        name: "append-any",
        streamId: (doc: Doc) => streamOf(doc),
        events: (doc) => [{ eventId: `${doc.id}-${doc.content}`, type: "DocumentSaved", data: doc }]
      })
      yield* Pipeline.run(anyVersion, { id: "p4", content: "a" })
      const result = yield* Pipeline.run(anyVersion, { id: "p4", content: "b" })
      assert.strictEqual(result.output.append.version, 2)
      assert.strictEqual(result.steps[0].step, "append-any")
    }).pipe(Effect.provide(EventStore.layerMemory)))
})

describe("Persistence.toPersistenceManager", () => {
  const managerLayer = PersistenceManager.layer({ resilience: false }).pipe(Layer.provideMerge(Storage.layerMemory))

  it.effect("stores the value under its key with critical priority by default", () =>
    Effect.gen(function*() {
      const persist = Persistence.toPersistenceManager({ key: (doc: Doc) => `document_${doc.id}` })
      const result = yield* Pipeline.run(persist, { id: "m1", content: "hello" })
      assert.deepStrictEqual(result.output, {
        input: { id: "m1", content: "hello" },
        key: "document_m1",
        priority: "critical"
      })
      assert.deepStrictEqual(result.metadata, { persisted: true, key: "document_m1", priority: "critical" })
      const manager = yield* PersistenceManager.PersistenceManager
      assert.deepStrictEqual(yield* manager.load("document_m1"), Option.some({ id: "m1", content: "hello" }))
      const storage = yield* Storage.Storage
      assert.isTrue(
        Option.isSome(yield* storage.kv.get("document_m1")),
        "a critical write is in storage when the step returns"
      )
    }).pipe(Effect.provide(managerLayer)))

  it.effect("value and priority can be chosen from the input", () =>
    Effect.gen(function*() {
      const persist = Persistence.toPersistenceManager({
        name: "persist-summary",
        key: (doc: Doc) => `summary_${doc.id}`,
        value: (doc) => ({ length: doc.content.length }),
        priority: (doc) => doc.content.length > 3 ? "important" : "background"
      })
      const result = yield* Pipeline.run(persist, { id: "m2", content: "long text" })
      assert.strictEqual(result.output.priority, "important")
      assert.strictEqual(result.steps[0].step, "persist-summary")
      const storage = yield* Storage.Storage
      assert.isTrue(Option.isNone(yield* storage.kv.get("summary_m2")), "an important write is written behind")
      const manager = yield* PersistenceManager.PersistenceManager
      yield* manager.flush
      assert.isTrue(Option.isSome(yield* storage.kv.get("summary_m2")))
      assert.deepStrictEqual(yield* manager.load("summary_m2"), Option.some({ length: 9 }))
    }).pipe(Effect.provide(managerLayer)))

  it.effect("a value the manager cannot encode fails the step with a typed error", () =>
    Effect.gen(function*() {
      const persist = Persistence.toPersistenceManager({
        key: (_: { readonly n: bigint }) => "bad",
        value: (input) => input
      })
      const failure = failureOf(yield* Effect.exit(Pipeline.run(persist, { n: 1n })))
      assert.strictEqual(failure.step, "persist")
      assert.include(["ValueCodecError", "PersistenceError"], failure.error._tag)
      const manager = yield* PersistenceManager.PersistenceManager
      assert.isFalse(yield* manager.exists("bad"))
    }).pipe(Effect.provide(managerLayer)))
})
