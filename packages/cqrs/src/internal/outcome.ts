// How a handled message ended, for the feed, logs and metrics.
import { Cause, Exit, Option } from "effect"
import type { Outcome } from "../BusEvent.js"

export const outcomeOf = (exit: Exit.Exit<unknown, unknown>): Outcome =>
  Exit.isSuccess(exit)
    ? "success"
    : Cause.isInterruptedOnly(exit.cause)
    ? "interrupted"
    : Option.isSome(Cause.failureOption(exit.cause))
    ? "failure"
    : "defect"

const describe = (value: unknown): string =>
  typeof value === "object" && value !== null && "_tag" in value && typeof value._tag === "string"
    ? value._tag
    : value instanceof Error
    ? `${value.name}: ${value.message}`
    : String(value)

export const errorOf = (cause: Cause.Cause<unknown>): string =>
  Option.match(Cause.failureOption(cause), {
    onSome: describe,
    onNone: () =>
      Option.match(Cause.dieOption(cause), {
        onSome: describe,
        onNone: () => "interrupted"
      })
  })
