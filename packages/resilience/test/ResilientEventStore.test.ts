import { EventStore, EventStoreError, ExpectedVersion } from "@chronicle/eventstore"
import { CircuitBreaker, ResilientEventStore, Timeout } from "@chronicle/resilience"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Either, Exit, Fiber, Layer, Option, TestClock } from "effect"

// A store that fails or hangs on demand, in front of the in-memory one.
const makeFaults = () => {
  const faults = { failing: 0, hang: Option.none<Deferred.Deferred<void>>(), calls: 0 }
  const guard = <A, E>(operation: string, effect: Effect.Effect<A, E>) =>
    Effect.suspend((): Effect.Effect<A, E | EventStoreError.EventStoreError> => {
      faults.calls++
      if (faults.failing > 0) {
        faults.failing--
        return Effect.fail(new EventStoreError.EventStoreError({ operation, cause: new Error("disk unplugged") }))
      }
      return Option.match(faults.hang, {
        onNone: () => effect,
        onSome: (gate) => Effect.zipRight(Deferred.await(gate), effect)
      })
    })
  const faulty = Layer.effect(
    EventStore.EventStore,
    Effect.map(EventStore.EventStore, (inner): EventStore.Service => ({
      ...inner,
      append: (streamId, events, expected) => guard("append", inner.append(streamId, events, expected)),
      readStream: (streamId, options) => guard("readStream", inner.readStream(streamId, options)),
      deleteStream: (streamId, expected) => guard("deleteStream", inner.deleteStream(streamId, expected))
    }))
  )
  return { faults, faulty }
}

const event = (id: string): EventStore.EventData => ({ eventId: id, type: "Happened", data: { id } })

const withStore = (options: ResilientEventStore.Options) => {
  const { faults, faulty } = makeFaults()
  const layer = ResilientEventStore.layer(options).pipe(Layer.provide(faulty), Layer.provide(EventStore.layerMemory))
  return { faults, layer }
}

const isCausedBy =
  (tag: string) => (result: Either.Either<unknown, { readonly _tag: string; readonly cause?: unknown }>) =>
    Either.isLeft(result) && result.left._tag === "EventStoreError" &&
    typeof result.left.cause === "object" && result.left.cause !== null && "_tag" in result.left.cause &&
    result.left.cause._tag === tag

