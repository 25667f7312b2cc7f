/**
 * @since 0.1.0
 */
export * as PgEventStore from "./PgEventStore.js"
