import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Either, Exit, FiberId } from "effect"
import * as Cli from "../src/Cli.js"

describe("worker command line", () => {
  it("exits 130 when a rebuild or a status is interrupted, 0 when a running worker is stopped", () => {
    const interrupted = Exit.interrupt(FiberId.none)
    const rebuild = Cli.Command.Rebuild({ projection: "documents-view", swap: false })
    assert.strictEqual(Cli.exitCode(rebuild, interrupted), 130)
    assert.strictEqual(Cli.exitCode(Cli.Command.Status(), interrupted), 130)
    assert.strictEqual(Cli.exitCode(Cli.Command.Run(), interrupted), 0)
    assert.strictEqual(Cli.exitCode(rebuild, Exit.void), 0)
    assert.strictEqual(Cli.exitCode(rebuild, Exit.failCause(Cause.fail("boom"))), 1)
    assert.strictEqual(Cli.exitCode(undefined, Exit.failCause(Cause.fail("usage"))), 1)
  })

  it.effect("parses run, status, rebuild and help", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* Cli.parse([]))._tag, "Run")
      assert.strictEqual((yield* Cli.parse(["run"]))._tag, "Run")
      assert.strictEqual((yield* Cli.parse(["status"]))._tag, "Status")
      assert.deepStrictEqual(
        yield* Cli.parse(["rebuild", "documents-search"]),
        Cli.Command.Rebuild({ projection: "documents-search", swap: false })
      )
      assert.deepStrictEqual(
        yield* Cli.parse(["rebuild", "documents-search", "--swap"]),
        Cli.Command.Rebuild({ projection: "documents-search", swap: true })
      )
      assert.deepStrictEqual(
        yield* Cli.parse(["rebuild", "--swap", "documents-view"]),
        Cli.Command.Rebuild({ projection: "documents-view", swap: true })
      )
      assert.strictEqual((yield* Cli.parse(["--help"]))._tag, "Help")
    }))

  it.effect("refuses what it does not understand, with the usage", () =>
    Effect.gen(function*() {
      for (
        const args of [
          ["bogus"],
          ["rebuild"],
          ["rebuild", "a", "b"],
          ["rebuild", "--swap"],
          ["rebuild", "a", "--fast"],
          ["status", "x"],
          ["run", "now"]
        ]
      ) {
        const parsed = yield* Effect.either(Cli.parse(args))
        assert.isTrue(Either.isLeft(parsed), args.join(" "))
        if (Either.isLeft(parsed)) assert.include(parsed.left.message, "usage: worker")
      }
    }))

  it("draws a progress bar", () => {
    const half = Cli.bar({ projection: "p", done: 50, total: 100, ratePerSecond: 10, etaSeconds: 5 }, 10)
    assert.strictEqual(half, "p [#####-----]  50% 50/100 events, 10/s, eta 5s")
    assert.include(Cli.bar({ projection: "p", done: 0, total: 0, ratePerSecond: 0, etaSeconds: 0 }, 4), "[####] 100%")
  })

  it("formats the status table", () => {
    const text = Cli.formatStatus([
      {
        name: "documents-view",
        state: "running",
        checkpoint: 7,
        head: 9,
        lag: 2,
        lastError: null,
        owner: "w1",
        quarantined: 0
      },
      {
        name: "documents-search",
        state: "failed",
        checkpoint: 3,
        head: 9,
        lag: 6,
        lastError: "boom",
        owner: null,
        quarantined: 1
      }
    ])
    const lines = text.split("\n")
    assert.include(lines[0], "checkpoint")
    assert.match(lines[1], /^documents-view\s+running\s+7\s+9\s+2\s+0\s+w1$/)
    assert.include(text, "last error: boom")
  })
})
