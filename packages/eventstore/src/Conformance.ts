/**
 * The conformance suite every `EventStore` adapter must pass, for adapter authors: call `run` from a
 * Vitest test file with a layer of your adapter.
 *
 * @since 0.1.0
 */
import { assert, describe, layer } from "@effect/vitest"
import type { Layer } from "effect"
import { Chunk, Effect, Either, FastCheck as fc, Fiber, Option, Schedule, Schema, Stream } from "effect"
import type { EventData, RecordedEvent } from "./EventStore.js"
import * as EventStore from "./EventStore.js"
import * as ExpectedVersion from "./ExpectedVersion.js"
import * as Serializer from "./Serializer.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Shown in the suite's name. */
  readonly name: string
  readonly layer: Layer.Layer<EventStore.EventStore, unknown>
  /** Concurrent writers in the concurrency property (default 8). */
  readonly writers?: number
  /** fast-check runs for the property tests (default 15). */
  readonly runs?: number
}

/** A category no other test uses, so tests can share one store and run concurrently. */
const freshCategory = () => `c${crypto.randomUUID().replaceAll("-", "")}`

const event = (type: string, data: unknown = { n: 1 }, extra: Partial<EventData> = {}): EventData => ({
  eventId: crypto.randomUUID(),
  type,
  data,
  ...extra
})

const events = (count: number, type = "Happened") => Array.from({ length: count }, (_, i) => event(type, { i }))

const Renamed = Schema.TaggedStruct("Renamed", { from: Schema.String, to: Schema.String })
const Created = Schema.TaggedStruct("Created", { title: Schema.String })
const TestEvent = Schema.Union(Created, Renamed)

/**
 * A category's events once every position up to `upTo` is final. PostgreSQL readers stop below the
 * oldest transaction open on the server, whoever holds it (decision 0002), and other tests may hold
 * one for a while: a read right after an append could stop short of it.
 */
const readCategory = (store: EventStore.Service, category: string, upTo: number) =>
  store.head.pipe(
    Effect.repeat({ schedule: Schedule.spaced("20 millis"), while: (head) => head < upTo }),
    Effect.timeoutFail({
      duration: "20 seconds",
      onTimeout: () => new Error(`position ${upTo} was acknowledged but did not become readable`)
    }),
    Effect.zipRight(store.readAll({ filter: EventStore.category(category) }))
  )

const lastOf = (results: ReadonlyArray<EventStore.AppendResult>) => Math.max(0, ...results.flatMap((r) => r.positions))

const assertIncreasing = (positions: ReadonlyArray<number>) => {
  for (let i = 1; i < positions.length; i++) assert.isAbove(positions[i], positions[i - 1])
}

/**
 * Registers the suite with Vitest.
 *
 * @since 0.1.0
 * @category testing
 */
