// The read side on a real SQLite file: async and inline projections, checkpoints, leases,
// quarantine, rebuilds, status and read-your-writes.
import { InlineProjections, Projection, Projections } from "@chronicle/cqrs"
import { ProjectionTesting } from "@chronicle/cqrs/testing"
import { EventStore, ExpectedVersion, Serializer } from "@chronicle/eventstore"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Layer, Option, Ref, Schema, Scope, Stream } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  Added,
  addEvents,
  fresh,
  Noted,
  readModel,
  replay,
  serializer,
  totalsProjection
} from "./projectionFixtures.js"

const store = () =>
  SqliteEventStore.layer({
    filename: join(mkdtempSync(join(tmpdir(), "chronicle-proj-")), "db.sqlite"),
    pollInterval: "20 millis"
  })

const fast = { leaseTtl: "600 millis", acquireInterval: "100 millis", batchSize: 50 } as const

/** Builds a layer in a scope of its own, so a test can stop one worker and keep the store. */
const start = <A, E, R>(layer: Layer.Layer<A, E, R>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(layer, scope)
    return { context, stop: Scope.close(scope, Exit.void) }
  })

/** A worker in a scope of its own, with a way to run effects against its service. */
const startWorker = (projection: ReturnType<typeof totalsProjection>, owner: string) =>
  Effect.map(start(Projections.layerWorker([projection], { ...fast, owner })), (worker) => ({
    ...worker,
    on: <A, E>(effect: Effect.Effect<A, E, Projections.Projections>) =>
      Effect.provide(effect, Layer.succeedContext(worker.context))
  }))

/** Waits until the (only) projection has stopped on a poison event. */
const untilFailed = (p: Projections.Service) =>
  p.status.pipe(
    Effect.delay("20 millis"),
    Effect.repeat({ until: (s) => s[0].state === "failed" }),
    Effect.timeout("10 seconds")
  )

/** Appends 3, 7 and 4 to one stream: the tests make their handlers refuse 7. */
const appendPoisoned = (category: string) =>
  Effect.flatMap(EventStore.EventStore, (store) =>
    store.append(
      `${category}-a`,
      [3, 7, 4].map((n) => serializer.encode(Added.make({ n }))),
      ExpectedVersion.Any
    ))

