import { DomainError } from "@chronicle/domain"
import { Scenario } from "@chronicle/domain/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Account } from "./fixtures.js"

const opened = { _tag: "AccountOpened", owner: "ada" } as const

describe("Scenario", () => {
  it.effect("then passes when decide produces exactly the events", () =>
    Scenario.given(Account, [opened]).when({ _tag: "Deposit", amount: 5 }).then({
      _tag: "MoneyDeposited",
      amount: 5
    }))

  it.effect("then fails with expected and actual when the events differ", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Scenario.given(Account, [opened]).when({ _tag: "Deposit", amount: 5 }).then({
          _tag: "MoneyDeposited",
          amount: 6
        })
      )
      assert.strictEqual(error._tag, "ScenarioFailed")
      assert.include(error.message, "\"amount\": 6")
      assert.include(error.message, "\"amount\": 5")
    }))

  it.effect("then fails when the command is refused", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Scenario.given(Account).when({ _tag: "Deposit", amount: 5 }).then())
      assert.include(error.message, "InvariantViolated")
    }))

  it.effect("thenFails accepts an equal error or a predicate", () =>
    Effect.gen(function*() {
      yield* Scenario.given(Account, [opened]).when({ _tag: "Withdraw", amount: 1 }).thenFails(
        new DomainError.InvariantViolated({
          aggregate: "Account",
          invariant: "no overdraft",
          reason: "balance 0 is less than 1"
        })
      )
      yield* Scenario.given(Account, [opened]).when({ _tag: "Open", owner: "x" }).thenFails((e) =>
        e.invariant === "opened once"
      )
    }))

  it.effect("thenFails fails when the command succeeds or fails differently", () =>
    Effect.gen(function*() {
      const succeeded = yield* Effect.flip(
        Scenario.given(Account, [opened]).when({ _tag: "Deposit", amount: 1 }).thenFails(() => true)
      )
      assert.include(succeeded.message, "expected the command to fail")
      const other = yield* Effect.flip(
        Scenario.given(Account, [opened]).when({ _tag: "Open", owner: "x" }).thenFails((e) => e.invariant === "open")
      )
      assert.include(other.message, "opened once")
    }))

  it.effect("thenState checks the resulting state", () =>
    Effect.gen(function*() {
      yield* Scenario.given(Account, [opened]).when({ _tag: "Deposit", amount: 4 }).thenState((s) => s.balance === 4)
      const error = yield* Effect.flip(
        Scenario.given(Account, [opened]).when({ _tag: "Deposit", amount: 4 }).thenState((s) => s.balance === 5)
      )
      assert.include(error.message, "\"balance\": 4")
    }))
})
