import { SqliteEventStore } from "@chronicle/eventstore/sqlite"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SwapSuite from "./swapSuite.js"

// a real file in WAL mode per test; the reader has a connection of its own
SwapSuite.run({
  name: "SQLite",
  make: () => {
    const filename = join(mkdtempSync(join(tmpdir(), "chronicle-swap-")), "db.sqlite")
    return {
      store: SqliteEventStore.layer({ filename, pollInterval: "20 millis" }),
      reader: SqliteEventStore.layerClient({ filename })
    }
  }
})
