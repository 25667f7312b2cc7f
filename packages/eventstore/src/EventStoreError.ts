/**
 * Typed failures of the event store.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * The stream was not at the version the writer expected.
 *
 * @since 0.1.0
 * @category errors
 */
export class WrongExpectedVersion extends Schema.TaggedError<WrongExpectedVersion>()("WrongExpectedVersion", {
  streamId: Schema.String,
  expected: Schema.String,
  actual: Schema.Number
}) {
  override get message(): string {
    return `stream ${this.streamId}: expected ${this.expected}, but it is at version ${this.actual}`
  }
}

/**
 * The stream was deleted (tombstoned): it can no longer be read or written.
 *
 * @since 0.1.0
 * @category errors
 */
export class StreamDeleted extends Schema.TaggedError<StreamDeleted>()("StreamDeleted", {
  streamId: Schema.String
}) {
  override get message(): string {
    return `stream ${this.streamId} is deleted`
  }
}

/**
 * An append retried event ids that are already stored, but not as exactly the same events at the
 * same place: it is neither a new append nor a retry of an earlier one.
 *
 * @since 0.1.0
 * @category errors
 */
export class IdempotencyConflict extends Schema.TaggedError<IdempotencyConflict>()("IdempotencyConflict", {
  streamId: Schema.String,
  eventIds: Schema.Array(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    return `stream ${this.streamId}: ${this.reason} (${this.eventIds.join(", ")})`
  }
}

/**
 * The input to an event-store operation is invalid (an empty stream id, a bad limit, an event
 * that is not JSON-compatible...); nothing was read or written.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  streamId: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `stream ${this.streamId}: ${this.reason}`
  }
}

/**
 * A stored event or snapshot could not be decoded into its current shape.
 *
 * @since 0.1.0
 * @category errors
 */
export class EventDecodeError extends Schema.TaggedError<EventDecodeError>()("EventDecodeError", {
  streamId: Schema.String,
  streamVersion: Schema.Number,
  type: Schema.String,
  schemaVersion: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot decode ${this.type} v${this.schemaVersion} at ${this.streamId}@${this.streamVersion}: ${this.reason}`
  }
}

/**
 * The storage underneath failed (connection, disk, driver). The original failure is the `cause`.
 *
 * @since 0.1.0
 * @category errors
 */
export class EventStoreError extends Schema.TaggedError<EventStoreError>()("EventStoreError", {
  operation: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    return `event store ${this.operation} failed: ${
      this.cause instanceof Error ? this.cause.message : String(this.cause)
    }`
  }
}

/**
 * Every failure an append can have.
 *
 * @since 0.1.0
 * @category errors
 */
export type AppendError = WrongExpectedVersion | StreamDeleted | IdempotencyConflict | InvalidRequest | EventStoreError
