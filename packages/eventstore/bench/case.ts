// Runs one benchmark case in this process. A SQLite case prints its result as JSON; a PostgreSQL
// case sets its side up, says it is ready, and then times the blocks `run.ts` asks for.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const name = process.argv[2]

if (name.startsWith("pg-")) {
  const side = await (await import("./pg.js")).cases[name]()
  const send = (message: unknown) => new Promise<void>((resolve) => process.send!(message, () => resolve()))
  process.on("message", async (message: { readonly appends: number; readonly block: number } | "done") => {
    if (message === "done") {
      await side.close()
      process.exit(0)
    }
    await send(await side.block(message.appends, message.block))
  })
  await send({ ready: true, settings: side.settings })
} else {
  const dir = mkdtempSync(join(tmpdir(), "chronicle-bench-"))
  try {
    const result = await (await import("./sqlite.js")).cases[name](join(dir, "bench.db"))
    process.stdout.write(`${JSON.stringify({ name, ...result })}\n`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  process.exit(0)
}
