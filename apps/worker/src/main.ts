/**
 * The Chronicle worker: runs the document projections with checkpoints (and leases, so several
 * workers can share a PostgreSQL database), and stops gracefully on SIGTERM or Ctrl-C: the batch
 * in flight finishes and its checkpoint is stored.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import * as Cli from "./Cli.js"
import { ProjectionsLive, WorkerLive } from "./Worker.js"

// what was asked, for the exit code
let command: Cli.Command | undefined

Effect.suspend(() => Cli.parse(process.argv.slice(2))).pipe(
  Effect.tap((parsed) =>
    Effect.sync(() => {
      command = parsed
    })
  ),
  Effect.flatMap(Cli.Command.$match({
    Run: () => Layer.launch(WorkerLive.pipe(Layer.ensureRequirementsType<never>())),
    Status: () => Effect.provide(Cli.status, ProjectionsLive),
    Rebuild: ({ projection, swap }) => Effect.provide(Cli.rebuild(projection, { swap }), ProjectionsLive),
    Help: () => Console.log(Cli.usage)
  })),
  (program) => NodeRuntime.runMain(program, { teardown: (exit, onExit) => onExit(Cli.exitCode(command, exit)) })
)