describe("async projections", () => {
  it.live("catch up, follow new events, and apply each exactly once", () =>
    Effect.gen(function*() {
      const cat = fresh("c")
      const table = fresh("t")
      const projection = totalsProjection(table, { category: cat })
      yield* addEvents(cat, 5, 20)
      const worker = yield* start(Projections.layerWorker([projection], fast))
      const projections = Layer.succeedContext(worker.context)
      const last = yield* addEvents(cat, 5, 3, 100)
      yield* Effect.flatMap(Projections.Projections, (p) => p.waitFor(last, { timeout: "10 seconds" })).pipe(
        Effect.provide(projections)
      )
      assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
      const [status] = yield* Effect.flatMap(Projections.Projections, (p) => p.status).pipe(Effect.provide(projections))
      assert.strictEqual(status.state, "running")
      assert.strictEqual(status.lag, 0)
      assert.isAtLeast(status.checkpoint, last)
      assert.isNotNull(status.owner)
      yield* worker.stop
    }).pipe(Effect.provide(store())), 30_000)

  it.live("read-your-writes: waits for a position, and times out when nothing runs", () =>
    Effect.gen(function*() {
      const cat = fresh("c")
      const projection = totalsProjection(fresh("t"), { category: cat })
      const last = yield* addEvents(cat, 1, 1)
      const error = yield* Effect.flatMap(Projections.Projections, (p) => p.waitFor(last, { timeout: "200 millis" }))
        .pipe(
          Effect.provide(Projections.layer([projection], fast)),
          Effect.flip
        )
      assert.strictEqual(error._tag, "ProjectionTimeout")
      if (error._tag === "ProjectionTimeout") assert.deepStrictEqual(error.lagging, [projection.name])
      yield* Effect.flatMap(Projections.Projections, (p) => p.waitFor(last, { timeout: "10 seconds" })).pipe(
        Effect.provide(Projections.layerWorker([projection], fast)),
        Effect.scoped
      )
      const unknown = yield* Effect.flatMap(Projections.Projections, (p) => p.waitFor(1, { projections: ["nope"] }))
        .pipe(
          Effect.provide(Projections.layer([projection], fast)),
          Effect.flip
        )
      assert.strictEqual(unknown._tag, "UnknownProjection")
    }).pipe(Effect.provide(store())), 30_000)

  it.live(
    "two workers never run one projection at once; when the owner stops the other takes over",
    () =>
      Effect.gen(function*() {
        const cat = fresh("c")
        const table = fresh("t")
        const projection = totalsProjection(table, { category: cat })
        const a = yield* start(Projections.layerWorker([projection], { ...fast, owner: "worker-a" }))
        yield* Effect.sleep("300 millis")
        const b = yield* start(Projections.layerWorker([projection], { ...fast, owner: "worker-b" }))
        const status = Effect.flatMap(Projections.Projections, (p) => p.status).pipe(
          Effect.provide(Layer.succeedContext(b.context))
        )
        yield* addEvents(cat, 3, 10)
        const last = yield* addEvents(cat, 3, 1, 50)
        yield* Effect.flatMap(Projections.Projections, (p) => p.waitFor(last, { timeout: "10 seconds" })).pipe(
          Effect.provide(Layer.succeedContext(b.context))
        )
        assert.strictEqual((yield* status)[0].owner, "worker-a")
        yield* a.stop
        const more = yield* addEvents(cat, 3, 5, 200)
        yield* Effect.flatMap(Projections.Projections, (p) => p.waitFor(more, { timeout: "10 seconds" })).pipe(
          Effect.provide(Layer.succeedContext(b.context))
        )
        assert.strictEqual((yield* status)[0].owner, "worker-b")
        assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
        yield* b.stop
      }).pipe(Effect.provide(store())),
    30_000
  )

  it.live("a poison event is quarantined and skipped, then replayed once fixed", () =>
    Effect.gen(function*() {
      const cat = fresh("c")
      const table = fresh("t")
      const failOn = yield* Ref.make<ReadonlySet<number>>(new Set([13]))
      const projection = totalsProjection(table, { category: cat, failOn })
      const store = yield* EventStore.EventStore
      yield* store.append(`${cat}-a`, [1, 13, 2].map((n) => serializer.encode(Added.make({ n }))), ExpectedVersion.Any)
      const last =
        (yield* store.append(`${cat}-b`, [serializer.encode(Added.make({ n: 5 }))], ExpectedVersion.Any)).positions[0]
      yield* Effect.gen(function*() {
        const p = yield* Projections.Projections
        yield* p.waitFor(last, { timeout: "10 seconds" })
        assert.deepStrictEqual(yield* readModel(table), [
          { stream_id: `${cat}-a`, total: 3, events: 2 },
          { stream_id: `${cat}-b`, total: 5, events: 1 }
        ])
        const quarantined = yield* p.quarantined(projection.name)
        assert.strictEqual(quarantined.length, 1)
        assert.strictEqual(quarantined[0].streamId, `${cat}-a`)
        assert.include(quarantined[0].error, "refusing 13")
        assert.strictEqual((yield* p.status)[0].quarantined, 1)
        yield* Ref.set(failOn, new Set())
        assert.strictEqual(yield* p.replayQuarantined(projection.name), 1)
        assert.strictEqual((yield* p.quarantined(projection.name)).length, 0)
        assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
      }).pipe(
        Effect.provide(Projections.layerWorker([projection], { ...fast, onPoison: "skip" })),
        Effect.scoped
      )
    }).pipe(Effect.provide(store())), 30_000)

  it.live("by default a poison event stops the projection before it, until resumed", () =>
    Effect.gen(function*() {
      const cat = fresh("c")
      const table = fresh("t")
      const failOn = yield* Ref.make<ReadonlySet<number>>(new Set([7]))
      const projection = totalsProjection(table, { category: cat, failOn })
      const written = yield* appendPoisoned(cat)
      yield* Effect.gen(function*() {
        const p = yield* Projections.Projections
        const failed = yield* untilFailed(p)
        assert.strictEqual(failed[0].checkpoint, written.positions[0])
        assert.include(failed[0].lastError ?? "", "refusing 7")
        assert.deepStrictEqual(yield* readModel(table), [{ stream_id: `${cat}-a`, total: 3, events: 1 }])
        yield* Ref.set(failOn, new Set())
        yield* p.resume(projection.name)
        yield* p.waitFor(written.positions[2], { timeout: "10 seconds" })
        assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
      }).pipe(Effect.provide(Projections.layerWorker([projection], fast)), Effect.scoped)
    }).pipe(Effect.provide(store())), 30_000)

  it.live(
    "a handler that throws is retried and quarantined like one that fails, and stops the projection",
    () =>
      Effect.gen(function*() {
        const cat = fresh("c")
        const table = fresh("t")
        const throwOn = yield* Ref.make<ReadonlySet<number>>(new Set([7]))
        const projection = totalsProjection(table, { category: cat, throwOn })
        const written = yield* appendPoisoned(cat)
        yield* Effect.gen(function*() {
          const p = yield* Projections.Projections
          const [failed] = yield* untilFailed(p)
          // the event before it is applied, the one that threw waits in the quarantine
          assert.strictEqual(failed.checkpoint, written.positions[0])
          assert.include(failed.lastError ?? "", "cannot read 7")
          assert.strictEqual(failed.quarantined, 1)
          assert.deepStrictEqual(yield* readModel(table), [{ stream_id: `${cat}-a`, total: 3, events: 1 }])
          yield* Ref.set(throwOn, new Set())
          yield* p.resume(projection.name)
          yield* p.waitFor(written.positions[2], { timeout: "10 seconds" })
          assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
        }).pipe(Effect.provide(Projections.layerWorker([projection], fast)), Effect.scoped)
      }).pipe(Effect.provide(store())),
    30_000
  )

  it.live(
    "stop mode: the stopping event is applied once, by resume, whether or not a replay runs first",
    () =>
      Effect.gen(function*() {
        for (const replayFirst of [true, false]) {
          const cat = fresh("c")
          const table = fresh("t")
          const failOn = yield* Ref.make<ReadonlySet<number>>(new Set([7]))
          const projection = totalsProjection(table, { category: cat, failOn })
          const written = yield* appendPoisoned(cat)
          yield* Effect.gen(function*() {
            const p = yield* Projections.Projections
            yield* untilFailed(p)
            yield* Ref.set(failOn, new Set())
            // the checkpoint has not passed it: a replay leaves it to resume
            if (replayFirst) assert.strictEqual(yield* p.replayQuarantined(projection.name), 0)
            yield* p.resume(projection.name)
            yield* p.waitFor(written.positions[2], { timeout: "10 seconds" })
            // applied, it left the quarantine in its batch's transaction: a later replay has nothing to do
            assert.strictEqual((yield* p.quarantined(projection.name)).length, 0)
            assert.strictEqual(yield* p.replayQuarantined(projection.name), 0)
            assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
          }).pipe(Effect.provide(Projections.layerWorker([projection], fast)), Effect.scoped)
        }
      }).pipe(Effect.provide(store())),
    30_000
  )

  it.live("resume leaves a projection that is not stopped on a poison event as it is", () =>
    Effect.gen(function*() {
      const cat = fresh("c")
      const table = fresh("t")
      const projection = totalsProjection(table, { category: cat })
      const last = yield* addEvents(cat, 2, 5)
      yield* Effect.gen(function*() {
        const p = yield* Projections.Projections
        yield* p.waitFor(last, { timeout: "10 seconds" })
        yield* p.resume(projection.name)
        const [status] = yield* p.status
        assert.strictEqual(status.state, "running")
      }).pipe(Effect.provide(Projections.layerWorker([projection], fast)), Effect.scoped)
    }).pipe(Effect.provide(store())), 30_000)

  it.live(
    "a rebuild that gives up before it takes the lease keeps the worker off for three lease times at most",
    () =>
      Effect.gen(function*() {
        const cat = fresh("c")
        const table = fresh("t")
        const projection = totalsProjection(table, { category: cat })
        const worker = yield* startWorker(projection, "the-worker")
        const onWorker = worker.on
        const first = yield* addEvents(cat, 2, 5)
        yield* onWorker(Effect.flatMap(Projections.Projections, (p) => p.waitFor(first, { timeout: "10 seconds" })))
        // asks the worker to hand over, then is cut off while it waits for the lease
        yield* Effect.flatMap(Projections.Projections, (p) => Stream.runDrain(p.rebuild(projection.name))).pipe(
          Effect.timeout("30 millis"),
          Effect.exit,
          Effect.provide(Projections.layer([projection], { ...fast, owner: "the-rebuilder" }))
        )
        const more = yield* addEvents(cat, 2, 3, 100)
        // three lease times (1.8 s) and an acquire interval, with room for a slow machine
        yield* onWorker(Effect.flatMap(Projections.Projections, (p) => p.waitFor(more, { timeout: "6 seconds" })))
        const [status] = yield* onWorker(Effect.flatMap(Projections.Projections, (p) => p.status))
        assert.strictEqual(status.state, "running")
        assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
        yield* worker.stop
      }).pipe(Effect.provide(store())),
    30_000
  )

  it.live("a rebuild reports progress and ends equal to a replay", () =>
    Effect.gen(function*() {
      const cat = fresh("c")
      const table = fresh("t")
      const projection = totalsProjection(table, { category: cat })
      yield* addEvents(cat, 4, 60)
      const sql = yield* SqlClient.SqlClient
      yield* projection.setup
      // a read model gone wrong
      yield* sql.unsafe(`INSERT INTO ${table} (stream_id, total, events) VALUES ('bogus', 1, 1)`)
      const progress = yield* Effect.flatMap(Projections.Projections, (p) =>
        Stream.runCollect(p.rebuild(projection.name))).pipe(
          Effect.provide(Projections.layer([projection], fast))
        )
      const steps = Chunk.toReadonlyArray(progress)
      assert.isAbove(steps.length, 2)
      const lastStep = steps[steps.length - 1]
      assert.strictEqual(lastStep.done, 480)
      assert.strictEqual(lastStep.total, 480)
      assert.strictEqual(lastStep.etaSeconds, 0)
      for (let i = 1; i < steps.length; i++) {
        assert.isAtLeast(steps[i].done, steps[i - 1].done)
      }
      assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
    }).pipe(Effect.provide(store())), 30_000)

  it.live(
    "a rebuild takes the projection over from a running worker, which resumes it afterwards",
    () =>
      Effect.gen(function*() {
        const cat = fresh("c")
        const table = fresh("t")
        const projection = totalsProjection(table, { category: cat })
        const worker = yield* startWorker(projection, "the-worker")
        const onWorker = worker.on
        const first = yield* addEvents(cat, 3, 40)
        yield* onWorker(Effect.flatMap(Projections.Projections, (p) => p.waitFor(first, { timeout: "10 seconds" })))
        const progress = yield* Effect.flatMap(
          Projections.Projections,
          (p) => Stream.runCollect(p.rebuild(projection.name))
        ).pipe(
          Effect.provide(Projections.layer([projection], { ...fast, owner: "the-rebuilder" })),
          Effect.timeout("20 seconds")
        )
        assert.strictEqual(Chunk.toReadonlyArray(progress).at(-1)?.done, 240)
        assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
        const more = yield* addEvents(cat, 3, 5, 900)
        yield* onWorker(Effect.flatMap(Projections.Projections, (p) => p.waitFor(more, { timeout: "10 seconds" })))
        assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
        const [status] = yield* onWorker(Effect.flatMap(Projections.Projections, (p) => p.status))
        assert.strictEqual(status.owner, "the-worker")
        yield* worker.stop
      }).pipe(Effect.provide(store())),
    60_000
  )

  it.live("a batched projection gives the same read model", () =>
    Effect.gen(function*() {
      const cat = fresh("c")
      const table = fresh("t")
      const projection = totalsProjection(table, { category: cat, batched: true })
      const last = yield* addEvents(cat, 7, 30)
      yield* Effect.flatMap(Projections.Projections, (p) => p.waitFor(last, { timeout: "10 seconds" })).pipe(
        Effect.provide(Projections.layerWorker([projection], fast)),
        Effect.scoped
      )
      assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
    }).pipe(Effect.provide(store())), 30_000)

  it.live(
    "a projection with only a batch handler gets every event its serializer decodes",
    () =>
      Effect.gen(function*() {
        const cat = fresh("c")
        const table = fresh("t")
        const projection = totalsProjection(table, { category: cat, batchOnly: true })
        assert.deepStrictEqual([...projection.eventTypes].sort(), ["Added", "Noted"])
        const last = yield* addEvents(cat, 4, 25)
        yield* Effect.flatMap(Projections.Projections, (p) => p.waitFor(last, { timeout: "10 seconds" })).pipe(
          Effect.provide(Projections.layerWorker([projection], fast)),
          Effect.scoped
        )
        const expected = yield* replay(cat)
        assert.strictEqual(expected.length, 4)
        assert.deepStrictEqual(yield* readModel(table), expected)
      }).pipe(Effect.provide(store())),
    30_000
  )
})

