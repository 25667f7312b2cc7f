import {
  Alerts,
  CircuitBreaker,
  Monitoring,
  PersistenceManager,
  PersistenceStrategy,
  Storage
} from "@chronicle/resilience"
import { assert, describe, it } from "@effect/vitest"
import {
  Chunk,
  Effect,
  Either,
  Exit,
  FastCheck as fc,
  Fiber,
  Option,
  Queue,
  Schema,
  Scope,
  Stream,
  TestClock
} from "effect"
import { makeFaultyStorage } from "./faults.js"

const Doc = Schema.Struct({ title: Schema.String, version: Schema.Number })

const setup = (options: PersistenceManager.Options = {}) =>
  Effect.gen(function*() {
    const faulty = yield* makeFaultyStorage
    const scope = yield* Scope.make()
    const manager = yield* Scope.extend(PersistenceManager.make(faulty.storage, options), scope)
    const docs = manager.forSchema(Doc)
    const events = yield* Scope.extend(manager.subscribe, scope)
    return { ...faulty, manager, docs, scope, events }
  })

describe("PersistenceManager", () => {
  it.effect("critical writes are in storage when persist returns", () =>
    Effect.gen(function*() {
      const { docs, stored } = yield* setup()
      yield* docs.persist("doc/1", { title: "a", version: 1 }, "critical")
      assert.strictEqual(yield* stored("doc/1"), JSON.stringify({ title: "a", version: 1 }))
      assert.deepStrictEqual(yield* docs.load("doc/1"), Option.some({ title: "a", version: 1 }))
    }))

  it.effect("important writes land within the delay, repeated writes to a key coalescing", () =>
    Effect.gen(function*() {
      const { docs, stored, state } = yield* setup({ importantDelay: "100 millis" })
      yield* docs.persist("doc/1", { title: "a", version: 1 }, "important")
      yield* TestClock.adjust("50 millis")
      yield* docs.persist("doc/1", { title: "b", version: 2 }, "important")
      yield* docs.persist("doc/1", { title: "c", version: 3 }, "important")
      assert.isUndefined(yield* stored("doc/1"))
      assert.deepStrictEqual(
        yield* docs.load("doc/1"),
        Option.some({ title: "c", version: 3 }),
        "reads see pending writes"
      )
      yield* TestClock.adjust("50 millis")
      assert.strictEqual(yield* stored("doc/1"), JSON.stringify({ title: "c", version: 3 }))
      assert.strictEqual(state.writes, 1)
    }))

  it.effect("background writes are batched every interval, or sooner at the batch size", () =>
    Effect.gen(function*() {
      const { manager, stored, state } = yield* setup({ backgroundInterval: "1 second", backgroundMaxBatch: 3 })
      yield* manager.persist("a", 1, "background")
      yield* manager.persist("b", 2, "background")
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(state.batches, 0)
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(state.batches, 1)
      assert.strictEqual(yield* stored("b"), "2")
      yield* manager.persist("c", 3, "background")
      yield* manager.persist("d", 4, "background")
      yield* manager.persist("e", 5, "background")
      yield* Effect.yieldNow()
      assert.strictEqual(state.batches, 2, "a full batch is written at once")
      assert.strictEqual(yield* stored("e"), "5")
    }))

  it.effect("a newer write at any priority supersedes a pending older one", () =>
    Effect.gen(function*() {
      const { manager, stored } = yield* setup()
      yield* manager.persist("k", "old", "background")
      yield* manager.persist("k", "new", "critical")
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* stored("k"), JSON.stringify("new"))
    }))

  it.effect("exists, listKeys and delete see pending and stored keys", () =>
    Effect.gen(function*() {
      const { manager } = yield* setup()
      yield* manager.persist("user/1", 1, "critical")
      yield* manager.persist("user/2", 2, "important")
      yield* manager.persist("user/3", 3, "background")
      yield* manager.persist("other/1", 4, "critical")
      assert.deepStrictEqual(yield* manager.listKeys("user/"), ["user/1", "user/2", "user/3"])
      assert.isTrue(yield* manager.exists("user/3"))
      yield* manager.delete("user/3")
      yield* manager.delete("user/1")
      assert.isFalse(yield* manager.exists("user/3"))
      assert.deepStrictEqual(yield* manager.listKeys("user/"), ["user/2"])
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(yield* manager.listKeys("user/"), ["user/2"], "a deleted pending write never lands")
    }))

  it.effect("a clean shutdown flushes every accepted write", () =>
    Effect.gen(function*() {
      const { manager, stored, scope } = yield* setup({ importantDelay: "1 hour", backgroundInterval: "1 hour" })
      // subscribed outside the manager's scope, so the subscription outlives it
      const events = yield* manager.subscribe
      const collected = yield* Effect.fork(Stream.runCollect(Stream.fromQueue(events)))
      yield* manager.persist("i", "important", "important")
      yield* manager.persist("b", "background", "background")
      assert.isUndefined(yield* stored("i"))
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* stored("i"), JSON.stringify("important"))
      assert.strictEqual(yield* stored("b"), JSON.stringify("background"))
      // closing the scope ends the event stream; the final flush is its last event
      const flushed = Chunk.toReadonlyArray(yield* Fiber.join(collected)).find((e) => e._tag === "Flushed")
      assert.isTrue(flushed !== undefined && flushed._tag === "Flushed" && flushed.count === 2)
    }).pipe(Effect.scoped))

  it.effect("a value that doesn't decode is a typed error, and so is one that doesn't encode", () =>
    Effect.gen(function*() {
      const { docs, inner, manager } = yield* setup()
      yield* inner.kv.set("doc/bad", JSON.stringify({ title: 42 }))
      const result = yield* Effect.either(docs.load("doc/bad"))
      assert.isTrue(
        Either.isLeft(result) && result.left._tag === "ValueCodecError" && result.left.direction === "decode"
      )
      const encoded = yield* Effect.either(manager.persist("x", BigInt(1), "critical"))
      assert.isTrue(Either.isLeft(encoded) && encoded.left._tag === "ValueCodecError")
    }))

  it.effect("events report saves with durations and priorities", () =>
    Effect.gen(function*() {
      const { manager, events } = yield* setup()
      yield* manager.persist("c", 1, "critical")
      yield* manager.persist("i", 1, "important")
      yield* manager.persist("b", 1, "background")
      yield* TestClock.adjust("1 second")
      yield* manager.delete("c")
      const all = Chunk.toReadonlyArray(yield* Queue.takeAll(events))
      assert.deepStrictEqual(
        all.map((e) => e._tag === "Saved" ? `${e._tag}:${e.priority}:${e.keys.join(",")}` : e._tag),
        ["Saved:critical:c", "Saved:important:i", "Saved:background:b", "Deleted"]
      )
      assert.isTrue(all.every((e) => e.durationMillis >= 0))
    }))

  it.effect("with storage down, a critical write fails typed after retries and raises an alert", () =>
    Effect.gen(function*() {
      const { manager, state, events } = yield* setup({
        resilience: { retry: { times: 2, base: "10 millis", jitter: false } }
      })
      const alerts = yield* Alerts.Alerts
      state.failing = true
      const fiber = yield* Effect.fork(Effect.either(manager.persist("k", 1, "critical")))
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.isTrue(Either.isLeft(result) && result.left._tag === "PersistenceError")
      assert.strictEqual(state.calls, 3, "one attempt and two retries")
      const failed = Chunk.toReadonlyArray(yield* Queue.takeAll(events)).filter((e) => e._tag === "Failed")
      assert.strictEqual(failed.length, 1)
      const raised = yield* alerts.recent
      assert.isTrue(raised.some((a) => a.title === "Persistence Failed" && a.severity === "high"))
    }).pipe(Effect.provide(Alerts.layer())))

  it.effect("the resilient strategy opens its breaker and then rejects without touching storage", () =>
    Effect.gen(function*() {
      const { manager, state, stored } = yield* setup({
        resilience: { breaker: { openDuration: "30 seconds" }, retry: { times: 0 } }
      })
      state.failing = true
      for (let i = 0; i < 5; i++) yield* Effect.either(manager.persist("k", i, "critical"))
      assert.strictEqual(state.calls, 5)
      const refused = yield* Effect.either(manager.persist("k", 9, "critical"))
      assert.strictEqual(state.calls, 5, "the open breaker rejected without calling storage")
      assert.isTrue(
        Either.isLeft(refused) && refused.left._tag === "PersistenceError" &&
          refused.left.cause instanceof CircuitBreaker.CircuitOpen
      )
      state.failing = false
      yield* TestClock.adjust("30 seconds")
      for (let i = 0; i < 3; i++) yield* manager.persist("k", i, "critical")
      yield* manager.persist("k", "after", "critical")
      assert.strictEqual(yield* stored("k"), JSON.stringify("after"), "the breaker closed after three good probes")
    }))

  it.effect("an important write that fails stays pending and lands once storage recovers", () =>
    Effect.gen(function*() {
      const { manager, stored, state } = yield* setup({
        importantDelay: "100 millis",
        resilience: false
      })
      state.failing = true
      yield* manager.persist("k", "v", "important")
      yield* TestClock.adjust("100 millis")
      assert.isUndefined(yield* stored("k"))
      assert.isTrue(yield* manager.exists("k"), "still pending, still readable")
      state.failing = false
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* stored("k"), JSON.stringify("v"))
    }))

  it.effect("a background batch that fails is kept for the next one", () =>
    Effect.gen(function*() {
      const { manager, stored, state } = yield* setup({ backgroundInterval: "1 second", resilience: false })
      yield* manager.persist("a", 1, "background")
      state.failing = true
      yield* TestClock.adjust("1 second")
      assert.isUndefined(yield* stored("a"))
      state.failing = false
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* stored("a"), "1")
    }))

  it.effect.prop(
    "nothing accepted at critical priority is lost, whatever the faults",
    [fc.array(fc.tuple(fc.string({ maxLength: 3 }), fc.integer(), fc.boolean()), { maxLength: 30 })],
    ([operations]) =>
      Effect.gen(function*() {
        const { manager, stored, state } = yield* setup({ resilience: false })
        const accepted = new Map<string, number>()
        for (const [key, value, fail] of operations) {
          state.failing = fail
          const result = yield* Effect.either(manager.persist(`k/${key}`, value, "critical"))
          if (Either.isRight(result)) accepted.set(`k/${key}`, value)
        }
        state.failing = false
        for (const [key, value] of accepted) {
          const text = yield* stored(key)
          if (text !== JSON.stringify(value)) {
            // a later failed write never replaces an accepted one
            assert.fail(`${key}: expected ${value}, found ${text}`)
          }
        }
        assert.strictEqual(accepted.size <= operations.length, true)
      })
  )

  it.effect("the layer flushes on release and monitoring sees persistence operations", () =>
    Effect.gen(function*() {
      const storage = yield* Storage.makeMemory
      const monitoring = yield* Monitoring.make()
      yield* Effect.scoped(
        Effect.gen(function*() {
          const manager = yield* PersistenceManager.PersistenceManager
          yield* manager.persist("late", "value", "background")
        }).pipe(Effect.provide(PersistenceManager.layer()), Effect.provideService(Storage.Storage, storage))
      )
      assert.deepStrictEqual(yield* storage.kv.get("late"), Option.some(JSON.stringify("value")))
      const view = yield* Effect.provideService(
        Effect.scoped(Effect.gen(function*() {
          const manager = yield* PersistenceManager.make(storage)
          yield* manager.persist("x", 1, "critical")
          return yield* monitoring.snapshot
        })),
        Monitoring.Monitoring,
        monitoring
      )
      assert.isTrue(view.operations.recent.some((o) => o.source === "persistence" && o.name === "save:critical"))
    }))

  it.effect("strategies can be replaced per priority", () =>
    Effect.gen(function*() {
      const { manager, stored } = yield* setup({
        strategies: { background: (base) => Effect.succeed({ ...base, name: "write-through" }) }
      })
      yield* manager.persist("b", 1, "background")
      assert.strictEqual(yield* stored("b"), "1")
      assert.strictEqual(PersistenceStrategy.immediate(yield* Storage.makeMemory).name, "immediate")
    }))
})
