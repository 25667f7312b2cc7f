// A bank account: small enough to reason about in properties, rich enough to refuse commands.
import { CommandHandler } from "@chronicle/cqrs"
import { Aggregate, DomainError } from "@chronicle/domain"
import { Effect, Match, Schema } from "effect"

export const AccountOpened = Schema.TaggedStruct("AccountOpened", { owner: Schema.NonEmptyTrimmedString })
export const MoneyDeposited = Schema.TaggedStruct("MoneyDeposited", { amount: Schema.Int.pipe(Schema.positive()) })
export const MoneyWithdrawn = Schema.TaggedStruct("MoneyWithdrawn", { amount: Schema.Int.pipe(Schema.positive()) })
export const AccountClosed = Schema.TaggedStruct("AccountClosed", {})
export const AccountEvent = Schema.Union(AccountOpened, MoneyDeposited, MoneyWithdrawn, AccountClosed)
export type AccountEvent = typeof AccountEvent.Type

export type AccountCommand =
  | { readonly _tag: "Open"; readonly owner: string }
  | { readonly _tag: "Deposit"; readonly amount: number }
  | { readonly _tag: "Withdraw"; readonly amount: number }

export const AccountState = Schema.Struct({
  open: Schema.Boolean,
  closed: Schema.Boolean,
  balance: Schema.Int,
  owner: Schema.String
})
export type AccountState = typeof AccountState.Type

const refuse = (invariant: string, reason: string) =>
  Effect.fail(new DomainError.InvariantViolated({ aggregate: "Account", invariant, reason }))

export const initialState: AccountState = { open: false, closed: false, balance: 0, owner: "" }

export const decide = (command: AccountCommand, state: AccountState) =>
  Match.valueTags(command, {
    Open: ({ owner }) =>
      state.open
        ? refuse("opened once", "the account is already open")
        : Effect.succeed([AccountOpened.make({ owner })]),
    Deposit: ({ amount }) =>
      !state.open
        ? refuse("open", "the account is not open")
        : Effect.succeed([MoneyDeposited.make({ amount })]),
    Withdraw: ({ amount }) =>
      !state.open
        ? refuse("open", "the account is not open")
        : amount > state.balance
        ? refuse("no overdraft", `balance ${state.balance} is less than ${amount}`)
        : Effect.succeed([MoneyWithdrawn.make({ amount })])
  })

export const evolve = (state: AccountState, event: AccountEvent): AccountState =>
  Match.valueTags(event, {
    AccountOpened: ({ owner }) => ({ ...state, open: true, owner }),
    MoneyDeposited: ({ amount }) => ({ ...state, balance: state.balance + amount }),
    MoneyWithdrawn: ({ amount }) => ({ ...state, balance: state.balance - amount }),
    AccountClosed: () => ({ ...state, closed: true })
  })

export const Account = Aggregate.make({
  name: "Account",
  events: AccountEvent,
  initialState,
  decide,
  evolve
})

export class OpenAccount extends Schema.TaggedRequest<OpenAccount>()("Open", {
  payload: { accountId: Schema.String, owner: Schema.NonEmptyTrimmedString },
  success: CommandHandler.CommandResult,
  failure: Schema.Union(DomainError.InvariantViolated, CommandHandler.StoreFailure)
}) {}

export class Deposit extends Schema.TaggedRequest<Deposit>()("Deposit", {
  payload: { accountId: Schema.String, amount: Schema.Int.pipe(Schema.positive()) },
  success: CommandHandler.CommandResult,
  failure: Schema.Union(DomainError.InvariantViolated, CommandHandler.StoreFailure)
}) {}

export class Withdraw extends Schema.TaggedRequest<Withdraw>()("Withdraw", {
  payload: { accountId: Schema.String, amount: Schema.Int.pipe(Schema.positive()) },
  success: CommandHandler.CommandResult,
  failure: Schema.Union(DomainError.InvariantViolated, CommandHandler.StoreFailure)
}) {}

export const freshId = () => crypto.randomUUID().replaceAll("-", "")
