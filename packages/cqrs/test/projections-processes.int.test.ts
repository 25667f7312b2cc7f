// Projection workers as real processes: killed with SIGKILL at random moments, and two workers on
// PostgreSQL sharing one projection. The read model must always end equal to a fresh replay.
import { Projections } from "@chronicle/cqrs"
import { PgEventStore } from "@chronicle/eventstore/pg"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { inject } from "vitest"
import { fixture, spawnTs } from "./fixtures/processes.js"
import { addEvents, fresh, readModel, replay, totalsProjection } from "./projectionFixtures.js"

const packageDir = dirname(dirname(fixture("x")))
const worker = fixture("projectionWorker.ts")
const pgUrl = inject("pgUrl")

const waitForCheckpoint = (table: string, category: string, position: number) =>
  Effect.flatMap(Projections.Projections, (p) => p.waitFor(position, { timeout: "30 seconds" })).pipe(
    Effect.provide(Projections.layer([totalsProjection(table, { category })]))
  )

describe("projection workers killed with SIGKILL", () => {
  it.live("resume from their checkpoint without losing or repeating an event", () =>
    Effect.gen(function*() {
      const filename = join(mkdtempSync(join(tmpdir(), "chronicle-kill-")), "db.sqlite")
      const layer = SqliteEventStore.layer({ filename, pollInterval: "20 millis" })
      const cat = fresh("k")
      const table = fresh("t")
      yield* Effect.gen(function*() {
        yield* addEvents(cat, 4, 25)
        // events keep arriving while workers come and go
        const writer = yield* addEvents(cat, 4, 400, 1000).pipe(Effect.fork)
        for (let round = 0; round < 8; round++) {
          const child = spawnTs(worker, ["sqlite", filename, table, cat, `w${round}`], packageDir)
          yield* Effect.sleep(`${600 + Math.floor(Math.random() * 700)} millis`)
          child.process.kill("SIGKILL")
          yield* Effect.promise(() => child.exited)
        }
        const last = yield* Fiber.join(writer)
        const final = spawnTs(worker, ["sqlite", filename, table, cat, "final"], packageDir)
        yield* waitForCheckpoint(table, cat, last)
        final.process.kill("SIGKILL")
        yield* Effect.promise(() => final.exited)
        const expected = yield* replay(cat)
        assert.deepStrictEqual(yield* readModel(table), expected)
        assert.strictEqual(expected.reduce((n, r) => n + r.events, 0), 4 * 425)
      }).pipe(Effect.provide(layer))
    }), 180_000)
})

describe.skipIf(pgUrl === null)("two projection workers on PostgreSQL", () => {
  it.live(
    "when the owner is killed the other takes over and the read model equals a replay",
    () =>
      Effect.gen(function*() {
        const url = pgUrl ?? ""
        const cat = fresh("p")
        const table = fresh("t")
        yield* Effect.gen(function*() {
          yield* addEvents(cat, 3, 20)
          const workers = new Map(
            ["a", "b"].map((name) => [name, spawnTs(worker, ["pg", url, table, cat, `pg-${name}`], packageDir)])
          )
          yield* Effect.addFinalizer(() => Effect.sync(() => workers.forEach((w) => w.process.kill("SIGKILL"))))
          const status = Effect.flatMap(Projections.Projections, (p) => p.status).pipe(
            Effect.provide(Projections.layer([totalsProjection(table, { category: cat })]))
          )
          const ownerNow = Effect.map(status, (s) => s[0].owner)
          const first = yield* ownerNow.pipe(
            Effect.delay("100 millis"),
            Effect.repeat({ until: (o) => o !== null }),
            Effect.timeout("30 seconds")
          )
          const owner = workers.get(String(first).replace("pg-", ""))
          assert.isDefined(owner)
          owner?.process.kill("SIGKILL")
          const killedAt = Date.now()
          const last = yield* addEvents(cat, 3, 10, 500)
          yield* waitForCheckpoint(table, cat, last)
          const second = yield* ownerNow
          assert.isNotNull(second)
          assert.notStrictEqual(second, first)
          // takeover within the lease time plus the acquire interval, well under 10 s
          assert.isBelow(Date.now() - killedAt, 10_000)
          assert.deepStrictEqual(yield* readModel(table), yield* replay(cat))
        }).pipe(Effect.scoped, Effect.provide(Layer.orDie(PgEventStore.layer({ url, pollInterval: "50 millis" }))))
      }),
    120_000
  )
})
