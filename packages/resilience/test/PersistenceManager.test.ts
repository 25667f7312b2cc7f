import {
  Alerts,
  CircuitBreaker,
  Monitoring,
  PersistenceManager,
  PersistenceStrategy,
  Storage
} from "@chronicle/resilience"
import { Error as PlatformError } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import {
  Chunk,
  Deferred,
  type Duration,
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

  describe("a clean shutdown waits for writes under way", () => {
    // memory storage whose writes take `millis` (a network round trip)
    const slowStorage = (millis: number) =>
      Effect.gen(function*() {
        const inner = yield* Storage.makeMemory
        const storage: Storage.Service = {
          kv: { ...inner.kv, set: (k, v) => Effect.zipRight(Effect.sleep(millis), inner.kv.set(k, v)) },
          listKeys: inner.listKeys,
          setMany: (entries) => Effect.zipRight(Effect.sleep(millis), inner.setMany(entries))
        }
        return { storage, stored: (k: string) => Effect.map(inner.kv.get(k), Option.getOrUndefined) }
      })

    const closeIn = (scope: Scope.CloseableScope, time: Duration.DurationInput) =>
      Effect.gen(function*() {
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        yield* TestClock.adjust(time)
        yield* Fiber.join(closing)
      })

    it.effect("an important write on its way to storage", () =>
      Effect.gen(function*() {
        const { storage, stored } = yield* slowStorage(50)
        const scope = yield* Scope.make()
        const docs = (yield* Scope.extend(
          PersistenceManager.make(storage, { importantDelay: "10 millis", resilience: false }),
          scope
        )).forSchema(Doc)
        yield* docs.persist("k", { title: "a", version: 1 }, "important")
        yield* TestClock.adjust("20 millis") // on its way: storage takes 50 ms
        assert.isUndefined(yield* stored("k"))
        assert.deepStrictEqual(yield* docs.load("k"), Option.some({ title: "a", version: 1 }), "reads see it meanwhile")
        yield* closeIn(scope, "1 second")
        assert.strictEqual(yield* stored("k"), JSON.stringify({ title: "a", version: 1 }))
      }))

    it.effect("an important write waiting in a retry backoff", () =>
      Effect.gen(function*() {
        const { docs, scope, state, stored } = yield* setup({ importantDelay: "10 millis" })
        state.failing = true
        yield* docs.persist("k", { title: "a", version: 1 }, "important")
        yield* TestClock.adjust("10 millis") // the first attempt fails; the retry waits 50 ms
        state.failing = false
        yield* closeIn(scope, "5 seconds")
        assert.strictEqual(yield* stored("k"), JSON.stringify({ title: "a", version: 1 }))
      }))

    it.effect("an important write waiting for the debounced retry", () =>
      Effect.gen(function*() {
        const { docs, scope, state, stored } = yield* setup({ importantDelay: "10 millis", resilience: false })
        state.failing = true
        yield* docs.persist("k", { title: "a", version: 1 }, "important")
        yield* TestClock.adjust("10 millis") // fails; tried again in 1 s
        state.failing = false
        yield* closeIn(scope, "10 millis")
        assert.strictEqual(yield* stored("k"), JSON.stringify({ title: "a", version: 1 }))
      }))

    it.effect("a full background batch on its way to storage", () =>
      Effect.gen(function*() {
        const { storage, stored } = yield* slowStorage(50)
        const scope = yield* Scope.make()
        const docs = (yield* Scope.extend(
          PersistenceManager.make(storage, { backgroundMaxBatch: 2, resilience: false }),
          scope
        )).forSchema(Doc)
        yield* docs.persist("a", { title: "a", version: 1 }, "background")
        yield* docs.persist("b", { title: "b", version: 1 }, "background") // full: written now
        yield* TestClock.adjust("10 millis")
        yield* closeIn(scope, "5 seconds")
        assert.strictEqual(yield* stored("a"), JSON.stringify({ title: "a", version: 1 }))
        assert.strictEqual(yield* stored("b"), JSON.stringify({ title: "b", version: 1 }))
      }))
  })

  describe("writes of one key land in the order they were accepted", () => {
    // the first write to storage hangs until `gate` opens, then fails (a slow, then lost, connection)
    const hangingThenFailing = Effect.gen(function*() {
      const inner = yield* Storage.makeMemory
      const gate = yield* Deferred.make<void>()
      const fault = new PlatformError.SystemError({
        reason: "Unknown",
        module: "KeyValueStore",
        method: "set",
        description: "timeout"
      })
      const landed: Array<string> = []
      let first = true
      const record = (k: string, v: string | Uint8Array) =>
        Effect.zipRight(inner.kv.set(k, v), Effect.sync(() => void landed.push(String(v))))
      const storage: Storage.Service = {
        kv: {
          ...inner.kv,
          set: (k, v) =>
            Effect.suspend(() => {
              if (!first) return record(k, v)
              first = false
              return Effect.zipRight(Deferred.await(gate), Effect.fail(fault))
            })
        },
        listKeys: inner.listKeys,
        setMany: (entries) => Effect.forEach(entries, ([k, v]) => record(k, v), { discard: true })
      }
      return { storage, gate, landed, stored: (k: string) => Effect.map(inner.kv.get(k), Option.getOrUndefined) }
    })
    const v = (version: number) => ({ title: "t", version })
    const text = (version: number) => JSON.stringify(v(version))

    it.effect("an older important write that fails does not land over a newer one", () =>
      Effect.gen(function*() {
        const { gate, landed, storage, stored } = yield* hangingThenFailing
        const docs = (yield* PersistenceManager.make(storage, { importantDelay: "100 millis", resilience: false }))
          .forSchema(Doc)
        yield* docs.persist("k", v(1), "important")
        yield* TestClock.adjust("100 millis") // v1 on its way, hanging
        yield* docs.persist("k", v(2), "important")
        yield* TestClock.adjust("100 millis")
        assert.isUndefined(yield* stored("k"), "v2 waits for the write of v1 under way")
        assert.deepStrictEqual(yield* docs.load("k"), Option.some(v(2)))
        yield* Deferred.succeed(gate, undefined) // v1 fails
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* stored("k"), text(2))
        assert.deepStrictEqual(landed, [text(2)], "the failed v1 is not tried again: v2 superseded it")
      }).pipe(Effect.scoped))

    it.effect("a retried older important write lands before the newer one, not after", () =>
      Effect.gen(function*() {
        const { docs, state, stored } = yield* setup({
          importantDelay: "20 millis",
          resilience: { retry: { times: 3, base: "100 millis", jitter: false } }
        })
        state.failing = true
        yield* docs.persist("k", v(1), "important")
        yield* TestClock.adjust("20 millis") // v1 fails; retried in 100 ms
        state.failing = false
        yield* docs.persist("k", v(2), "important")
        yield* TestClock.adjust("20 millis") // v2 is due, but waits for v1
        assert.isUndefined(yield* stored("k"))
        yield* TestClock.adjust("80 millis") // v1's retry lands, then v2
        assert.strictEqual(yield* stored("k"), text(2))
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* stored("k"), text(2), "nothing older lands later")
        assert.strictEqual(state.writes, 2)
      }))

    it.effect("a failed important write does not land over a newer critical one", () =>
      Effect.gen(function*() {
        const { gate, landed, storage, stored } = yield* hangingThenFailing
        const docs = (yield* PersistenceManager.make(storage, { importantDelay: "100 millis", resilience: false }))
          .forSchema(Doc)
        yield* docs.persist("k", v(1), "important")
        yield* TestClock.adjust("100 millis") // v1 on its way, hanging
        const critical = yield* Effect.fork(docs.persist("k", v(2), "critical"))
        yield* TestClock.adjust("10 millis")
        assert.isNull(critical.unsafePoll(), "the critical write waits for the write of v1 under way")
        yield* Deferred.succeed(gate, undefined) // v1 fails
        yield* Fiber.join(critical)
        assert.strictEqual(yield* stored("k"), text(2), "durable when persist returns")
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* stored("k"), text(2))
        assert.deepStrictEqual(landed, [text(2)])
      }).pipe(Effect.scoped))

    it.effect("a failed background batch does not put back a value a newer critical write replaced", () =>
      Effect.gen(function*() {
        const faulty = yield* makeFaultyStorage
        const { state, stored } = faulty
        // a batch fails at once, but its caller learns it 50 ms later (a timeout)
        const storage: Storage.Service = {
          ...faulty.storage,
          setMany: (entries) =>
            Effect.flatten(Effect.zipLeft(Effect.exit(faulty.storage.setMany(entries)), Effect.sleep("50 millis")))
        }
        const docs = (yield* PersistenceManager.make(storage, { backgroundInterval: "1 second", resilience: false }))
          .forSchema(Doc)
        yield* docs.persist("k", v(1), "background")
        state.failing = true
        yield* TestClock.adjust("1 second") // the batch with v1 is on its way, failing
        state.failing = false
        const critical = yield* Effect.fork(docs.persist("k", v(2), "critical"))
        yield* TestClock.adjust("50 millis")
        yield* Fiber.join(critical)
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* stored("k"), text(2))
        assert.strictEqual(state.writes, 1, "v1 is not written after v2")
      }).pipe(Effect.scoped))

    it.effect("a newer critical write waits for a background batch under way that holds the key", () =>
      Effect.gen(function*() {
        const inner = yield* Storage.makeMemory
        const landed: Array<string> = []
        const record = (k: string, v: string | Uint8Array) =>
          Effect.zipRight(inner.kv.set(k, v), Effect.sync(() => void landed.push(String(v))))
        const slowBatch: Storage.Service = {
          kv: { ...inner.kv, set: record },
          listKeys: inner.listKeys,
          setMany: (entries) =>
            Effect.zipRight(Effect.sleep("50 millis"), Effect.forEach(entries, ([k, v]) => record(k, v)))
        }
        const stored = (k: string) => Effect.map(inner.kv.get(k), Option.getOrUndefined)
        const docs = (yield* PersistenceManager.make(slowBatch, { backgroundInterval: "1 second", resilience: false }))
          .forSchema(Doc)
        yield* docs.persist("k", v(1), "background")
        yield* TestClock.adjust("1 second") // the batch with v1 is on its way (50 ms)
        const critical = yield* Effect.fork(docs.persist("k", v(2), "critical"))
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(critical)
        assert.strictEqual(yield* stored("k"), text(2))
        assert.deepStrictEqual(landed, [text(1), text(2)], "v1 landed first, v2 last")
      }).pipe(Effect.scoped))
  })
})
