/**
 * @since 0.1.0
 */
export * as CqrsError from "./CqrsError.js"
/**
 * @since 0.1.0
 */
export * as SnapshotPolicy from "./SnapshotPolicy.js"
/**
 * @since 0.1.0
 */
export * as Repository from "./Repository.js"
/**
 * @since 0.1.0
 */
export * as UnitOfWork from "./UnitOfWork.js"
/**
 * @since 0.1.0
 */
export * as Message from "./Message.js"
/**
 * @since 0.1.0
 */
export * as Middleware from "./Middleware.js"
/**
 * @since 0.1.0
 */
export * as BusEvent from "./BusEvent.js"
/**
 * @since 0.1.0
 */
export * as CommandBus from "./CommandBus.js"
/**
 * @since 0.1.0
 */
export * as QueryBus from "./QueryBus.js"
/**
 * @since 0.1.0
 */
export * as CommandHandler from "./CommandHandler.js"
/**
 * @since 0.1.0
 */
export * as StreamHistory from "./StreamHistory.js"
/**
 * @since 0.1.0
 */
export * as Projection from "./Projection.js"
/**
 * @since 0.1.0
 */
export * as Projections from "./Projections.js"
/**
 * @since 0.1.0
 */
export * as InlineProjections from "./InlineProjections.js"
