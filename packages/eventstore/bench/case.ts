// Runs one benchmark case in this process and prints its result as JSON.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const name = process.argv[2]
const dir = mkdtempSync(join(tmpdir(), "chronicle-bench-"))
try {
  const result = name.startsWith("pg-")
    ? await (await import("./pg.js")).cases[name]()
    : await (await import("./sqlite.js")).cases[name](join(dir, "bench.db"))
  process.stdout.write(`${JSON.stringify({ name, ...result })}\n`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
process.exit(0)
