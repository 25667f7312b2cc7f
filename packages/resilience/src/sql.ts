/**
 * The SQL-backed `KeyValueStore` and `BreakerStore`, in their own entry point so the main one never
 * loads `@effect/sql`.
 *
 * @since 0.1.0
 */
export * as SqlBreakerStore from "./SqlBreakerStore.js"
/**
 * @since 0.1.0
 */
export * as SqlKeyValueStore from "./SqlKeyValueStore.js"
