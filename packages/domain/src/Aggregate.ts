/**
 * Aggregates as deciders: data plus three pure functions.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Schema } from "effect"

/**
 * An event-sourced aggregate: the schema of its events, its initial state, `decide` (a command and
 * the current state give new events or a typed failure) and `evolve` (a state and an event give the
 * next state).
 *
 * @since 0.1.0
 * @category models
 */
export interface Aggregate<State, Command, Event, EventEncoded = unknown, E = never, R = never> {
  /** The stream category: a stream of this aggregate is named `${name}-${id}`. */
  readonly name: string
  /** The union of this aggregate's events; what is stored is its encoded form. */
  readonly events: Schema.Schema<Event, EventEncoded>
  readonly initialState: State
  readonly decide: (command: Command, state: State) => Effect.Effect<ReadonlyArray<Event>, E, R>
  readonly evolve: (state: State, event: Event) => State
}

/** @since 0.1.0 @category type-level */
export type State<A> = A extends Aggregate<infer S, infer _C, infer _Ev, infer _I, infer _E, infer _R> ? S : never
/** @since 0.1.0 @category type-level */
export type Command<A> = A extends Aggregate<infer _S, infer C, infer _Ev, infer _I, infer _E, infer _R> ? C : never
/** @since 0.1.0 @category type-level */
export type Event<A> = A extends Aggregate<infer _S, infer _C, infer Ev, infer _I, infer _E, infer _R> ? Ev : never
/** @since 0.1.0 @category type-level */
export type EventEncoded<A> = A extends Aggregate<infer _S, infer _C, infer _Ev, infer I, infer _E, infer _R> ? I
  : never
/** @since 0.1.0 @category type-level */
export type Error<A> = A extends Aggregate<infer _S, infer _C, infer _Ev, infer _I, infer E, infer _R> ? E : never

/**
 * Defines an aggregate. Types are inferred from the definition.
 *
 * @example
 * ```ts
 * const Counter = Aggregate.make({
 *   name: "Counter",
 *   events: Schema.Union(Incremented),
 *   initialState: 0,
 *   decide: (command: { readonly by: number }) => Effect.succeed([{ _tag: "Incremented", by: command.by }]),
 *   evolve: (state, event) => state + event.by
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <State, Command, Event, EventEncoded, E = never, R = never>(
  definition: Aggregate<State, Command, Event, EventEncoded, E, R>
): Aggregate<State, Command, Event, EventEncoded, E, R> => definition

/**
 * Folds events into a state, from the aggregate's initial state or from a given one.
 *
 * @since 0.1.0
 * @category folding
 */
export const fold = <State, Event>(
  aggregate: { readonly initialState: State; readonly evolve: (state: State, event: Event) => State },
  events: Iterable<Event>,
  from: State = aggregate.initialState
): State => {
  let state = from
  for (const event of events) state = aggregate.evolve(state, event)
  return state
}

/**
 * The outcome of handling one command: the new events and the state after them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decision<State, Event> {
  readonly events: ReadonlyArray<Event>
  readonly state: State
}

/**
 * Runs a command against a state: decides, then folds the new events into it.
 *
 * @since 0.1.0
 * @category handling
 */
export const handle = <State, Command, Event, EventEncoded, E, R>(
  aggregate: Aggregate<State, Command, Event, EventEncoded, E, R>,
  state: State,
  command: Command
): Effect.Effect<Decision<State, Event>, E, R> =>
  Effect.map(aggregate.decide(command, state), (events) => ({ events, state: fold(aggregate, events, state) }))

/**
 * The stream that holds one aggregate instance's events.
 *
 * @since 0.1.0
 * @category streams
 */
export const streamId = (aggregate: { readonly name: string }, id: string): string => `${aggregate.name}-${id}`
