// Rebuilds with swap, on any SQL store: readers keep the complete old model until the rebuilt one
// replaces it in one transaction, the worker continues from the swapped checkpoint, and a rebuild
// that fails or is cut short leaves the live model and checkpoint as they were.
import { Projection, Projections } from "@chronicle/cqrs"
import type { EventStore } from "@chronicle/eventstore"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Layer, Ref, Schedule, Scope, Stream } from "effect"
import { addEvents, fresh, readModel, replay, serializer, totalsProjection } from "./projectionFixtures.js"

export interface Options {
  readonly name: string
  /** A store and, on a connection of its own, a client for readers beside the rebuild. */
  readonly make: () => {
    readonly store: Layer.Layer<EventStore.EventStore | SqlClient.SqlClient, unknown>
    readonly reader: Layer.Layer<SqlClient.SqlClient, unknown>
  }
}

// long enough that a rebuild paused between pages by the test keeps its lease
const fast = { leaseTtl: "3 seconds", acquireInterval: "100 millis", batchSize: 50 } as const

/**
 * Builds a layer in a scope of its own, so a test can stop one worker and keep the store; a test
 * that fails before stopping it still stops it with the test's scope, before the store closes.
 */
const start = <A, E, R>(layer: Layer.Layer<A, E, R>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const stop = Scope.close(scope, Exit.void)
    yield* Effect.addFinalizer(() => stop)
    const context = yield* Layer.buildWithScope(layer, scope)
    return { context, stop }
  })

type Model = ReadonlyArray<{ readonly stream_id: string; readonly total: number; readonly events: number }>

const sum = (model: Model) => model.reduce((n, row) => n + row.total, 0)

