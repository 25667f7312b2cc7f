import { PgEventStore } from "@chronicle/eventstore/pg"
import { Conformance } from "@chronicle/eventstore/testing"
import { PgClient } from "@effect/sql-pg"
import { Layer, Redacted } from "effect"
import { describe } from "vitest"
import { inject } from "vitest"

const pgUrl = inject("pgUrl")

describe.skipIf(pgUrl === null)("PostgreSQL", () => {
  Conformance.run({ name: "PostgreSQL", layer: PgEventStore.layer({ url: pgUrl ?? "", pollInterval: "50 millis" }) })
  // the store on a client the app brings: no prepared statements, the general path throughout
  Conformance.run({
    name: "PostgreSQL on the app's own PgClient",
    layer: PgEventStore.layerStore({ pollInterval: "50 millis" }).pipe(
      Layer.provide(PgClient.layer({ url: Redacted.make(pgUrl ?? "") }))
    )
  })
})
