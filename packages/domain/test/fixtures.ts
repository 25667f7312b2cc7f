import { Aggregate, DomainError } from "@chronicle/domain"
import { Effect, Match, Schema } from "effect"

export const AccountOpened = Schema.TaggedStruct("AccountOpened", { owner: Schema.NonEmptyTrimmedString })
export const MoneyDeposited = Schema.TaggedStruct("MoneyDeposited", { amount: Schema.Int.pipe(Schema.positive()) })
export const MoneyWithdrawn = Schema.TaggedStruct("MoneyWithdrawn", { amount: Schema.Int.pipe(Schema.positive()) })
export const AccountEvent = Schema.Union(AccountOpened, MoneyDeposited, MoneyWithdrawn)
export type AccountEvent = typeof AccountEvent.Type

export type AccountCommand =
  | { readonly _tag: "Open"; readonly owner: string }
  | { readonly _tag: "Deposit"; readonly amount: number }
  | { readonly _tag: "Withdraw"; readonly amount: number }

export interface AccountState {
  readonly open: boolean
  readonly balance: number
}

const refuse = (invariant: string, reason: string) =>
  Effect.fail(new DomainError.InvariantViolated({ aggregate: "Account", invariant, reason }))

export const Account = Aggregate.make({
  name: "Account",
  events: AccountEvent,
  initialState: { open: false, balance: 0 } as AccountState,
  decide: (command: AccountCommand, state) =>
    Match.valueTags(command, {
      Open: ({ owner }) =>
        state.open
          ? refuse("opened once", "the account is already open")
          : Effect.succeed([AccountOpened.make({ owner })]),
      Deposit: ({ amount }) =>
        !state.open
          ? refuse("open", "the account is not open")
          : amount <= 0
          ? refuse("positive amount", `cannot deposit ${amount}`)
          : Effect.succeed([MoneyDeposited.make({ amount })]),
      Withdraw: ({ amount }) =>
        !state.open
          ? refuse("open", "the account is not open")
          : amount > state.balance
          ? refuse("no overdraft", `balance ${state.balance} is less than ${amount}`)
          : Effect.succeed([MoneyWithdrawn.make({ amount })])
    }),
  evolve: (state, event) =>
    Match.valueTags(event, {
      AccountOpened: () => ({ ...state, open: true }),
      MoneyDeposited: ({ amount }) => ({ ...state, balance: state.balance + amount }),
      MoneyWithdrawn: ({ amount }) => ({ ...state, balance: state.balance - amount })
    })
})
