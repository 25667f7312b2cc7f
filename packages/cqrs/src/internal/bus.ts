// What the command bus and the query bus share: a map from message tag to handler, middleware
// applied in order, and the feed. The hot path is one Map lookup and, when nobody listens to the
// feed, no clock reads and no publishing.
import type { Envelope } from "@chronicle/domain"
import type { Either, Queue, Scope } from "effect"
import { Effect, Exit, ParseResult, PubSub, Schema, Stream } from "effect"
import type { BusEvent } from "../BusEvent.js"
import { DuplicateHandler, HandlerNotFound, ValidationError } from "../CqrsError.js"
import type { Message, MessageContext, MessageSchema, SendOptions } from "../Message.js"
import type { Middleware } from "../Middleware.js"
import { errorOf } from "./outcome.js"

export type Kind = "command" | "query"

export interface Entry {
  readonly type: string
  readonly validate: (message: unknown) => Either.Either<unknown, ParseResult.ParseError>
  readonly decode: (input: unknown) => Effect.Effect<Message, ParseResult.ParseError>
  readonly handle: (message: Message, context: MessageContext) => Effect.Effect<unknown, unknown>
}

const noMetadata: Envelope.Metadata = {}

class Ctx implements MessageContext {
  private id: string | undefined
  constructor(
    readonly kind: Kind,
    readonly message: Message,
    private readonly options: SendOptions | undefined,
    private readonly entry: Entry
  ) {}
  get type(): string {
    return this.message._tag
  }
  get messageId(): string {
    if (this.id === undefined) {
      const field = this.kind === "command" ? "commandId" : "queryId"
      const own: unknown = field in this.message
        ? (this.message as unknown as Record<string, unknown>)[field]
        : undefined
      this.id = this.options?.messageId ?? (typeof own === "string" ? own : crypto.randomUUID())
    }
    return this.id
  }
  get correlationId(): string | null {
    return this.options?.correlationId ?? null
  }
  get causationId(): string | null {
    return this.options?.causationId ?? null
  }
  get metadata(): Envelope.Metadata {
    return this.options?.metadata ?? noMetadata
  }
  validate() {
    return this.entry.validate(this.message)
  }
}

export interface Core {
  readonly kind: Kind
  readonly register: (schema: MessageSchema, entry: Entry["handle"]) => Effect.Effect<void, DuplicateHandler>
  /** `missing: "die"` is for callers whose types guarantee a handler. */
  readonly run: (
    message: Message,
    options: SendOptions | undefined,
    missing: "fail" | "die"
  ) => Effect.Effect<unknown, unknown>
  readonly runUnknown: (input: unknown, options: SendOptions | undefined) => Effect.Effect<unknown, unknown>
  readonly has: (type: string) => boolean
  readonly subscribe: Effect.Effect<Queue.Dequeue<BusEvent>, never, Scope.Scope>
  readonly events: Stream.Stream<BusEvent>
}

// Checks every field's refinements, also of an instance built without validation: through the
// class's fields when it has them (much faster), else by encoding.
const validator = (schema: MessageSchema): Entry["validate"] => {
  const fields: unknown = "fields" in schema ? schema.fields : undefined
  return typeof fields === "object" && fields !== null &&
      Object.values(fields).every((f) => Schema.isSchema(f) || Schema.isPropertySignature(f))
    ? Schema.validateEither(Schema.Struct(fields as Schema.Struct.Fields))
    : Schema.encodeEither(schema)
}

export const makeCore = (kind: Kind, middleware: ReadonlyArray<Middleware>): Effect.Effect<Core> =>
  Effect.map(PubSub.unbounded<BusEvent>(), (pubsub) => {
    const handlers = new Map<string, Entry>()
    let subscribers = 0
    const executed = kind === "command" ? "CommandExecuted" : "QueryExecuted"
    const failed = kind === "command" ? "CommandFailed" : "QueryFailed"

    // Durations are wall-clock (performance.now), also under a TestClock.
    const observe = (effect: Effect.Effect<unknown, unknown>, context: Ctx) =>
      Effect.suspend(() => {
        const start = performance.now()
        return Effect.onExit(effect, (exit) =>
          Effect.suspend(() => {
            const common = {
              type: context.type,
              messageId: context.messageId,
              correlationId: context.correlationId,
              durationMillis: performance.now() - start
            }
            const event: BusEvent = Exit.isSuccess(exit)
              ? { _tag: executed, ...common }
              : {
                _tag: failed,
                ...common,
                outcome: Exit.isInterrupted(exit) ? "interrupted" : exit.cause._tag === "Die" ? "defect" : "failure",
                error: errorOf(exit.cause)
              }
            return PubSub.publish(pubsub, event)
          }))
      })

    const dispatch = (entry: Entry, message: Message, options: SendOptions | undefined) => {
      const context = new Ctx(kind, message, options, entry)
      let effect = entry.handle(message, context)
      for (let i = middleware.length - 1; i >= 0; i--) effect = middleware[i].apply(effect, context)
      return subscribers === 0 ? effect : observe(effect, context)
    }

    const run = (message: Message, options: SendOptions | undefined, missing: "fail" | "die") => {
      const entry = handlers.get(message._tag)
      if (entry !== undefined) return dispatch(entry, message, options)
      const error = new HandlerNotFound({ kind, type: message._tag })
      return missing === "fail" ? Effect.fail(error) : Effect.die(error)
    }

    const runUnknown = (input: unknown, options: SendOptions | undefined) => {
      const tag = typeof input === "object" && input !== null && "_tag" in input ? input._tag : undefined
      const entry = typeof tag === "string" ? handlers.get(tag) : undefined
      return entry === undefined
        ? Effect.fail(new HandlerNotFound({ kind, type: typeof tag === "string" ? tag : "(untagged)" }))
        : Effect.flatMap(
          Effect.mapError(entry.decode(input), (error) =>
            new ValidationError({
              kind,
              type: entry.type,
              reason: ParseResult.TreeFormatter.formatErrorSync(error)
            })),
          (message) => dispatch(entry, message, options)
        )
    }

    const register = (schema: MessageSchema, handle: Entry["handle"]) =>
      Effect.suspend(() => {
        if (handlers.has(schema._tag)) return Effect.fail(new DuplicateHandler({ kind, type: schema._tag }))
        handlers.set(schema._tag, {
          type: schema._tag,
          validate: validator(schema),
          decode: Schema.decodeUnknown(schema),
          handle
        })
        return Effect.void
      })

    const subscribe = Effect.zipRight(
      Effect.acquireRelease(Effect.sync(() => subscribers++), () => Effect.sync(() => subscribers--)),
      PubSub.subscribe(pubsub)
    )

    return {
      kind,
      register,
      run,
      runUnknown,
      has: (type: string) => handlers.has(type),
      subscribe,
      events: Stream.unwrapScoped(Effect.map(subscribe, (queue) => Stream.fromQueue(queue)))
    }
  })
