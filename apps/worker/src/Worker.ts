/**
 * The worker's layers: the database from `DATABASE_URL`, the projections service, and the running
 * projections.
 */
import { Projections } from "@chronicle/cqrs"
import { Database, ReadModel } from "@chronicle/documents"
import { Config, Duration, Effect, Layer, Schedule } from "effect"

// `CHRONICLE_PROJECTION_BATCH_SIZE`: events per transaction (default 200)
const optionsConfig = Config.integer("CHRONICLE_PROJECTION_BATCH_SIZE").pipe(
  Config.withDefault(200),
  Config.validate({ message: "CHRONICLE_PROJECTION_BATCH_SIZE must be at least 1", validation: (n) => n >= 1 }),
  Config.map((batchSize) => ({ batchSize }))
)

/** The projections service without running them: for `status` and `rebuild`. */
export const ProjectionsLive = Layer.unwrapEffect(
  Effect.map(optionsConfig, (options) => Projections.layer(ReadModel.projections, options))
).pipe(
  Layer.provideMerge(Database.layerConfig)
)

// says what the worker does, then reports lag while there is some
const ReportLive = Layer.scopedDiscard(Effect.gen(function*() {
  const database = yield* Database.config
  const projections = yield* Projections.Projections
  yield* Effect.logInfo(
    `worker running ${ReadModel.projections.map((p) => p.name).join(", ")} on ${Database.describe(database)}`
  )
  yield* projections.status.pipe(
    Effect.flatMap((rows) => {
      const behind = rows.filter((row) => row.lag > 0 || row.state === "failed")
      return behind.length === 0 ? Effect.void : Effect.logInfo(
        behind.map((row) => `${row.name}: ${row.state}, checkpoint ${row.checkpoint}, lag ${row.lag}`).join("; ")
      )
    }),
    Effect.catchAll((error) => Effect.logWarning(`status unavailable: ${error.message}`)),
    Effect.repeat(Schedule.spaced(Duration.seconds(10))),
    Effect.forkScoped
  )
}))

/** The projections, running with checkpoints until the layer is released. */
export const WorkerLive = ReportLive.pipe(
  Layer.provideMerge(Layer.unwrapScoped(
    Effect.map(optionsConfig, (options) => Projections.layerWorker(ReadModel.projections, options))
  )),
  Layer.provide(Database.layerConfig)
)
