// One benchmark case, run in its own process by run.ts: prints one JSON line with ops/s.
import "reflect-metadata"
import { CommandBus, CommandHandler, Middleware, Repository } from "@chronicle/cqrs"
import { Aggregate } from "@chronicle/domain"
import { EventStore, ExpectedVersion, Serializer } from "@chronicle/eventstore"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { CommandBus as NestCommandBus, CommandHandler as NestCommandHandler } from "@nestjs/cqrs"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const name = process.argv[2] ?? "dispatch/direct"
const seconds = Number(process.env.BENCH_SECONDS ?? "1")
const gc = (globalThis as { gc?: () => void }).gc

// ---- the trivial command ---------------------------------------------------------------------

class Ping extends Schema.TaggedRequest<Ping>()("Ping", {
  payload: { n: Schema.Number },
  success: Schema.Number,
  failure: Schema.Never
}) {}

const handlePing = (command: Ping) => Effect.succeed(command.n + 1)

// ---- the aggregate of the full cycle ----------------------------------------------------------

const Opened = Schema.TaggedStruct("Opened", { owner: Schema.String })
const Deposited = Schema.TaggedStruct("Deposited", { amount: Schema.Int, note: Schema.String })
const AccountEvent = Schema.Union(Opened, Deposited)
type AccountEvent = typeof AccountEvent.Type
type AccountCommand = { readonly _tag: "Deposit"; readonly accountId: string; readonly amount: number }
interface State {
  readonly open: boolean
  readonly balance: number
}
// ~200 bytes of JSON per event, as in the event store's benchmark
const note = "x".repeat(160)
const Account = Aggregate.make({
  name: "Account",
  events: AccountEvent,
  initialState: { open: false, balance: 0 } as State,
  decide: (command: AccountCommand, _state: State) =>
    Effect.succeed([Deposited.make({ amount: command.amount, note })] as ReadonlyArray<AccountEvent>),
  evolve: (state: State, event: AccountEvent): State =>
    event._tag === "Opened" ? { ...state, open: true } : { ...state, balance: state.balance + event.amount }
})

class Deposit extends Schema.TaggedRequest<Deposit>()("Deposit", {
  payload: { accountId: Schema.String, amount: Schema.Int },
  success: CommandHandler.CommandResult,
  failure: CommandHandler.StoreFailure
}) {}

const accounts = 200

// ---- measuring ----------------------------------------------------------------------------------

const measureEffect = <E, R>(
  runtime: ManagedRuntime.ManagedRuntime<R, E>,
  op: (i: number) => Effect.Effect<unknown, unknown, R>,
  batch: number
) =>
  Effect.gen(function*() {
    const runBatch = (from: number) =>
      Effect.gen(function*() {
        for (let i = from; i < from + batch; i++) yield* op(i)
      })
    // warm-up
    const warmUntil = Date.now() + 400
    let i = 0
    while (Date.now() < warmUntil) {
      yield* Effect.promise(() => runtime.runPromise(runBatch(i)))
      i += batch
    }
    gc?.()
    const start = performance.now()
    let done = 0
    while (performance.now() - start < seconds * 1000) {
      yield* Effect.promise(() => runtime.runPromise(runBatch(i + done)))
      done += batch
    }
    return (done / (performance.now() - start)) * 1000
  })

const measurePromise = async (op: (i: number) => Promise<unknown>, batch: number) => {
  const warmUntil = Date.now() + 400
  let i = 0
  while (Date.now() < warmUntil) {
    for (let j = 0; j < batch; j++) await op(i++)
  }
  gc?.()
  const start = performance.now()
  let done = 0
  while (performance.now() - start < seconds * 1000) {
    for (let j = 0; j < batch; j++) await op(i + done++)
  }
  return (done / (performance.now() - start)) * 1000
}

const nestBus = <C extends object>(command: new(...args: never) => C, execute: (command: C) => Promise<unknown>) => {
  class Handler {
    execute(c: C) {
      return execute(c)
    }
  }
  NestCommandHandler(command)(Handler)
  // Nest's bus used standalone: a static handler instance, as a full Nest app registers it
  const bus = new NestCommandBus(undefined as unknown as ConstructorParameters<typeof NestCommandBus>[0])
  bus.register(
    [{ metatype: Handler, instance: new Handler(), isDependencyTreeStatic: () => true, inject: null }] as never
  )
  return bus
}

// ---- the full cycle on SQLite -------------------------------------------------------------------

const sqliteLayer = () => {
  const filename = join(mkdtempSync(join(tmpdir(), "chronicle-cqrs-bench-")), "events.db")
  return SqliteEventStore.layer({ filename, synchronous: "NORMAL" })
}
const sqliteSettings = "SQLite file, WAL, synchronous=NORMAL, 200 accounts round-robin, ~200-byte events"

