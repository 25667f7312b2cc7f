import { Bulkhead, CircuitBreaker, Fallback, Policy, Retry, Timeout } from "@chronicle/resilience"
import { assert, describe, it } from "@effect/vitest"
import {
  Chunk,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  FastCheck as fc,
  Fiber,
  Ref,
  Schedule,
  TestClock
} from "effect"

class Busy {
  readonly _tag = "Busy"
}
class Invalid {
  readonly _tag = "Invalid"
}

// An effect that records when each attempt ran and fails with the given errors in turn.
const attempts = <E>(errors: ReadonlyArray<E>) =>
  Effect.gen(function*() {
    const times = yield* Ref.make<Array<number>>([])
    const effect = Effect.gen(function*() {
      const now = yield* TestClock.currentTimeMillis
      const n = (yield* Ref.getAndUpdate(times, (ts) => [...ts, now])).length
      if (n < errors.length) return yield* Effect.fail(errors[n])
      return n
    })
    return { times, effect }
  })

describe("Retry", () => {
  it.effect("backs off exponentially without jitter and stops after the maximum", () =>
    Effect.gen(function*() {
      const { effect, times } = yield* attempts([new Busy(), new Busy(), new Busy(), new Busy(), new Busy()])
      const fiber = yield* effect.pipe(
        Retry.retry({ times: 3, base: "100 millis", factor: 2, jitter: false }),
        Effect.either,
        Effect.fork
      )
      yield* TestClock.adjust("10 seconds")
      const result = yield* Fiber.join(fiber)
      assert.isTrue(Either.isLeft(result))
      assert.deepStrictEqual(yield* Ref.get(times), [0, 100, 300, 700])
    }))

  it.effect("succeeds as soon as an attempt does", () =>
    Effect.gen(function*() {
      const { effect, times } = yield* attempts([new Busy()])
      const fiber = yield* effect.pipe(Retry.retry({ base: "1 second", jitter: false }), Effect.fork)
      yield* TestClock.adjust("999 millis")
      assert.strictEqual((yield* Ref.get(times)).length, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), 1)
    }))

  it.effect("caps each delay at maxDelay", () =>
    Effect.gen(function*() {
      const { effect, times } = yield* attempts(Array.from({ length: 10 }, () => new Busy()))
      const fiber = yield* effect.pipe(
        Retry.retry({ times: 4, base: "1 second", factor: 10, maxDelay: "3 seconds", jitter: false }),
        Effect.either,
        Effect.fork
      )
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* Ref.get(times), [0, 1000, 4000, 7000, 10000])
    }))

  it.effect("retries only the errors the predicate selects", () =>
    Effect.gen(function*() {
      const { effect, times } = yield* attempts<Busy | Invalid>([new Busy(), new Invalid(), new Busy()])
      const fiber = yield* effect.pipe(
        Retry.retry({ times: 5, base: "10 millis", jitter: false, while: (e) => e._tag === "Busy" }),
        Effect.either,
        Effect.fork
      )
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.isTrue(Either.isLeft(result) && result.left._tag === "Invalid")
      assert.strictEqual((yield* Ref.get(times)).length, 2)
    }))

  it.effect("stops once maxElapsed has passed", () =>
    Effect.gen(function*() {
      const { effect, times } = yield* attempts(Array.from({ length: 20 }, () => new Busy()))
      const fiber = yield* effect.pipe(
        Retry.retry({ times: 100, base: "1 second", factor: 1, jitter: false, maxElapsed: "3500 millis" }),
        Effect.either,
        Effect.fork
      )
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* Ref.get(times), [0, 1000, 2000, 3000, 4000])
    }))

  it.effect("the schedule is reusable with Effect.retry and lists the documented delays", () =>
    Effect.gen(function*() {
      const { effect, times } = yield* attempts([new Busy(), new Busy()])
      const fiber = yield* Effect.fork(Effect.retry(effect, Retry.schedule({ base: "50 millis", jitter: false })))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), 2)
      assert.deepStrictEqual(yield* Ref.get(times), [0, 50, 150])
      assert.deepStrictEqual(Retry.delays({ times: 4, base: 100, maxDelay: 500 }).map(Duration.toMillis), [
        100,
        200,
        400,
        500
      ])
    }))

  it.effect.prop(
    "with jitter every delay stays within ± the jitter fraction and under the cap",
    [fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0, max: 0.9, noNaN: true }), fc.integer({ min: 1, max: 8 })],
    ([base, jitter, times]) =>
      Effect.gen(function*() {
        const max = base * 8
        const delays = yield* Schedule.run(
          Schedule.delays(Retry.schedule({ base, jitter, times, maxDelay: max })),
          0,
          Array.from({ length: times + 2 }, () => new Busy())
        )
        const all = Chunk.toReadonlyArray(delays).map(Duration.toMillis)
        // Schedule.run also reports the output of the step that ends the schedule.
        assert.include([times, times + 1], all.length)
        const list = all.slice(0, times)
        list.forEach((delay, i) => {
          const nominal = base * Math.pow(2, i)
          assert.isAtMost(delay, max + 1e-6)
          assert.isAtLeast(delay, Math.min(max, nominal * (1 - jitter)) - 1e-6)
          assert.isAtMost(delay, nominal * (1 + jitter) + 1e-6)
        })
      })
  )
})

