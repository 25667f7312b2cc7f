/**
 * The event envelope shared by every Chronicle package: an event plus where it sits and why it
 * happened.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Free-form metadata carried with an event.
 *
 * @since 0.1.0
 * @category models
 */
export const Metadata = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** @since 0.1.0 @category models */
export type Metadata = typeof Metadata.Type

/**
 * Why an event happened: the conversation it belongs to (correlation) and the message that caused
 * it (causation).
 *
 * @since 0.1.0
 * @category models
 */
export interface Causation {
  readonly correlationId: string | null
  readonly causationId: string | null
}

/**
 * A stored event with its position and context.
 *
 * @since 0.1.0
 * @category models
 */
export interface EventEnvelope<A = unknown> extends Causation {
  readonly eventId: string
  readonly streamId: string
  /** 1-based position within its stream: the stream's version after this event. */
  readonly streamVersion: number
  /** Position in the store's global order, strictly increasing. */
  readonly globalPosition: number
  /** The event's tag. */
  readonly type: string
  /** The version of the event's stored shape, for upcasting. */
  readonly schemaVersion: number
  readonly timestamp: Date
  readonly metadata: Metadata
  readonly data: A
}

/**
 * The schema of an envelope around events of the given schema; dates travel as ISO strings.
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema = <A, I, R>(data: Schema.Schema<A, I, R>) =>
  Schema.Struct({
    eventId: Schema.String,
    streamId: Schema.String,
    streamVersion: Schema.Int,
    globalPosition: Schema.Int,
    type: Schema.String,
    schemaVersion: Schema.Int,
    timestamp: Schema.Date,
    correlationId: Schema.NullOr(Schema.String),
    causationId: Schema.NullOr(Schema.String),
    metadata: Metadata,
    data
  })

/**
 * No correlation or causation: the start of a conversation.
 *
 * @since 0.1.0
 * @category causation
 */
export const noCausation: Causation = { correlationId: null, causationId: null }

/**
 * The causation of a message triggered by `trigger`: it joins the trigger's conversation (or starts
 * one named after the trigger) and names the trigger as its cause.
 *
 * @since 0.1.0
 * @category causation
 */
export const causedBy = (trigger: { readonly eventId: string; readonly correlationId: string | null }): Causation => ({
  correlationId: trigger.correlationId ?? trigger.eventId,
  causationId: trigger.eventId
})

/**
 * The causation of a message triggered by a command or request with an id.
 *
 * @since 0.1.0
 * @category causation
 */
export const causedByMessage = (messageId: string, correlationId?: string | null): Causation => ({
  correlationId: correlationId ?? messageId,
  causationId: messageId
})
