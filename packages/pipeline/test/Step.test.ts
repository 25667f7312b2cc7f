import { Pipeline, PipelineError, Step } from "@chronicle/pipeline"
import { Retry, Timeout } from "@chronicle/resilience"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Duration, Effect, Exit, Fiber, Metric, Option, Ref, Schedule, TestClock, Tracer } from "effect"

class Boom extends Data.TaggedError("Boom")<{ readonly reason: string }> {}
class Other extends Data.TaggedError("Other")<{}> {}

const double = Step.sync("double", (n: number) => n * 2, { metadata: { doubled: true } })
const increment = Step.sync("increment", (n: number) => n + 1, {
  metadata: (out, input) => ({ incremented: [input, out] })
})
const show = Step.sync("show", (n: number) => `#${n}`)
const fail = (name: string) => Step.make(name, (_: number) => Effect.fail(new Boom({ reason: name })))

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) return assert.fail("expected a failure")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) return assert.fail(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value
}

interface RecordedSpan {
  readonly name: string
  readonly parent: string
  readonly attributes: ReadonlyMap<string, unknown>
  readonly exit: () => Exit.Exit<unknown, unknown> | undefined
}

/** A tracer that records every span it opens, with its parent's name and how it ended. */
const recordingTracer = () => {
  const spans: Array<RecordedSpan> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const attributes = new Map<string, unknown>()
      let status: Tracer.SpanStatus = { _tag: "Started", startTime }
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: `${spans.length}`,
        traceId: "test",
        parent,
        context,
        get status() {
          return status
        },
        attributes,
        links: [...links],
        sampled: true,
        kind,
        end: (endTime, exit) => {
          status = { _tag: "Ended", startTime, endTime, exit }
        },
        attribute: (key, value) => {
          attributes.set(key, value)
        },
        event: () => undefined,
        addLinks: () => undefined
      }
      spans.push({
        name,
        parent: Option.match(parent, { onNone: () => "", onSome: (p) => p._tag === "Span" ? p.name : "external" }),
        attributes,
        exit: () => status._tag === "Ended" ? status.exit : undefined
      })
      return span
    },
    context: (f) => f()
  })
  return { spans, tracer }
}

