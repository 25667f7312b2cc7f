import { Alerts, CircuitBreaker } from "@chronicle/resilience"
import { assert, describe, it } from "@effect/vitest"
import {
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  FastCheck as fc,
  Fiber,
  Metric,
  Option,
  Queue,
  Ref,
  TestClock
} from "effect"

class Boom {
  readonly _tag = "Boom"
}
class NotFound {
  readonly _tag = "NotFound"
}

let counter = 0
const uniqueName = (prefix: string) => `${prefix}-${++counter}-${Math.random().toString(36).slice(2, 8)}`

const failN = <E>(breaker: CircuitBreaker.CircuitBreaker<E>, n: number, error: E) =>
  Effect.forEach(Array.from({ length: n }), () => Effect.either(breaker.execute(Effect.fail(error))), { discard: true })

const succeedN = <E>(breaker: CircuitBreaker.CircuitBreaker<E>, n: number) =>
  Effect.forEach(Array.from({ length: n }), () => breaker.execute(Effect.void), { discard: true })

describe("CircuitBreaker", () => {
  it.effect("a consecutive breaker opens at the threshold, not before", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: uniqueName("consecutive"),
        policy: CircuitBreaker.consecutive(5)
      })
      yield* failN(breaker, 4, new Boom())
      assert.strictEqual(yield* breaker.state, "Closed")
      yield* failN(breaker, 1, new Boom())
      assert.strictEqual(yield* breaker.state, "Open")
    }))

  it.effect("the default policy is five consecutive failures and a success resets the run", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: uniqueName("default") })
      yield* failN(breaker, 4, new Boom())
      yield* succeedN(breaker, 1)
      yield* failN(breaker, 4, new Boom())
      assert.strictEqual(yield* breaker.state, "Closed")
      yield* failN(breaker, 1, new Boom())
      assert.strictEqual(yield* breaker.state, "Open")
    }))

  it.effect("while open it rejects at once with CircuitOpen naming the breaker and when it half-opens", () =>
    Effect.gen(function*() {
      const name = uniqueName("reject")
      const breaker = yield* CircuitBreaker.make({
        name,
        policy: CircuitBreaker.consecutive(2),
        openDuration: "30 seconds"
      })
      yield* TestClock.adjust("10 seconds")
      yield* failN(breaker, 2, new Boom())
      const calls = yield* Ref.make(0)
      const result = yield* Effect.either(breaker.execute(Ref.update(calls, (n) => n + 1)))
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        const error = result.left
        assert.instanceOf(error, CircuitBreaker.CircuitOpen)
        if (error instanceof CircuitBreaker.CircuitOpen) {
          assert.strictEqual(error.breaker, name)
          assert.strictEqual(error.state, "Open")
          assert.strictEqual(error.halfOpenAt?.getTime(), 40_000)
          assert.include(error.message, name)
        }
      }
      assert.strictEqual(yield* Ref.get(calls), 0)
      const snapshot = yield* breaker.snapshot
      assert.strictEqual(snapshot.rejections, 1)
      assert.strictEqual(snapshot.halfOpenAt, 40_000)
    }))

  it.effect("it half-opens after the open duration and closes after the success threshold", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: uniqueName("halfopen"),
        policy: CircuitBreaker.consecutive(1),
        openDuration: "30 seconds",
        successThreshold: 3
      })
      yield* failN(breaker, 1, new Boom())
      yield* TestClock.adjust("29999 millis")
      assert.isTrue(Either.isLeft(yield* Effect.either(breaker.execute(Effect.void))))
      yield* TestClock.adjust("1 millis")
      yield* succeedN(breaker, 1)
      assert.strictEqual(yield* breaker.state, "HalfOpen")
      yield* succeedN(breaker, 1)
      assert.strictEqual(yield* breaker.state, "HalfOpen")
      yield* succeedN(breaker, 1)
      assert.strictEqual(yield* breaker.state, "Closed")
    }))

  it.effect("a failed probe reopens the breaker for another open duration", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: uniqueName("reopen"),
        policy: CircuitBreaker.consecutive(1),
        openDuration: "10 seconds"
      })
      yield* failN(breaker, 1, new Boom())
      yield* TestClock.adjust("10 seconds")
      yield* succeedN(breaker, 1)
      yield* failN(breaker, 1, new Boom())
      const snapshot = yield* breaker.snapshot
      assert.strictEqual(snapshot.state, "Open")
      assert.strictEqual(snapshot.halfOpenAt, 20_000)
      assert.strictEqual(snapshot.openings, 2)
    }))

  it.effect("only the configured number of probes go through while half-open", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: uniqueName("probes"),
        policy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        halfOpenMaxProbes: 2,
        successThreshold: 2
      })
      yield* failN(breaker, 1, new Boom())
      yield* TestClock.adjust("1 second")
      const gate = yield* Deferred.make<void>()
      const reached = yield* Ref.make(0)
      const call = breaker.execute(Effect.zipRight(Ref.update(reached, (n) => n + 1), Deferred.await(gate)))
      const fibers = yield* Effect.forEach(Array.from({ length: 5 }), () => Effect.fork(call))
      yield* Effect.yieldNow()
      assert.strictEqual(yield* Ref.get(reached), 2)
      assert.strictEqual((yield* breaker.snapshot).probesInFlight, 2)
      yield* Deferred.succeed(gate, undefined)
      const exits = yield* Effect.forEach(fibers, Fiber.await)
      assert.strictEqual(exits.filter(Exit.isSuccess).length, 2)
      assert.strictEqual(exits.filter(Exit.isFailure).length, 3)
      assert.strictEqual(yield* breaker.state, "Closed")
    }))

  it.effect("an interrupted probe frees its slot without counting", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: uniqueName("interrupt"),
        policy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        successThreshold: 1
      })
      yield* failN(breaker, 1, new Boom())
      yield* TestClock.adjust("1 second")
      const fiber = yield* Effect.fork(breaker.execute(Effect.never))
      yield* Effect.yieldNow()
      assert.strictEqual((yield* breaker.snapshot).probesInFlight, 1)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual((yield* breaker.snapshot).probesInFlight, 0)
      assert.strictEqual(yield* breaker.state, "HalfOpen")
      yield* succeedN(breaker, 1)
      assert.strictEqual(yield* breaker.state, "Closed")
    }))

  it.effect("the open duration can grow with each consecutive opening and resets on close", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: uniqueName("growing"),
        policy: CircuitBreaker.consecutive(1),
        successThreshold: 1,
        openDuration: CircuitBreaker.exponentialOpenDuration({ initial: "1 second", factor: 2, max: "5 seconds" })
      })
      const halfOpenIn = Effect.gen(function*() {
        const now = yield* TestClock.currentTimeMillis
        const snapshot = yield* breaker.snapshot
        return (snapshot.halfOpenAt ?? 0) - now
      })
      yield* failN(breaker, 1, new Boom())
      assert.strictEqual(yield* halfOpenIn, 1000)
      yield* TestClock.adjust("1 second")
      yield* failN(breaker, 1, new Boom())
      assert.strictEqual(yield* halfOpenIn, 2000)
      yield* TestClock.adjust("2 seconds")
      yield* failN(breaker, 1, new Boom())
      assert.strictEqual(yield* halfOpenIn, 4000)
      yield* TestClock.adjust("4 seconds")
      yield* failN(breaker, 1, new Boom())
      assert.strictEqual(yield* halfOpenIn, 5000)
      yield* TestClock.adjust("5 seconds")
      yield* succeedN(breaker, 1)
      assert.strictEqual(yield* breaker.state, "Closed")
      yield* failN(breaker, 1, new Boom())
      assert.strictEqual(yield* halfOpenIn, 1000)
    }))

  it.effect("a count window opens on the failure rate once the minimum number of calls is reached", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: uniqueName("count"),
        policy: CircuitBreaker.countWindow({ size: 10, failureRateThreshold: 0.5, minimumCalls: 6 })
      })
      yield* failN(breaker, 5, new Boom())
      assert.strictEqual(yield* breaker.state, "Closed", "five calls are below the minimum")
      yield* succeedN(breaker, 5)
      yield* failN(breaker, 1, new Boom())
      // window: 4 of the first failures are still in (10 slots), plus 5 successes and 1 failure = 5/10
      assert.strictEqual(yield* breaker.state, "Open")
    }))

  it.effect("a count window forgets calls that slid out of it", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: uniqueName("slide"),
        policy: CircuitBreaker.countWindow({ size: 4, failureRateThreshold: 0.75, minimumCalls: 4 })
      })
      yield* failN(breaker, 2, new Boom())
      yield* succeedN(breaker, 2)
      yield* succeedN(breaker, 2)
      // the two old failures slid out: window is [s, s, s, s], then f, f -> [s, s, f, f] = 50 %
      yield* failN(breaker, 2, new Boom())
      assert.strictEqual(yield* breaker.state, "Closed")
      assert.deepStrictEqual(
        { calls: (yield* breaker.snapshot).calls, failures: (yield* breaker.snapshot).failures },
        { calls: 4, failures: 2 }
      )
      yield* failN(breaker, 1, new Boom())
      assert.strictEqual(yield* breaker.state, "Open")
    }))

  it.effect("a time window counts only the calls of the last window", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: uniqueName("time"),
        policy: CircuitBreaker.timeWindow({
          window: "10 seconds",
          buckets: 10,
          failureRateThreshold: 0.5,
          minimumCalls: 4
        })
      })
      yield* failN(breaker, 3, new Boom())
      yield* TestClock.adjust("11 seconds")
      yield* succeedN(breaker, 1)
      yield* failN(breaker, 1, new Boom())
      assert.strictEqual((yield* breaker.snapshot).calls, 2, "the first three failures expired")
      assert.strictEqual(yield* breaker.state, "Closed")
      yield* failN(breaker, 1, new Boom())
      assert.strictEqual(yield* breaker.state, "Closed", "three calls are below the minimum")
      yield* failN(breaker, 1, new Boom())
      assert.strictEqual(yield* breaker.state, "Open")
    }))

  it.effect("a slow call counts as a failure but its result is returned", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: uniqueName("slow"),
        policy: CircuitBreaker.consecutive(2),
        slowCallDuration: "1 second"
      })
      const slow = breaker.execute(Effect.as(Effect.sleep("2 seconds"), "done"))
      const first = yield* Effect.fork(slow)
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* Fiber.join(first), "done")
      assert.strictEqual(yield* breaker.state, "Closed")
      const fast = breaker.execute(Effect.as(Effect.sleep("500 millis"), "fast"))
      const second = yield* Effect.fork(fast)
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* Fiber.join(second), "fast")
      assert.strictEqual((yield* breaker.snapshot).failures, 0, "a fast success resets the run")
      const third = yield* Effect.fork(slow)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(third)
      const fourth = yield* Effect.fork(slow)
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* Fiber.join(fourth), "done")
      assert.strictEqual(yield* breaker.state, "Open")
    }))

  it.effect("only the errors the predicate selects count as failures", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make<Boom | NotFound>({
        name: uniqueName("predicate"),
        policy: CircuitBreaker.consecutive(2),
        isFailure: (error) => error._tag === "Boom"
      })
      yield* failN(breaker, 10, new NotFound())
      assert.strictEqual(yield* breaker.state, "Closed")
      yield* failN(breaker, 2, new Boom())
      assert.strictEqual(yield* breaker.state, "Open")
    }))

  it.effect("defects count as failures, interruptions do not", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: uniqueName("defects"), policy: CircuitBreaker.consecutive(2) })
      yield* Effect.exit(breaker.execute(Effect.interrupt))
      yield* Effect.exit(breaker.execute(Effect.interrupt))
      assert.strictEqual(yield* breaker.state, "Closed")
      yield* Effect.exit(breaker.execute(Effect.die("bug")))
      yield* Effect.exit(breaker.execute(Effect.die("bug")))
      assert.strictEqual(yield* breaker.state, "Open")
    }))

  it.effect("isolate holds the breaker open until reset", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: uniqueName("isolate"), openDuration: "1 second" })
      yield* breaker.isolate
      yield* TestClock.adjust("1 hour")
      const result = yield* Effect.either(breaker.execute(Effect.void))
      assert.isTrue(Either.isLeft(result) && result.left.state === "Isolated" && result.left.halfOpenAt === null)
      yield* breaker.reset
      assert.strictEqual(yield* breaker.state, "Closed")
      yield* succeedN(breaker, 1)
    }))

  it.effect("state changes are published in order", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: uniqueName("changes"),
        policy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        successThreshold: 1
      })
      const changes = yield* breaker.subscribe
      yield* failN(breaker, 1, new Boom())
      yield* TestClock.adjust("1 second")
      yield* succeedN(breaker, 1)
      const all = yield* Queue.takeAll(changes)
      assert.deepStrictEqual(
        Array.from(all, (c) => [c.from, c.to]),
        [["Closed", "Open"], ["Open", "HalfOpen"], ["HalfOpen", "Closed"]]
      )
      const first = Array.from(all)[0]
      assert.strictEqual(first.halfOpenAt, 1000)
    }).pipe(Effect.scoped))

  it.effect("metrics: a state gauge, calls by outcome and rejections", () =>
    Effect.gen(function*() {
      const name = uniqueName("metrics")
      const breaker = yield* CircuitBreaker.make({ name, policy: CircuitBreaker.consecutive(2) })
      yield* succeedN(breaker, 3)
      yield* failN(breaker, 2, new Boom())
      yield* Effect.either(breaker.execute(Effect.void))
      yield* Effect.either(breaker.execute(Effect.void))
      const gauge = yield* Metric.value(Metric.tagged(CircuitBreaker.stateGauge, "breaker", name))
      const calls = (outcome: string) =>
        Metric.value(CircuitBreaker.callsTotal.pipe(Metric.tagged("breaker", name), Metric.tagged("outcome", outcome)))
      const rejections = yield* Metric.value(Metric.tagged(CircuitBreaker.rejectionsTotal, "breaker", name))
      assert.strictEqual(gauge.value, 2)
      assert.strictEqual((yield* calls("admitted")).count, 5)
      assert.strictEqual((yield* calls("failure")).count, 2)
      assert.strictEqual(rejections.count, 2)
    }))

  it.effect("transitions raise alerts when Alerts is in context", () =>
    Effect.gen(function*() {
      const alerts = yield* Alerts.Alerts
      const name = uniqueName("alerts")
      const breaker = yield* CircuitBreaker.make({
        name,
        policy: CircuitBreaker.consecutive(1),
        successThreshold: 1,
        openDuration: "1 second"
      })
      yield* failN(breaker, 1, new Boom())
      yield* TestClock.adjust("1 second")
      yield* succeedN(breaker, 1)
      const recent = yield* alerts.recent
      assert.deepStrictEqual(recent.map((a) => [a.title, a.severity]), [
        ["Circuit Opened", "warning"],
        ["Circuit Half-Open", "info"],
        ["Circuit Closed", "info"]
      ])
      assert.strictEqual(recent[0].source, `breaker:${name}`)
    }).pipe(Effect.provide(Alerts.layer())))

  it.effect.prop(
    "a consecutive breaker is open exactly when some run of failures reached the threshold",
    [fc.array(fc.boolean(), { maxLength: 40 }), fc.integer({ min: 1, max: 6 })],
    ([outcomes, threshold]) =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("prop"),
          policy: CircuitBreaker.consecutive(threshold)
        })
        let run = 0
        let expectedOpen = false
        for (const failed of outcomes) {
          yield* Effect.either(breaker.execute(failed ? Effect.fail(new Boom()) : Effect.void))
          if (expectedOpen) continue
          run = failed ? run + 1 : 0
          if (run >= threshold) expectedOpen = true
        }
        assert.strictEqual(yield* breaker.state, expectedOpen ? "Open" : "Closed")
      })
  )

  it.effect.prop(
    "a count window opens exactly when the rate over the window reaches the threshold",
    [fc.array(fc.boolean(), { maxLength: 40 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 })],
    ([outcomes, size, minimum]) =>
      Effect.gen(function*() {
        const minimumCalls = Math.min(size, minimum)
        const breaker = yield* CircuitBreaker.make({
          name: uniqueName("prop-window"),
          policy: CircuitBreaker.countWindow({ size, failureRateThreshold: 0.5, minimumCalls })
        })
        const window: Array<boolean> = []
        let expectedOpen = false
        for (const failed of outcomes) {
          yield* Effect.either(breaker.execute(failed ? Effect.fail(new Boom()) : Effect.void))
          if (expectedOpen) continue
          window.push(failed)
          if (window.length > size) window.shift()
          const failures = window.filter((f) => f).length
          if (failed && window.length >= minimumCalls && failures / window.length >= 0.5) expectedOpen = true
        }
        assert.strictEqual(yield* breaker.state, expectedOpen ? "Open" : "Closed")
      })
  )

  it.effect("a guarded effect built once decides each time it runs, through every state", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: uniqueName("reused"),
        policy: CircuitBreaker.consecutive(2),
        openDuration: "1 second",
        successThreshold: 1
      })
      const reached = yield* Ref.make(0)
      const failing = yield* Ref.make(false)
      const guarded = breaker.execute(
        Effect.zipRight(
          Ref.update(reached, (n) => n + 1),
          Effect.flatMap(Ref.get(failing), (fail) => fail ? Effect.fail(new Boom()) : Effect.succeed("ok"))
        )
      )
      assert.strictEqual(yield* guarded, "ok")
      assert.strictEqual(yield* guarded, "ok")
      yield* Ref.set(failing, true)
      yield* Effect.either(guarded)
      yield* Effect.either(guarded) // the run of failures is judged by the same effect value
      assert.strictEqual(yield* breaker.state, "Open")
      const refused = yield* Effect.either(guarded)
      assert.isTrue(Either.isLeft(refused) && refused.left._tag === "CircuitOpen")
      assert.strictEqual(yield* Ref.get(reached), 4)
      yield* TestClock.adjust("1 second")
      yield* Ref.set(failing, false)
      assert.strictEqual(yield* guarded, "ok") // the half-open probe
      assert.strictEqual(yield* breaker.state, "Closed")
      yield* Ref.set(failing, true)
      yield* Effect.either(guarded)
      yield* Ref.set(failing, false)
      yield* guarded // a success resets the run: the next failure does not open it
      yield* Ref.set(failing, true)
      yield* Effect.either(guarded)
      assert.strictEqual(yield* breaker.state, "Closed")
      assert.strictEqual(yield* Ref.get(reached), 8)
    }))

  it.effect("withBreaker is the pipeable form of execute", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: uniqueName("pipe") })
      const value = yield* Effect.succeed(1).pipe(CircuitBreaker.withBreaker(breaker))
      assert.strictEqual(value, 1)
      assert.isTrue(Option.isNone(Option.none()))
      assert.strictEqual(Duration.toMillis(CircuitBreaker.exponentialOpenDuration({ initial: 10, max: 15 })(3)), 15)
    }))

  describe("half-open probes", () => {
    // a call that holds its gate and records how many such calls run at once
    const makeCalls = Effect.sync(() => {
      const seen = { running: 0, max: 0 }
      const call = (gate: Deferred.Deferred<void, Boom>) =>
        Effect.acquireUseRelease(
          Effect.sync(() => {
            seen.running++
            seen.max = Math.max(seen.max, seen.running)
          }),
          () => Deferred.await(gate),
          () => Effect.sync(() => void seen.running--)
        )
      return { seen, call }
    })

    it.effect("a probe of an earlier half-open phase neither frees a slot nor counts in a later one", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make<Boom>({
          name: uniqueName("stale"),
          policy: CircuitBreaker.consecutive(1),
          openDuration: "1 second",
          halfOpenMaxProbes: 2,
          successThreshold: 2
        })
        const { call, seen } = yield* makeCalls
        yield* failN(breaker, 1, new Boom())
        yield* TestClock.adjust("1 second")
        const gA = yield* Deferred.make<void, Boom>()
        const gB = yield* Deferred.make<void, Boom>()
        const a = yield* Effect.fork(breaker.execute(call(gA)))
        const b = yield* Effect.fork(breaker.execute(call(gB)))
        yield* Effect.yieldNow()
        yield* Deferred.fail(gA, new Boom())
        yield* Fiber.await(a)
        assert.strictEqual(yield* breaker.state, "Open", "A failed; B still runs")
        yield* TestClock.adjust("2 seconds")
        const gC = yield* Deferred.make<void, Boom>()
        const c = yield* Effect.fork(breaker.execute(call(gC)))
        const d = yield* Effect.fork(breaker.execute(call(gC)))
        yield* Effect.yieldNow()
        assert.strictEqual(yield* breaker.state, "HalfOpen")
        yield* Deferred.succeed(gB, undefined) // B, of the previous phase, succeeds now
        yield* Fiber.await(b)
        const snapshot = yield* breaker.snapshot
        assert.strictEqual(snapshot.probesInFlight, 2, "C and D still hold both slots")
        assert.strictEqual(snapshot.halfOpenSuccesses, 0, "B's success is not counted in this phase")
        const e = yield* Effect.either(breaker.execute(call(gC)))
        assert.isTrue(Either.isLeft(e) && e.left._tag === "CircuitOpen", "a fifth call is refused")
        assert.strictEqual(seen.max, 3, "B, C and D: never more than two probes of one phase")
        yield* Deferred.succeed(gC, undefined)
        yield* Fiber.join(c)
        yield* Fiber.join(d)
        assert.strictEqual(yield* breaker.state, "Closed")
      }))

    it.effect("a probe still running when the breaker is reset does not free a slot after it half-opens again", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make<Boom>({
          name: uniqueName("reset-probe"),
          policy: CircuitBreaker.consecutive(1),
          openDuration: "1 second",
          successThreshold: 1
        })
        const { call } = yield* makeCalls
        yield* failN(breaker, 1, new Boom())
        yield* TestClock.adjust("1 second")
        const old = yield* Deferred.make<void, Boom>()
        const stale = yield* Effect.fork(breaker.execute(call(old)))
        yield* Effect.yieldNow()
        yield* breaker.reset
        yield* failN(breaker, 1, new Boom())
        yield* TestClock.adjust("1 second")
        const gate = yield* Deferred.make<void, Boom>()
        const fresh = yield* Effect.fork(breaker.execute(call(gate)))
        yield* Effect.yieldNow()
        yield* Deferred.fail(old, new Boom()) // the stale probe fails: it must not reopen the breaker
        yield* Fiber.await(stale)
        assert.strictEqual(yield* breaker.state, "HalfOpen")
        assert.strictEqual((yield* breaker.snapshot).probesInFlight, 1)
        assert.isTrue(Either.isLeft(yield* Effect.either(breaker.execute(Effect.void))), "the one slot is taken")
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(fresh)
        assert.strictEqual(yield* breaker.state, "Closed")
      }))

    it.effect("a probe interrupted while the half-open transition is announced frees its slot", () =>
      Effect.gen(function*() {
        const alerts = yield* Alerts.make()
        // an Alerts service that takes time (a webhook)
        const slowAlerts: Alerts.Service = { ...alerts, raise: () => Effect.sleep("100 millis") }
        const breaker = yield* CircuitBreaker.make<Boom>({
          name: uniqueName("leak"),
          policy: CircuitBreaker.consecutive(1),
          openDuration: "1 second",
          successThreshold: 1
        }).pipe(Effect.provideService(Alerts.Alerts, slowAlerts))
        const opening = yield* Effect.fork(Effect.either(breaker.execute(Effect.fail(new Boom()))))
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(opening)
        yield* TestClock.adjust("1 second")
        const probe = yield* Effect.fork(breaker.execute(Effect.void))
        yield* Effect.yieldNow()
        assert.strictEqual((yield* breaker.snapshot).probesInFlight, 1)
        yield* Fiber.interrupt(probe) // the caller gives up while the half-open alert is raised
        assert.strictEqual((yield* breaker.snapshot).probesInFlight, 0)
        assert.strictEqual(yield* breaker.state, "HalfOpen")
        const later = yield* Effect.fork(Effect.either(breaker.execute(Effect.void)))
        yield* TestClock.adjust("1 second")
        assert.isTrue(Either.isRight(yield* Fiber.join(later)), "a later call probes")
        assert.strictEqual(yield* breaker.state, "Closed")
      }))
  })

  describe("consecutive failures are counted in admission order", () => {
    it.effect("a success admitted before the run's first failure does not reset it", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make<Boom>({
          name: uniqueName("order"),
          policy: CircuitBreaker.consecutive(2)
        })
        const started = yield* Deferred.make<void>()
        const gate = yield* Deferred.make<void>()
        const slow = yield* Effect.fork(
          breaker.execute(Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate)))
        )
        yield* Deferred.await(started) // admitted while the run of failures is clean
        yield* failN(breaker, 1, new Boom()) // F1
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(slow) // succeeds after F1, but was admitted before it
        assert.strictEqual((yield* breaker.snapshot).failures, 1)
        yield* failN(breaker, 1, new Boom()) // F2
        assert.strictEqual(yield* breaker.state, "Open", "documented: only calls admitted after F1 reset the run")
      }))

    it.effect("a success admitted after the run's first failure resets it", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make<Boom>({
          name: uniqueName("order-reset"),
          policy: CircuitBreaker.consecutive(2)
        })
        yield* failN(breaker, 1, new Boom()) // F1
        const started = yield* Deferred.make<void>()
        const gate = yield* Deferred.make<void>()
        const slow = yield* Effect.fork(
          breaker.execute(Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate)))
        )
        yield* Deferred.await(started) // admitted after F1
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(slow)
        assert.strictEqual((yield* breaker.snapshot).failures, 0)
        yield* failN(breaker, 1, new Boom())
        assert.strictEqual(yield* breaker.state, "Closed")
      }))
  })
})
