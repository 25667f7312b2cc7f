// Runs in a scratch project where @chronicle/domain was installed from its tarball.
import { Aggregate, DomainError, Envelope, Specification } from "@chronicle/domain"
import { Scenario } from "@chronicle/domain/testing"
import { Effect, Schema } from "effect"
import assert from "node:assert/strict"

const Added = Schema.TaggedStruct("Added", { n: Schema.Number })
const Counter = Aggregate.make({
  name: "Counter",
  events: Added,
  initialState: 0,
  decide: (n) =>
    n < 0
      ? Effect.fail(
        new DomainError.InvariantViolated({ aggregate: "Counter", invariant: "positive", reason: "negative" })
      )
      : Effect.succeed([Added.make({ n })]),
  evolve: (s, e) => s + e.n
})
assert.equal(Aggregate.fold(Counter, [Added.make({ n: 2 }), Added.make({ n: 3 })]), 5)
assert.deepEqual(Envelope.causedBy({ eventId: "e", correlationId: null }), { correlationId: "e", causationId: "e" })
assert.equal(Specification.not(Specification.make("big", (n) => n > 3)).isSatisfiedBy(1), true)
await Effect.runPromise(Scenario.given(Counter, []).when(-1).thenFails((e) => e._tag === "InvariantViolated"))
console.log("@chronicle/domain ok")
