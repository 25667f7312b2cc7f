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