describe("inline projections", () => {
  it.live(
    "update the read model in the append's transaction; a failing handler writes nothing",
    () =>
      Effect.gen(function*() {
        const cat = fresh("c")
        const table = fresh("t")
        const failOn = yield* Ref.make<ReadonlySet<number>>(new Set([666]))
        const projection = totalsProjection(table, { category: cat, failOn })
        const inline = InlineProjections.layer([projection])
        yield* Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          yield* store.append(`${cat}-1`, [
            serializer.encode(Added.make({ n: 2 })),
            serializer.encode(Noted.make({ text: "n" }))
          ], ExpectedVersion.NoStream)
          assert.deepStrictEqual(yield* readModel(table), [{ stream_id: `${cat}-1`, total: 2, events: 1 }])
          const error = yield* Effect.flip(
            store.appendMany([
              {
                streamId: `${cat}-2`,
                events: [serializer.encode(Added.make({ n: 1 }))],
                expected: ExpectedVersion.NoStream
              },
              {
                streamId: `${cat}-1`,
                events: [serializer.encode(Added.make({ n: 666 }))],
                expected: ExpectedVersion.exact(2)
              }
            ])
          )
          assert.strictEqual(error._tag, "EventStoreError")
          assert.strictEqual((yield* store.streamInfo(`${cat}-1`)).version, 2)
          assert.strictEqual((yield* store.streamInfo(`${cat}-2`)).version, 0)
          assert.deepStrictEqual(yield* readModel(table), [{ stream_id: `${cat}-1`, total: 2, events: 1 }])
          // a retried append is not applied twice
          const batch = [serializer.encode(Added.make({ n: 10 }))]
          yield* store.append(`${cat}-1`, batch, ExpectedVersion.exact(2))
          yield* store.append(`${cat}-1`, batch, ExpectedVersion.exact(2))
          assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
        }).pipe(Effect.provide(inline))
      }).pipe(Effect.provide(store())),
    30_000
  )

  it.live("a handler that throws fails the append with a typed error and writes nothing", () =>
    Effect.gen(function*() {
      const cat = fresh("c")
      const table = fresh("t")
      const throwOn = yield* Ref.make<ReadonlySet<number>>(new Set([13]))
      const projection = totalsProjection(table, { category: cat, throwOn })
      yield* Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const exit = yield* Effect.exit(
          store.append(`${cat}-1`, [serializer.encode(Added.make({ n: 13 }))], ExpectedVersion.NoStream)
        )
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
        assert.strictEqual(Option.getOrUndefined(error)?._tag, "EventStoreError")
        assert.strictEqual((yield* store.streamInfo(`${cat}-1`)).version, 0)
        assert.deepStrictEqual(yield* readModel(table), [])
      }).pipe(Effect.provide(InlineProjections.layer([projection])))
    }).pipe(Effect.provide(store())), 30_000)
})

