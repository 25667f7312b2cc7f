import { PgEventStore } from "@chronicle/eventstore/pg"
import { Conformance } from "@chronicle/eventstore/testing"
import { describe } from "vitest"
import { inject } from "vitest"

const pgUrl = inject("pgUrl")

describe.skipIf(pgUrl === null)("PostgreSQL", () => {
  Conformance.run({ name: "PostgreSQL", layer: PgEventStore.layer({ url: pgUrl ?? "", pollInterval: "50 millis" }) })
})
