/**
 * The SQL-backed `KeyValueStore`, in its own entry point so the main one never loads `@effect/sql`.
 *
 * @since 0.1.0
 */
export * as SqlKeyValueStore from "./SqlKeyValueStore.js"
