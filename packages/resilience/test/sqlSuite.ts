import { BreakerStore, CircuitBreaker, PersistenceManager } from "@chronicle/resilience"
import { SqlBreakerStore, SqlKeyValueStore } from "@chronicle/resilience/sql"
import type { SqlClient, SqlError } from "@effect/sql"
import { assert, it } from "@effect/vitest"
import type { ConfigError, Layer } from "effect"
import { Effect, Either, Exit, Option, Scope, TestClock, TestServices } from "effect"

/** The same checks for every SQL dialect; `table` must be unique per call. */
export const sqlKeyValueStoreSuite = (
  client: Layer.Layer<SqlClient.SqlClient, SqlError.SqlError | ConfigError.ConfigError>,
  table: () => string
) => {
  it.effect("get, set, has, remove, size and clear", () =>
    Effect.gen(function*() {
      const { kv } = yield* SqlKeyValueStore.make({ table: table() })
      assert.isTrue(Option.isNone(yield* kv.get("a")))
      yield* kv.set("a", "1")
      yield* kv.set("b", "2")
      yield* kv.set("a", "3")
      assert.deepStrictEqual(yield* kv.get("a"), Option.some("3"))
      assert.isTrue(yield* kv.has("b"))
      assert.strictEqual(yield* kv.size, 2)
      yield* kv.remove("b")
      assert.isFalse(yield* kv.has("b"))
      assert.deepStrictEqual(yield* kv.modify("a", (v) => v + "!"), Option.some("3!"))
      yield* kv.clear
      assert.isTrue(yield* kv.isEmpty)
    }).pipe(Effect.provide(client)))

  it.effect("binary values round-trip and read as text too", () =>
    Effect.gen(function*() {
      const { kv } = yield* SqlKeyValueStore.make({ table: table() })
      const bytes = new TextEncoder().encode("héllo")
      yield* kv.set("bin", bytes)
      const read = yield* kv.getUint8Array("bin")
      assert.isTrue(Option.isSome(read))
      if (Option.isSome(read)) assert.deepStrictEqual(Array.from(read.value), Array.from(bytes))
      assert.deepStrictEqual(yield* kv.get("bin"), Option.some("héllo"))
      yield* kv.set("text", "plain")
      const asBytes = yield* kv.getUint8Array("text")
      assert.isTrue(Option.isSome(asBytes) && new TextDecoder().decode(asBytes.value) === "plain")
    }).pipe(Effect.provide(client)))

  it.effect("listKeys matches a literal prefix, wildcards included", () =>
    Effect.gen(function*() {
      const store = yield* SqlKeyValueStore.make({ table: table() })
      yield* store.setMany([["user/1", "a"], ["user/2", "b"], ["users", "c"], ["100%_x", "d"], ["100%ax", "e"]])
      assert.deepStrictEqual(yield* store.listKeys("user/"), ["user/1", "user/2"])
      assert.deepStrictEqual(yield* store.listKeys("100%_"), ["100%_x"])
      assert.deepStrictEqual(yield* store.listKeys(""), ["100%_x", "100%ax", "user/1", "user/2", "users"])
    }).pipe(Effect.provide(client)))

  it.effect("setMany writes a large batch, the last value of a repeated key winning", () =>
    Effect.gen(function*() {
      const store = yield* SqlKeyValueStore.make({ table: table() })
      const entries = Array.from({ length: 450 }, (_, i) => [`k/${String(i).padStart(3, "0")}`, `${i}`] as const)
      yield* store.setMany([...entries, ["k/000", "last"]])
      assert.strictEqual(yield* store.kv.size, 450)
      assert.deepStrictEqual(yield* store.kv.get("k/000"), Option.some("last"))
      assert.deepStrictEqual(yield* store.kv.get("k/449"), Option.some("449"))
    }).pipe(Effect.provide(client)))

  it.effect("the persistence manager keeps critical writes and flushes the rest on a clean stop", () =>
    Effect.gen(function*() {
      const name = table()
      const storage = yield* SqlKeyValueStore.make({ table: name })
      const scope = yield* Scope.make()
      const manager = yield* Scope.extend(
        PersistenceManager.make(storage, { importantDelay: "1 hour", backgroundInterval: "1 hour" }),
        scope
      )
      yield* manager.persist("c", { n: 1 }, "critical")
      yield* manager.persist("i", { n: 2 }, "important")
      yield* manager.persist("b", { n: 3 }, "background")
      assert.deepStrictEqual(yield* storage.kv.get("c"), Option.some(JSON.stringify({ n: 1 })))
      assert.isTrue(Option.isNone(yield* storage.kv.get("b")))
      yield* TestClock.adjust("1 millis")
      yield* Scope.close(scope, Exit.void)
      // a fresh store over the same table sees everything
      const reopened = yield* SqlKeyValueStore.make({ table: name })
      assert.deepStrictEqual(yield* reopened.listKeys(""), ["b", "c", "i"])
      assert.deepStrictEqual(yield* reopened.kv.get("b"), Option.some(JSON.stringify({ n: 3 })))
    }).pipe(Effect.provide(client)))

  it.scoped("breakers in two processes share state through the SQL store", () =>
    Effect.gen(function*() {
      const name = table()
      // two stores over the same table stand for two processes
      const storeA = BreakerStore.fromKeyValueStore((yield* SqlKeyValueStore.make({ table: name })).kv)
      const storeB = BreakerStore.fromKeyValueStore((yield* SqlKeyValueStore.make({ table: name })).kv)
      const options = {
        name: "billing",
        policy: CircuitBreaker.consecutive(1),
        openDuration: "5 seconds",
        syncInterval: "1 second"
      } as const
      const a = yield* CircuitBreaker.makeShared({ ...options, store: storeA, owner: "a" })
      const b = yield* CircuitBreaker.makeShared({ ...options, store: storeB, owner: "b" })
      yield* Effect.either(a.execute(Effect.fail("down")))
      yield* TestClock.adjust("1 second")
      // b's sync ran at the adjusted time; its read of the store is real I/O: wait for it to land
      yield* b.state.pipe(
        Effect.zipLeft(TestServices.provideLive(Effect.sleep("5 millis"))),
        Effect.repeat({ until: (state) => state === "Open", times: 400 })
      )
      const refused = yield* Effect.either(b.execute(Effect.void))
      assert.isTrue(Either.isLeft(refused) && refused.left._tag === "CircuitOpen")
      const restarted = yield* CircuitBreaker.makeShared({ ...options, store: storeB, owner: "c" })
      assert.strictEqual(yield* restarted.state, "Open")
    }).pipe(Effect.provide(client)))

  it.effect("SqlBreakerStore: state round-trips and the lease is exclusive until it expires", () =>
    Effect.gen(function*() {
      const store = yield* SqlBreakerStore.make({ table: table() })
      assert.isTrue(Option.isNone(yield* store.get("x")))
      const state = { state: "Open" as const, halfOpenAt: 5000, openings: 2, updatedAt: 1000, owner: "a" }
      yield* store.set("x", state)
      assert.deepStrictEqual(yield* store.get("x"), Option.some(state))
      assert.deepStrictEqual(yield* store.acquireLease("x", "a", 0, 100), { owner: "a", until: 100 })
      assert.strictEqual((yield* store.acquireLease("x", "b", 50, 150)).owner, "a")
      assert.deepStrictEqual(
        yield* store.acquireLease("x", "a", 60, 160),
        { owner: "a", until: 160 },
        "the holder renews"
      )
      assert.strictEqual((yield* store.acquireLease("x", "b", 160, 260)).owner, "b", "an expired lease is taken over")
      yield* store.releaseLease("x", "a")
      assert.strictEqual((yield* store.acquireLease("x", "a", 170, 300)).owner, "b", "only the holder releases")
      yield* store.releaseLease("x", "b")
      assert.strictEqual((yield* store.acquireLease("x", "a", 170, 300)).owner, "a")
      assert.deepStrictEqual(yield* store.get("x"), Option.some(state), "leases leave the state alone")
    }).pipe(Effect.provide(client)))

  it.effect("SqlBreakerStore: racing processes agree on one lease holder", () =>
    Effect.gen(function*() {
      const name = table()
      const stores = yield* Effect.forEach([1, 2, 3, 4], () => SqlBreakerStore.make({ table: name }))
      const leases = yield* Effect.forEach(
        stores,
        (store, i) => store.acquireLease("race", `p${i}`, 0, 1000),
        { concurrency: "unbounded" }
      )
      const winners = leases.filter((lease, i) => lease.owner === `p${i}`)
      assert.strictEqual(winners.length, 1)
      assert.isTrue(leases.every((lease) => lease.owner === winners[0].owner))
    }).pipe(Effect.provide(client)))
}
