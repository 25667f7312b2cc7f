// The write-side suite, as a function of the event store layer: memory, SQLite and PostgreSQL run
// the same tests. Every test uses fresh ids, so tests can share one store.
import { CommandBus, CommandHandler, Repository, SnapshotPolicy, UnitOfWork } from "@chronicle/cqrs"
import { EventStore } from "@chronicle/eventstore"
import { assert, describe, layer } from "@effect/vitest"
import type { Layer } from "effect"
import { Effect, Exit, FastCheck as fc, Fiber, Layer as L, Option, Ref, Schedule, Stream } from "effect"
import {
  Account,
  AccountClosed,
  type AccountCommand,
  type AccountEvent,
  AccountOpened,
  AccountState,
  Deposit,
  freshId,
  MoneyDeposited,
  OpenAccount,
  Withdraw
} from "./fixtures.js"

export interface SuiteOptions {
  readonly name: string
  readonly layer: Layer.Layer<EventStore.EventStore, unknown>
  readonly runs?: number
}

const accountsWith = (every?: number) =>
  Repository.make({
    aggregate: Account,
    ...(every === undefined ? {} : { snapshots: { schema: AccountState, policy: SnapshotPolicy.every(every) } })
  })

const deletable = Repository.make({
  aggregate: Account,
  deletion: { event: () => AccountClosed.make({}), isDeleted: (state) => state.closed }
})

const open = (owner = "ada"): AccountCommand => ({ _tag: "Open", owner })
const deposit = (amount: number): AccountCommand => ({ _tag: "Deposit", amount })
const withdraw = (amount: number): AccountCommand => ({ _tag: "Withdraw", amount })

// Commands an open account accepts or refuses: deposits, and withdrawals that may overdraw.
const commandArb = fc.oneof(
  fc.integer({ min: 1, max: 100 }).map(deposit),
  fc.integer({ min: 1, max: 150 }).map(withdraw)
)