describe("Timeout", () => {
  it.effect("fails with TimedOut naming the operation once the limit passes", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.never.pipe(Timeout.timeout("2 seconds", "load"), Effect.either, Effect.fork)
      yield* TestClock.adjust("1999 millis")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left.operation, "load")
        assert.strictEqual(result.left.durationMillis, 2000)
        assert.include(result.left.message, "load timed out after 2000 ms")
      }
    }))

  it.effect("an effect that finishes in time keeps its result", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.as(Effect.sleep("1 second"), "ok").pipe(Timeout.timeout("2 seconds"), Effect.fork)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
    }))
})

describe("Bulkhead", () => {
  it.effect("runs at most maxConcurrent, queues up to maxQueue and rejects the rest", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ name: "db", maxConcurrent: 2, maxQueue: 1 })
      const gate = yield* Deferred.make<void>()
      const running = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const task = Effect.gen(function*() {
        const now = yield* Ref.updateAndGet(running, (n) => n + 1)
        yield* Ref.update(peak, (p) => Math.max(p, now))
        yield* Deferred.await(gate)
        yield* Ref.update(running, (n) => n - 1)
      })
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(bulkhead.execute(task)))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(yield* bulkhead.stats, { active: 2, queued: 1, rejected: 0 })
      const rejected = yield* Effect.either(bulkhead.execute(task))
      assert.isTrue(Either.isLeft(rejected) && rejected.left._tag === "BulkheadRejected")
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(yield* Ref.get(peak), 2)
      assert.deepStrictEqual(yield* bulkhead.stats, { active: 0, queued: 0, rejected: 1 })
    }))

  it.effect("an interrupted waiter leaves the queue", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ name: "q", maxConcurrent: 1, maxQueue: 1 })
      const holder = yield* Effect.fork(bulkhead.execute(Effect.never))
      const waiter = yield* Effect.fork(bulkhead.execute(Effect.void))
      yield* Effect.yieldNow()
      assert.strictEqual((yield* bulkhead.stats).queued, 1)
      yield* Fiber.interrupt(waiter)
      assert.strictEqual((yield* bulkhead.stats).queued, 0)
      const again = yield* Effect.fork(bulkhead.execute(Effect.succeed(1)))
      yield* Effect.yieldNow()
      assert.strictEqual((yield* bulkhead.stats).queued, 1)
      yield* Fiber.interrupt(holder)
      assert.strictEqual(yield* Fiber.join(again), 1)
    }))
})

describe("Fallback", () => {
  it.effect("answers failures with a value or another effect, selectively", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Effect.fail(new Busy()).pipe(Fallback.orElseSucceed(() => 0)), 0)
      assert.strictEqual(yield* Effect.fail(new Busy()).pipe(Fallback.orElse(() => Effect.succeed("cached"))), "cached")
      const failing: Effect.Effect<never, Busy | Invalid> = Effect.fail(new Invalid())
      const selective = failing.pipe(
        Fallback.orElseIf((e: Busy | Invalid): e is Busy => e._tag === "Busy", () => Effect.succeed("cached"))
      )
      const result = yield* Effect.either(selective)
      assert.isTrue(Either.isLeft(result) && result.left._tag === "Invalid")
    }))
})

describe("Policy", () => {
  it.effect("retry wraps the breaker, which sees timeouts, and refusals are not retried", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "policy-order", policy: CircuitBreaker.consecutive(2) })
      const calls = yield* Ref.make(0)
      const slow = Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.never)
      const fiber = yield* slow.pipe(
        Policy.wrap({ breaker, timeout: "1 second", retry: { times: 5, base: "100 millis", jitter: false } }),
        Effect.either,
        Effect.fork
      )
      yield* TestClock.adjust("1 minute")
      const result = yield* Fiber.join(fiber)
      assert.isTrue(Either.isLeft(result) && result.left._tag === "CircuitOpen")
      assert.strictEqual(yield* Ref.get(calls), 2, "two timed-out attempts opened the breaker; the third was refused")
    }))

  it.effect("the bulkhead is inside the timeout and the fallback outside everything", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ name: "policy-bulkhead", maxConcurrent: 1, maxQueue: 1 })
      const holder = yield* Effect.fork(bulkhead.execute(Effect.never))
      yield* Effect.yieldNow()
      const fiber = yield* Effect.succeed("fresh").pipe(
        Policy.wrapWithFallback({
          bulkhead,
          timeout: "1 second",
          fallback: (error) => Effect.succeed(`fallback after ${error._tag}`)
        }),
        Effect.fork
      )
      yield* TestClock.adjust("1 second")
      assert.strictEqual(
        yield* Fiber.join(fiber),
        "fallback after TimedOut",
        "queueing time counts against the timeout"
      )
      yield* Fiber.interrupt(holder)
      const exit = yield* Effect.exit(Effect.succeed("fresh").pipe(Policy.wrap({ bulkhead, timeout: "1 second" })))
      assert.deepStrictEqual(exit, Exit.succeed("fresh"))
    }))

  it.effect("the user's retry predicate still applies", () =>
    Effect.gen(function*() {
      const { effect, times } = yield* attempts<Busy | Invalid>([new Busy(), new Invalid()])
      const fiber = yield* effect.pipe(
        Policy.wrap({ retry: { times: 5, base: "10 millis", jitter: false, while: (e) => e._tag === "Busy" } }),
        Effect.either,
        Effect.fork
      )
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.isTrue(Either.isLeft(result) && result.left._tag === "Invalid")
      assert.strictEqual((yield* Ref.get(times)).length, 2)
    }))
})
