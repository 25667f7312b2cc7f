// A bank account as a decider: run with `pnpm --filter @chronicle/domain example`.
import { Aggregate, DomainError, Specification } from "@chronicle/domain"
import { Scenario } from "@chronicle/domain/testing"
import { Effect, Match, Schema } from "effect"

const Opened = Schema.TaggedStruct("Opened", { owner: Schema.NonEmptyTrimmedString })
const Deposited = Schema.TaggedStruct("Deposited", { amount: Schema.Int.pipe(Schema.positive()) })
const Withdrawn = Schema.TaggedStruct("Withdrawn", { amount: Schema.Int.pipe(Schema.positive()) })

type Command =
  | { readonly _tag: "Open"; readonly owner: string }
  | { readonly _tag: "Deposit"; readonly amount: number }
  | { readonly _tag: "Withdraw"; readonly amount: number }

const refuse = (invariant: string, reason: string) =>
  Effect.fail(new DomainError.InvariantViolated({ aggregate: "Account", invariant, reason }))

const Account = Aggregate.make({
  name: "Account",
  events: Schema.Union(Opened, Deposited, Withdrawn),
  initialState: { open: false, balance: 0 },
  decide: (command: Command, state) =>
    Match.valueTags(command, {
      Open: ({ owner }) =>
        state.open ? refuse("opened once", "already open") : Effect.succeed([Opened.make({ owner })]),
      Deposit: ({ amount }) =>
        state.open ? Effect.succeed([Deposited.make({ amount })]) : refuse("open", "the account is not open"),
      Withdraw: ({ amount }) =>
        amount > state.balance
          ? refuse("no overdraft", `balance ${state.balance} < ${amount}`)
          : Effect.succeed([Withdrawn.make({ amount })])
    }),
  evolve: (state, event) =>
    Match.valueTags(event, {
      Opened: () => ({ ...state, open: true }),
      Deposited: ({ amount }) => ({ ...state, balance: state.balance + amount }),
      Withdrawn: ({ amount }) => ({ ...state, balance: state.balance - amount })
    })
})

const wealthy = Specification.make<{ readonly balance: number }>("wealthy", (s) => s.balance >= 100)

const program = Effect.gen(function*() {
  const opened = yield* Aggregate.handle(Account, Account.initialState, { _tag: "Open", owner: "ada" })
  const funded = yield* Aggregate.handle(Account, opened.state, { _tag: "Deposit", amount: 120 })
  console.log("events:", [...opened.events, ...funded.events])
  console.log("state:", funded.state, "wealthy:", wealthy.isSatisfiedBy(funded.state))

  const refused = yield* Effect.flip(Aggregate.handle(Account, funded.state, { _tag: "Withdraw", amount: 500 }))
  console.log("refused:", refused.message)

  // given / when / then, as in a test
  yield* Scenario.given(Account, [...opened.events, ...funded.events])
    .when({ _tag: "Withdraw", amount: 20 })
    .then(Withdrawn.make({ amount: 20 }))
  console.log("scenario passed")
})

Effect.runPromise(program)