export const run = (options: SuiteOptions): void => {
  const runs = options.runs ?? 15

  describe(`cqrs write side: ${options.name}`, () => {
    layer(options.layer, { timeout: 120_000, excludeTestServices: true })((it) => {
      describe("Repository", () => {
        it.effect("load of an unknown id fails with AggregateNotFound; exists is false", () =>
          Effect.gen(function*() {
            const accounts = yield* accountsWith()
            const id = freshId()
            const error = yield* Effect.flip(accounts.load(id))
            assert.strictEqual(error._tag, "AggregateNotFound")
            if (error._tag === "AggregateNotFound") assert.isFalse(error.deleted)
            assert.isFalse(yield* accounts.exists(id))
            assert.isTrue(Option.isNone(yield* accounts.find(id)))
          }))

        it.effect("save appends with the loaded version; a stale save fails and writes nothing", () =>
          Effect.gen(function*() {
            const accounts = yield* accountsWith()
            const store = yield* EventStore.EventStore
            const id = freshId()
            const created = yield* accounts.handle(id, open())
            assert.strictEqual(created.version, 1)
            const loaded = yield* accounts.load(id)
            assert.deepStrictEqual(loaded.state, { open: true, closed: false, balance: 0, owner: "ada" })
            assert.strictEqual(loaded.version, 1)
            assert.isTrue(yield* accounts.exists(id))
            const saved = yield* accounts.save(loaded, [MoneyDeposited.make({ amount: 5 })])
            assert.strictEqual(saved.version, 2)
            assert.strictEqual(saved.state.balance, 5)
            assert.strictEqual(saved.positions.length, 1)
            assert.strictEqual(saved.globalPosition, saved.positions[0])
            const stale = yield* Effect.flip(accounts.save(loaded, [MoneyDeposited.make({ amount: 7 })]))
            assert.strictEqual(stale._tag, "WrongExpectedVersion")
            const info = yield* store.streamInfo(accounts.streamId(id))
            assert.strictEqual(info.version, 2)
            assert.strictEqual((yield* accounts.load(id)).state.balance, 5)
          }))

        it.effect("add refuses an existing aggregate; update loads, changes and saves", () =>
          Effect.gen(function*() {
            const accounts = yield* accountsWith()
            const id = freshId()
            yield* accounts.add(id, [AccountOpened.make({ owner: "bob" })])
            const again = yield* Effect.flip(accounts.add(id, [AccountOpened.make({ owner: "eve" })]))
            assert.strictEqual(again._tag, "AggregateAlreadyExists")
            const updated = yield* accounts.update(id, (state) =>
              Effect.succeed([MoneyDeposited.make({ amount: state.owner.length })]))
            assert.strictEqual(updated.state.balance, 3)
            const missing = yield* Effect.flip(accounts.update(freshId(), () =>
              Effect.succeed([])))
            assert.strictEqual(missing._tag, "AggregateNotFound")
          }))

        it.effect("an event that breaks its schema is a typed failure and writes nothing", () =>
          Effect.gen(function*() {
            const accounts = yield* accountsWith()
            const id = freshId()
            const bad: AccountEvent = { _tag: "MoneyDeposited", amount: -3 }
            const error = yield* Effect.flip(accounts.add(id, [bad]))
            assert.strictEqual(error._tag, "InvalidRequest")
            assert.isFalse(yield* accounts.exists(id))
          }))

        it.effect("remove with a domain deletion event: the stream stays, the aggregate is gone", () =>
          Effect.gen(function*() {
            const accounts = yield* deletable
            const store = yield* EventStore.EventStore
            const id = freshId()
            yield* accounts.handle(id, open())
            yield* accounts.remove(id)
            const error = yield* Effect.flip(accounts.load(id))
            assert.strictEqual(error._tag, "AggregateNotFound")
            if (error._tag === "AggregateNotFound") assert.isTrue(error.deleted)
            assert.isFalse(yield* accounts.exists(id))
            const events = yield* store.readStream(accounts.streamId(id))
            assert.deepStrictEqual(events.map((e) => e.type), ["AccountOpened", "AccountClosed"])
            const history = yield* Stream.runCollect(accounts.history(id))
            assert.strictEqual(history.length, 2)
          }))

        it.effect("remove without a deletion event tombstones the stream", () =>
          Effect.gen(function*() {
            const accounts = yield* accountsWith()
            const store = yield* EventStore.EventStore
            const id = freshId()
            yield* accounts.handle(id, open())
            yield* accounts.remove(id)
            const error = yield* Effect.flip(accounts.load(id))
            assert.strictEqual(error._tag, "AggregateNotFound")
            if (error._tag === "AggregateNotFound") assert.isTrue(error.deleted)
            assert.isFalse(yield* accounts.exists(id))
            assert.isTrue((yield* store.streamInfo(accounts.streamId(id))).deleted)
            const again = yield* Effect.flip(accounts.remove(id))
            assert.strictEqual(again._tag, "AggregateNotFound")
          }))

        it.effect("snapshots are written by policy and the load from a snapshot equals a full replay", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            yield* Effect.promise(() =>
              fc.assert(
                fc.asyncProperty(
                  fc.array(commandArb, { maxLength: 25 }),
                  fc.integer({ min: 1, max: 6 }),
                  (commands, every) =>
                    Effect.runPromise(
                      Effect.gen(function*() {
                        const snapshotting = yield* accountsWith(every)
                        const replaying = yield* accountsWith()
                        const id = freshId()
                        yield* snapshotting.handle(id, open())
                        for (const command of commands) {
                          yield* Effect.either(snapshotting.handle(id, command))
                        }
                        const fromSnapshot = yield* snapshotting.load(id)
                        const fromEvents = yield* replaying.load(id)
                        assert.deepStrictEqual(fromSnapshot.state, fromEvents.state)
                        assert.strictEqual(fromSnapshot.version, fromEvents.version)
                        const snapshot = yield* store.loadSnapshot(snapshotting.streamId(id))
                        if (fromEvents.version >= every) {
                          assert.isTrue(Option.isSome(snapshot))
                          assert.isTrue(fromSnapshot.snapshotVersion > 0)
                          assert.isAtMost(fromEvents.version - fromSnapshot.snapshotVersion, every - 1)
                        } else {
                          assert.isTrue(Option.isNone(snapshot))
                        }
                      }).pipe(Effect.provideService(EventStore.EventStore, store))
                    )
                ),
                { numRuns: runs }
              )
            )
          }))

        it.effect("a snapshot that no longer decodes is ignored: the state comes from the events", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const accounts = yield* accountsWith(1)
            const id = freshId()
            yield* accounts.handle(id, open())
            yield* accounts.handle(id, deposit(10))
            yield* store.saveSnapshot(accounts.streamId(id), { version: 2, state: { nonsense: true } })
            const loaded = yield* accounts.load(id)
            assert.strictEqual(loaded.state.balance, 10)
            assert.strictEqual(loaded.snapshotVersion, 0)
          }))

        it.effect("time travel: as of a version (with and without a later snapshot)", () =>
          Effect.gen(function*() {
            const accounts = yield* accountsWith(2)
            const id = freshId()
            yield* accounts.handle(id, open())
            for (const amount of [1, 2, 4, 8, 16]) yield* accounts.handle(id, deposit(amount))
            const balances = [0, 1, 3, 7, 15, 31]
            for (let version = 1; version <= 6; version++) {
              const past = yield* accounts.loadAt(id, { version })
              assert.strictEqual(past.version, version)
              assert.strictEqual(past.state.balance, balances[version - 1])
            }
            const beyond = yield* accounts.loadAt(id, { version: 99 })
            assert.strictEqual(beyond.version, 6)
            const before = yield* Effect.flip(accounts.loadAt(id, { version: 0 }))
            assert.strictEqual(before._tag, "AggregateNotFound")
          }))

        it.effect("time travel: as of an instant", () =>
          Effect.gen(function*() {
            const accounts = yield* accountsWith(2)
            const id = freshId()
            yield* accounts.handle(id, open())
            for (const amount of [1, 2, 4, 8]) {
              yield* Effect.sleep("4 millis")
              yield* accounts.handle(id, deposit(amount))
            }
            const history = Array.from(yield* Stream.runCollect(accounts.history(id)))
            assert.strictEqual(history.length, 5)
            const balances = [0, 1, 3, 7, 15]
            for (let i = 0; i < history.length; i++) {
              const at = history[i].timestamp
              let last = 0
              for (let j = 0; j < history.length; j++) if (history[j].timestamp.getTime() <= at.getTime()) last = j
              const past = yield* accounts.loadAt(id, { timestamp: at })
              assert.strictEqual(past.version, last + 1)
              assert.strictEqual(past.state.balance, balances[last])
            }
            const early = yield* Effect.flip(
              accounts.loadAt(id, { timestamp: new Date(history[0].timestamp.getTime() - 1) })
            )
            assert.strictEqual(early._tag, "AggregateNotFound")
          }))
      })

      describe("UnitOfWork", () => {
        it.effect("identity map: loading the same id twice gives the same tracked aggregate", () =>
          Effect.gen(function*() {
            const accounts = yield* accountsWith()
            const id = freshId()
            yield* accounts.handle(id, open())
            const unit = yield* UnitOfWork.begin()
            const first = yield* unit.load(accounts, id)
            yield* unit.execute(first, deposit(5))
            const second = yield* unit.load(accounts, id)
            assert.strictEqual(first, second)
            assert.strictEqual(second.state.balance, 5)
            assert.strictEqual(second.pending.length, 1)
            yield* unit.rollback
            assert.strictEqual((yield* accounts.load(id)).version, 1)
          }))

        it.effect("commit appends every tracked aggregate's events, then runs the commit handlers", () =>
          Effect.gen(function*() {
            const accounts = yield* accountsWith()
            const a = freshId()
            const b = freshId()
            const c = freshId()
            yield* accounts.handle(a, open())
            yield* accounts.handle(a, deposit(10))
            yield* accounts.handle(b, open())
            const seen = yield* Ref.make<ReadonlyArray<string>>([])
            const handlers = UnitOfWork.onCommitted(
              Account,
              (event) => Ref.update(seen, (all) => [...all, `${event.streamId}:${event.type}`])
            )
            const [, result] = yield* UnitOfWork.transactionalWithResult(
              Effect.gen(function*() {
                const from = yield* UnitOfWork.load(accounts, a)
                const to = yield* UnitOfWork.load(accounts, b)
                yield* UnitOfWork.execute(from, withdraw(4))
                yield* UnitOfWork.execute(to, deposit(4))
                yield* UnitOfWork.registerNew(accounts, c, [AccountOpened.make({ owner: "cy" })])
              }),
              { correlationId: "transfer-1" }
            ).pipe(
              Effect.provide(L.provideMerge(handlers, UnitOfWork.layerCommitHandlers))
            )
            assert.strictEqual(result.appends.length, 3)
            assert.deepStrictEqual(result.appends.map((r) => r.version), [3, 2, 1])
            assert.strictEqual((yield* accounts.load(a)).state.balance, 6)
            assert.strictEqual((yield* accounts.load(b)).state.balance, 4)
            assert.strictEqual((yield* accounts.load(c)).state.owner, "cy")
            assert.deepStrictEqual(yield* Ref.get(seen), [
              `Account-${a}:MoneyWithdrawn`,
              `Account-${b}:MoneyDeposited`,
              `Account-${c}:AccountOpened`
            ])
            const store = yield* EventStore.EventStore
            const stored = yield* store.readStream(`Account-${b}`)
            assert.strictEqual(stored[1].correlationId, "transfer-1")
            assert.strictEqual(stored[1].globalPosition, result.events[1].globalPosition)
          }))

        it.effect("a failing commit handler does not undo or fail the commit", () =>
          Effect.gen(function*() {
            const accounts = yield* accountsWith()
            const id = freshId()
            const handlers = UnitOfWork.onCommitted(Account, () => Effect.fail("boom"))
            yield* UnitOfWork.transactional(UnitOfWork.registerNew(accounts, id, [AccountOpened.make({ owner: "d" })]))
              .pipe(Effect.provide(L.provideMerge(handlers, UnitOfWork.layerCommitHandlers)))
            assert.isTrue(yield* accounts.exists(id))
          }))

        it.effect("atomic: when one aggregate of a unit is stale, the commit writes nothing (property)", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            yield* Effect.promise(() =>
              fc.assert(
                fc.asyncProperty(
                  fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 2, maxLength: 5 }),
                  fc.nat(),
                  (amounts, pick) =>
                    Effect.runPromise(
                      Effect.gen(function*() {
                        const accounts = yield* accountsWith()
                        const ids = amounts.map(() => freshId())
                        for (const id of ids) yield* accounts.handle(id, open())
                        const stale = pick % ids.length
                        const before = yield* Effect.forEach(ids, (id) => store.streamInfo(accounts.streamId(id)))
                        const exit = yield* Effect.exit(UnitOfWork.transactional(Effect.gen(function*() {
                          for (let i = 0; i < ids.length; i++) {
                            const tracked = yield* UnitOfWork.load(accounts, ids[i])
                            yield* UnitOfWork.execute(tracked, deposit(amounts[i]))
                            // another writer moves this aggregate on after the unit loaded it
                            if (i === stale) yield* accounts.handle(ids[i], deposit(1))
                          }
                        })))
                        assert.isTrue(Exit.isFailure(exit))
                        const after = yield* Effect.forEach(ids, (id) => store.streamInfo(accounts.streamId(id)))
                        for (let i = 0; i < ids.length; i++) {
                          assert.strictEqual(after[i].version, before[i].version + (i === stale ? 1 : 0))
                        }
                      }).pipe(Effect.provideService(EventStore.EventStore, store))
                    )
                ),
                { numRuns: runs }
              )
            )
          }))

        it.effect("atomic: a refused command rolls the whole unit back", () =>
          Effect.gen(function*() {
            const accounts = yield* accountsWith()
            const a = freshId()
            const b = freshId()
            yield* accounts.handle(a, open())
            yield* accounts.handle(b, open())
            const error = yield* Effect.flip(UnitOfWork.transactional(Effect.gen(function*() {
              const from = yield* UnitOfWork.load(accounts, a)
              const to = yield* UnitOfWork.load(accounts, b)
              yield* UnitOfWork.execute(to, deposit(50))
              yield* UnitOfWork.execute(from, withdraw(50))
            })))
            assert.strictEqual(error._tag, "InvariantViolated")
            assert.strictEqual((yield* accounts.load(b)).version, 1)
          }))

        it.effect("interruption rolls back: nothing is written", () =>
          Effect.gen(function*() {
            const accounts = yield* accountsWith()
            const id = freshId()
            yield* accounts.handle(id, open())
            const loaded = yield* Ref.make(false)
            const fiber = yield* Effect.fork(UnitOfWork.transactional(Effect.gen(function*() {
              const tracked = yield* UnitOfWork.load(accounts, id)
              yield* UnitOfWork.execute(tracked, deposit(3))
              yield* Ref.set(loaded, true)
              yield* Effect.never
            })))
            yield* Effect.repeat(Ref.get(loaded), { until: (done) => done, schedule: Schedule.spaced("1 millis") })
            yield* Fiber.interrupt(fiber)
            assert.strictEqual((yield* accounts.load(id)).version, 1)
          }))

        it.effect("a committed or rolled back unit refuses further use; deletion needs a domain event", () =>
          Effect.gen(function*() {
            const accounts = yield* accountsWith()
            const closable = yield* deletable
            const id = freshId()
            yield* accounts.handle(id, open())
            const unit = yield* UnitOfWork.begin()
            const tracked = yield* unit.load(accounts, id)
            const refused = yield* Effect.flip(unit.registerDeleted(tracked))
            assert.strictEqual(refused._tag, "DeletionNotSupported")
            const other = yield* unit.load(closable, freshId()).pipe(Effect.flip)
            assert.strictEqual(other._tag, "AggregateNotFound")
            yield* unit.commit
            assert.strictEqual(yield* unit.status, "committed")
            const closed = yield* Effect.flip(unit.load(accounts, id))
            assert.strictEqual(closed._tag, "UnitOfWorkClosed")

            const deleting = yield* UnitOfWork.begin()
            const doomed = yield* deleting.load(closable, id)
            yield* deleting.registerDeleted(doomed)
            yield* deleting.commit
            const gone = yield* Effect.flip(closable.load(id))
            assert.strictEqual(gone._tag, "AggregateNotFound")
          }))
      })

      describe("CommandHandler", () => {
        it.effect("retries on WrongExpectedVersion with a fresh load and decision", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const base = yield* accountsWith()
            const id = freshId()
            yield* base.handle(id, open())
            yield* base.handle(id, deposit(200))
            const attempts = yield* Ref.make(0)
            // Each of the first two decisions is followed by another writer's deposit before the append.
            const racing = Repository.makeWith(store, {
              aggregate: {
                ...Account,
                decide: (command: AccountCommand, state: AccountState) =>
                  Effect.flatMap(Ref.getAndUpdate(attempts, (n) => n + 1), (n) =>
                    Effect.zipRight(
                      n < 2 ? Effect.orDie(base.handle(id, deposit(100))) : Effect.void,
                      Account.decide(command, state)
                    ))
              }
            })
            const result = yield* CommandHandler.execute(racing, id, withdraw(150), {
              retry: Schedule.recurs(3),
              context: { messageId: crypto.randomUUID() }
            })
            assert.strictEqual(yield* Ref.get(attempts), 3)
            assert.strictEqual(result.version, 5)
            const loaded = yield* base.load(id)
            assert.strictEqual(loaded.state.balance, 250)
            const last = (yield* store.readStream(base.streamId(id))).at(-1)
            assert.strictEqual(result.globalPosition, last?.globalPosition)

            // bounded: a conflict on every attempt fails after the schedule's retries
            yield* Ref.set(attempts, -100)
            const error = yield* Effect.flip(
              CommandHandler.execute(racing, id, deposit(1), { retry: Schedule.recurs(2) })
            )
            assert.strictEqual(error._tag, "WrongExpectedVersion")
            assert.strictEqual(yield* Ref.get(attempts), -97)
          }))

        it.effect("concurrent commands on one aggregate all land, none lost", () =>
          Effect.gen(function*() {
            const accounts = yield* accountsWith()
            const id = freshId()
            yield* accounts.handle(id, open())
            const results = yield* Effect.forEach(
              Array.from({ length: 8 }, (_, i) => i + 1),
              (amount) =>
                CommandHandler.execute(accounts, id, deposit(amount), {
                  retry: Schedule.spaced("1 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(50))),
                  context: { messageId: crypto.randomUUID() }
                }),
              { concurrency: "unbounded" }
            )
            const loaded = yield* accounts.load(id)
            assert.strictEqual(loaded.state.balance, 36)
            assert.strictEqual(loaded.version, 9)
            assert.deepStrictEqual(results.map((r) => r.version).sort((x, y) => x - y), [2, 3, 4, 5, 6, 7, 8, 9])
          }))

        it.effect("idempotency: the same command id twice writes its events once", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const accounts = yield* accountsWith()
            const id = freshId()
            const layer = handlersFor(accounts)
            yield* Effect.gen(function*() {
              const opened = yield* CommandBus.send(new OpenAccount({ accountId: id, owner: "ada" }), {
                messageId: `open-${id}`
              })
              // a creation re-sent after it succeeded answers with what it wrote
              const reopened = yield* CommandBus.send(new OpenAccount({ accountId: id, owner: "ada" }), {
                messageId: `open-${id}`
              })
              assert.isTrue(reopened.duplicate)
              assert.deepStrictEqual(reopened.eventIds, opened.eventIds)
              // a different creation command for the same id is refused
              const other = yield* Effect.flip(CommandBus.send(new OpenAccount({ accountId: id, owner: "eve" })))
              assert.strictEqual(other._tag, "AggregateAlreadyExists")
              const commandId = crypto.randomUUID()
              const command = new Deposit({ accountId: id, amount: 10 })
              const first = yield* CommandBus.send(command, { messageId: commandId })
              // an immediate re-send (a lost acknowledgement): the store recognises the event ids
              const second = yield* CommandBus.send(command, { messageId: commandId })
              assert.isFalse(first.duplicate)
              assert.isTrue(second.duplicate)
              assert.deepStrictEqual(second.eventIds, first.eventIds)
              assert.deepStrictEqual(second.positions, first.positions)
              // the stream moved on, then the same command arrives again
              yield* CommandBus.send(new Deposit({ accountId: id, amount: 1 }))
              const third = yield* CommandBus.send(command, { messageId: commandId })
              assert.isTrue(third.duplicate)
              assert.deepStrictEqual(third.eventIds, first.eventIds)
              assert.strictEqual(third.version, first.version)
              // concurrent duplicates
              const concurrentId = crypto.randomUUID()
              const both = yield* Effect.all([
                CommandBus.send(new Deposit({ accountId: id, amount: 100 }), { messageId: concurrentId }),
                CommandBus.send(new Deposit({ accountId: id, amount: 100 }), { messageId: concurrentId })
              ], { concurrency: 2 })
              assert.deepStrictEqual(both[0].eventIds, both[1].eventIds)
              assert.strictEqual([both[0].duplicate, both[1].duplicate].filter(Boolean).length, 1)
            }).pipe(Effect.provide(layer))
            const events = yield* store.readStream(accounts.streamId(id))
            assert.deepStrictEqual(events.map((e) => e.type), [
              "AccountOpened",
              "MoneyDeposited",
              "MoneyDeposited",
              "MoneyDeposited"
            ])
            assert.strictEqual((yield* accounts.load(id)).state.balance, 111)
          }))

        it.effect("idempotency: a re-send the domain would now refuse answers with what the command wrote", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const accounts = yield* accountsWith()
            const id = freshId()
            yield* Effect.gen(function*() {
              yield* CommandBus.send(new OpenAccount({ accountId: id, owner: "ada" }))
              yield* CommandBus.send(new Deposit({ accountId: id, amount: 100 }))
              const commandId = crypto.randomUUID()
              const command = new Withdraw({ accountId: id, amount: 100 })
              const first = yield* CommandBus.send(command, { messageId: commandId })
              yield* CommandBus.send(new Deposit({ accountId: id, amount: 5 }))
              // decided again, the withdrawal would overdraw (balance 5): it is answered, not refused
              const again = yield* CommandBus.send(command, { messageId: commandId })
              assert.isTrue(again.duplicate)
              assert.strictEqual(again.version, first.version)
              assert.deepStrictEqual(again.eventIds, first.eventIds)
              assert.deepStrictEqual(again.positions, first.positions)
              // the same withdrawal under a fresh id is refused
              const refused = yield* Effect.flip(CommandBus.send(command))
              assert.strictEqual(refused._tag, "InvariantViolated")
            }).pipe(Effect.provide(handlersFor(accounts)))
            assert.strictEqual((yield* store.streamInfo(accounts.streamId(id))).version, 4)
            assert.strictEqual((yield* accounts.load(id)).state.balance, 5)

            // re-sent after the aggregate was deleted: still the earlier answer, not AggregateNotFound
            const closable = yield* deletable
            const other = freshId()
            yield* closable.handle(other, open())
            const context = { messageId: crypto.randomUUID(), type: "Deposit" }
            const deposited = yield* CommandHandler.execute(closable, other, deposit(7), { mode: "update", context })
            yield* closable.remove(other)
            const after = yield* CommandHandler.execute(closable, other, deposit(7), { mode: "update", context })
            assert.isTrue(after.duplicate)
            assert.strictEqual(after.version, deposited.version)
            assert.deepStrictEqual(after.eventIds, deposited.eventIds)
            const fresh = yield* Effect.flip(CommandHandler.execute(closable, other, deposit(7), { mode: "update" }))
            assert.strictEqual(fresh._tag, "AggregateNotFound")
          }))

        it.effect("idempotency: a command id reused for another command fails with IdempotencyConflict, writes nothing", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const accounts = yield* accountsWith()
            const id = freshId()
            const openId = crypto.randomUUID()
            const commandId = crypto.randomUUID()
            yield* Effect.gen(function*() {
              yield* CommandBus.send(new OpenAccount({ accountId: id, owner: "ada" }), { messageId: openId })
              // another creation under the creation's id
              const reopened = yield* Effect.flip(
                CommandBus.send(new OpenAccount({ accountId: id, owner: "eve" }), { messageId: openId })
              )
              assert.strictEqual(reopened._tag, "IdempotencyConflict")
              yield* CommandBus.send(new Deposit({ accountId: id, amount: 10 }), { messageId: commandId })
              // the same type with another payload, right away (same place) and after the stream moved on
              const other = yield* Effect.flip(
                CommandBus.send(new Deposit({ accountId: id, amount: 20 }), { messageId: commandId })
              )
              assert.strictEqual(other._tag, "IdempotencyConflict")
              yield* CommandBus.send(new Deposit({ accountId: id, amount: 1 }))
              // another type, which the domain would accept
              const withdrawn = yield* Effect.flip(
                CommandBus.send(new Withdraw({ accountId: id, amount: 2 }), { messageId: commandId })
              )
              assert.strictEqual(withdrawn._tag, "IdempotencyConflict")
              // another type, which the domain would refuse
              const overdrawn = yield* Effect.flip(
                CommandBus.send(new Withdraw({ accountId: id, amount: 500 }), { messageId: commandId })
              )
              assert.strictEqual(overdrawn._tag, "IdempotencyConflict")
              // the original command is still answered
              const same = yield* CommandBus.send(new Deposit({ accountId: id, amount: 10 }), { messageId: commandId })
              assert.isTrue(same.duplicate)
              assert.strictEqual(same.version, 2)
            }).pipe(Effect.provide(handlersFor(accounts)))
            const events = yield* store.readStream(accounts.streamId(id))
            assert.deepStrictEqual(events.map((e) => e.type), ["AccountOpened", "MoneyDeposited", "MoneyDeposited"])
            assert.strictEqual((yield* accounts.load(id)).state.balance, 11)
          }))

        it.effect("correlation and causation ids go into the events' envelopes and metadata", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const accounts = yield* accountsWith()
            const id = freshId()
            const result = yield* CommandBus.send(new OpenAccount({ accountId: id, owner: "ada" }), {
              messageId: `cmd-${id}`,
              correlationId: "conversation-7",
              metadata: { user: "u1" }
            }).pipe(Effect.provide(handlersFor(accounts)))
            const [event] = yield* store.readStream(accounts.streamId(id))
            assert.strictEqual(event.causationId, `cmd-${id}`)
            assert.strictEqual(event.correlationId, "conversation-7")
            const { commandHash, ...metadata } = event.metadata
            assert.deepStrictEqual(metadata, { user: "u1", commandId: `cmd-${id}`, commandType: "Open" })
            assert.match(String(commandHash), /^[0-9a-f]{32}$/)
            assert.strictEqual(result.globalPosition, event.globalPosition)
            assert.strictEqual(result.version, 1)

            const withdrawn = yield* Effect.flip(
              CommandBus.send(new Withdraw({ accountId: id, amount: 1 })).pipe(Effect.provide(handlersFor(accounts)))
            )
            assert.strictEqual(withdrawn._tag, "InvariantViolated")
            const version = (yield* store.streamInfo(accounts.streamId(id))).version
            assert.strictEqual(version, 1)
          }))
      })
    })
  })
}

const handlersFor = (
  accounts: Repository.Of<typeof Account>,
  retry?: Schedule.Schedule<unknown, unknown>
) =>
  L.mergeAll(
    CommandBus.handler(
      OpenAccount,
      CommandHandler.fromAggregateWith(accounts, {
        id: (c: OpenAccount) => c.accountId,
        command: (c): AccountCommand => ({ _tag: "Open", owner: c.owner }),
        mode: "create",
        ...(retry === undefined ? {} : { retry })
      })
    ),
    CommandBus.handler(
      Deposit,
      CommandHandler.fromAggregate(accounts, { id: (c: Deposit) => c.accountId, mode: "update" })
    ),
    CommandBus.handler(
      Withdraw,
      CommandHandler.fromAggregate(accounts, { id: (c: Withdraw) => c.accountId, mode: "update" })
    )
  ).pipe(L.provideMerge(CommandBus.layer()))
