// The whole write path: an aggregate, its repository with snapshots, commands on a bus with
// middleware, idempotent command handling, a unit of work across two aggregates, a query on a
// read model, the history query, and the bus's feed. Runs on SQLite:
//   npx tsx --conditions=@chronicle/source examples/write-path.ts
import {
  CommandBus,
  CommandHandler,
  Middleware,
  QueryBus,
  Repository,
  SnapshotPolicy,
  StreamHistory,
  UnitOfWork
} from "@chronicle/cqrs"
import { Aggregate, DomainError } from "@chronicle/domain"
import { EventStore } from "@chronicle/eventstore"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { Context, Effect, Layer, Match, Queue, Ref, Schema } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

// 1. The domain: events, state, and the decider.
const AccountOpened = Schema.TaggedStruct("AccountOpened", { owner: Schema.NonEmptyTrimmedString })
const MoneyDeposited = Schema.TaggedStruct("MoneyDeposited", { amount: Schema.Int.pipe(Schema.positive()) })
const MoneyWithdrawn = Schema.TaggedStruct("MoneyWithdrawn", { amount: Schema.Int.pipe(Schema.positive()) })
const AccountEvent = Schema.Union(AccountOpened, MoneyDeposited, MoneyWithdrawn)

const AccountState = Schema.Struct({ open: Schema.Boolean, owner: Schema.String, balance: Schema.Int })
type AccountState = typeof AccountState.Type

type AccountCommand =
  | { readonly _tag: "OpenAccount"; readonly owner: string }
  | { readonly _tag: "Deposit"; readonly amount: number }
  | { readonly _tag: "Withdraw"; readonly amount: number }

const refuse = (invariant: string, reason: string) =>
  Effect.fail(new DomainError.InvariantViolated({ aggregate: "Account", invariant, reason }))

const Account = Aggregate.make({
  name: "Account",
  events: AccountEvent,
  initialState: { open: false, owner: "", balance: 0 } as AccountState,
  decide: (command: AccountCommand, state: AccountState) =>
    Match.valueTags(command, {
      OpenAccount: ({ owner }) =>
        state.open ? refuse("opened once", "already open") : Effect.succeed([AccountOpened.make({ owner })]),
      Deposit: ({ amount }) =>
        state.open ? Effect.succeed([MoneyDeposited.make({ amount })]) : refuse("open", "not open"),
      Withdraw: ({ amount }) =>
        amount > state.balance
          ? refuse("no overdraft", `balance ${state.balance} < ${amount}`)
          : Effect.succeed([MoneyWithdrawn.make({ amount })])
    }),
  evolve: (state, event) =>
    Match.valueTags(event, {
      AccountOpened: ({ owner }) => ({ ...state, open: true, owner }),
      MoneyDeposited: ({ amount }) => ({ ...state, balance: state.balance + amount }),
      MoneyWithdrawn: ({ amount }) => ({ ...state, balance: state.balance - amount })
    })
})

// 2. Commands and queries: tagged requests whose schemas give their results and failures.
const Failure = Schema.Union(DomainError.InvariantViolated, CommandHandler.StoreFailure)
class OpenAccount extends Schema.TaggedRequest<OpenAccount>()("OpenAccount", {
  payload: { accountId: Schema.String, owner: Schema.NonEmptyTrimmedString },
  success: CommandHandler.CommandResult,
  failure: Failure
}) {}
class Deposit extends Schema.TaggedRequest<Deposit>()("Deposit", {
  payload: { accountId: Schema.String, amount: Schema.Int.pipe(Schema.positive()) },
  success: CommandHandler.CommandResult,
  failure: Failure
}) {}
class GetBalance extends Schema.TaggedRequest<GetBalance>()("GetBalance", {
  payload: { accountId: Schema.String },
  success: Schema.Number,
  failure: Schema.Never
}) {}

// 3. The repository (snapshot every 10 events) as a service of the app.
const makeAccounts = Repository.make({
  aggregate: Account,
  snapshots: { schema: AccountState, policy: SnapshotPolicy.every(10) }
})
class Accounts extends Context.Tag("example/Accounts")<Accounts, Effect.Effect.Success<typeof makeAccounts>>() {}

// 4. A read model the query handler reads, fed after each unit of work's commit (best effort;
//    durable read models are projections).
class Balances extends Context.Tag("example/Balances")<Balances, Ref.Ref<ReadonlyMap<string, number>>>() {}
const BalancesLive = Layer.effect(Balances, Ref.make<ReadonlyMap<string, number>>(new Map()))
const feedBalances = UnitOfWork.onCommitted(
  Account,
  (event) =>
    Effect.flatMap(Balances, (balances) =>
      Ref.update(balances, (all) => {
        const id = event.streamId.slice("Account-".length)
        const delta = event.data._tag === "MoneyDeposited"
          ? event.data.amount
          : event.data._tag === "MoneyWithdrawn"
          ? -event.data.amount
          : 0
        return new Map([...all, [id, (all.get(id) ?? 0) + delta]])
      }))
)

