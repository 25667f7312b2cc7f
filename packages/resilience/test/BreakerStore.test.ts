import { BreakerStore, CircuitBreaker } from "@chronicle/resilience"
import { KeyValueStore } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber, Option, Ref, TestClock } from "effect"

class Down {
  readonly _tag = "Down"
}

const shared = (store: BreakerStore.Service, owner: string) =>
  CircuitBreaker.makeShared({
    name: "inventory",
    store,
    owner,
    policy: CircuitBreaker.consecutive(2),
    openDuration: "10 seconds",
    successThreshold: 1,
    syncInterval: "1 second"
  })

const stores = [
  ["memory", BreakerStore.makeMemory] as const,
  [
    "KeyValueStore",
    Effect.map(
      Effect.provide(KeyValueStore.KeyValueStore, KeyValueStore.layerMemory),
      (kv) => BreakerStore.fromKeyValueStore(kv)
    )
  ] as const
]

describe.each(stores)("shared breaker state (%s store)", (_label, makeStore) => {
  it.scoped("one process opens, the other learns it at its next sync", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const a = yield* shared(store, "a")
      const b = yield* shared(store, "b")
      yield* Effect.either(a.execute(Effect.fail(new Down())))
      yield* Effect.either(a.execute(Effect.fail(new Down())))
      assert.strictEqual(yield* a.state, "Open")
      assert.strictEqual(yield* b.state, "Closed")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* b.state, "Open")
      const calls = yield* Ref.make(0)
      const refused = yield* Effect.either(b.execute(Ref.update(calls, (n) => n + 1)))
      assert.isTrue(Either.isLeft(refused) && refused.left._tag === "CircuitOpen")
      assert.strictEqual(yield* Ref.get(calls), 0)
      const persisted = yield* store.get("inventory")
      assert.isTrue(Option.isSome(persisted) && persisted.value.state === "Open" && persisted.value.owner === "a")
    }))

  it.scoped("a restarted process hydrates the open state instead of hammering the dependency", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      yield* Effect.scoped(Effect.gen(function*() {
        const before = yield* shared(store, "worker-1")
        yield* Effect.either(before.execute(Effect.fail(new Down())))
        yield* Effect.either(before.execute(Effect.fail(new Down())))
      }))
      const after = yield* shared(store, "worker-1")
      const snapshot = yield* after.snapshot
      assert.strictEqual(snapshot.state, "Open")
      assert.strictEqual(snapshot.halfOpenAt, 10_000)
    }))

  it.scoped("the half-open probe is a lease: only one process probes", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const a = yield* shared(store, "a")
      const b = yield* shared(store, "b")
      yield* Effect.either(a.execute(Effect.fail(new Down())))
      yield* Effect.either(a.execute(Effect.fail(new Down())))
      yield* TestClock.adjust("10 seconds")
      const gate = yield* Deferred.make<void>()
      const probes = yield* Ref.make(0)
      const probe = Effect.zipRight(Ref.update(probes, (n) => n + 1), Deferred.await(gate))
      const fromA = yield* Effect.fork(a.execute(probe))
      yield* Effect.yieldNow()
      const fromB = yield* Effect.either(b.execute(probe))
      assert.isTrue(Either.isLeft(fromB) && fromB.left._tag === "CircuitOpen")
      assert.strictEqual(yield* Ref.get(probes), 1)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(fromA)
      assert.strictEqual(yield* a.state, "Closed")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* b.state, "Closed", "b learns that a closed it")
      yield* b.execute(Effect.void)
    }))

  describe("the probe lease while half-open", () => {
    const pair = Effect.gen(function*() {
      const store = yield* makeStore
      const options = {
        name: `lease-${Math.random().toString(36).slice(2, 8)}`,
        store,
        policy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        successThreshold: 3,
        syncInterval: "100 millis"
      } as const
      const a = yield* CircuitBreaker.makeShared<Down>({ ...options, owner: "a" })
      const b = yield* CircuitBreaker.makeShared<Down>({ ...options, owner: "b" })
      yield* Effect.either(a.execute(Effect.fail(new Down())))
      yield* TestClock.adjust("200 millis")
      assert.strictEqual(yield* b.state, "Open")
      yield* TestClock.adjust("1 second")
      yield* a.execute(Effect.void) // a takes the lease (1 s) and half-opens: 1 of 3 successes
      assert.strictEqual(yield* a.state, "HalfOpen")
      const seen = { running: 0, max: 0 }
      const call = (gate: Deferred.Deferred<void>) =>
        Effect.acquireUseRelease(
          Effect.sync(() => {
            seen.running++
            seen.max = Math.max(seen.max, seen.running)
          }),
          () => Deferred.await(gate),
          () => Effect.sync(() => void seen.running--)
        )
      return { a, b, seen, call }
    })

    it.scoped("the holder stops probing once its lease expired and another process took it", () =>
      Effect.gen(function*() {
        const { a, b, call, seen } = yield* pair
        yield* TestClock.adjust("1500 millis") // sparse traffic: a's lease expires unused
        const gate = yield* Deferred.make<void>()
        const fb = yield* Effect.fork(b.execute(call(gate)))
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(yield* b.state, "HalfOpen", "b took the expired lease")
        const fa = yield* Effect.fork(Effect.either(a.execute(call(gate))))
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(seen.running, 1, "a does not probe while b does")
        assert.strictEqual(yield* a.state, "Open", "a learned it lost the lease")
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(fb)
        const refused = yield* Fiber.join(fa)
        assert.isTrue(Either.isLeft(refused) && refused.left._tag === "CircuitOpen")
        assert.strictEqual(seen.max, 1, "one process probes at a time")
      }))

    it.scoped("the holder renews an expired lease nobody took, and keeps probing", () =>
      Effect.gen(function*() {
        const { a } = yield* pair
        yield* TestClock.adjust("1500 millis")
        yield* a.execute(Effect.void)
        yield* a.execute(Effect.void)
        assert.strictEqual(yield* a.state, "Closed")
      }))

    it.scoped("a probe slower than the lease keeps it renewed, so no other process probes meanwhile", () =>
      Effect.gen(function*() {
        const { a, b, call, seen } = yield* pair
        const gate = yield* Deferred.make<void>()
        const slow = yield* Effect.fork(a.execute(call(gate)))
        yield* TestClock.adjust("3 seconds") // three lease durations
        const fb = yield* Effect.fork(Effect.either(b.execute(call(gate))))
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(seen.running, 1, "b does not probe while a's probe runs")
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(slow)
        const refused = yield* Fiber.join(fb)
        assert.isTrue(Either.isLeft(refused) && refused.left._tag === "CircuitOpen", "a still holds the lease")
        assert.strictEqual(seen.max, 1)
        assert.strictEqual((yield* a.snapshot).halfOpenSuccesses, 2, "the slow probe still counts")
      }))
  })

  it.effect("a lease held by another owner is refused until it expires", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      assert.strictEqual((yield* store.acquireLease("x", "a", 0, 100)).owner, "a")
      assert.strictEqual((yield* store.acquireLease("x", "b", 50, 150)).owner, "a")
      assert.strictEqual((yield* store.acquireLease("x", "b", 100, 200)).owner, "b")
      yield* store.releaseLease("x", "a")
      assert.strictEqual((yield* store.acquireLease("x", "a", 120, 300)).owner, "b")
      yield* store.releaseLease("x", "b")
      assert.strictEqual((yield* store.acquireLease("x", "a", 120, 300)).owner, "a")
    }))
})
