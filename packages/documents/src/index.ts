/**
 * @since 0.0.0
 */
export * as Document from "./Document.js"
/**
 * @since 0.0.0
 */
export * as Documents from "./Documents.js"
/**
 * @since 0.0.0
 */
export * as ReadModel from "./ReadModel.js"
/**
 * @since 0.0.0
 */
export * as Database from "./Database.js"
/**
 * @since 0.0.0
 */
export * as SavePipeline from "./SavePipeline.js"