describe("ResilientEventStore", () => {
  it.effect("opens at the threshold, rejects fast while open, lets one probe through and closes after recovery", () => {
    const { faults, layer } = withStore({
      retry: false,
      breakerOptions: {
        policy: CircuitBreaker.consecutive(3),
        openDuration: "10 seconds",
        successThreshold: 2,
        halfOpenMaxProbes: 1
      }
    })
    return Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      faults.failing = 3
      for (let i = 0; i < 3; i++) {
        const result = yield* Effect.either(store.append("s-1", [event(`f${i}`)], ExpectedVersion.Any))
        assert.isTrue(Either.isLeft(result) && result.left._tag === "EventStoreError")
      }
      assert.strictEqual(faults.calls, 3)
      const refused = yield* Effect.either(store.append("s-1", [event("x")], ExpectedVersion.Any))
      assert.isTrue(isCausedBy("CircuitOpen")(refused))
      assert.strictEqual(faults.calls, 3, "rejected without reaching the store")

      yield* TestClock.adjust("10 seconds")
      const gate = yield* Deferred.make<void>()
      faults.hang = Option.some(gate)
      const probes = yield* Effect.forEach(
        [1, 2, 3, 4],
        (i) => Effect.fork(Effect.either(store.append("s-1", [event(`p${i}`)], ExpectedVersion.Any))),
        { concurrency: "unbounded" }
      )
      yield* Effect.yieldNow()
      assert.strictEqual(faults.calls, 4, "only one probe reached the store")
      yield* Deferred.succeed(gate, undefined)
      faults.hang = Option.none()
      const results = yield* Effect.forEach(probes, Fiber.join)
      assert.strictEqual(results.filter(Either.isRight).length, 1)
      assert.strictEqual(results.filter(isCausedBy("CircuitOpen")).length, 3)
      yield* store.append("s-1", [event("second")], ExpectedVersion.Any)
      const after = yield* store.append("s-1", [event("closed")], ExpectedVersion.Any)
      assert.strictEqual(after.version, 3)
      assert.strictEqual(faults.calls, 6)
    }).pipe(Effect.provide(layer))
  })

  it.effect("retries transient failures with backoff", () => {
    const { faults, layer } = withStore({ retry: { times: 3, base: "100 millis", jitter: false } })
    return Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      faults.failing = 2
      const fiber = yield* Effect.fork(store.append("s-2", [event("a")], ExpectedVersion.NoStream))
      yield* TestClock.adjust("99 millis")
      assert.strictEqual(faults.calls, 1, "the first retry waits 100 ms")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(faults.calls, 2)
      yield* TestClock.adjust("199 millis")
      assert.strictEqual(faults.calls, 2, "the second retry waits 200 ms")
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.version, 1)
      assert.strictEqual(faults.calls, 3)
    }).pipe(Effect.provide(layer))
  })

  it.effect("never retries WrongExpectedVersion and never counts it against the breaker", () => {
    const { faults, layer } = withStore({
      retry: { times: 5, base: "1 millis" },
      breakerOptions: { policy: CircuitBreaker.consecutive(2) }
    })
    return Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      for (let i = 0; i < 5; i++) {
        const result = yield* Effect.either(store.append("s-3", [event(`c${i}`)], ExpectedVersion.exact(7)))
        assert.isTrue(Either.isLeft(result) && result.left._tag === "WrongExpectedVersion")
      }
      assert.strictEqual(faults.calls, 5, "one call each, no retries")
      yield* store.append("s-3", [event("ok")], ExpectedVersion.NoStream)
    }).pipe(Effect.provide(layer))
  })

  it.effect("never retries StreamDeleted; decode and idempotency errors are not transient", () => {
    const { faults, layer } = withStore({ retry: { times: 5, base: "1 millis" } })
    return Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append("s-4", [event("a")], ExpectedVersion.Any)
      yield* store.deleteStream("s-4")
      const before = faults.calls
      const result = yield* Effect.either(store.readStream("s-4"))
      assert.isTrue(Either.isLeft(result) && result.left._tag === "StreamDeleted")
      assert.strictEqual(faults.calls - before, 1)
      assert.isFalse(ResilientEventStore.isTransient(
        new EventStoreError.EventDecodeError({
          streamId: "s",
          streamVersion: 1,
          type: "T",
          schemaVersion: 1,
          reason: "bad"
        })
      ))
      assert.isFalse(ResilientEventStore.isTransient(
        new EventStoreError.IdempotencyConflict({ streamId: "s", eventIds: ["e"], reason: "different" })
      ))
      assert.isTrue(ResilientEventStore.isTransient(new Timeout.TimedOut({ operation: "x", durationMillis: 1 })))
    }).pipe(Effect.provide(layer))
  })

  it.effect("a hung call times out as a transient EventStoreError and is retried", () => {
    const { faults, layer } = withStore({ timeout: "1 second", retry: { times: 1, base: "100 millis", jitter: false } })
    return Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const gate = yield* Deferred.make<void>()
      faults.hang = Option.some(gate)
      const fiber = yield* Effect.fork(Effect.either(store.readStream("s-5")))
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("100 millis")
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.isTrue(isCausedBy("TimedOut")(result))
      assert.strictEqual(faults.calls, 2)
    }).pipe(Effect.provide(layer))
  })

  it.effect("settings can differ per operation", () => {
    const { faults, layer } = withStore({
      retry: { times: 2, base: "1 millis", jitter: false },
      operations: { readStream: { retry: false } }
    })
    return Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      faults.failing = 1
      const read = yield* Effect.exit(store.readStream("s-6"))
      assert.isTrue(Exit.isFailure(read))
      assert.strictEqual(faults.calls, 1)
      faults.failing = 1
      const fiber = yield* Effect.fork(store.append("s-6", [event("a")], ExpectedVersion.Any))
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(fiber)
      assert.strictEqual(faults.calls, 3)
    }).pipe(Effect.provide(layer))
  })
})
