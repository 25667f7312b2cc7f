import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Suite from "./suite.js"

const filename = join(mkdtempSync(join(tmpdir(), "chronicle-cqrs-")), "events.db")

Suite.run({ name: "SQLite", layer: SqliteEventStore.layer({ filename, pollInterval: "20 millis" }), runs: 10 })
