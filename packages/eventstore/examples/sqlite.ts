// The event store on a SQLite file: `pnpm --filter @chronicle/eventstore example:sqlite`.
import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { program } from "./memory.js"

const filename = join(mkdtempSync(join(tmpdir(), "chronicle-example-")), "events.db")

Effect.runPromise(program("1").pipe(Effect.provide(SqliteEventStore.layer({ filename })))).then(() =>
  console.log(`stored in ${filename}`)
)