const serializer = Serializer.make(AccountEvent)
// What a user writes without the repository: read, decode, fold, decide, encode, append.
const handwritten = (command: AccountCommand) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    const streamId = `Account-${command.accountId}`
    const recorded = yield* store.readStream(streamId)
    const decoded = yield* serializer.decodeAll(recorded)
    const state = Aggregate.fold(Account, decoded.map((e) => e.data))
    const events = yield* Account.decide(command, state)
    const result = yield* store.append(
      streamId,
      events.map((e) => serializer.encode(e)),
      ExpectedVersion.exact(recorded.length)
    )
    return result
  })

const seed = Effect.flatMap(
  EventStore.EventStore,
  (store) =>
    store.appendMany(Array.from({ length: accounts }, (_, i) => ({
      streamId: `Account-a${i}`,
      events: [serializer.encode(Opened.make({ owner: `o${i}` }))],
      expected: ExpectedVersion.NoStream
    })))
)

const cases: Record<string, () => Promise<{ opsPerSec: number; settings: string }>> = {
  "dispatch/direct": async () => {
    const runtime = ManagedRuntime.make(Layer.empty)
    const ping = new Ping({ n: 1 })
    const opsPerSec = await runtime.runPromise(measureEffect(runtime, () => handlePing(ping), 20_000))
    return { opsPerSec, settings: "Effect.succeed handler called directly" }
  },
  "dispatch/bus": async () => {
    const runtime = ManagedRuntime.make(
      CommandBus.handler(Ping, handlePing).pipe(Layer.provideMerge(CommandBus.layer()))
    )
    const bus = await runtime.runPromise(CommandBus.CommandBus)
    const ping = new Ping({ n: 1 })
    const opsPerSec = await runtime.runPromise(measureEffect(runtime, () => bus.send(ping), 20_000))
    return { opsPerSec, settings: "CommandBus.send, no middleware, no feed subscriber" }
  },
  "dispatch/bus+middleware": async () => {
    const runtime = ManagedRuntime.make(
      CommandBus.handler(Ping, handlePing).pipe(
        Layer.provideMerge(CommandBus.layer({ middleware: [Middleware.validation, Middleware.metrics] }))
      )
    )
    const bus = await runtime.runPromise(CommandBus.CommandBus)
    const ping = new Ping({ n: 1 })
    const opsPerSec = await runtime.runPromise(measureEffect(runtime, () => bus.send(ping), 20_000))
    return { opsPerSec, settings: "CommandBus.send with validation + metrics middleware" }
  },
  "dispatch/nest": async () => {
    const ping = new Ping({ n: 1 })
    const bus = nestBus(Ping, (command) => Promise.resolve(command.n + 1))
    const opsPerSec = await measurePromise(() => bus.execute(ping), 20_000)
    return { opsPerSec, settings: "@nestjs/cqrs CommandBus.execute, static handler instance" }
  },
  "cycle/direct": async () => {
    const runtime = ManagedRuntime.make(sqliteLayer())
    await runtime.runPromise(seed)
    const opsPerSec = await runtime.runPromise(
      measureEffect(runtime, (i) => handwritten({ _tag: "Deposit", accountId: `a${i % accounts}`, amount: 1 }), 100)
    )
    await runtime.dispose()
    return { opsPerSec, settings: `${sqliteSettings}; read+decode+fold+decide+encode+append by hand` }
  },
  "cycle/bus": async () => {
    const runtime = ManagedRuntime.make(
      Layer.unwrapEffect(Effect.map(Repository.make({ aggregate: Account }), (repository) =>
        CommandBus.handler(
          Deposit,
          CommandHandler.fromAggregateWith(repository, {
            id: (c: Deposit) => c.accountId,
            command: (c): AccountCommand => ({ _tag: "Deposit", accountId: c.accountId, amount: c.amount }),
            mode: "update"
          })
        ))).pipe(Layer.provideMerge(CommandBus.layer()), Layer.provideMerge(sqliteLayer()))
    )
    await runtime.runPromise(seed)
    const bus = await runtime.runPromise(CommandBus.CommandBus)
    const opsPerSec = await runtime.runPromise(
      measureEffect(runtime, (i) => bus.send(new Deposit({ accountId: `a${i % accounts}`, amount: 1 })), 100)
    )
    await runtime.dispose()
    return {
      opsPerSec,
      settings: `${sqliteSettings}; CommandBus + CommandHandler.fromAggregate (idempotent ids, retry)`
    }
  },
  "cycle/nest": async () => {
    const runtime = ManagedRuntime.make(sqliteLayer())
    await runtime.runPromise(seed)
    class DepositCommand {
      constructor(readonly accountId: string, readonly amount: number) {}
    }
    const bus = nestBus(
      DepositCommand,
      (c) => runtime.runPromise(handwritten({ _tag: "Deposit", accountId: c.accountId, amount: c.amount }))
    )
    const opsPerSec = await measurePromise((i) => bus.execute(new DepositCommand(`a${i % accounts}`, 1)), 100)
    await runtime.dispose()
    return { opsPerSec, settings: `${sqliteSettings}; @nestjs/cqrs handler running the hand-written cycle` }
  }
}

const run = cases[name]
if (run === undefined) {
  console.error(`unknown case ${name}; cases: ${Object.keys(cases).join(", ")}`)
  process.exit(2)
}
const result = await run()
console.log(JSON.stringify(result))