export const run = (options: Options): void => {
  const runs = options.runs ?? 15
  const writers = options.writers ?? 8

  describe(`EventStore conformance: ${options.name}`, () => {
    layer(options.layer, { timeout: 120_000, excludeTestServices: true })((it) => {
      describe("expected versions", () => {
        it.effect("NoStream accepts a new stream and refuses an existing one", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            const first = yield* store.append(id, events(2), ExpectedVersion.NoStream)
            assert.strictEqual(first.version, 2)
            assert.strictEqual(first.positions.length, 2)
            assertIncreasing(first.positions)
            const error = yield* Effect.flip(store.append(id, events(1), ExpectedVersion.NoStream))
            assert.strictEqual(error._tag, "WrongExpectedVersion")
            if (error._tag === "WrongExpectedVersion") {
              assert.strictEqual(error.actual, 2)
              assert.strictEqual(error.expected, "NoStream")
            }
          }))

        it.effect("StreamExists refuses a stream without events", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            const error = yield* Effect.flip(store.append(id, events(1), ExpectedVersion.StreamExists))
            assert.strictEqual(error._tag, "WrongExpectedVersion")
            yield* store.append(id, events(1), ExpectedVersion.Any)
            const ok = yield* store.append(id, events(1), ExpectedVersion.StreamExists)
            assert.strictEqual(ok.version, 2)
          }))

        it.effect("Exact accepts the current version only and reports the actual one", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            yield* store.append(id, events(3), ExpectedVersion.exact(0))
            const stale = yield* Effect.flip(store.append(id, events(1), ExpectedVersion.exact(2)))
            assert.deepInclude(stale, { _tag: "WrongExpectedVersion", actual: 3, expected: "version 2", streamId: id })
            const ahead = yield* Effect.flip(store.append(id, events(1), ExpectedVersion.exact(4)))
            assert.strictEqual(ahead._tag, "WrongExpectedVersion")
            const ok = yield* store.append(id, events(2), ExpectedVersion.exact(3))
            assert.strictEqual(ok.version, 5)
            const info = yield* store.streamInfo(id)
            assert.deepStrictEqual(info, { streamId: id, version: 5, deleted: false })
          }))

        it.effect("Any appends whatever the version", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            yield* store.append(id, events(1), ExpectedVersion.Any)
            const second = yield* store.append(id, events(1), ExpectedVersion.Any)
            assert.strictEqual(second.version, 2)
          }))

        it.effect("an empty append checks the expectation and writes nothing", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            yield* store.append(id, events(2), ExpectedVersion.Any)
            const empty = yield* store.append(id, [], ExpectedVersion.exact(2))
            assert.deepStrictEqual(empty, { streamId: id, version: 2, positions: [] })
            const stale = yield* Effect.flip(store.append(id, [], ExpectedVersion.exact(1)))
            assert.strictEqual(stale._tag, "WrongExpectedVersion")
            assert.strictEqual((yield* store.readStream(id)).length, 2)
          }))

        it.effect("a refused append writes nothing", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cat = freshCategory()
            const id = `${cat}-1`
            const first = yield* store.append(id, events(1), ExpectedVersion.Any)
            yield* Effect.flip(store.append(id, events(5), ExpectedVersion.exact(0)))
            assert.strictEqual((yield* store.readStream(id)).length, 1)
            assert.strictEqual((yield* readCategory(store, cat, lastOf([first]))).length, 1)
          }))
      })

      describe("idempotency", () => {
        it.effect("a large batch is appended whole, in order", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            const result = yield* store.append(id, events(1234), ExpectedVersion.NoStream)
            assert.strictEqual(result.version, 1234)
            assertIncreasing(result.positions)
            const read = yield* store.readStream(id)
            assert.deepStrictEqual(read.map((e) => e.streamVersion), read.map((_, i) => i + 1))
            const conflict = yield* Effect.flip(store.append(id, events(700), ExpectedVersion.exact(1000)))
            assert.strictEqual(conflict._tag, "WrongExpectedVersion")
            assert.strictEqual((yield* store.streamInfo(id)).version, 1234)
          }))

        it.effect("re-appending the same ids at the same place returns the first result and writes once", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            const batch = events(3)
            const first = yield* store.append(id, batch, ExpectedVersion.exact(0))
            const again = yield* store.append(id, batch, ExpectedVersion.exact(0))
            assert.deepStrictEqual(again, { ...first, duplicate: true })
            assert.notStrictEqual(first.duplicate, true)
            yield* store.append(id, events(1), ExpectedVersion.exact(3))
            // a retry that arrives after later appends is still recognized
            const late = yield* store.append(id, batch, ExpectedVersion.exact(0))
            assert.deepStrictEqual(late, { ...first, duplicate: true })
            const anyRetry = yield* store.append(id, batch, ExpectedVersion.Any)
            assert.deepStrictEqual(anyRetry, { ...first, duplicate: true })
            assert.strictEqual((yield* store.readStream(id)).length, 4)
          }))

        it.effect("a partial overlap or a move fails with IdempotencyConflict and writes nothing", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cat = freshCategory()
            const batch = events(2)
            const written = yield* store.append(`${cat}-1`, batch, ExpectedVersion.Any)
            const partial = yield* Effect.flip(store.append(`${cat}-1`, [batch[0], event("New")], ExpectedVersion.Any))
            assert.strictEqual(partial._tag, "IdempotencyConflict")
            const moved = yield* Effect.flip(store.append(`${cat}-2`, batch, ExpectedVersion.Any))
            assert.strictEqual(moved._tag, "IdempotencyConflict")
            const shifted = yield* Effect.flip(store.append(`${cat}-1`, batch, ExpectedVersion.exact(1)))
            assert.strictEqual(shifted._tag, "IdempotencyConflict")
            const reordered = yield* Effect.flip(store.append(`${cat}-1`, [batch[1], batch[0]], ExpectedVersion.Any))
            assert.strictEqual(reordered._tag, "IdempotencyConflict")
            assert.strictEqual((yield* readCategory(store, cat, lastOf([written]))).length, 2)
          }))
        it.effect("an exact retry of a multi-stream append with a guard returns the first result", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cat = freshCategory()
            yield* store.append(`${cat}-guard`, events(1), ExpectedVersion.NoStream)
            const call = [
              { streamId: `${cat}-a`, events: events(2), expected: ExpectedVersion.NoStream },
              { streamId: `${cat}-guard`, events: [], expected: ExpectedVersion.exact(1) }
            ]
            const first = yield* store.appendMany(call)
            const again = yield* store.appendMany(call)
            assert.deepStrictEqual(again, [{ ...first[0], duplicate: true }, first[1]])
            assert.strictEqual((yield* store.readStream(`${cat}-a`)).length, 2)
            assert.strictEqual((yield* store.streamInfo(`${cat}-guard`)).version, 1)
          }))

        it.effect("a multi-stream append that is part retry, part new fails with IdempotencyConflict", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cat = freshCategory()
            const batch = events(1)
            const written = yield* store.append(`${cat}-a`, batch, ExpectedVersion.NoStream)
            const mixed = yield* Effect.flip(store.appendMany([
              { streamId: `${cat}-a`, events: batch, expected: ExpectedVersion.NoStream },
              { streamId: `${cat}-b`, events: events(1), expected: ExpectedVersion.NoStream }
            ]))
            assert.strictEqual(mixed._tag, "IdempotencyConflict")
            assert.strictEqual((yield* store.streamInfo(`${cat}-b`)).version, 0)
            assert.strictEqual((yield* readCategory(store, cat, lastOf([written]))).length, 1)
          }))
      })

      describe("multi-stream appends", () => {
        it.effect("the positions an append returns are where its events are stored", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cat = freshCategory()
            yield* store.append(`${cat}-a`, events(2), ExpectedVersion.NoStream)
            // one event, many (more than one statement's worth on SQLite), and several streams at once
            const results = [
              yield* store.append(`${cat}-a`, events(1), ExpectedVersion.exact(2)),
              yield* store.append(`${cat}-b`, events(1_203), ExpectedVersion.NoStream),
              ...(yield* store.appendMany([
                { streamId: `${cat}-c`, events: events(3), expected: ExpectedVersion.NoStream },
                { streamId: `${cat}-a`, events: events(2), expected: ExpectedVersion.exact(3) }
              ]))
            ]
            for (const result of results) {
              const stored = yield* store.readStream(result.streamId)
              const written = stored.slice(result.version - result.positions.length, result.version)
              assert.deepStrictEqual(result.positions, written.map((e) => e.globalPosition))
            }
          }))

        it.effect("append all streams or none", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cat = freshCategory()
            yield* store.append(`${cat}-b`, events(1), ExpectedVersion.Any)
            const results = yield* store.appendMany([
              { streamId: `${cat}-a`, events: events(2), expected: ExpectedVersion.NoStream },
              { streamId: `${cat}-b`, events: events(1), expected: ExpectedVersion.exact(1) }
            ])
            assert.deepStrictEqual(results.map((r) => r.version), [2, 2])
            assertIncreasing(results.flatMap((r) => r.positions))
            const failed = yield* Effect.flip(store.appendMany([
              { streamId: `${cat}-a`, events: events(1), expected: ExpectedVersion.exact(2) },
              { streamId: `${cat}-c`, events: events(1), expected: ExpectedVersion.NoStream },
              { streamId: `${cat}-b`, events: events(1), expected: ExpectedVersion.exact(1) }
            ]))
            assert.strictEqual(failed._tag, "WrongExpectedVersion")
            assert.strictEqual((yield* store.readStream(`${cat}-a`)).length, 2)
            assert.strictEqual((yield* store.streamInfo(`${cat}-c`)).version, 0)
            assert.strictEqual((yield* readCategory(store, cat, lastOf(results))).length, 4)
          }))

        it.effect("refuses the same stream twice in one call", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            const error = yield* Effect.flip(store.appendMany([
              { streamId: id, events: events(1), expected: ExpectedVersion.Any },
              { streamId: id, events: events(1), expected: ExpectedVersion.Any }
            ]))
            assert.strictEqual(error._tag, "InvalidRequest")
            assert.strictEqual((yield* store.streamInfo(id)).version, 0)
          }))
      })

      describe("bad input", () => {
        it.effect("is refused with InvalidRequest and writes nothing", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cat = freshCategory()
            const id = `${cat}-1`
            const cases: ReadonlyArray<readonly [string, ReadonlyArray<EventData>, ExpectedVersion.ExpectedVersion]> = [
              ["", events(1), ExpectedVersion.Any],
              ["x".repeat(600), events(1), ExpectedVersion.Any],
              [id, [event("")], ExpectedVersion.Any],
              [id, [{ ...event("T"), eventId: "" }], ExpectedVersion.Any],
              [id, [event("T", { big: BigInt(1) })], ExpectedVersion.Any],
              [id, [{ eventId: crypto.randomUUID(), type: "T", data: undefined }], ExpectedVersion.Any],
              [id, [event("T", {}, { schemaVersion: 0 })], ExpectedVersion.Any],
              [
                id,
                [events(1)[0], events(1)[0]].map((e, _i, all) => ({ ...e, eventId: all[0].eventId })),
                ExpectedVersion.Any
              ],
              [id, events(1), ExpectedVersion.exact(-1)],
              [id, events(1), ExpectedVersion.exact(1.5)]
            ]
            for (const [streamId, batch, expected] of cases) {
              const error = yield* Effect.flip(store.append(streamId, batch, expected))
              assert.strictEqual(error._tag, "InvalidRequest", JSON.stringify(streamId.slice(0, 10)))
            }
            assert.strictEqual((yield* store.readAll({ filter: EventStore.category(cat) })).length, 0)
            assert.strictEqual((yield* Effect.flip(store.readStream(id, { limit: 0 })))._tag, "InvalidRequest")
            assert.strictEqual((yield* Effect.flip(store.readAll({ limit: -1 })))._tag, "InvalidRequest")
          }))

        it.effect("strings PostgreSQL cannot store are refused on every store", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cat = freshCategory()
            const id = `${cat}-1`
            const unstorable: ReadonlyArray<ReadonlyArray<EventData>> = [
              [event("T", { s: "a\u0000b" })],
              [event("T", { s: "\ud800" })],
              [event("T", { s: "x\udc00y" })],
              [event("T", { ["k\u0000"]: 1 })],
              [event("T"), event("T", { s: "\u0000" })],
              [event("T", {}, { metadata: { s: "\ud800" } })],
              [event("T\u0000")],
              [event("T", {}, { correlationId: "c\u0000" })]
            ]
            for (const batch of unstorable) {
              const error = yield* Effect.flip(store.append(id, batch, ExpectedVersion.Any))
              assert.strictEqual(error._tag, "InvalidRequest")
            }
            assert.strictEqual(
              (yield* Effect.flip(store.append(`${cat}-\u0000`, events(1), ExpectedVersion.Any)))._tag,
              "InvalidRequest"
            )
            assert.strictEqual((yield* store.streamInfo(id)).version, 0)
            // what only looks like an escape, and a real surrogate pair, are fine
            const fine = { escaped: "\\u0000 and \\ud800", pair: "\ud83d\ude00", control: "\u0001\n" }
            yield* store.append(id, [event("T", fine)], ExpectedVersion.NoStream)
            const [read] = yield* store.readStream(id)
            assert.deepStrictEqual(read.data, fine)
          }))

        it.effect("versions, positions and stream ids are checked everywhere", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cat = freshCategory()
            const id = `${cat}-1`
            yield* store.append(id, events(1), ExpectedVersion.NoStream)
            for (const from of [1.5, -1, Number.NaN]) {
              assert.strictEqual((yield* Effect.flip(store.readStream(id, { from })))._tag, "InvalidRequest")
            }
            for (const expected of [ExpectedVersion.exact(1.5), ExpectedVersion.exact(-1)]) {
              assert.strictEqual((yield* Effect.flip(store.deleteStream(id, expected)))._tag, "InvalidRequest")
            }
            assert.strictEqual((yield* Effect.flip(store.deleteStream("")))._tag, "InvalidRequest")
            const tooLong = `${cat}-${"x".repeat(600)}`
            assert.strictEqual((yield* Effect.flip(store.deleteStream(tooLong)))._tag, "InvalidRequest")
            assert.isFalse((yield* store.streamInfo(tooLong)).deleted)
            assert.isFalse((yield* store.streamInfo(id)).deleted)
            // a version no stream can reach is a wrong expectation, not a store failure
            for (const count of [1, 2]) {
              const error = yield* Effect.flip(store.append(id, events(count), ExpectedVersion.exact(2 ** 31)))
              assert.deepInclude(error, { _tag: "WrongExpectedVersion", actual: 1 })
            }
            const guarded = yield* Effect.flip(store.appendMany([
              { streamId: `${cat}-2`, events: events(1), expected: ExpectedVersion.NoStream },
              { streamId: id, events: [], expected: ExpectedVersion.exact(2 ** 31) }
            ]))
            assert.strictEqual(guarded._tag, "WrongExpectedVersion")
            const deleted = yield* Effect.flip(store.deleteStream(id, ExpectedVersion.exact(2 ** 31)))
            assert.deepInclude(deleted, { _tag: "WrongExpectedVersion", actual: 1 })
            assert.deepStrictEqual(yield* store.streamInfo(id), { streamId: id, version: 1, deleted: false })
            assert.strictEqual(
              (yield* Effect.flip(store.append(id, [event("T", {}, { schemaVersion: 2 ** 31 })], ExpectedVersion.Any)))
                ._tag,
              "InvalidRequest"
            )
          }))

        it.effect("data that is JSON but not cloneable is stored as its JSON round trip", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            const data = { a: 1, f: () => 1, at: new Date(0), list: [undefined, 2] }
            const written = yield* store.append(id, [
              event("T"),
              event("T", data, { metadata: { g: () => 2, m: 1 } })
            ], ExpectedVersion.NoStream)
            assert.strictEqual(written.version, 2)
            const [, read] = yield* store.readStream(id)
            assert.deepStrictEqual(read.data, JSON.parse(JSON.stringify(data)))
            assert.deepStrictEqual(read.metadata, { m: 1 })
            yield* store.saveSnapshot(id, { version: 2, state: data })
            const loaded = yield* store.loadSnapshot(id)
            assert.isTrue(Option.isSome(loaded))
            if (Option.isSome(loaded)) assert.deepStrictEqual(loaded.value.state, JSON.parse(JSON.stringify(data)))
          }))

        it.effect("a snapshot that cannot be stored is refused with InvalidRequest", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            const cases = [
              { version: 1, state: { n: BigInt(1) } },
              { version: 1, state: undefined },
              { version: 1, state: { s: "\u0000" } },
              { version: 1, state: {}, schemaVersion: 0.5 },
              { version: 1, state: {}, schemaVersion: 0 },
              { version: 2 ** 31, state: {} },
              { version: 1.5, state: {} }
            ]
            for (const snapshot of cases) {
              const error = yield* Effect.flip(store.saveSnapshot(id, snapshot))
              assert.strictEqual(error._tag, "InvalidRequest", JSON.stringify(Object.keys(snapshot)))
            }
            assert.strictEqual(
              (yield* Effect.flip(store.saveSnapshot("", { version: 1, state: {} })))._tag,
              "InvalidRequest"
            )
            assert.isTrue(Option.isNone(yield* store.loadSnapshot(id)))
          }))
      })

      describe("reading", () => {
        it.effect("reads a stream forwards and backwards from a version with a limit", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            yield* store.append(id, events(10), ExpectedVersion.NoStream)
            const versions = (page: ReadonlyArray<RecordedEvent>) => page.map((e) => e.streamVersion)
            assert.deepStrictEqual(versions(yield* store.readStream(id)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
            assert.deepStrictEqual(versions(yield* store.readStream(id, { from: 4, limit: 3 })), [4, 5, 6])
            assert.deepStrictEqual(versions(yield* store.readStream(id, { from: 9, limit: 5 })), [9, 10])
            assert.deepStrictEqual(versions(yield* store.readStream(id, { direction: "backwards", limit: 3 })), [
              10,
              9,
              8
            ])
            assert.deepStrictEqual(
              versions(yield* store.readStream(id, { direction: "backwards", from: 2, limit: 5 })),
              [2, 1]
            )
            assert.deepStrictEqual(yield* store.readStream(`${freshCategory()}-none`), [])
            assert.deepStrictEqual(versions(yield* store.readStream(id, { from: 11 })), [])
          }))

        it.effect("streams page underneath and give the same events as one read", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cat = freshCategory()
            const id = `${cat}-1`
            yield* store.append(id, events(23), ExpectedVersion.NoStream)
            const forwards = yield* Stream.runCollect(store.streamEvents(id, { pageSize: 5 }))
            assert.deepStrictEqual(Chunk.toReadonlyArray(forwards), yield* store.readStream(id))
            const backwards = yield* Stream.runCollect(store.streamEvents(id, { pageSize: 4, direction: "backwards" }))
            assert.deepStrictEqual(
              Chunk.toReadonlyArray(backwards).map((e) => e.streamVersion),
              Array.from({ length: 23 }, (_, i) => 23 - i)
            )
            const global = yield* Stream.runCollect(store.allEvents({ pageSize: 7, filter: EventStore.category(cat) }))
            assert.strictEqual(Chunk.size(global), 23)
          }))

        it.effect("reads all events in global order, filtered by stream or category, from a position", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cat = freshCategory()
            yield* store.append(`${cat}-a`, events(2), ExpectedVersion.Any)
            yield* store.append(`${cat}-b`, events(2), ExpectedVersion.Any)
            const last = yield* store.append(`${cat}-a`, events(1), ExpectedVersion.Any)
            const everything = yield* readCategory(store, cat, lastOf([last]))
            assert.deepStrictEqual(everything.map((e) => e.streamId), [
              `${cat}-a`,
              `${cat}-a`,
              `${cat}-b`,
              `${cat}-b`,
              `${cat}-a`
            ])
            assertIncreasing(everything.map((e) => e.globalPosition))
            const onlyA = yield* store.readAll({ filter: EventStore.stream(`${cat}-a`) })
            assert.deepStrictEqual(onlyA.map((e) => e.streamVersion), [1, 2, 3])
            const after = yield* store.readAll({
              from: everything[1].globalPosition,
              limit: 2,
              filter: EventStore.category(cat)
            })
            assert.deepStrictEqual(after, everything.slice(2, 4))
            assert.isAtLeast(yield* store.head, everything[4].globalPosition)
          }))

        it.effect("metadata, causation and timestamps round-trip", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            const written = event("Tagged", { nested: { list: [1, "two", null], unicode: "héllo ✓" } }, {
              schemaVersion: 3,
              metadata: { tenant: "t1", trace: { span: "s" } },
              correlationId: "corr-1",
              causationId: "cause-1"
            })
            yield* store.append(id, [written], ExpectedVersion.Any)
            const [read] = yield* store.readStream(id)
            assert.strictEqual(read.eventId, written.eventId)
            assert.strictEqual(read.type, "Tagged")
            assert.strictEqual(read.schemaVersion, 3)
            assert.deepStrictEqual(read.data, written.data)
            assert.deepStrictEqual(read.metadata, { tenant: "t1", trace: { span: "s" } })
            assert.strictEqual(read.correlationId, "corr-1")
            assert.strictEqual(read.causationId, "cause-1")
            assert.instanceOf(read.timestamp, Date)
            assert.isFalse(Number.isNaN(read.timestamp.getTime()))
            const [plain] = yield* store.readStream(id, { limit: 1 })
            assert.deepStrictEqual(plain, read)
          }))
      })

      describe("tombstones", () => {
        it.effect("a deleted stream refuses appends and reads, and says it is deleted", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cat = freshCategory()
            const id = `${cat}-1`
            const written = yield* store.append(id, events(2), ExpectedVersion.Any)
            const wrong = yield* Effect.flip(store.deleteStream(id, ExpectedVersion.exact(1)))
            assert.strictEqual(wrong._tag, "WrongExpectedVersion")
            yield* store.deleteStream(id, ExpectedVersion.exact(2))
            assert.strictEqual(
              (yield* Effect.flip(store.append(id, events(1), ExpectedVersion.Any)))._tag,
              "StreamDeleted"
            )
            assert.strictEqual((yield* Effect.flip(store.readStream(id)))._tag, "StreamDeleted")
            assert.strictEqual((yield* Effect.flip(store.deleteStream(id)))._tag, "StreamDeleted")
            assert.deepStrictEqual(yield* store.streamInfo(id), { streamId: id, version: 2, deleted: true })
            // the global log keeps the audit trail
            assert.strictEqual((yield* readCategory(store, cat, lastOf([written]))).length, 2)
          }))

        it.effect("a stream that never existed can be deleted and stays deleted", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            yield* store.deleteStream(id, ExpectedVersion.NoStream)
            assert.strictEqual(
              (yield* Effect.flip(store.append(id, events(1), ExpectedVersion.NoStream)))._tag,
              "StreamDeleted"
            )
          }))
      })

      describe("snapshots", () => {
        it.effect("saves and loads the latest snapshot with the version it covers", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            assert.isTrue(Option.isNone(yield* store.loadSnapshot(id)))
            yield* store.saveSnapshot(id, { version: 3, state: { total: 3 } })
            yield* store.saveSnapshot(id, { version: 7, state: { total: 7, tags: ["a"] }, schemaVersion: 2 })
            const loaded = yield* store.loadSnapshot(id)
            assert.isTrue(Option.isSome(loaded))
            if (Option.isSome(loaded)) {
              assert.strictEqual(loaded.value.version, 7)
              assert.strictEqual(loaded.value.schemaVersion, 2)
              assert.deepStrictEqual(loaded.value.state, { total: 7, tags: ["a"] })
              assert.instanceOf(loaded.value.timestamp, Date)
            }
            const bad = yield* Effect.flip(store.saveSnapshot(id, { version: 0, state: {} }))
            assert.strictEqual(bad._tag, "InvalidRequest")
          }))
      })

      describe("serialization", () => {
        const serializer = Serializer.make(TestEvent, {
          versions: { Renamed: 2 },
          upcasters: { Renamed: { 1: (v1) => ({ _tag: "Renamed", from: "", to: v1.title }) } }
        })

        it.effect("typed events round-trip through the serializer", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            const typed = [Created.make({ title: "a" }), Renamed.make({ from: "a", to: "b" })]
            yield* store.append(id, typed.map((e) => serializer.encode(e, { correlationId: "c" })), ExpectedVersion.Any)
            const decoded = yield* serializer.decodeAll(yield* store.readStream(id))
            assert.deepStrictEqual(decoded.map((e) => e.data), typed)
            assert.deepStrictEqual(decoded.map((e) => e.schemaVersion), [1, 2])
          }))

        it.effect("older stored versions are upcast on read", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            yield* store.append(
              id,
              [event("Renamed", { _tag: "Renamed", title: "new" }, { schemaVersion: 1 })],
              ExpectedVersion.Any
            )
            const [decoded] = yield* serializer.decodeAll(yield* store.readStream(id))
            assert.deepStrictEqual(decoded.data, { _tag: "Renamed", from: "", to: "new" })
          }))

        it.effect("an event that does not decode is a typed error, not a crash", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            yield* store.append(id, [event("Created", { _tag: "Created", title: 42 })], ExpectedVersion.Any)
            yield* store.append(id, [event("Renamed", { _tag: "Renamed" }, { schemaVersion: 9 })], ExpectedVersion.Any)
            const recorded = yield* store.readStream(id)
            const first = yield* Effect.either(serializer.decode(recorded[0]))
            assert.isTrue(Either.isLeft(first))
            if (Either.isLeft(first)) {
              assert.strictEqual(first.left._tag, "EventDecodeError")
              assert.include(first.left.reason, "title")
            }
            const second = yield* Effect.flip(serializer.decode(recorded[1]))
            assert.include(second.reason, "newer")
          }))
      })

      describe("subscriptions", () => {
        it.effect("catch up, then stay live, in order, once", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cat = freshCategory()
            yield* store.append(`${cat}-a`, events(3), ExpectedVersion.Any)
            const fiber = yield* store.subscribe({ filter: EventStore.category(cat) }).pipe(
              Stream.take(8),
              Stream.runCollect,
              Effect.fork
            )
            yield* Effect.sleep("50 millis")
            yield* store.append(`${cat}-b`, events(2), ExpectedVersion.Any)
            yield* store.append(`${freshCategory()}-other`, events(2), ExpectedVersion.Any)
            yield* store.append(`${cat}-a`, events(3), ExpectedVersion.Any)
            const seen = Chunk.toReadonlyArray(yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds")))
            assert.deepStrictEqual(seen, yield* readCategory(store, cat, seen.at(-1)?.globalPosition ?? 0))
          }))

        it.effect("a stream subscription from a position skips nothing after it", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = `${freshCategory()}-1`
            const first = yield* store.append(id, events(4), ExpectedVersion.Any)
            const fiber = yield* store.subscribe({ filter: EventStore.stream(id), from: first.positions[1] }).pipe(
              Stream.take(4),
              Stream.runCollect,
              Effect.fork
            )
            yield* store.append(id, events(2), ExpectedVersion.Any)
            const seen = Chunk.toReadonlyArray(yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds")))
            assert.deepStrictEqual(seen.map((e) => e.streamVersion), [3, 4, 5, 6])
          }))

        it.effect("property: from any position, a subscription sees exactly the later events, in order, once", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            yield* Effect.promise(() =>
              fc.assert(
                fc.asyncProperty(
                  fc.array(fc.tuple(fc.nat(3), fc.integer({ min: 1, max: 3 })), { minLength: 1, maxLength: 12 }),
                  fc.nat(100),
                  async (plan, startAt) => {
                    const cat = freshCategory()
                    const half = Math.floor(plan.length / 2)
                    const program = Effect.gen(function*() {
                      const written: Array<EventStore.AppendResult> = []
                      for (const [stream, count] of plan.slice(0, half)) {
                        written.push(yield* store.append(`${cat}-${stream}`, events(count), ExpectedVersion.Any))
                      }
                      const before = yield* readCategory(store, cat, lastOf(written))
                      const from = before.length === 0
                        ? 0
                        : before[Math.min(startAt % (before.length + 1), before.length) - 1]?.globalPosition ?? 0
                      const expectedCount = plan.reduce((n, [, c]) => n + c, 0) -
                        before.filter((e) => e.globalPosition <= from).length
                      const fiber = yield* store.subscribe({ filter: EventStore.category(cat), from }).pipe(
                        Stream.take(expectedCount),
                        Stream.runCollect,
                        Effect.fork
                      )
                      const later = yield* Effect.forEach(
                        plan.slice(half),
                        ([stream, count]) => store.append(`${cat}-${stream}`, events(count), ExpectedVersion.Any),
                        { concurrency: 3 }
                      )
                      const seen = Chunk.toReadonlyArray(yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds")))
                      const committed = (yield* readCategory(store, cat, lastOf([...written, ...later]))).filter((e) =>
                        e.globalPosition > from
                      )
                      assert.deepStrictEqual(seen.map((e) => e.eventId), committed.map((e) => e.eventId))
                      assertIncreasing(seen.map((e) => e.globalPosition))
                    })
                    await Effect.runPromise(program)
                  }
                ),
                { numRuns: runs }
              )
            )
          }))
      })

      describe("concurrency", () => {
        it.effect("property: concurrent writers never lose or duplicate an event", () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            yield* Effect.promise(() =>
              fc.assert(
                fc.asyncProperty(
                  fc.array(fc.tuple(fc.nat(2), fc.integer({ min: 1, max: 3 })), {
                    minLength: writers,
                    maxLength: writers * 4
                  }),
                  async (plan) => {
                    const cat = freshCategory()
                    // each writer reads the version then appends with Exact, retrying on conflict
                    const write = ([stream, count]: readonly [number, number]) => {
                      const id = `${cat}-${stream}`
                      const batch = events(count)
                      const attempt: Effect.Effect<EventStore.AppendResult, unknown> = Effect.flatMap(
                        store.streamInfo(id),
                        (info) => store.append(id, batch, ExpectedVersion.exact(info.version))
                      ).pipe(Effect.catchTag("WrongExpectedVersion", () => attempt))
                      return Effect.map(attempt, (result) => ({ result, batch }))
                    }
                    const program = Effect.gen(function*() {
                      const acknowledged = yield* Effect.forEach(plan, write, { concurrency: writers })
                      const stored = yield* readCategory(store, cat, lastOf(acknowledged.map((a) => a.result)))
                      assertIncreasing(stored.map((e) => e.globalPosition))
                      const ids = stored.map((e) => e.eventId)
                      assert.strictEqual(new Set(ids).size, ids.length)
                      for (const { batch } of acknowledged) {
                        for (const e of batch) assert.include(ids, e.eventId)
                      }
                      assert.strictEqual(ids.length, plan.reduce((n, [, c]) => n + c, 0))
                      for (const stream of [0, 1, 2]) {
                        const versions = (yield* store.readStream(`${cat}-${stream}`)).map((e) => e.streamVersion)
                        assert.deepStrictEqual(versions, versions.map((_, i) => i + 1))
                      }
                    })
                    await Effect.runPromise(program)
                  }
                ),
                { numRuns: runs }
              )
            )
          }))
      })
    })
  })
}
