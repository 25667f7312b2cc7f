/**
 * @since 0.1.0
 */
export * as ProjectionTesting from "./ProjectionTesting.js"
