// Runs in a scratch project where @chronicle/pipeline was installed from its tarball.
import { ContentHash, Pipeline, Step, Validation } from "@chronicle/pipeline"
import { Effect, Schema } from "effect"
import assert from "node:assert/strict"

const Input = Schema.Struct({ title: Schema.NonEmptyString, words: Schema.Number })
const pipeline = Pipeline.make(
  Validation.schema(Input),
  Step.sync("count", (doc) => ({ ...doc, long: doc.words > 100 }))
)
const result = await Effect.runPromise(Pipeline.run(pipeline, { title: "t", words: 120 }))
assert.equal(result.output.long, true)
const failure = await Effect.runPromise(Effect.flip(Pipeline.run(pipeline, { title: "", words: "x" })))
assert.equal(failure.step.length > 0, true)
const a = await Effect.runPromise(ContentHash.hash({ b: 1, a: [1, 2] }))
const b = await Effect.runPromise(ContentHash.hash({ a: [1, 2], b: 1 }))
assert.equal(a, b)
console.log("@chronicle/pipeline ok")
