import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { Conformance } from "@chronicle/eventstore/testing"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const filename = join(mkdtempSync(join(tmpdir(), "chronicle-es-")), "events.db")

Conformance.run({ name: "SQLite", layer: SqliteEventStore.layer({ filename, pollInterval: "20 millis" }) })
