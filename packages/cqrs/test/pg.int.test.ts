import { PgEventStore } from "@chronicle/eventstore/pg"
import { describe, inject } from "vitest"
import * as Suite from "./suite.js"

const pgUrl = inject("pgUrl")

describe.skipIf(pgUrl === null)("PostgreSQL", () => {
  Suite.run({
    name: "PostgreSQL",
    layer: PgEventStore.layer({ url: pgUrl ?? "", pollInterval: "50 millis" }),
    runs: 10
  })
})