describe("projection definitions", () => {
  it.effect("a batch projection whose serializer cannot list its tags fails its setup, typed", () =>
    Effect.gen(function*() {
      const Untagged = Schema.Struct({ _tag: Schema.String, n: Schema.Number })
      const projection = Projection.make({
        name: "untagged",
        serializer: Serializer.make(Untagged),
        handlers: {},
        applyBatch: () => Effect.void
      })
      const error = yield* Effect.flip(projection.setup)
      assert.strictEqual(error._tag, "InvalidProjection")
      assert.include(error.message, "projection untagged: applyBatch needs a serializer")
    }))
})

describe("ProjectionTesting", () => {
  it.effect("given events, the read model holds their totals", () =>
    Effect.gen(function*() {
      const table = fresh("t")
      const projection = totalsProjection(table)
      yield* ProjectionTesting.given(projection, serializer, [
        ["A-1", Added.make({ n: 2 })],
        ["A-1", Noted.make({ text: "skip me" })],
        ["A-2", Added.make({ n: 5 })],
        ["A-1", Added.make({ n: 3 })]
      ])
      assert.deepStrictEqual(yield* readModel(table), [
        { stream_id: "A-1", total: 5, events: 2 },
        { stream_id: "A-2", total: 5, events: 1 }
      ])
    }).pipe(Effect.provide(ProjectionTesting.layer)))
})