// 5. Handlers, registered by layers; services are taken when the layer is built.
const Handlers = Layer.mergeAll(
  CommandBus.handler(
    OpenAccount,
    Effect.map(Accounts, (accounts) =>
      CommandHandler.fromAggregateWith(accounts, {
        id: (c: OpenAccount) => c.accountId,
        command: (c): AccountCommand => ({ _tag: "OpenAccount", owner: c.owner }),
        mode: "create"
      }))
  ),
  CommandBus.handler(
    Deposit,
    Effect.map(
      Accounts,
      (accounts) => CommandHandler.fromAggregate(accounts, { id: (c: Deposit) => c.accountId, mode: "update" })
    )
  ),
  QueryBus.handler(
    GetBalance,
    Effect.map(
      Balances,
      (balances) => (q: GetBalance) => Effect.map(Ref.get(balances), (all) => all.get(q.accountId) ?? 0)
    )
  ),
  StreamHistory.layer
)

// 6. The app's layers, wired in one place. Middleware order is explicit: the first is the outermost.
const filename = join(mkdtempSync(join(tmpdir(), "chronicle-example-")), "events.db")
const AppLive = Handlers.pipe(
  Layer.provideMerge(Layer.mergeAll(
    CommandBus.layer({ middleware: [Middleware.logging, Middleware.metrics, Middleware.validation] }),
    QueryBus.layer({ middleware: [Middleware.metrics] }),
    feedBalances.pipe(Layer.provideMerge(UnitOfWork.layerCommitHandlers)),
    Layer.effect(Accounts, makeAccounts)
  )),
  Layer.provideMerge(BalancesLive),
  Layer.provideMerge(SqliteEventStore.layer({ filename }))
)

const program = Effect.gen(function*() {
  const feed = yield* Effect.flatMap(CommandBus.CommandBus, (bus) => bus.subscribe)

  // Commands through the bus: load → decide → append, retried on conflicts.
  yield* CommandBus.send(new OpenAccount({ accountId: "alice", owner: "Alice" }))
  yield* CommandBus.send(new OpenAccount({ accountId: "bob", owner: "Bob" }))
  const deposit = new Deposit({ accountId: "alice", amount: 100 })
  const first = yield* CommandBus.send(deposit, { messageId: "deposit-1", correlationId: "onboarding" })
  // The same command id again: its event is written once.
  const again = yield* CommandBus.send(deposit, { messageId: "deposit-1" })
  console.log("deposit", first.version, first.globalPosition, "re-sent:", again.eventIds[0] === first.eventIds[0])

  // A refused command is a typed failure.
  const refused = yield* Effect.flip(CommandBus.send(new OpenAccount({ accountId: "alice", owner: "Again" })))
  console.log("refused:", refused._tag)

  // A unit of work: a transfer is both streams or neither.
  const accounts = yield* Accounts
  const transfer = (from: string, to: string, amount: number) =>
    UnitOfWork.transactional(
      Effect.gen(function*() {
        const source = yield* UnitOfWork.load(accounts, from)
        const target = yield* UnitOfWork.load(accounts, to)
        yield* UnitOfWork.execute(source, { _tag: "Withdraw", amount })
        yield* UnitOfWork.execute(target, { _tag: "Deposit", amount })
      }),
      { correlationId: `transfer-${from}-${to}` }
    )
  yield* transfer("alice", "bob", 30)
  const overdraft = yield* Effect.flip(transfer("bob", "alice", 1_000))
  console.log("transfer refused:", overdraft._tag)

  // Reads: the repository, time travel, the read model, and the history query.
  const alice = yield* accounts.load("alice")
  const before = yield* accounts.loadAt("alice", { version: 2 })
  console.log("alice", alice.state.balance, "at version", alice.version, "| at version 2:", before.state.balance)
  console.log("bob's balance (read model):", yield* QueryBus.send(new GetBalance({ accountId: "bob" })))
  const history = yield* QueryBus.send(new StreamHistory.GetStreamHistory({ streamId: accounts.streamId("alice") }))
  console.log("alice's history:", history.map((e) => `${e.streamVersion}:${e.type}`).join(", "))

  // The bus's own feed.
  const events = yield* Queue.takeAll(feed)
  for (const e of events) console.log("feed:", e._tag, e.type, `${e.durationMillis.toFixed(2)} ms`)
  const store = yield* EventStore.EventStore
  console.log("global head:", yield* store.head)
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(AppLive))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
