import { Aggregate } from "@chronicle/domain"
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Effect, Either, FastCheck as fc, Schema } from "effect"
import { Account, type AccountCommand, AccountEvent } from "./fixtures.js"

const opened = { _tag: "AccountOpened", owner: "ada" } as const

describe("Aggregate", () => {
  it("fold applies events in order from the initial state", () => {
    const state = Aggregate.fold(Account, [opened, { _tag: "MoneyDeposited", amount: 10 }, {
      _tag: "MoneyWithdrawn",
      amount: 3
    }])
    assert.deepStrictEqual(state, { open: true, balance: 7 })
  })

  it("fold continues from a given state", () => {
    const state = Aggregate.fold(Account, [{ _tag: "MoneyDeposited", amount: 5 }], { open: true, balance: 1 })
    assert.strictEqual(state.balance, 6)
  })

  it.effect("handle returns the new events and the state after them", () =>
    Effect.gen(function*() {
      const decision = yield* Aggregate.handle(Account, { open: true, balance: 2 }, { _tag: "Deposit", amount: 3 })
      assert.deepStrictEqual(decision.events, [{ _tag: "MoneyDeposited", amount: 3 }])
      assert.deepStrictEqual(decision.state, { open: true, balance: 5 })
    }))

  it.effect("a refused command is a typed failure", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(
        Aggregate.handle(Account, Account.initialState, { _tag: "Deposit", amount: 3 })
      )
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left._tag, "InvariantViolated")
        assert.strictEqual(result.left.invariant, "open")
        assert.include(result.left.message, "not open")
      }
    }))

  it("streamId joins the category and the id", () => {
    assert.strictEqual(Aggregate.streamId(Account, "42"), "Account-42")
  })
})

const commandArb: fc.Arbitrary<AccountCommand> = fc.oneof(
  fc.constantFrom("ada", "grace").map((owner) => ({ _tag: "Open" as const, owner })),
  fc.integer({ min: -5, max: 50 }).map((amount) => ({ _tag: "Deposit" as const, amount })),
  fc.integer({ min: 1, max: 80 }).map((amount) => ({ _tag: "Withdraw" as const, amount }))
)

const eventArb = Arbitrary.make(AccountEvent)

/** Runs commands in order, keeping the accepted events and counting the refused ones. */
const runAll = (commands: ReadonlyArray<AccountCommand>) =>
  Effect.reduce(
    commands,
    { events: [] as Array<AccountEvent>, state: Account.initialState },
    (acc, command) =>
      Aggregate.handle(Account, acc.state, command).pipe(
        Effect.map((d) => ({ events: [...acc.events, ...d.events], state: d.state })),
        Effect.orElseSucceed(() => acc)
      )
  )

describe("Aggregate properties", () => {
  it.prop("folding the same events twice gives the same state", [fc.array(eventArb, { maxLength: 40 })], ([events]) => {
    assert.deepStrictEqual(Aggregate.fold(Account, events), Aggregate.fold(Account, events))
  })

  it.prop("folding in two parts equals folding at once", [fc.array(eventArb), fc.nat(40)], ([events, cut]) => {
    const split = Math.min(cut, events.length)
    const middle = Aggregate.fold(Account, events.slice(0, split))
    assert.deepStrictEqual(Aggregate.fold(Account, events.slice(split), middle), Aggregate.fold(Account, events))
  })

  it.effect.prop("a rejected command yields no events; an accepted one yields some", [
    fc.array(commandArb, { maxLength: 30 })
  ], ([commands]) =>
    Effect.gen(function*() {
      let state = Account.initialState
      for (const command of commands) {
        // an independent oracle for which commands the rules refuse
        const shouldRefuse = command._tag === "Open"
          ? state.open
          : !state.open || (command._tag === "Deposit" ? command.amount <= 0 : command.amount > state.balance)
        const outcome = yield* Effect.either(Aggregate.handle(Account, state, command))
        assert.strictEqual(Either.isLeft(outcome), shouldRefuse, JSON.stringify({ command, state }))
        if (Either.isRight(outcome)) {
          assert.isAbove(outcome.right.events.length, 0)
          state = outcome.right.state
        }
      }
    }))

  it.effect.prop(
    "replaying the accepted events rebuilds the handled state",
    [fc.array(commandArb, { maxLength: 30 })],
    ([commands]) =>
      Effect.gen(function*() {
        const { events, state } = yield* runAll(commands)
        assert.deepStrictEqual(Aggregate.fold(Account, events), state)
        assert.isAtLeast(state.balance, 0)
      })
  )

  it.prop("events survive encode then decode unchanged", [fc.array(eventArb, { maxLength: 20 })], ([events]) => {
    const codec = Schema.Array(AccountEvent)
    const roundTripped = Schema.decodeUnknownSync(codec)(JSON.parse(JSON.stringify(Schema.encodeSync(codec)(events))))
    assert.deepStrictEqual(roundTripped, events)
  })
})