describe("Step and Pipeline", () => {
  it.effect("a single step gives its output, its metadata and a record of itself", () =>
    Effect.gen(function*() {
      const result = yield* Pipeline.run(double, 21)
      assert.strictEqual(result.output, 42)
      assert.deepStrictEqual(result.metadata, { doubled: true })
      assert.strictEqual(result.steps.length, 1)
      assert.strictEqual(result.steps[0]._tag, "Succeeded")
      assert.strictEqual(result.steps[0].step, "double")
    }))

  it.effect("steps in sequence pass each output to the next and gather all metadata in order", () =>
    Effect.gen(function*() {
      const pipeline = Pipeline.make(double, increment, show)
      const result = yield* Pipeline.run(pipeline, 5)
      assert.strictEqual(result.output, "#11")
      assert.deepStrictEqual(result.metadata, { doubled: true, incremented: [10, 11] })
      assert.deepStrictEqual(result.steps.map((record) => record.step), ["double", "increment", "show"])
      assert.strictEqual(pipeline.name, "double >> increment >> show")
    }))

  it.effect("andThen in pipe form, data-first form and Pipeline.make agree", () =>
    Effect.gen(function*() {
      const piped = double.pipe(Step.andThen(increment), Step.andThen(show))
      const dataFirst = Step.andThen(Step.andThen(double, increment), show)
      const made = Pipeline.make(double, increment, show)
      const outputs = yield* Effect.all(
        [piped, dataFirst, made].map((p) => Effect.map(Pipeline.run(p, 1), (r) => r.output))
      )
      assert.deepStrictEqual(outputs, ["#3", "#3", "#3"])
    }))

  it.effect("a later step's metadata key overwrites an earlier one", () =>
    Effect.gen(function*() {
      const first = Step.sync("first", (n: number) => n, { metadata: { stage: "first", a: 1 } })
      const second = Step.sync("second", (n: number) => n, { metadata: { stage: "second" } })
      const result = yield* Pipeline.run(Pipeline.make(first, second), 0)
      assert.deepStrictEqual(result.metadata, { stage: "second", a: 1 })
    }))

  it.effect("a failure names the failing step, keeps its typed error and the metadata gathered so far", () =>
    Effect.gen(function*() {
      const ran = yield* Ref.make(false)
      const after = Step.make("after", (n: number) => Effect.as(Ref.set(ran, true), n))
      const exit = yield* Effect.exit(Pipeline.run(Pipeline.make(double, increment, fail("explode"), after), 1))
      const failure = failureOf(exit)
      assert.strictEqual(failure._tag, "StepFailed")
      assert.strictEqual(failure.step, "explode")
      assert.instanceOf(failure.error, Boom)
      assert.strictEqual(failure.error.reason, "explode")
      assert.deepStrictEqual(failure.metadata, { doubled: true, incremented: [2, 3] })
      assert.deepStrictEqual(failure.steps.map((record) => record.step), ["double", "increment"])
      assert.include(failure.message, "explode")
      assert.isTrue(PipelineError.isStepFailed(failure))
      assert.isFalse(yield* Ref.get(ran))
    }))

  it.effect("a defect in a step is not turned into a typed failure", () =>
    Effect.gen(function*() {
      const broken = Step.sync("broken", (_: number): number => {
        throw new globalThis.Error("bug")
      })
      const exit = yield* Effect.exit(Pipeline.run(broken, 1))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
    }))

  it.effect("map transforms the output with access to the input", () =>
    Effect.gen(function*() {
      const step = double.pipe(Step.map((out, input) => ({ input, out })))
      const result = yield* Pipeline.run(step, 4)
      assert.deepStrictEqual(result.output, { input: 4, out: 8 })
    }))

  it.effect("withMetadata adds metadata only when the step succeeds", () =>
    Effect.gen(function*() {
      const ok = yield* Pipeline.run(double.pipe(Step.withMetadata((out: number) => ({ out }))), 3)
      assert.deepStrictEqual(ok.metadata, { doubled: true, out: 6 })
      const failed = failureOf(yield* Effect.exit(Pipeline.run(fail("f").pipe(Step.withMetadata({ never: true })), 3)))
      assert.deepStrictEqual(failed.metadata, {})
    }))

  describe("when", () => {
    it.effect("runs the step when the predicate holds", () =>
      Effect.gen(function*() {
        const step = Step.when(double, (n) => n > 0)
        const result = yield* Pipeline.run(step, 5)
        assert.strictEqual(result.output, 10)
        assert.deepStrictEqual(result.steps.map((r) => r._tag), ["Succeeded"])
      }))

    it.effect("skips the step, passing the input on, and records the skip", () =>
      Effect.gen(function*() {
        const step = double.pipe(Step.when((n: number) => n > 0), Step.andThen(increment))
        const result = yield* Pipeline.run(step, -5)
        assert.strictEqual(result.output, -4)
        assert.deepStrictEqual(result.steps.map((r) => [r._tag, r.step]), [["Skipped", "double"], [
          "Succeeded",
          "increment"
        ]])
        assert.deepStrictEqual(result.metadata, { incremented: [-5, -4] })
      }))
  })

  describe("if", () => {
    const choose = Step.if((n: number) => n % 2 === 0, { onTrue: show, onFalse: double })

    it.effect("runs onTrue or onFalse depending on the input", () =>
      Effect.gen(function*() {
        assert.strictEqual((yield* Pipeline.run(choose, 4)).output, "#4")
        assert.strictEqual((yield* Pipeline.run(choose, 3)).output, 6)
      }))

    it.effect("a failing branch names its own step", () =>
      Effect.gen(function*() {
        const step = Step.if((n: number) => n > 0, { onTrue: fail("positive"), onFalse: fail("negative") })
        assert.strictEqual(failureOf(yield* Effect.exit(Pipeline.run(step, -1))).step, "negative")
      }))
  })

  describe("all and merge", () => {
    it.effect("all runs record branches on the same input and gathers a record", () =>
      Effect.gen(function*() {
        const step = Step.all({ doubled: double, shown: show, incremented: increment })
        const result = yield* Pipeline.run(step, 7)
        assert.deepStrictEqual(result.output, { doubled: 14, shown: "#7", incremented: 8 })
        assert.deepStrictEqual(result.metadata, { doubled: true, incremented: [7, 8] })
        assert.deepStrictEqual(result.steps.map((r) => r.step), ["double", "show", "increment"])
      }))

    it.effect("all with a tuple gathers a tuple", () =>
      Effect.gen(function*() {
        const result = yield* Pipeline.run(Step.all([double, show]), 2)
        assert.deepStrictEqual(result.output, [4, "#2"])
      }))

    it.effect("branches really run concurrently", () =>
      Effect.gen(function*() {
        const slow = (name: string) => Step.make(name, (n: number) => Effect.as(Effect.sleep("1 second"), n))
        const fiber = yield* Effect.fork(Pipeline.run(Step.all([slow("a"), slow("b"), slow("c")]), 1))
        yield* TestClock.adjust("1 second")
        const result = yield* Fiber.join(fiber)
        assert.deepStrictEqual(result.output, [1, 1, 1])
      }))

    it.effect("the first failing branch fails the step and is named; the others are interrupted", () =>
      Effect.gen(function*() {
        const finished = yield* Ref.make(false)
        const slow = Step.make(
          "slow",
          (n: number) => Effect.as(Effect.zipRight(Effect.sleep("1 second"), Ref.set(finished, true)), n)
        )
        const fiber = yield* Effect.fork(
          Effect.exit(Pipeline.run(Pipeline.make(double, Step.all({ slow, bad: fail("bad") })), 1))
        )
        yield* TestClock.adjust("2 seconds")
        const failure = failureOf(yield* Fiber.join(fiber))
        assert.strictEqual(failure.step, "bad")
        assert.deepStrictEqual(failure.metadata, { doubled: true })
        assert.isFalse(yield* Ref.get(finished))
      }))

    it.effect("merge merges the object outputs of its branches", () =>
      Effect.gen(function*() {
        const a = Step.sync("a", (input: { readonly n: number }) => ({ twice: input.n * 2 }))
        const b = Step.sync("b", (input: { readonly n: number }) => ({ label: `n=${input.n}` }))
        const result = yield* Pipeline.run(Step.merge(a, b), { n: 3 })
        assert.deepStrictEqual(result.output, { twice: 6, label: "n=3" })
      }))
  })

  describe("retry", () => {
    const flaky = (failures: number) =>
      Effect.gen(function*() {
        const attempts = yield* Ref.make(0)
        const step = Step.make("flaky", (n: number) =>
          Effect.flatMap(
            Ref.updateAndGet(attempts, (k) => k + 1),
            (k) => k <= failures ? Effect.fail(new Boom({ reason: `attempt ${k}` })) : Effect.succeed(n)
          ))
        return { attempts, step }
      })

    it.effect("retries a failing step following the schedule until it succeeds", () =>
      Effect.gen(function*() {
        const { attempts, step } = yield* flaky(2)
        const result = yield* Pipeline.run(step.pipe(Step.retry(Schedule.recurs(3))), 9)
        assert.strictEqual(result.output, 9)
        assert.strictEqual(yield* Ref.get(attempts), 3)
      }))

    it.effect("gives up when the schedule ends and fails with the last error", () =>
      Effect.gen(function*() {
        const { attempts, step } = yield* flaky(10)
        const failure = failureOf(yield* Effect.exit(Pipeline.run(Step.retry(step, Schedule.recurs(2)), 9)))
        assert.strictEqual(failure.step, "flaky")
        assert.strictEqual(failure.error.reason, "attempt 3")
        assert.strictEqual(yield* Ref.get(attempts), 3)
      }))

    it.effect("waits between attempts as the schedule says", () =>
      Effect.gen(function*() {
        const { attempts, step } = yield* flaky(1)
        const fiber = yield* Effect.fork(Pipeline.run(step.pipe(Step.retry(Schedule.spaced("1 minute"))), 1))
        yield* TestClock.adjust("30 seconds")
        assert.strictEqual(yield* Ref.get(attempts), 1)
        yield* TestClock.adjust("30 seconds")
        assert.strictEqual((yield* Fiber.join(fiber)).output, 1)
        assert.strictEqual(yield* Ref.get(attempts), 2)
      }))

    it.effect("retries only while the predicate holds for the error", () =>
      Effect.gen(function*() {
        const attempts = yield* Ref.make(0)
        const step = Step.make("typed", (_: number) =>
          Effect.flatMap(
            Ref.updateAndGet(attempts, (k) => k + 1),
            (k): Effect.Effect<number, Boom | Other> =>
              k === 1 ? Effect.fail(new Boom({ reason: "retryable" })) : Effect.fail(new Other())
          ))
        const failure = failureOf(
          yield* Effect.exit(
            Pipeline.run(
              step.pipe(Step.retry({
                schedule: Schedule.recurs(5),
                while: (e: Boom | Other) => e._tag === "Boom"
              })),
              0
            )
          )
        )
        assert.strictEqual(failure.error._tag, "Other")
        assert.strictEqual(yield* Ref.get(attempts), 2)
      }))

    it.effect("a retried composite keeps no metadata or records from its failed attempts", () =>
      Effect.gen(function*() {
        const { step } = yield* flaky(1)
        const marked = Step.sync("mark", (n: number) => n, { metadata: { marked: true } })
        const result = yield* Pipeline.run(Pipeline.make(marked, step).pipe(Step.retry(Schedule.recurs(1))), 1)
        assert.deepStrictEqual(result.steps.map((r) => r.step), ["mark", "flaky"])
      }))
  })

  describe("timeoutWith", () => {
    const slow = Step.make("slow", (n: number) => Effect.as(Effect.sleep("10 seconds"), n))
    const timeout = Step.timeoutWith({
      duration: "1 second",
      onTimeout: (step) => new Boom({ reason: `${step} timed out` })
    })

    it.effect("fails with the typed timeout error naming the step", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.exit(Pipeline.run(Pipeline.make(double, slow.pipe(timeout)), 1)))
        yield* TestClock.adjust("1 second")
        const failure = failureOf(yield* Fiber.join(fiber))
        assert.strictEqual(failure.step, "slow")
        assert.strictEqual(failure.error.reason, "slow timed out")
        assert.deepStrictEqual(failure.metadata, { doubled: true })
      }))

    it.effect("a step that finishes in time is unaffected", () =>
      Effect.gen(function*() {
        const result = yield* Pipeline.run(double.pipe(timeout), 2)
        assert.strictEqual(result.output, 4)
        assert.deepStrictEqual(result.metadata, { doubled: true })
      }))

    it.effect("a timeout inside a retry is retried", () =>
      Effect.gen(function*() {
        const attempts = yield* Ref.make(0)
        const sometimesSlow = Step.make("sometimes-slow", (n: number) =>
          Effect.flatMap(
            Ref.updateAndGet(attempts, (k) => k + 1),
            (k) => k === 1 ? Effect.as(Effect.sleep("10 seconds"), n) : Effect.succeed(n)
          ))
        const fiber = yield* Effect.fork(
          Pipeline.run(sometimesSlow.pipe(timeout, Step.retry(Schedule.recurs(2))), 5)
        )
        yield* TestClock.adjust("1 second")
        const result = yield* Fiber.join(fiber)
        assert.strictEqual(result.output, 5)
        assert.strictEqual(yield* Ref.get(attempts), 2)
      }))
  })

  describe("with @chronicle/resilience policies", () => {
    it.effect("timeout fails with resilience's TimedOut naming the step", () =>
      Effect.gen(function*() {
        const slow = Step.make("slow-io", (n: number) => Effect.as(Effect.sleep("1 minute"), n))
        const fiber = yield* Effect.fork(Effect.exit(Pipeline.run(slow.pipe(Step.timeout("2 seconds")), 1)))
        yield* TestClock.adjust("2 seconds")
        const failure = failureOf(yield* Fiber.join(fiber))
        assert.strictEqual(failure.step, "slow-io")
        assert.instanceOf(failure.error, Timeout.TimedOut)
        assert.isTrue(failure.error instanceof Timeout.TimedOut && failure.error.durationMillis === 2000)
      }))

    it.effect("retry follows a Retry.schedule policy with backoff and its error predicate", () =>
      Effect.gen(function*() {
        const attempts = yield* Ref.make(0)
        const step = Step.make(
          "busy",
          (n: number) =>
            Effect.flatMap(
              Ref.updateAndGet(attempts, (k) => k + 1),
              (k) => k <= 2 ? Effect.fail(new Boom({ reason: "busy" })) : Effect.succeed(n)
            )
        )
        const policy = Retry.schedule({
          times: 3,
          base: "100 millis",
          jitter: false,
          while: (e: Boom) => e.reason === "busy"
        })
        const fiber = yield* Effect.fork(Pipeline.run(step.pipe(Step.retry(policy)), 1))
        yield* TestClock.adjust("100 millis")
        assert.strictEqual(yield* Ref.get(attempts), 2)
        yield* TestClock.adjust("199 millis")
        assert.strictEqual(yield* Ref.get(attempts), 2)
        yield* TestClock.adjust("1 millis")
        assert.strictEqual((yield* Fiber.join(fiber)).output, 1)
        assert.strictEqual(yield* Ref.get(attempts), 3)
      }))
  })

  describe("tap", () => {
    it.effect("runs its effect and passes the input on unchanged", () =>
      Effect.gen(function*() {
        const seen = yield* Ref.make<ReadonlyArray<number>>([])
        const record = Step.tap("record", (n: number) => Effect.as(Ref.update(seen, (all) => [...all, n]), "ignored"))
        const result = yield* Pipeline.run(Pipeline.make(double, record, increment), 2)
        assert.strictEqual(result.output, 5)
        assert.deepStrictEqual(yield* Ref.get(seen), [4])
      }))

    it.effect("a failing tap fails the pipeline", () =>
      Effect.gen(function*() {
        const bad = Step.tap("bad-tap", (_: number) => Effect.fail(new Other()))
        const failure = failureOf(yield* Effect.exit(Pipeline.run(Pipeline.make(double, bad), 1)))
        assert.strictEqual(failure.step, "bad-tap")
        assert.strictEqual(failure.error._tag, "Other")
      }))
  })

  describe("bestEffort", () => {
    it.effect("a failure is recorded and the pipeline goes on with the input", () =>
      Effect.gen(function*() {
        const seen = yield* Ref.make<Option.Option<string>>(Option.none())
        const notify = Step.tap("notify", (_: number) => Effect.fail(new Boom({ reason: "smtp down" })), {
          metadata: { notified: true }
        })
        const safe = Step.bestEffort(notify, {
          onFailure: (failure) => Ref.set(seen, Option.some(`${failure.step}: ${failure.error.reason}`))
        })
        const result = yield* Pipeline.run(Pipeline.make(double, safe, increment), 1)
        assert.strictEqual(result.output, 3)
        assert.deepStrictEqual(result.metadata, { doubled: true, incremented: [2, 3] })
        assert.deepStrictEqual(result.steps.map((r) => [r._tag, r.step]), [
          ["Succeeded", "double"],
          ["FailureIgnored", "notify"],
          ["Succeeded", "increment"]
        ])
        const ignored = result.steps[1]
        assert.isTrue(ignored._tag === "FailureIgnored" && ignored.error instanceof Boom)
        assert.deepStrictEqual(yield* Ref.get(seen), Option.some("notify: smtp down"))
      }))

    it.effect("on success it passes the step's output and metadata", () =>
      Effect.gen(function*() {
        const result = yield* Pipeline.run(Step.bestEffort(double), 4)
        assert.strictEqual(result.output, 8)
        assert.deepStrictEqual(result.metadata, { doubled: true })
      }))

    it.effect("defects still fail the pipeline", () =>
      Effect.gen(function*() {
        const dies = Step.make("dies", (_: number) => Effect.die("bug"))
        const exit = yield* Effect.exit(Pipeline.run(Step.bestEffort(dies), 1))
        assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      }))
  })

  it.effect("tapError runs on failure and keeps the original failure", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make("")
      const step = Pipeline.make(double, fail("broken")).pipe(
        Step.tapError((failure, input) => Ref.set(seen, `${failure.step}@${input}`))
      )
      const failure = failureOf(yield* Effect.exit(Pipeline.run(step, 3)))
      assert.strictEqual(failure.step, "broken")
      assert.strictEqual(yield* Ref.get(seen), "broken@3")
    }))

  describe("observability", () => {
    it.effect("each step runs in its own span, a child of the pipeline's span", () =>
      Effect.gen(function*() {
        const spanOf = (name: string) =>
          Step.make(name, (_: number) =>
            Effect.map(Effect.currentSpan, (span) => ({
              name: span.name,
              step: span.attributes.get("pipeline.step"),
              parent: Option.match(span.parent, {
                onNone: () => "",
                onSome: (parent) => parent._tag === "Span" ? parent.name : "external"
              })
            })))
        const result = yield* Pipeline.run(Step.all([spanOf("first"), spanOf("second")]), 0)
        assert.deepStrictEqual(result.output, [
          { name: "pipeline.step first", step: "first", parent: "pipeline.run" },
          { name: "pipeline.step second", step: "second", parent: "pipeline.run" }
        ])
      }))

    it.effect("every step gets a span under the run's span, which is under the caller's; all end", () =>
      Effect.gen(function*() {
        const { spans, tracer } = recordingTracer()
        const effectful = Step.make("effectful", (n: number) => Effect.withSpan(Effect.succeed(n), "inner work"))
        const pipeline = Pipeline.make(double, effectful, Step.all([increment, show]))
        yield* Pipeline.run(pipeline, 1).pipe(Effect.withSpan("caller"), Effect.withTracer(tracer))
        const byName = new Map(spans.map((span) => [span.name, span]))
        assert.deepStrictEqual(spans.map((span) => span.name).sort(), [
          "caller",
          "inner work",
          "pipeline.run",
          "pipeline.step double",
          "pipeline.step effectful",
          "pipeline.step increment",
          "pipeline.step show"
        ])
        assert.strictEqual(byName.get("pipeline.run")?.parent, "caller")
        for (const step of ["double", "effectful", "increment", "show"]) {
          const span = byName.get(`pipeline.step ${step}`)
          assert.strictEqual(span?.parent, "pipeline.run")
          assert.strictEqual(span?.attributes.get("pipeline.step"), step)
        }
        assert.strictEqual(byName.get("inner work")?.parent, "pipeline.step effectful")
        assert.strictEqual(byName.get("pipeline.run")?.attributes.get("pipeline.name"), pipeline.name)
        for (const span of spans) assert.isTrue(span.exit() !== undefined && Exit.isSuccess(span.exit()!), span.name)
      }))

    it.effect("a failing step's span and the run's span end with the failure", () =>
      Effect.gen(function*() {
        const { spans, tracer } = recordingTracer()
        const pure = Step.sync("pure-bad", (_: number): number => {
          throw new globalThis.Error("bug")
        })
        yield* Effect.exit(Pipeline.run(Pipeline.make(double, fail("typed-bad")), 1).pipe(Effect.withTracer(tracer)))
        yield* Effect.exit(Pipeline.run(pure, 1).pipe(Effect.withTracer(tracer)))
        const ended = (name: string) => spans.find((span) => span.name === name)?.exit()
        const typed = ended("pipeline.step typed-bad")
        assert.isTrue(typed !== undefined && Exit.isFailure(typed) && Option.isSome(Cause.failureOption(typed.cause)))
        const defect = ended("pipeline.step pure-bad")
        assert.isTrue(defect !== undefined && Exit.isFailure(defect) && Cause.isDie(defect.cause))
        assert.isTrue(
          spans.filter((span) => span.name === "pipeline.run").every((span) => {
            const exit = span.exit()
            return exit !== undefined && Exit.isFailure(exit)
          })
        )
      }))

    it.effect("with the tracer disabled no span is opened", () =>
      Effect.gen(function*() {
        const { spans, tracer } = recordingTracer()
        const result = yield* Pipeline.run(Pipeline.make(double, Step.make("m", (n: number) => Effect.succeed(n))), 2)
          .pipe(
            Effect.withTracerEnabled(false),
            Effect.withTracer(tracer)
          )
        assert.strictEqual(result.output, 4)
        assert.deepStrictEqual(spans, [])
      }))

    it.effect("records each step's duration by step and outcome", () =>
      Effect.gen(function*() {
        const name = `timed-${Math.random()}`
        const timed = Step.make(name, (n: number) =>
          n < 0 ? Effect.fail(new Other()) : Effect.as(Effect.sleep(Duration.millis(250)), n))
        const run = (n: number) =>
          Effect.fork(Effect.exit(Pipeline.run(timed, n)))
        const first = yield* run(1)
        const second = yield* run(2)
        yield* TestClock.adjust("250 millis")
        yield* Fiber.join(first)
        yield* Fiber.join(second)
        yield* Fiber.join(yield* run(-1))
        const success = yield* Metric.value(Pipeline.stepDurationOf(name, "success"))
        const failure = yield* Metric.value(Pipeline.stepDurationOf(name, "failure"))
        assert.strictEqual(success.count, 2)
        assert.strictEqual(success.min, 250)
        assert.strictEqual(success.max, 250)
        assert.strictEqual(failure.count, 1)
        const record = (yield* Pipeline.run(timed, 3).pipe(
          Effect.fork,
          Effect.tap(() => TestClock.adjust("250 millis")),
          Effect.flatMap(Fiber.join)
        )).steps[0]
        assert.isTrue(record._tag === "Succeeded" && record.durationMillis === 250)
      }))
  })
})
