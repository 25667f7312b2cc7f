/**
 * Typed failures of the write side (repositories, units of work and the buses) and of projection
 * definitions.
 *
 * @since 0.1.0
 */
import { Data, Schema } from "effect"

/**
 * No aggregate with this id: its stream has no events, was tombstoned, or its state says it was
 * deleted by a domain event (`deleted: true` in the last two cases).
 *
 * @since 0.1.0
 * @category errors
 */
export class AggregateNotFound extends Schema.TaggedError<AggregateNotFound>()("AggregateNotFound", {
  aggregate: Schema.String,
  id: Schema.String,
  deleted: Schema.Boolean
}) {
  override get message(): string {
    return `${this.aggregate} ${this.id} ${this.deleted ? "was deleted" : "does not exist"}`
  }
}

/**
 * An aggregate that must be new already has events.
 *
 * @since 0.1.0
 * @category errors
 */
export class AggregateAlreadyExists extends Schema.TaggedError<AggregateAlreadyExists>()("AggregateAlreadyExists", {
  aggregate: Schema.String,
  id: Schema.String,
  version: Schema.Number
}) {
  override get message(): string {
    return `${this.aggregate} ${this.id} already exists (version ${this.version})`
  }
}

/**
 * A command or query was sent to a bus that has no handler for its type.
 *
 * @since 0.1.0
 * @category errors
 */
export class HandlerNotFound extends Schema.TaggedError<HandlerNotFound>()("HandlerNotFound", {
  kind: Schema.Literal("command", "query"),
  type: Schema.String
}) {
  override get message(): string {
    return `no ${this.kind} handler for ${this.type}`
  }
}

/**
 * A command or query does not match its schema; nothing was run.
 *
 * @since 0.1.0
 * @category errors
 */
export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", {
  kind: Schema.Literal("command", "query"),
  type: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid ${this.kind} ${this.type}: ${this.reason}`
  }
}

/**
 * A middleware refused a command or query (authorization, rate limit, a timeout...).
 *
 * @since 0.1.0
 * @category errors
 */
export class MessageRejected extends Schema.TaggedError<MessageRejected>()("MessageRejected", {
  kind: Schema.Literal("command", "query"),
  type: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.kind} ${this.type} rejected: ${this.reason}`
  }
}

/**
 * A unit of work was used after it was committed or rolled back.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnitOfWorkClosed extends Data.TaggedError("UnitOfWorkClosed")<{
  readonly status: "committed" | "rolledBack"
}> {
  override get message(): string {
    return `the unit of work was already ${this.status === "committed" ? "committed" : "rolled back"}`
  }
}

/**
 * An aggregate registered for deletion in a unit of work has no domain "deleted" event: a
 * tombstone cannot be part of an atomic multi-stream append, so it is refused up front.
 *
 * @since 0.1.0
 * @category errors
 */
export class DeletionNotSupported extends Data.TaggedError("DeletionNotSupported")<{
  readonly aggregate: string
  readonly id: string
}> {
  override get message(): string {
    return `${this.aggregate} has no deletion event; use Repository.tombstone outside a unit of work`
  }
}

/**
 * Everything a bus itself (rather than a handler) can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type BusError = ValidationError | MessageRejected

/**
 * Two handlers were registered for the same command or query type on one bus.
 *
 * @since 0.1.0
 * @category errors
 */
export class DuplicateHandler extends Data.TaggedError("DuplicateHandler")<{
  readonly kind: "command" | "query"
  readonly type: string
}> {
  override get message(): string {
    return `a ${this.kind} handler for ${this.type} is already registered`
  }
}

/**
 * A projection's definition cannot work: its setup fails with this, so it never runs and skips nothing.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidProjection extends Data.TaggedError("InvalidProjection")<{
  readonly projection: string
  readonly reason: string
}> {
  override get message(): string {
    return `projection ${this.projection}: ${this.reason}`
  }
}
