/**
 * @since 0.1.0
 */
export * as ContentHash from "./ContentHash.js"
/**
 * @since 0.1.0
 */
export * as Enrichment from "./Enrichment.js"
/**
 * @since 0.1.0
 */
export * as Notification from "./Notification.js"
/**
 * @since 0.1.0
 */
export * as Persistence from "./Persistence.js"
/**
 * @since 0.1.0
 */
export * as Pipeline from "./Pipeline.js"
/**
 * @since 0.1.0
 */
export * as PipelineError from "./PipelineError.js"
/**
 * @since 0.1.0
 */
export * as Step from "./Step.js"
/**
 * @since 0.1.0
 */
export * as Validation from "./Validation.js"
