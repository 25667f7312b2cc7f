/**
 * The worker's command line: `run` (the default), `rebuild <projection> [--swap]`, `status`.
 */
import { Projections } from "@chronicle/cqrs"
import type { Projections as P } from "@chronicle/cqrs"
import { Cause, Console, Data, Effect, Exit, Stream } from "effect"

export type Command = Data.TaggedEnum<{
  Run: {}
  Status: {}
  Rebuild: { readonly projection: string; readonly swap: boolean }
  Help: {}
}>
export const Command = Data.taggedEnum<Command>()

/** The arguments could not be understood. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly reason: string }> {
  override get message(): string {
    return `${this.reason}\n\n${usage}`
  }
}

export const usage = `usage: worker [command]

  run                     run the projections with checkpoints until SIGTERM or Ctrl-C (default)
  rebuild <projection>    empty a read model and replay every event into it, with a progress bar
    --swap                build the new model in shadow tables and swap it in when caught up:
                          readers keep the old model until then
  status                  checkpoint, head and lag per projection, and quarantined events

environment: DATABASE_URL (a postgres:// URL, or a SQLite file; default ./data/chronicle.db)`

export const parse = (args: ReadonlyArray<string>): Effect.Effect<Command, UsageError> => {
  const [name, ...rest] = args
  switch (name) {
    case undefined:
    case "run":
      return rest.length === 0
        ? Effect.succeed(Command.Run())
        : Effect.fail(new UsageError({ reason: "run takes no arguments" }))
    case "status":
      return rest.length === 0
        ? Effect.succeed(Command.Status())
        : Effect.fail(new UsageError({ reason: "status takes no arguments" }))
    case "rebuild": {
      const flags = rest.filter((arg) => arg.startsWith("-"))
      const names = rest.filter((arg) => !arg.startsWith("-"))
      const unknown = flags.find((flag) => flag !== "--swap")
      if (unknown !== undefined) return Effect.fail(new UsageError({ reason: `unknown rebuild option ${unknown}` }))
      return names.length === 1
        ? Effect.succeed(Command.Rebuild({ projection: names[0], swap: flags.length > 0 }))
        : Effect.fail(new UsageError({ reason: "rebuild takes exactly one projection name" }))
    }
    case "help":
    case "--help":
    case "-h":
      return Effect.succeed(Command.Help())
    default:
      return Effect.fail(new UsageError({ reason: `unknown command ${name}` }))
  }
}

const pad = (value: string | number, width: number) => String(value).padEnd(width)
const padLeft = (value: string | number, width: number) => String(value).padStart(width)

export const formatStatus = (rows: ReadonlyArray<P.Status>): string => {
  const nameWidth = Math.max(10, ...rows.map((r) => r.name.length))
  const header = `${pad("projection", nameWidth)}  ${pad("state", 10)}  ${padLeft("checkpoint", 10)}  ${
    padLeft("head", 8)
  }  ${padLeft("lag", 8)}  ${padLeft("quarantined", 11)}  owner`
  const lines = rows.map((r) =>
    `${pad(r.name, nameWidth)}  ${pad(r.state, 10)}  ${padLeft(r.checkpoint, 10)}  ${padLeft(r.head, 8)}  ${
      padLeft(r.lag, 8)
    }  ${padLeft(r.quarantined, 11)}  ${r.owner ?? "-"}${
      r.lastError === null ? "" : `\n    last error: ${r.lastError}`
    }`
  )
  return [header, ...lines].join("\n")
}

/** Prints every projection's status and the quarantined events. */
export const status = Effect.gen(function*() {
  const projections = yield* Projections.Projections
  const rows = yield* projections.status
  yield* Console.log(formatStatus(rows))
  const quarantined = yield* projections.quarantined()
  if (quarantined.length === 0) {
    yield* Console.log("\nno quarantined events")
  } else {
    yield* Console.log(`\nquarantined events (${quarantined.length}):`)
    for (const q of quarantined) yield* Console.log(`  ${JSON.stringify(q)}`)
  }
})

/** A one-line progress bar. */
export const bar = (progress: P.RebuildProgress, width = 30): string => {
  const ratio = progress.total === 0 ? 1 : Math.min(1, progress.done / progress.total)
  const filled = Math.round(ratio * width)
  const eta = Number.isFinite(progress.etaSeconds) ? `${progress.etaSeconds.toFixed(0)}s` : "?"
  return `${progress.projection} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${
    (ratio * 100).toFixed(0).padStart(3)
  }% ${progress.done}/${progress.total} events, ${progress.ratePerSecond.toFixed(0)}/s, eta ${eta}`
}

/** The worker running the projection did not hand it over in time: a rebuild cannot start. */
export class RebuildBlocked extends Data.TaggedError("RebuildBlocked")<{
  readonly projection: string
  readonly owner: string
}> {
  override get message(): string {
    return `${this.projection} is run by worker ${this.owner}, which did not hand it over within 30 s`
  }
}

/**
 * Rebuilds one projection, drawing a progress bar (redrawn in place on a terminal); with `swap`,
 * into shadow tables swapped in at the end.
 */
export const rebuild = (name: string, options: { readonly swap: boolean } = { swap: false }) =>
  Effect.gen(function*() {
    const projections = yield* Projections.Projections
    const tty = process.stdout.isTTY === true
    let last: P.RebuildProgress | undefined
    const owner = (yield* projections.status).find((row) => row.name === name)?.owner ?? null
    if (owner !== null) yield* Console.log(`asking worker ${owner} to hand ${name} over...`)
    yield* projections.rebuild(name, { swap: options.swap }).pipe(
      // a running worker hands over at its next lease renewal; give up rather than wait in silence
      Stream.timeoutFail(
        () => new RebuildBlocked({ projection: name, owner: owner ?? "another worker" }),
        "30 seconds"
      ),
      Stream.runForEach((progress) =>
        Effect.sync(() => {
          last = progress
          if (tty) process.stdout.write(`\r${bar(progress)}`)
          else process.stdout.write(`${bar(progress)}\n`)
        })
      ),
      Effect.onInterrupt(() =>
        Console.error(
          `\nrebuild of ${name} interrupted: ${
            options.swap ? "the live read model is as it was" : "workers carry on from where it got"
          }`
        )
      )
    )
    if (tty) process.stdout.write("\n")
    const replayed = last === undefined
      ? `rebuilt ${name} (no events)`
      : `rebuilt ${name}: ${last.done} events replayed`
    yield* Console.log(options.swap ? `${replayed}, swapped in` : replayed)
  })

/**
 * The process's exit code once `command` ended with `exit`: 1 on a failure; 130 (what a shell
 * reports for Ctrl-C) when a rebuild or a status was interrupted before it finished, so a script
 * does not take it for success; otherwise 0, since a running worker stopped by a signal stops
 * cleanly.
 */
export const exitCode = (command: Command | undefined, exit: Exit.Exit<unknown, unknown>): number =>
  Exit.isSuccess(exit)
    ? 0
    : !Cause.isInterruptedOnly(exit.cause)
    ? 1
    : command === undefined || command._tag === "Run"
    ? 0
    : 130
