// The event store on PostgreSQL: `DATABASE_URL=postgres://... pnpm --filter @chronicle/eventstore example:pg`.
import { PgEventStore } from "@chronicle/eventstore/pg"
import { Config, Effect } from "effect"
import { program } from "./memory.js"

const StoreLive = PgEventStore.layerConfig(
  Config.all({ url: Config.string("DATABASE_URL").pipe(Config.withDefault("postgres://postgres@127.0.0.1:5432/test")) })
)

// a fresh document id: the example appends with NoStream, and the database may be shared
Effect.runPromise(program(crypto.randomUUID()).pipe(Effect.provide(StoreLive))).catch((error) => {
  console.error(String(error))
  process.exit(1)
})
