/**
 * @since 0.1.0
 */
export * as Aggregate from "./Aggregate.js"
/**
 * @since 0.1.0
 */
export * as DomainError from "./DomainError.js"
/**
 * @since 0.1.0
 */
export * as Envelope from "./Envelope.js"
/**
 * @since 0.1.0
 */
export * as Specification from "./Specification.js"
