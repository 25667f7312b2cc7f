import { CommandBus, Projections } from "@chronicle/cqrs"
import { Document, Documents, ReadModel } from "@chronicle/documents"
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Cli from "../src/Cli.js"

// the rebuild command on a SQLite file, as `worker rebuild <projection> [--swap]` runs it
const filename = join(mkdtempSync(join(tmpdir(), "chronicle-worker-rebuild-")), "events.db")
const AppLive = Documents.layerHandlers.pipe(
  Layer.provideMerge(Layer.mergeAll(
    CommandBus.layer(),
    Documents.layer,
    Projections.layer(ReadModel.projections, { batchSize: 2 }),
    Layer.effectDiscard(ReadModel.setup)
  )),
  Layer.provideMerge(SqliteEventStore.layer({ filename }))
)

describe("worker rebuild", () => {
  it.layer(AppLive, { timeout: 30_000 })((it) => {
    it.effect("replays a read model in place, and with --swap into shadow tables swapped in", () =>
      Effect.gen(function*() {
        for (const n of [1, 2, 3]) {
          yield* CommandBus.dispatch(
            new Document.CreateDocument({
              documentId: Document.DocumentId.make(`cli-${n}`),
              title: `Note ${n}`,
              authorId: Document.UserId.make("ada"),
              blocks: [{ id: "b1", type: "paragraph", content: `text ${n}` }],
              metadata: {}
            })
          )
        }
        const sql = yield* SqlClient.SqlClient
        const rows = sql<{ id: string }>`SELECT id FROM documents_view ORDER BY id`
        const checkpoint = Effect.flatMap(Projections.Projections, (p) => p.status).pipe(
          Effect.map((all) => all.find((s) => s.name === "documents-view"))
        )
        yield* Cli.rebuild("documents-view")
        assert.deepStrictEqual((yield* rows).map((r) => r.id), ["cli-1", "cli-2", "cli-3"])
        yield* sql`DELETE FROM documents_view WHERE id = 'cli-2'`
        yield* Cli.rebuild("documents-view", { swap: true })
        assert.deepStrictEqual((yield* rows).map((r) => r.id), ["cli-1", "cli-2", "cli-3"])
        const status = yield* checkpoint
        assert.strictEqual(status?.lag, 0)
        assert.strictEqual(status?.state, "idle")
        const unknown = yield* Effect.flip(Cli.rebuild("nope", { swap: true }))
        assert.strictEqual(unknown._tag, "UnknownProjection")
      }))
  })
})
