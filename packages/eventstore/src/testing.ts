/**
 * @since 0.1.0
 */
export * as Conformance from "./Conformance.js"
