/**
 * Typed failures of domain decisions.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A command was refused because it would break one of the aggregate's rules.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvariantViolated extends Schema.TaggedError<InvariantViolated>()("InvariantViolated", {
  aggregate: Schema.String,
  invariant: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.aggregate}: ${this.invariant}: ${this.reason}`
  }
}