const indexesOf = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.onDialectOrElse({
      pg: () => sql<{ name: string }>`SELECT indexname AS name FROM pg_indexes WHERE tablename = ${table}`,
      orElse: () => sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ${table}`
    })).pipe(Effect.map((rows) => rows.map((row) => row.name).sort()))

const tableExists = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.onDialectOrElse({
      pg: () => sql`SELECT 1 AS found WHERE to_regclass(${table}) IS NOT NULL`,
      orElse: () => sql`SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ${table}`
    })).pipe(Effect.map((rows) => rows.length > 0))

const statusOf = (projection: Projection.Projection<unknown, SqlClient.SqlClient>) =>
  Effect.flatMap(Projections.Projections, (p) => p.status).pipe(
    Effect.map((rows) => rows[0]),
    Effect.provide(Projections.layer([projection], fast))
  )

const rebuildWith = (
  projection: Projection.Projection<unknown, SqlClient.SqlClient>,
  options: Projections.Options = fast
) =>
<A, E, R>(
  use: (
    progress: Stream.Stream<
      Projections.RebuildProgress,
      Projections.ProjectionError | Projections.UnknownProjection | Projections.SwapRefused
    >
  ) => Effect.Effect<A, E, R>
) =>
  Effect.flatMap(Projections.Projections, (p) => use(p.rebuild(projection.name, { swap: true }))).pipe(
    Effect.provide(Projections.layer([projection], { ...options, owner: "the-rebuilder" }))
  )

export const run = (options: Options) =>
  describe(`${options.name}: rebuild with swap`, () => {
    it.live(
      "readers keep the complete old model until the swap; then it equals a replay, and the worker applies later events once",
      () => {
        const { reader, store } = options.make()
        return Effect.gen(function*() {
          const cat = fresh("c")
          const table = fresh("t")
          const shadow = Projection.shadowTable(table)
          // the tables each handler call wrote to: the worker's, then the rebuild's
          const seen = yield* Ref.make<ReadonlySet<string>>(new Set())
          const projection = totalsProjection(table, {
            category: cat,
            onApply: (physical) => Ref.update(seen, (all) => new Set([...all, physical]))
          })
          const first = yield* addEvents(cat, 4, 60)
          const worker = yield* start(Projections.layerWorker([projection], { ...fast, owner: "the-worker" }))
          const onWorker = <A, E>(effect: Effect.Effect<A, E, Projections.Projections>) =>
            Effect.provide(effect, Layer.succeedContext(worker.context))
          yield* onWorker(Effect.flatMap(Projections.Projections, (p) => p.waitFor(first, { timeout: "20 seconds" })))
          const old = yield* readModel(table)
          assert.deepStrictEqual(old, yield* replay(cat))
          assert.deepStrictEqual([...(yield* Ref.get(seen))], [table])
          const liveIndexes = yield* indexesOf(table)
          assert.include(liveIndexes, `${table}_total`)
          yield* Ref.set(seen, new Set())

          // a reader on its own connection, all through the rebuild: the model must never shrink
          const readerContext = yield* Layer.build(reader)
          const reads = yield* Ref.make<ReadonlyArray<Model>>([])
          const reading = yield* readModel(table).pipe(
            Effect.provide(readerContext),
            Effect.flatMap((model) => Ref.update(reads, (all) => [...all, model])),
            Effect.zipRight(Effect.sleep("3 millis")),
            Effect.forever,
            Effect.fork
          )
          // and a writer: events keep arriving before, during and after the swap
          const writing = yield* addEvents(cat, 4, 1, 3000).pipe(
            Effect.zipRight(Effect.sleep("15 millis")),
            Effect.forever,
            Effect.fork
          )

          // the rebuild pauses between pages while the test looks at both models
          const pauses: Array<{ readonly live: Model; readonly shadow: Model; readonly checkpoint: number }> = []
          const progress = yield* rebuildWith(projection)((stream) =>
            stream.pipe(
              Stream.tap(() =>
                Effect.gen(function*() {
                  const live = yield* readModel(table).pipe(Effect.provide(readerContext))
                  const building = yield* tableExists(shadow)
                  const { checkpoint } = yield* statusOf(projection)
                  pauses.push({ live, shadow: building ? yield* readModel(shadow) : [], checkpoint })
                  // appended mid-way: the shadow must pick them up
                  if (pauses.length === 2) yield* addEvents(cat, 4, 2, 1000)
                })
              ),
              Stream.runCollect,
              Effect.map(Chunk.toReadonlyArray)
            )
          )
          yield* Fiber.interrupt(writing)
          yield* Fiber.interrupt(reading)

          assert.isAtLeast(progress.length, 5)
          assert.isAtLeast(progress.at(-1)?.done ?? 0, 480)
          // every pause but the last came before the swap: the old model, whole, while the shadow filled
          const before = pauses.slice(0, -1)
          for (const pause of before) {
            assert.deepStrictEqual(pause.live, old)
            assert.strictEqual(pause.checkpoint, before[0].checkpoint)
          }
          assert.isAtLeast(before[0].checkpoint, first)
          const shadowSums = before.map((pause) => sum(pause.shadow))
          assert.isAbove(shadowSums[1], 0)
          assert.isBelow(shadowSums[1], sum(old))
          for (let i = 1; i < shadowSums.length; i++) assert.isAtLeast(shadowSums[i], shadowSums[i - 1])
          // the last pause came after it: the rebuilt model up to the swapped checkpoint, the shadow gone
          const last = pauses[pauses.length - 1]
          const swapped = yield* replay(cat, last.checkpoint)
          assert.isAbove(last.checkpoint, before[0].checkpoint)
          assert.deepStrictEqual(last.live, swapped)
          assert.deepStrictEqual(last.shadow, [])
          assert.isAbove(sum(swapped), sum(old))
          // the concurrent reader never saw a model emptied or refilling
          const seenByReader = yield* Ref.get(reads)
          assert.isNotEmpty(seenByReader)
          for (const model of seenByReader) {
            assert.strictEqual(model.length, old.length)
            for (const row of model) {
              assert.isAtLeast(row.total, old.find((o) => o.stream_id === row.stream_id)?.total ?? Infinity)
            }
          }
          // the rebuild's handlers wrote to the shadow; the live table stayed whole until the swap
          // (the pauses above), though the worker may write to it before the handover and after the swap
          assert.include([...(yield* Ref.get(seen))], shadow)

          // the worker takes the projection back from the swapped checkpoint: nothing twice, nothing lost
          const more = yield* addEvents(cat, 4, 5, 9000)
          yield* onWorker(Effect.flatMap(Projections.Projections, (p) => p.waitFor(more, { timeout: "20 seconds" })))
          assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
          const after = yield* onWorker(Effect.flatMap(Projections.Projections, (p) => p.status))
          assert.strictEqual(after[0].owner, "the-worker")
          assert.strictEqual(after[0].state, "running")
          assert.deepStrictEqual(yield* indexesOf(table), liveIndexes)
          yield* worker.stop
        }).pipe(Effect.scoped, Effect.provide(store))
      },
      90_000
    )

    it.live("replaces a wrong model by a replay, with the live index names, again and again", () => {
      const { store } = options.make()
      return Effect.gen(function*() {
        const cat = fresh("c")
        const table = fresh("t")
        const projection = totalsProjection(table, { category: cat })
        const last = yield* addEvents(cat, 4, 30)
        const sql = yield* SqlClient.SqlClient
        yield* projection.setup
        const liveIndexes = yield* indexesOf(table)
        for (const round of [1, 2]) {
          // a read model gone wrong
          yield* sql.unsafe(`INSERT INTO ${table} (stream_id, total, events) VALUES ('bogus-${round}', 1, 1)`)
          const progress = yield* rebuildWith(projection)((stream) => Stream.runCollect(stream))
          assert.strictEqual(Chunk.toReadonlyArray(progress).at(-1)?.done, 240)
          assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
          // the swapped table carries the names setup gives the live one, so the next swap is free to reuse them
          assert.deepStrictEqual(yield* indexesOf(table), liveIndexes)
          assert.isFalse(yield* tableExists(Projection.shadowTable(table)))
          const status = yield* statusOf(projection)
          assert.isAtLeast(status.checkpoint, last)
          assert.strictEqual(status.state, "idle")
          assert.isNull(status.owner)
        }
      }).pipe(Effect.provide(store))
    }, 60_000)

    it.live("cut short, it leaves the live model and checkpoint as they were", () => {
      const { store } = options.make()
      return Effect.gen(function*() {
        const cat = fresh("c")
        const table = fresh("t")
        const projection = totalsProjection(table, { category: cat })
        const first = yield* addEvents(cat, 4, 60)
        yield* Effect.flatMap(Projections.Projections, (p) => p.waitFor(first, { timeout: "20 seconds" })).pipe(
          Effect.provide(Projections.layerWorker([projection], fast)),
          Effect.scoped
        )
        const old = yield* readModel(table)
        const checkpoint = (yield* statusOf(projection)).checkpoint
        // the consumer stops after three pages, as an interrupted CLI would
        const progress = yield* rebuildWith(projection)((stream) => Stream.runCollect(Stream.take(stream, 3)))
        assert.strictEqual(Chunk.size(progress), 3)
        assert.isBelow(Chunk.toReadonlyArray(progress).at(-1)?.done ?? Infinity, 480)
        assert.deepStrictEqual(yield* readModel(table), old)
        const status = yield* statusOf(projection)
        assert.strictEqual(status.checkpoint, checkpoint)
        assert.strictEqual(status.state, "idle")
        assert.isNull(status.owner)
        assert.isFalse(yield* tableExists(Projection.shadowTable(table)))
        // interrupted while paused between pages
        const fiber = yield* rebuildWith(projection)((stream) =>
          Stream.runDrain(Stream.tap(stream, () => Effect.never))
        ).pipe(Effect.fork)
        yield* statusOf(projection).pipe(
          Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (s) => s.state === "rebuilding" }),
          Effect.timeout("20 seconds")
        )
        yield* Effect.sleep("100 millis")
        yield* Fiber.interrupt(fiber)
        assert.deepStrictEqual(yield* readModel(table), old)
        assert.strictEqual((yield* statusOf(projection)).checkpoint, checkpoint)
        assert.isFalse(yield* tableExists(Projection.shadowTable(table)))
        // and a worker goes on from there
        const more = yield* addEvents(cat, 4, 2, 500)
        yield* Effect.flatMap(Projections.Projections, (p) => p.waitFor(more, { timeout: "20 seconds" })).pipe(
          Effect.provide(Projections.layerWorker([projection], fast)),
          Effect.scoped
        )
        assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
      }).pipe(Effect.provide(store))
    }, 60_000)

    it.live(
      "failing, on a poison event or in the swap itself, it leaves the live model and checkpoint as they were",
      () => {
        const { store } = options.make()
        return Effect.gen(function*() {
          const cat = fresh("c")
          const table = fresh("t")
          const extra = `${table}x`
          const failOn = yield* Ref.make<ReadonlySet<number>>(new Set())
          const projection = totalsProjection(table, { category: cat, failOn, extraTables: [extra] })
          const first = yield* addEvents(cat, 4, 40)
          yield* Effect.flatMap(Projections.Projections, (p) => p.waitFor(first, { timeout: "20 seconds" })).pipe(
            Effect.provide(Projections.layerWorker([projection], fast)),
            Effect.scoped
          )
          const old = yield* readModel(table)
          const checkpoint = (yield* statusOf(projection)).checkpoint
          const liveIndexes = yield* indexesOf(table)
          const unchanged = Effect.gen(function*() {
            assert.deepStrictEqual(yield* readModel(table), old)
            const status = yield* statusOf(projection)
            assert.strictEqual(status.checkpoint, checkpoint)
            assert.strictEqual(status.state, "idle")
            assert.strictEqual(status.quarantined, 0)
            assert.deepStrictEqual(yield* indexesOf(table), liveIndexes)
            assert.isFalse(yield* tableExists(Projection.shadowTable(table)))
            assert.isFalse(yield* tableExists(Projection.shadowTable(extra)))
          })

          // an event the handlers now refuse
          yield* Ref.set(failOn, new Set([30]))
          const poisoned = yield* rebuildWith(projection, { ...fast, retry: Schedule.recurs(1) })((stream) =>
            Effect.flip(Stream.runDrain(stream))
          )
          assert.strictEqual(poisoned._tag, "ProjectionError")
          if (poisoned._tag === "ProjectionError") assert.include(poisoned.reason, "poison")
          yield* unchanged

          // the first table is swapped, then the second cannot be dropped (it is a view): all rolls back
          yield* Ref.set(failOn, new Set())
          const sql = yield* SqlClient.SqlClient
          yield* sql.unsafe(`DROP TABLE ${extra}`)
          yield* sql.unsafe(`CREATE VIEW ${extra} AS SELECT 'x' AS id`)
          const refused = yield* rebuildWith(projection)((stream) => Effect.flip(Stream.runDrain(stream)))
          assert.strictEqual(refused._tag, "ProjectionError")
          if (refused._tag === "ProjectionError") assert.strictEqual(refused.reason, "swap failed")
          yield* unchanged
          yield* sql.unsafe(`DROP VIEW ${extra}`)
        }).pipe(Effect.provide(store))
      },
      60_000
    )

    it.live("skipping poison events, the shadow's quarantine replaces the live one at the swap", () => {
      const { store } = options.make()
      return Effect.gen(function*() {
        const cat = fresh("c")
        const table = fresh("t")
        const failOn = yield* Ref.make<ReadonlySet<number>>(new Set([13]))
        const projection = totalsProjection(table, { category: cat, failOn })
        const skip = { ...fast, onPoison: "skip", retry: Schedule.recurs(1) } as const
        const first = yield* addEvents(cat, 2, 20)
        const quarantined = Effect.flatMap(Projections.Projections, (p) => p.quarantined(projection.name)).pipe(
          Effect.map((rows) => rows.map((row) => row.position)),
          Effect.provide(Projections.layer([projection], fast))
        )
        yield* Effect.flatMap(Projections.Projections, (p) => p.waitFor(first, { timeout: "20 seconds" })).pipe(
          Effect.provide(Projections.layerWorker([projection], skip)),
          Effect.scoped
        )
        const live = yield* quarantined
        assert.strictEqual(live.length, 2)
        // now the handlers refuse other events: until the swap the live quarantine stands
        yield* Ref.set(failOn, new Set([7]))
        const during: Array<ReadonlyArray<number>> = []
        yield* rebuildWith(projection, skip)((stream) =>
          Stream.runDrain(Stream.tap(stream, () => Effect.map(quarantined, (q) => during.push(q))))
        )
        for (const q of during.slice(0, -1)) assert.deepStrictEqual(q, live)
        const after = yield* quarantined
        assert.strictEqual(after.length, 2)
        assert.notDeepEqual(after, live)
        assert.strictEqual((yield* statusOf(projection)).quarantined, 2)
        const totals = yield* readModel(table)
        const expected = (yield* replay(cat)).map((row) => ({ ...row, total: row.total - 7, events: row.events - 1 }))
        assert.deepStrictEqual(totals, expected)
      }).pipe(Effect.provide(store))
    }, 60_000)

    it.live("refused, with SwapRefused, when the projection cannot be swapped; nothing changes", () => {
      const { store } = options.make()
      return Effect.gen(function*() {
        const cat = fresh("c")
        const table = fresh("t")
        const undeclared = totalsProjection(table, { category: cat, declareTables: false })
        const first = yield* addEvents(cat, 2, 10)
        const worker = yield* start(Projections.layerWorker([undeclared], { ...fast, owner: "the-worker" }))
        const onWorker = <A, E>(effect: Effect.Effect<A, E, Projections.Projections>) =>
          Effect.provide(effect, Layer.succeedContext(worker.context))
        yield* onWorker(Effect.flatMap(Projections.Projections, (p) => p.waitFor(first, { timeout: "20 seconds" })))
        const old = yield* readModel(table)
        const before = (yield* onWorker(Effect.flatMap(Projections.Projections, (p) => p.status)))[0]
        const error = yield* rebuildWith(undeclared)((stream) => Effect.flip(Stream.runDrain(stream)))
        assert.strictEqual(error._tag, "SwapRefused")
        if (error._tag === "SwapRefused") {
          assert.strictEqual(error.projection, undeclared.name)
          assert.include(error.reason, "declares no tables")
        }
        // the worker was not even asked to hand it over
        yield* Effect.sleep("300 millis")
        const after = (yield* onWorker(Effect.flatMap(Projections.Projections, (p) => p.status)))[0]
        assert.strictEqual(after.owner, "the-worker")
        assert.strictEqual(after.state, "running")
        assert.strictEqual(after.checkpoint, before.checkpoint)
        assert.deepStrictEqual(yield* readModel(table), old)
        yield* worker.stop

        // names a swap cannot handle are refused before any SQL runs
        for (
          const [tables, reason] of [
            [["Upper"], "lower-case"],
            [["chronicle_events"], "chronicle_"],
            [[`${table}__rebuild`], "__rebuild"],
            [["x".repeat(60)], "longer"]
          ] as const
        ) {
          const bad = totalsProjection(fresh("t"), { category: cat, extraTables: tables })
          const refused = yield* rebuildWith(bad)((stream) => Effect.flip(Stream.runDrain(stream)))
          assert.strictEqual(refused._tag, "SwapRefused")
          if (refused._tag === "SwapRefused") assert.include(refused.reason, reason)
        }

        // setup that ignores Projection.table: refused before anything is replayed
        const literal = Projection.make({
          name: `literal-${table}`,
          category: cat,
          serializer,
          tables: [table],
          setup: Effect.flatMap(
            SqlClient.SqlClient,
            (sql) =>
              sql.unsafe(
                `CREATE TABLE IF NOT EXISTS ${table} (stream_id TEXT PRIMARY KEY, total BIGINT NOT NULL, events BIGINT NOT NULL)`
              )
          ),
          handlers: {}
        })
        const ignored = yield* rebuildWith(literal)((stream) => Effect.flip(Stream.runDrain(stream)))
        assert.strictEqual(ignored._tag, "SwapRefused")
        if (ignored._tag === "SwapRefused") assert.include(ignored.reason, "setup did not create")
        assert.deepStrictEqual(yield* readModel(table), old)
        assert.strictEqual((yield* statusOf(literal)).state, "idle")

        // a handler asking for a table it did not declare would write to the live model: it dies,
        // and the rebuild fails with a typed error, leaving the live model as it was
        const stray = totalsProjection(fresh("t"), {
          category: cat,
          onApply: () => Effect.asVoid(Projection.table("undeclared"))
        })
        const refused = yield* rebuildWith(stray)((stream) => Effect.flip(Stream.runDrain(stream)))
        assert.strictEqual(refused._tag, "ProjectionError")
        assert.include(refused.message, "table undeclared is not among the projection's declared tables")
      }).pipe(Effect.scoped, Effect.provide(store))
    }, 60_000)
  })
