/**
 * Given / when / then for deciders: given past events, when a command, then these events or this
 * failure.
 *
 * @since 0.1.0
 */
import { Data, Effect, Either, Equal, Schema } from "effect"
import type { Aggregate } from "./Aggregate.js"
import { fold } from "./Aggregate.js"

/**
 * A scenario's expectation did not hold; the message shows expected and actual.
 *
 * @since 0.1.0
 * @category errors
 */
export class ScenarioFailed extends Data.TaggedError("ScenarioFailed")<{
  readonly message: string
  readonly expected: unknown
  readonly actual: unknown
}> {}

/**
 * A command ready to be checked against an expectation.
 *
 * @since 0.1.0
 * @category models
 */
export interface When<State, Event, E, R> {
  /** Expects exactly these events, in order (compared by their encoded form). */
  readonly then: (...expected: ReadonlyArray<Event>) => Effect.Effect<void, ScenarioFailed, R>
  /** Expects the command to be refused; a failure value is compared structurally, a function is a predicate. */
  readonly thenFails: (expected: E | ((error: E) => boolean)) => Effect.Effect<void, ScenarioFailed, R>
  /** Expects the command to succeed with a resulting state that passes the check. */
  readonly thenState: (check: (state: State) => boolean) => Effect.Effect<void, ScenarioFailed, R>
}

/**
 * Past events of an aggregate, waiting for a command.
 *
 * @since 0.1.0
 * @category models
 */
export interface Given<State, Command, Event, E, R> {
  readonly when: (command: Command) => When<State, Event, E, R>
}

const render = (value: unknown): string => JSON.stringify(value, null, 2) ?? String(value)

const describeError = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error ? render(error) : String(error)

/**
 * Starts a scenario from the events an aggregate already has.
 *
 * @example
 * ```ts
 * it.effect("refuses overdrafts", () =>
 *   Scenario.given(Account, [{ _tag: "Opened", owner: "ada" }])
 *     .when({ _tag: "Withdraw", amount: 10 })
 *     .thenFails((e) => e._tag === "InvariantViolated"))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const given = <State, Command, Event, EventEncoded, E, R>(
  aggregate: Aggregate<State, Command, Event, EventEncoded, E, R>,
  history: ReadonlyArray<Event> = []
): Given<State, Command, Event, E, R> => ({
  when: (command) => {
    const before = fold(aggregate, history)
    const decided = Effect.either(aggregate.decide(command, before))
    const encode = Schema.encodeSync(Schema.Array(aggregate.events))
    const failed = (message: string, expected: unknown, actual: unknown) =>
      Effect.fail(new ScenarioFailed({ message, expected, actual }))
    return {
      then: (...expected) =>
        Effect.flatMap(decided, (outcome) => {
          if (Either.isLeft(outcome)) {
            return failed(
              `expected events\n${render(encode(expected))}\nbut the command failed with\n${
                describeError(outcome.left)
              }`,
              expected,
              outcome.left
            )
          }
          const want = render(encode(expected))
          const got = render(encode(outcome.right))
          return want === got
            ? Effect.void
            : failed(`expected events\n${want}\nbut decide produced\n${got}`, expected, outcome.right)
        }),
      thenFails: (expected) =>
        Effect.flatMap(decided, (outcome) => {
          if (Either.isRight(outcome)) {
            return failed(
              `expected the command to fail, but decide produced\n${render(encode(outcome.right))}`,
              expected,
              outcome.right
            )
          }
          const matches = typeof expected === "function"
            ? (expected as (error: E) => boolean)(outcome.left)
            : Equal.equals(expected, outcome.left) || render(expected) === render(outcome.left)
          return matches ? Effect.void : failed(
            `expected the failure\n${describeError(expected)}\nbut the command failed with\n${
              describeError(outcome.left)
            }`,
            expected,
            outcome.left
          )
        }),
      thenState: (check) =>
        Effect.flatMap(decided, (outcome) => {
          if (Either.isLeft(outcome)) {
            return failed(
              `expected a state but the command failed with\n${describeError(outcome.left)}`,
              check,
              outcome.left
            )
          }
          const after = fold(aggregate, outcome.right, before)
          return check(after)
            ? Effect.void
            : failed(`the resulting state failed the check\n${render(after)}`, check, after)
        })
    }
  }
})
