/**
 * @since 0.1.0
 */
export * as EventStore from "./EventStore.js"
/**
 * @since 0.1.0
 */
export * as EventStoreError from "./EventStoreError.js"
/**
 * @since 0.1.0
 */
export * as ExpectedVersion from "./ExpectedVersion.js"
/**
 * @since 0.1.0
 */
export * as Serializer from "./Serializer.js"
/**
 * @since 0.1.0
 */
export * as SqlEventStore from "./SqlEventStore.js"
