/**
 * The query bus: queries are `Schema.TaggedRequest`s answered by exactly one handler each (usually
 * reading a read model), registered through a layer, through the bus's middleware, with every
 * outcome on the bus's feed.
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
export const HandlerTypeId: unique symbol = Symbol.for("@chronicle/cqrs/QueryBus/Handler")

/**
 * @since 0.1.0
 * @category type ids
 */
export type HandlerTypeId = typeof HandlerTypeId

/**
 * Proof, in an effect's requirements, that a handler for the query tagged `Tag` is registered:
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
  /** Sends a query whose handler the types guarantee. */
  readonly send: <M extends Message>(
    query: M,
    options?: SendOptions
  ) => Effect.Effect<Success<M>, Failure<M> | BusError, Handler<M["_tag"]>>
  /** Sends a query whose handler is checked at run time only. */
  readonly dispatch: <M extends Message>(
    query: M,
    options?: SendOptions
  ) => Effect.Effect<Success<M>, Failure<M> | BusError | HandlerNotFound>
  /** Decodes outside input (e.g. a JSON body) with the schema registered for its `_tag`, then sends it. */
  readonly dispatchUnknown: (input: unknown, options?: SendOptions) => Effect.Effect<unknown, unknown>
  readonly hasHandler: (type: string) => boolean
  /** The feed: `QueryExecuted` and `QueryFailed`, from the moment the stream starts. */
  readonly events: Stream.Stream<BusEvent>
  /** The feed as a queue, subscribed when this effect runs (no event missed after it). */
  readonly subscribe: Effect.Effect<Queue.Dequeue<BusEvent>, never, Scope.Scope>
  /** Registers a handler; prefer the `handler` layer. */
  readonly register: (
    schema: MessageSchema,
    handle: (query: Message, context: MessageContext) => Effect.Effect<unknown, unknown>
  ) => Effect.Effect<void, DuplicateHandler>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class QueryBus extends Context.Tag("@chronicle/cqrs/QueryBus")<QueryBus, Service>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Applied in this order: the first is the outermost. */
  readonly middleware?: ReadonlyArray<Middleware>
}

/**
 * Builds a query bus.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.map(Bus.makeCore("query", options.middleware ?? []), fromCore)

// The core is untyped; the types of `send` and `dispatch` are guaranteed by `handler`, which only
// registers a handler of a message's own success and failure types under the message's tag.
const fromCore = (core: Bus.Core): Service => ({
  send: <M extends Message>(query: M, options?: SendOptions) =>
    core.run(query, options, "die") as Effect.Effect<Success<M>, Failure<M> | BusError, Handler<M["_tag"]>>,
  dispatch: <M extends Message>(query: M, options?: SendOptions) =>
    core.run(query, options, "fail") as Effect.Effect<Success<M>, Failure<M> | BusError | HandlerNotFound>,
  dispatchUnknown: (input, options) => core.runUnknown(input, options),
  hasHandler: core.has,
  events: core.events,
  subscribe: core.subscribe,
  register: core.register
})

/**
 * A query bus with the given middleware.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<QueryBus> => Layer.effect(QueryBus, make(options))

/**
 * How a query is handled: its success and failure are the ones its schema declares.
 *
 * @since 0.1.0
 * @category models
 */
export type Handle<S extends MessageSchema> = (
  query: MessageOf<S>,
  context: MessageContext
) => Effect.Effect<Success<MessageOf<S>>, Failure<MessageOf<S>>>

/**
 * Registers the handler of one query type. Give either the handling function, or an effect that
 * builds it: services the handler uses are taken once, when the layer is built, so dispatching
 * never rebuilds or provides a context (changing a fiber's context costs more than a dispatch).
 *
 * @example
 * ```ts
 * const Handlers = Layer.mergeAll(
 *   QueryBus.handler(Ping, (ping) => Effect.succeed(ping.n + 1)),
 *   QueryBus.handler(Deposit, Effect.map(Accounts, (accounts) =>
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
  ): Layer.Layer<Handler<S["_tag"]>, DuplicateHandler | E, QueryBus | R>
  <S extends MessageSchema>(schema: S, handle: Handle<S>): Layer.Layer<Handler<S["_tag"]>, DuplicateHandler, QueryBus>
} = <S extends MessageSchema, E, R>(
  schema: S,
  handleOrBuild: Handle<S> | Effect.Effect<Handle<S>, E, R>
): Layer.Layer<Handler<S["_tag"]>, DuplicateHandler | E, QueryBus | R> =>
  Layer.effect(
    Context.GenericTag<Handler<S["_tag"]>>(`@chronicle/cqrs/QueryBus/Handler/${schema._tag}`),
    Effect.gen(function*() {
      const bus = yield* QueryBus
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
 * Sends a query on the bus in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const send = <M extends Message>(
  query: M,
  options?: SendOptions
): Effect.Effect<Success<M>, Failure<M> | BusError, QueryBus | Handler<M["_tag"]>> =>
  Effect.flatMap(QueryBus, (bus) => bus.send(query, options))

/**
 * Sends a query on the bus in context, checking for its handler at run time only.
 *
 * @since 0.1.0
 * @category accessors
 */
export const dispatch = <M extends Message>(
  query: M,
  options?: SendOptions
): Effect.Effect<Success<M>, Failure<M> | BusError | HandlerNotFound, QueryBus> =>
  Effect.flatMap(QueryBus, (bus) => bus.dispatch(query, options))

/**
 * The feed of the bus in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const events: Stream.Stream<BusEvent, never, QueryBus> = Stream.unwrap(
  Effect.map(QueryBus, (bus) => bus.events)
)
