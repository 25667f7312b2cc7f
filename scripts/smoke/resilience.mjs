// Runs in a scratch project where @chronicle/resilience was installed from its tarball.
import { CircuitBreaker, PersistenceManager, Retry, Storage } from "@chronicle/resilience"
import { SqlKeyValueStore } from "@chronicle/resilience/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer, Option, Schema } from "effect"
import assert from "node:assert/strict"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const breaker = await Effect.runPromise(CircuitBreaker.make({ name: "smoke", policy: CircuitBreaker.consecutive(2) }))
for (let i = 0; i < 2; i++) await Effect.runPromise(Effect.either(breaker.execute(Effect.fail("down"))))
const rejected = await Effect.runPromise(Effect.flip(breaker.execute(Effect.succeed(1))))
assert.equal(rejected._tag, "CircuitOpen")

let attempts = 0
const value = await Effect.runPromise(
  Effect.suspend(() => ++attempts < 3 ? Effect.fail("again") : Effect.succeed("ok")).pipe(
    Retry.retry({ times: 5, base: "1 millis" })
  )
)
assert.equal(value, "ok")

const Settings = Schema.Struct({ theme: Schema.String })
const persistAndLoad = Effect.scoped(Effect.gen(function*() {
  const settings = yield* PersistenceManager.makeFor(Settings, {})
  yield* settings.persist("settings/ada", { theme: "dark" }, "critical")
  return yield* settings.load("settings/ada")
}))
const loaded = await Effect.runPromise(persistAndLoad.pipe(Effect.provide(Storage.layerMemory)))
assert.deepEqual(Option.getOrNull(loaded), { theme: "dark" })

const filename = join(mkdtempSync(join(tmpdir(), "smoke-")), "kv.db")
const sqlStorage = SqlKeyValueStore.layer().pipe(Layer.provide(SqliteClient.layer({ filename })))
const fromSql = await Effect.runPromise(persistAndLoad.pipe(Effect.provide(sqlStorage)))
assert.deepEqual(Option.getOrNull(fromSql), { theme: "dark" })
console.log("@chronicle/resilience ok")
