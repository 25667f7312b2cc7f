/**
 * What buses carry: commands and queries as Schema tagged requests, and the context each is
 * handled in (its id, correlation and causation).
 *
 * @since 0.1.0
 */
import type { Envelope } from "@chronicle/domain"
import type { Either, ParseResult, Schema } from "effect"

/**
 * A command or query: a `Schema.TaggedRequest` instance, whose schema gives its success and
 * failure types.
 *
 * @since 0.1.0
 * @category models
 */
export type Message = Schema.TaggedRequest.All

/**
 * The schema (class) of a command or query.
 *
 * @since 0.1.0
 * @category models
 */
export type MessageSchema = Schema.Schema.AnyNoContext & { readonly _tag: string }

/**
 * The type a message schema describes.
 *
 * @since 0.1.0
 * @category type-level
 */
export type MessageOf<S extends MessageSchema> = Schema.Schema.Type<S> extends Message ? Schema.Schema.Type<S> : never

/**
 * What a handler of `M` succeeds with.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Success<M> = Schema.WithResult.Success<M>

/**
 * What a handler of `M` may fail with.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Failure<M> = Schema.WithResult.Failure<M>

/**
 * How a message is sent: its id (else its `commandId` / `queryId` field, else a fresh UUID), the
 * conversation it belongs to and what caused it.
 *
 * @since 0.1.0
 * @category models
 */
export interface SendOptions {
  readonly messageId?: string
  readonly correlationId?: string | null
  readonly causationId?: string | null
  readonly metadata?: Envelope.Metadata
}

/**
 * The context a handler and each middleware see.
 *
 * @since 0.1.0
 * @category models
 */
export interface MessageContext {
  readonly kind: "command" | "query"
  /** The message's tag. */
  readonly type: string
  readonly message: Message
  readonly messageId: string
  readonly correlationId: string | null
  readonly causationId: string | null
  readonly metadata: Envelope.Metadata
  /** Checks the message against its schema. */
  readonly validate: () => Either.Either<unknown, ParseResult.ParseError>
}
