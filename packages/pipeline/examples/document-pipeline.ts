/**
 * The seed's document pipeline, typed end to end: validate → enrich → persist → notify.
 *
 *   cd packages/pipeline && npx tsx --conditions=@chronicle/source examples/document-pipeline.ts
 */
import { EventStore } from "@chronicle/eventstore"
import { Enrichment, Notification, Persistence, Pipeline, Step, Validation } from "@chronicle/pipeline"
import { Retry } from "@chronicle/resilience"
import { Console, Effect, Schema } from "effect"

// 1. Validation: outside data arrives as `unknown`; every invalid field is reported at once.
const DocumentData = Schema.Struct({
  id: Schema.NonEmptyTrimmedString,
  content: Schema.String,
  metadata: Schema.Struct({ author: Schema.NonEmptyTrimmedString })
})
type DocumentData = typeof DocumentData.Type

const streamOf = (doc: DocumentData) => `Document-${doc.id}`

const validate = Validation.schema(DocumentData)

// 2. Enrichment: timestamp (Clock), next version (the stream's version + 1), content hash.
const enrich = Enrichment.make({ streamId: streamOf })

// 3. Persistence: append to the stream, expecting it still at the version enrichment read.
const persist = Persistence.toEventStore({
  streamId: (doc: Enrichment.Enriched<DocumentData>) => streamOf(doc.data),
  events: (doc) => [{
    eventId: `${doc.data.id}@${doc.version}`,
    type: "DocumentSaved",
    data: { ...doc.data, savedAt: doc.timestamp.toISOString() },
    metadata: { contentHash: doc.hash }
  }],
  expected: Persistence.expectedFromEnriched
}).pipe(Step.timeout("2 seconds"))

// A concurrent writer makes the append fail with WrongExpectedVersion: enrich again and retry.
const enrichAndPersist = Pipeline.make(enrich, persist).pipe(
  Step.retry(Retry.schedule({
    times: 3,
    base: "10 millis",
    while: (error: { readonly _tag: string }) => error._tag === "WrongExpectedVersion"
  }))
)

// 4. Notification: never fails the pipeline; a failure is recorded in the result and logged.
const notify = Notification.make((saved: Persistence.Appended<Enrichment.Enriched<DocumentData>>) =>
  Console.log(`  notify: ${saved.append.streamId} is at version ${saved.append.version}`)
)

const saveDocument = Pipeline.make(validate, enrichAndPersist, notify)

const program = Effect.gen(function*() {
  const save = (input: unknown) =>
    Pipeline.run(saveDocument, input).pipe(
      Effect.tap((result) =>
        Console.log(
          `saved version ${result.output.input.version}, hash ${result.output.input.hash.slice(0, 12)}…\n` +
            `  metadata: ${JSON.stringify(result.metadata)}\n` +
            `  steps: ${
              result.steps.map((s) =>
                s._tag === "Succeeded" ? `${s.step} ${s.durationMillis.toFixed(2)} ms` : `${s.step} ${s._tag}`
              ).join(", ")
            }`
        )
      ),
      Effect.catchTag("StepFailed", (failure) =>
        Console.log(
          `failed at step "${failure.step}": ${failure.error.message}\n  metadata so far: ${
            JSON.stringify(failure.metadata)
          }`
        ))
    )

  yield* save({ id: "doc123", content: "Hello, Chronicle", metadata: { author: "user123" } })
  yield* save({ id: "doc123", content: "Hello again", metadata: { author: "user123" } })
  yield* save({ id: " ", metadata: { author: "" } })

  const store = yield* EventStore.EventStore
  const events = yield* store.readStream("Document-doc123")
  yield* Console.log(`Document-doc123 holds ${events.length} events: ${events.map((e) => e.eventId).join(", ")}`)
})

Effect.runPromise(program.pipe(Effect.provide(EventStore.layerMemory))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
