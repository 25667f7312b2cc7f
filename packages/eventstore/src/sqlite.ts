/**
 * @since 0.1.0
 */
export * as SqliteEventStore from "./SqliteEventStore.js"
