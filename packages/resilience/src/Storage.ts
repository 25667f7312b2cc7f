/**
 * The storage under the persistence manager: a `KeyValueStore` plus what it lacks, listing keys by
 * prefix and writing many entries at once.
 *
 * @since 0.1.0
 */
import { Error as PlatformError, KeyValueStore } from "@effect/platform"
import { Context, Effect, Layer, Option } from "effect"

/**
 * @since 0.1.0
 * @category services
 */
export interface Service {
  readonly kv: KeyValueStore.KeyValueStore
  /** Keys starting with `prefix`, sorted. */
  readonly listKeys: (prefix: string) => Effect.Effect<ReadonlyArray<string>, PlatformError.PlatformError>
  /** Writes several entries, in one transaction where the store has them. */
  readonly setMany: (
    entries: ReadonlyArray<readonly [key: string, value: string]>
  ) => Effect.Effect<void, PlatformError.PlatformError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Storage extends Context.Tag("@chronicle/resilience/Storage")<Storage, Service>() {}

/**
 * An in-memory store with listing: for tests, demos and single-process caches.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<Service> = Effect.sync(() => {
  const map = new Map<string, string | Uint8Array>()
  const encoder = new TextEncoder()
  const decoder = new TextDecoder()
  const kv = KeyValueStore.make({
    get: (key) =>
      Effect.sync(() => {
        const value = map.get(key)
        return value === undefined
          ? Option.none()
          : Option.some(typeof value === "string" ? value : decoder.decode(value))
      }),
    getUint8Array: (key) =>
      Effect.sync(() => {
        const value = map.get(key)
        return value === undefined
          ? Option.none()
          : Option.some(typeof value === "string" ? encoder.encode(value) : value)
      }),
    set: (key, value) => Effect.sync(() => void map.set(key, value)),
    remove: (key) => Effect.sync(() => void map.delete(key)),
    clear: Effect.sync(() => map.clear()),
    size: Effect.sync(() => map.size)
  })
  return {
    kv,
    listKeys: (prefix) => Effect.sync(() => Array.from(map.keys()).filter((key) => key.startsWith(prefix)).sort()),
    setMany: (entries) =>
      Effect.sync(() => {
        for (const [key, value] of entries) map.set(key, value)
      })
  }
})

/**
 * Adapts any `KeyValueStore`. Without `listKeys`, listing fails with a `BadArgument` saying the
 * store cannot list; `setMany` writes one entry at a time.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromKeyValueStore = (
  kv: KeyValueStore.KeyValueStore,
  options: { readonly listKeys?: Service["listKeys"] } = {}
): Service => ({
  kv,
  listKeys: options.listKeys ??
    ((prefix) =>
      Effect.fail(
        new PlatformError.BadArgument({
          module: "KeyValueStore",
          method: "listKeys",
          description: `this KeyValueStore cannot list keys (prefix ${prefix})`
        })
      )),
  setMany: (entries) => Effect.forEach(entries, ([key, value]) => kv.set(key, value), { discard: true })
})

/**
 * The in-memory store, also provided as the `KeyValueStore`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Storage | KeyValueStore.KeyValueStore> = Layer.effectContext(
  Effect.map(
    makeMemory,
    (service) => Context.make(Storage, service).pipe(Context.add(KeyValueStore.KeyValueStore, service.kv))
  )
)

/**
 * Storage over the `KeyValueStore` in context (listing unsupported unless the store can).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKeyValueStore: Layer.Layer<Storage, never, KeyValueStore.KeyValueStore> = Layer.effect(
  Storage,
  Effect.map(KeyValueStore.KeyValueStore, (kv) => fromKeyValueStore(kv))
)
