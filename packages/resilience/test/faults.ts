import { Storage } from "@chronicle/resilience"
import { Error as PlatformError } from "@effect/platform"
import { Effect, Option } from "effect"

/** A memory storage that fails on demand and counts the writes that reached it. */
export const makeFaultyStorage = Effect.gen(function*() {
  const inner = yield* Storage.makeMemory
  const state = { failing: false, writes: 0, batches: 0, calls: 0 }
  const fault = (method: string) =>
    new PlatformError.SystemError({ reason: "Unknown", module: "KeyValueStore", method, description: "injected fault" })
  const guard = <A>(method: string, effect: Effect.Effect<A, PlatformError.PlatformError>) =>
    Effect.suspend(() => {
      state.calls++
      return state.failing ? Effect.fail(fault(method)) : effect
    })
  const storage: Storage.Service = {
    kv: {
      ...inner.kv,
      get: (key) => guard("get", inner.kv.get(key)),
      has: (key) => guard("has", inner.kv.has(key)),
      set: (key, value) => guard("set", Effect.zipRight(Effect.sync(() => state.writes++), inner.kv.set(key, value))),
      remove: (key) => guard("remove", inner.kv.remove(key))
    },
    listKeys: (prefix) => guard("listKeys", inner.listKeys(prefix)),
    setMany: (entries) =>
      guard(
        "setMany",
        Effect.zipRight(
          Effect.sync(() => {
            state.batches++
            state.writes += entries.length
          }),
          inner.setMany(entries)
        )
      )
  }
  /** What is really stored, bypassing faults. */
  const stored = (key: string) => Effect.map(inner.kv.get(key), Option.getOrUndefined)
  return { storage, state, stored, inner }
})
