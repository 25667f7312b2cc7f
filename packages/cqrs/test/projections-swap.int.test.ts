import { PgEventStore } from "@chronicle/eventstore/pg"
import { PgClient } from "@effect/sql-pg"
import { Redacted } from "effect"
import { describe, inject } from "vitest"
import * as SwapSuite from "./swapSuite.js"

const pgUrl = inject("pgUrl")

describe.skipIf(pgUrl === null)("PostgreSQL", () => {
  SwapSuite.run({
    name: "PostgreSQL",
    make: () => ({
      store: PgEventStore.layer({ url: pgUrl ?? "", pollInterval: "50 millis" }),
      // a pool of its own, so its reads never wait behind the rebuild's connection
      reader: PgClient.layer({ url: Redacted.make(pgUrl ?? "") })
    })
  })
})
