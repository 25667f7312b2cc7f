import { Pipeline, Validation } from "@chronicle/pipeline"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Schema } from "effect"

const Document = Schema.Struct({
  id: Schema.NonEmptyString,
  content: Schema.String,
  version: Schema.NumberFromString,
  metadata: Schema.Struct({ author: Schema.NonEmptyString, tags: Schema.Array(Schema.String) })
})

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) return assert.fail("expected a failure")
  return Option.getOrElse(Cause.failureOption(exit.cause), () => assert.fail(Cause.pretty(exit.cause)))
}

describe("Validation.schema", () => {
  const validate = Validation.schema(Document)

  it.effect("decodes valid input and marks the run as validated", () =>
    Effect.gen(function*() {
      const result = yield* Pipeline.run(validate, {
        id: "doc-1",
        content: "hello",
        version: "3",
        metadata: { author: "ada", tags: ["a"] }
      })
      assert.deepStrictEqual(result.output, {
        id: "doc-1",
        content: "hello",
        version: 3,
        metadata: { author: "ada", tags: ["a"] }
      })
      assert.deepStrictEqual(result.metadata, { validated: true })
      assert.strictEqual(result.steps[0].step, "validate")
    }))

  it.effect("lists every invalid field, not only the first", () =>
    Effect.gen(function*() {
      const failure = failureOf(
        yield* Effect.exit(Pipeline.run(validate, {
          id: "",
          version: "not a number",
          metadata: { author: "", tags: ["ok", 7] }
        }))
      )
      assert.strictEqual(failure.step, "validate")
      assert.strictEqual(failure.error._tag, "ValidationFailed")
      const paths = failure.error.issues.map((issue) => issue.path.join("."))
      assert.deepStrictEqual([...paths].sort(), ["content", "id", "metadata.author", "metadata.tags.1", "version"])
      for (const issue of failure.error.issues) assert.isAbove(issue.message.length, 0)
      assert.include(failure.error.message, "5 issues")
      assert.include(failure.error.message, "metadata.tags.1")
    }))

  it.effect("input that is not even an object is one issue at the root", () =>
    Effect.gen(function*() {
      const failure = failureOf(yield* Effect.exit(Pipeline.run(validate, "nope")))
      assert.strictEqual(failure.error.issues.length, 1)
      assert.deepStrictEqual(failure.error.issues[0].path, [])
      assert.include(failure.error.message, "input:")
    }))

  it.effect("excess properties are ignored by default and can be refused", () =>
    Effect.gen(function*() {
      const Small = Schema.Struct({ id: Schema.String })
      const lenient = yield* Pipeline.run(Validation.schema(Small), { id: "a", extra: 1 })
      assert.deepStrictEqual(lenient.output, { id: "a" })
      const strict = Validation.schema(Small, { name: "strict", onExcessProperty: "error" })
      const failure = failureOf(yield* Effect.exit(Pipeline.run(strict, { id: "a", extra: 1, more: 2 })))
      assert.strictEqual(failure.step, "strict")
      assert.deepStrictEqual(failure.error.issues.map((issue) => issue.path).sort(), [["extra"], ["more"]])
    }))

  it("ValidationFailed is a schema type that survives encoding", () => {
    const error = new Validation.ValidationFailed({ issues: [{ path: ["a", 0], message: "bad" }] })
    const encoded = Schema.encodeSync(Validation.ValidationFailed)(error)
    const decoded = Schema.decodeUnknownSync(Validation.ValidationFailed)(JSON.parse(JSON.stringify(encoded)))
    assert.deepStrictEqual(decoded.issues, error.issues)
  })
})
