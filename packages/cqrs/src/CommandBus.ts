/**
 * The command bus: commands are `Schema.TaggedRequest`s, each handled by exactly one handler
 * registered through a layer, through the bus's middleware, with every outcome on the bus's feed.
 *
 * @since 0.1.0
 */
import type { Queue, Scope } from "effect"
import { Context, Effect, Layer, Stream } from "effect"
import type { BusEvent } from "./BusEvent.js"
import type { BusError, DuplicateHandler, HandlerNotFound } from "./CqrsError.js"
import * as Bus from "./internal/bus.js"
import type { Failure, Message, MessageContext, MessageOf, MessageSchema, SendOptions, Success } from "./Message.js"
import type { Middleware } from "./Middleware.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const HandlerTypeId: unique symbol = Symbol.for("@chronicle/cqrs/CommandBus/Handler")

/**
 * @since 0.1.0
 * @category type ids
 */
export type HandlerTypeId = typeof HandlerTypeId

/**
 * Proof, in an effect's requirements, that a handler for the command tagged `Tag` is registered:
 * `send` requires it, and the handler's layer provides it, so a missing handler is a compile error.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handler<Tag extends string> {
  readonly [HandlerTypeId]: Tag
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Sends a command whose handler the types guarantee. */
  readonly send: <M extends Message>(
    command: M,
    options?: SendOptions
  ) => Effect.Effect<Success<M>, Failure<M> | BusError, Handler<M["_tag"]>>
  /** Sends a command whose handler is checked at run time only. */
  readonly dispatch: <M extends Message>(
    command: M,
    options?: SendOptions
  ) => Effect.Effect<Success<M>, Failure<M> | BusError | HandlerNotFound>
  /** Decodes outside input (e.g. a JSON body) with the schema registered for its `_tag`, then sends it. */
  readonly dispatchUnknown: (input: unknown, options?: SendOptions) => Effect.Effect<unknown, unknown>
  readonly hasHandler: (type: string) => boolean
  /** The feed: `CommandExecuted` and `CommandFailed`, from the moment the stream starts. */
  readonly events: Stream.Stream<BusEvent>
  /** The feed as a queue, subscribed when this effect runs (no event missed after it). */
  readonly subscribe: Effect.Effect<Queue.Dequeue<BusEvent>, never, Scope.Scope>
  /** Registers a handler; prefer the `handler` layer. */
  readonly register: (
    schema: MessageSchema,
    handle: (command: Message, context: MessageContext) => Effect.Effect<unknown, unknown>
  ) => Effect.Effect<void, DuplicateHandler>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class CommandBus extends Context.Tag("@chronicle/cqrs/CommandBus")<CommandBus, Service>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Applied in this order: the first is the outermost. */
  readonly middleware?: ReadonlyArray<Middleware>
}

/**
 * Builds a command bus.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.map(Bus.makeCore("command", options.middleware ?? []), fromCore)

// The core is untyped; the types of `send` and `dispatch` are guaranteed by `handler`, which only
// registers a handler of a message's own success and failure types under the message's tag.
const fromCore = (core: Bus.Core): Service => ({
  send: <M extends Message>(command: M, options?: SendOptions) =>
    core.run(command, options, "die") as Effect.Effect<Success<M>, Failure<M> | BusError, Handler<M["_tag"]>>,
  dispatch: <M extends Message>(command: M, options?: SendOptions) =>
    core.run(command, options, "fail") as Effect.Effect<Success<M>, Failure<M> | BusError | HandlerNotFound>,
  dispatchUnknown: (input, options) => core.runUnknown(input, options),
  hasHandler: core.has,
  events: core.events,
  subscribe: core.subscribe,
  register: core.register
})

/**
 * A command bus with the given middleware.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<CommandBus> => Layer.effect(CommandBus, make(options))

/**
 * How a command is handled: its success and failure are the ones its schema declares.
 *
 * @since 0.1.0
 * @category models
 */
export type Handle<S extends MessageSchema> = (
  command: MessageOf<S>,
  context: MessageContext
) => Effect.Effect<Success<MessageOf<S>>, Failure<MessageOf<S>>>

/**
 * Registers the handler of one command type. Give either the handling function, or an effect that
 * builds it: services the handler uses are taken once, when the layer is built, so dispatching
 * never rebuilds or provides a context (changing a fiber's context costs more than a dispatch).
 *
 * @example
 * ```ts
 * const Handlers = Layer.mergeAll(
 *   CommandBus.handler(Ping, (ping) => Effect.succeed(ping.n + 1)),
 *   CommandBus.handler(Deposit, Effect.map(Accounts, (accounts) =>
 *     CommandHandler.fromAggregate(accounts, { id: (c) => c.accountId })))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const handler: {
  <S extends MessageSchema, E = never, R = never>(
    schema: S,
    build: Effect.Effect<Handle<S>, E, R>
  ): Layer.Layer<Handler<S["_tag"]>, DuplicateHandler | E, CommandBus | R>
  <S extends MessageSchema>(schema: S, handle: Handle<S>): Layer.Layer<Handler<S["_tag"]>, DuplicateHandler, CommandBus>
} = <S extends MessageSchema, E, R>(
  schema: S,
  handleOrBuild: Handle<S> | Effect.Effect<Handle<S>, E, R>
): Layer.Layer<Handler<S["_tag"]>, DuplicateHandler | E, CommandBus | R> =>
  Layer.effect(
    Context.GenericTag<Handler<S["_tag"]>>(`@chronicle/cqrs/CommandBus/Handler/${schema._tag}`),
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const handle = Effect.isEffect(handleOrBuild) ? yield* handleOrBuild : handleOrBuild
      // The bus routes only messages tagged `schema._tag` (decoded or checked by `schema`) here.
      yield* bus.register(
        schema,
        handle as unknown as (message: Message, context: MessageContext) => Effect.Effect<unknown, unknown>
      )
      const marker: Handler<S["_tag"]> = { [HandlerTypeId]: schema._tag }
      return marker
    })
  )

/**
 * Sends a command on the bus in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const send = <M extends Message>(
  command: M,
  options?: SendOptions
): Effect.Effect<Success<M>, Failure<M> | BusError, CommandBus | Handler<M["_tag"]>> =>
  Effect.flatMap(CommandBus, (bus) => bus.send(command, options))

/**
 * Sends a command on the bus in context, checking for its handler at run time only.
 *
 * @since 0.1.0
 * @category accessors
 */
export const dispatch = <M extends Message>(
  command: M,
  options?: SendOptions
): Effect.Effect<Success<M>, Failure<M> | BusError | HandlerNotFound, CommandBus> =>
  Effect.flatMap(CommandBus, (bus) => bus.dispatch(command, options))

/**
 * The feed of the bus in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const events: Stream.Stream<BusEvent, never, CommandBus> = Stream.unwrap(
  Effect.map(CommandBus, (bus) => bus.events)
)
