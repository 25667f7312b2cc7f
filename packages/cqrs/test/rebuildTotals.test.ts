// A rebuild's total is the exact number of events in the projection's category, counted without
// reading event rows on SQLite: stream ids that only look like the category's must not count.
import { Projections } from "@chronicle/cqrs"
import { EventStore, ExpectedVersion } from "@chronicle/eventstore"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Added, fresh, serializer, totalsProjection } from "./projectionFixtures.js"

const store = () =>
  SqliteEventStore.layer({ filename: join(mkdtempSync(join(tmpdir(), "chronicle-totals-")), "db.sqlite") })

describe("rebuild totals", () => {
  it.live(
    "count the category's streams (the bare id and id-...) and nothing that only shares a prefix",
    () =>
      Effect.gen(function*() {
        const cat = fresh("c")
        const events = yield* EventStore.EventStore
        const add = (streamId: string, count: number) =>
          events.append(
            streamId,
            Array.from({ length: count }, (_, i) => serializer.encode(Added.make({ n: i + 1 }))),
            ExpectedVersion.Any
          )
        // in the category: 3 + 4 + 5 events
        yield* add(cat, 3)
        yield* add(`${cat}-1`, 4)
        yield* add(`${cat}-2-x`, 5)
        // outside it, though close in sort order or sharing a prefix
        for (const other of [`${cat}!`, `${cat},1`, `${cat}.1`, `${cat}x-1`, `${cat}_1`, `a${cat}-1`]) {
          yield* add(other, 2)
        }
        const projection = totalsProjection(fresh("t"), { category: cat })
        const steps = yield* Effect.flatMap(
          Projections.Projections,
          (p) => Stream.runCollect(p.rebuild(projection.name))
        )
          .pipe(Effect.provide(Projections.layer([projection])))
        const last = Chunk.toReadonlyArray(steps).at(-1)
        assert.strictEqual(last?.total, 12)
        assert.strictEqual(last?.done, 12)
        // a category with a dash can match no stream
        const dashed = totalsProjection(fresh("t"), { category: `${cat}-1` })
        const dashedSteps = yield* Effect.flatMap(
          Projections.Projections,
          (p) => Stream.runCollect(p.rebuild(dashed.name))
        )
          .pipe(Effect.provide(Projections.layer([dashed])))
        assert.strictEqual(Chunk.toReadonlyArray(dashedSteps).at(-1)?.total ?? 0, 0)
      }).pipe(Effect.provide(store())),
    30_000
  )
})
