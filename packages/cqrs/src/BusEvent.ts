/**
 * The buses' own event feed: one event per command or query handled, with its type, duration and
 * outcome.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const common = {
  type: Schema.String,
  messageId: Schema.String,
  correlationId: Schema.NullOr(Schema.String),
  durationMillis: Schema.Number
}

const failed = {
  ...common,
  outcome: Schema.Literal("failure", "defect", "interrupted"),
  /** The failure's tag, or a short description of a defect. */
  error: Schema.String
}

/** @since 0.1.0 @category schemas */
export const CommandExecuted = Schema.TaggedStruct("CommandExecuted", common)
/** @since 0.1.0 @category schemas */
export const CommandFailed = Schema.TaggedStruct("CommandFailed", failed)
/** @since 0.1.0 @category schemas */
export const QueryExecuted = Schema.TaggedStruct("QueryExecuted", common)
/** @since 0.1.0 @category schemas */
export const QueryFailed = Schema.TaggedStruct("QueryFailed", failed)

/**
 * One event of the feed.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BusEvent = Schema.Union(CommandExecuted, CommandFailed, QueryExecuted, QueryFailed)

/** @since 0.1.0 @category models */
export type BusEvent = typeof BusEvent.Type

/**
 * The outcome of a handled message: `success`, or how it failed.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = "success" | "failure" | "defect" | "interrupted"
