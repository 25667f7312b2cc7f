/**
 * @since 0.1.0
 */
export * as Alerts from "./Alerts.js"
/**
 * @since 0.1.0
 */
export * as BreakerStore from "./BreakerStore.js"
/**
 * @since 0.1.0
 */
export * as Bulkhead from "./Bulkhead.js"
/**
 * @since 0.1.0
 */
export * as CircuitBreaker from "./CircuitBreaker.js"
/**
 * @since 0.1.0
 */
export * as Fallback from "./Fallback.js"
/**
 * @since 0.1.0
 */
export * as Monitoring from "./Monitoring.js"
/**
 * @since 0.1.0
 */
export * as PersistenceManager from "./PersistenceManager.js"
/**
 * @since 0.1.0
 */
export * as PersistenceStrategy from "./PersistenceStrategy.js"
/**
 * @since 0.1.0
 */
export * as Policy from "./Policy.js"
/**
 * @since 0.1.0
 */
export * as ResilientEventStore from "./ResilientEventStore.js"
/**
 * @since 0.1.0
 */
export * as Retry from "./Retry.js"
/**
 * @since 0.1.0
 */
export * as Storage from "./Storage.js"
/**
 * @since 0.1.0
 */
export * as Timeout from "./Timeout.js"
