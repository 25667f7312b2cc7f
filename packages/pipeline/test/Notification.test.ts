import { Notification, Pipeline, Step } from "@chronicle/pipeline"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Data, Effect, Exit, Logger, Option, PubSub, Queue, Ref } from "effect"

class SmtpDown extends Data.TaggedError("SmtpDown")<{}> {}
class Broken extends Data.TaggedError("Broken")<{}> {}

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) return assert.fail("expected a failure")
  return Option.getOrElse(Cause.failureOption(exit.cause), () => assert.fail(Cause.pretty(exit.cause)))
}

const captureLogs = Effect.gen(function*() {
  const lines = yield* Ref.make<ReadonlyArray<string>>([])
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    const text = Array.isArray(message) ? message.join(" ") : String(message)
    const step = annotations.pipe((map) => JSON.stringify([...map]))
    Effect.runSync(Ref.update(lines, (all) => [...all, `${logLevel.label} ${text} ${step}`]))
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
})

const double = Step.sync("double", (n: number) => n * 2)

describe("Notification", () => {
  it.effect("make sends the notification, passes the input on and marks the run as notified", () =>
    Effect.gen(function*() {
      const sent = yield* Ref.make<ReadonlyArray<number>>([])
      const notify = Notification.make((n: number) => Ref.update(sent, (all) => [...all, n]))
      const result = yield* Pipeline.run(Pipeline.make(double, notify), 21)
      assert.strictEqual(result.output, 42)
      assert.deepStrictEqual(yield* Ref.get(sent), [42])
      assert.deepStrictEqual(result.metadata, { notified: true })
      assert.deepStrictEqual(result.steps.map((r) => [r._tag, r.step]), [["Succeeded", "double"], [
        "Succeeded",
        "notify"
      ]])
    }))

  it.effect("a failed notification is recorded and logged, and the pipeline still succeeds", () =>
    Effect.gen(function*() {
      const { layer, lines } = yield* captureLogs
      const notify = Notification.make((_: number) => Effect.fail(new SmtpDown()), { name: "email" })
      const result = yield* Pipeline.run(Pipeline.make(double, notify), 1).pipe(Effect.provide(layer))
      assert.strictEqual(result.output, 2)
      assert.deepStrictEqual(result.metadata, {})
      const ignored = result.steps[1]
      assert.strictEqual(ignored._tag, "FailureIgnored")
      assert.isTrue(ignored._tag === "FailureIgnored" && ignored.step === "email" && ignored.error instanceof SmtpDown)
      const logged = yield* Ref.get(lines)
      assert.strictEqual(logged.length, 1)
      assert.include(logged[0], "WARN")
      assert.include(logged[0], "email")
    }))

  it.effect("onFailure replaces the default log", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make("")
      const notify = Notification.make((_: number) => Effect.fail(new SmtpDown()), {
        onFailure: (failure, input) => Ref.set(seen, `${failure.error._tag}@${input}`)
      })
      yield* Pipeline.run(notify, 5)
      assert.strictEqual(yield* Ref.get(seen), "SmtpDown@5")
    }))

  it.effect("toPubSub publishes a message made from the input", () =>
    Effect.gen(function*() {
      const pubsub = yield* PubSub.unbounded<string>()
      const subscription = yield* PubSub.subscribe(pubsub)
      const notify = Notification.toPubSub(pubsub, (n: number) => `value ${n}`, { name: "publish" })
      const result = yield* Pipeline.run(Pipeline.make(double, notify), 4)
      assert.strictEqual(result.output, 8)
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Queue.takeAll(subscription)), ["value 8"])
      assert.strictEqual(result.steps[1].step, "publish")
    }).pipe(Effect.scoped))

  it.effect("onFailure notifies about a failed pipeline and keeps its failure", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const failing = Step.make("persist", (_: number) => Effect.fail(new Broken()))
      const pipeline = Pipeline.make(double, failing).pipe(
        Notification.onFailure((failure, input: number) =>
          Ref.update(seen, (all) => [...all, `${failure.step}:${input}`])
        )
      )
      const failure = failureOf(yield* Effect.exit(Pipeline.run(pipeline, 3)))
      assert.strictEqual(failure.step, "persist")
      assert.strictEqual(failure.error._tag, "Broken")
      assert.deepStrictEqual(yield* Ref.get(seen), ["persist:3"])
    }))

  it.effect("a failing failure notification is logged and never hides the original failure", () =>
    Effect.gen(function*() {
      const { layer, lines } = yield* captureLogs
      const failing = Step.make("persist", (_: number) => Effect.fail(new Broken()))
      const pipeline = failing.pipe(Notification.onFailure(() => Effect.fail(new SmtpDown())))
      const failure = failureOf(yield* Effect.exit(Pipeline.run(pipeline, 3).pipe(Effect.provide(layer))))
      assert.strictEqual(failure.error._tag, "Broken")
      const logged = yield* Ref.get(lines)
      assert.strictEqual(logged.length, 1)
      assert.include(logged[0], "failure notification failed")
    }))

  it.effect("a successful pipeline sends no failure notification", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make(0)
      const pipeline = double.pipe(Notification.onFailure(() => Ref.update(seen, (n) => n + 1)))
      assert.strictEqual((yield* Pipeline.run(pipeline, 1)).output, 2)
      assert.strictEqual(yield* Ref.get(seen), 0)
    }))
})
