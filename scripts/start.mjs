#!/usr/bin/env node
/* global AbortSignal */
// `pnpm start`: installs what is missing, starts the server and the worker together (SQLite by
// default, DATABASE_URL otherwise), prints where the docs are, and stops both cleanly on Ctrl-C.
import { spawn, spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const port = process.env.PORT ?? "3000"
const database = process.env.DATABASE_URL ?? "./data/chronicle.db"
const base = `http://localhost:${port}`
const color = process.stdout.isTTY ? (code, text) => `\x1b[${code}m${text}\x1b[0m` : (_code, text) => text

if (
  !existsSync(join(root, "node_modules", ".modules.yaml")) || !existsSync(join(root, "apps", "server", "node_modules"))
) {
  console.log("installing dependencies (pnpm install)...")
  const installed = spawnSync("npx", ["-y", "pnpm@10.34.8", "install"], { cwd: root, stdio: "inherit" })
  if (installed.status !== 0) {
    console.error("pnpm install failed; see above")
    process.exit(1)
  }
}

const env = { ...process.env, PORT: port, DATABASE_URL: database }
const children = new Map()
let stopping = false

const start = (name, code) => {
  const child = spawn(process.execPath, [
    "--import",
    "tsx",
    "--conditions=@chronicle/source",
    `apps/${name}/src/main.ts`
  ], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"]
  })
  const prefix = color(code, `[${name}]`.padEnd(8))
  const pipe = (stream, out) => {
    let buffered = ""
    stream.on("data", (chunk) => {
      buffered += chunk.toString()
      const lines = buffered.split("\n")
      buffered = lines.pop() ?? ""
      for (const line of lines) out.write(`${prefix} ${line}\n`)
    })
  }
  pipe(child.stdout, process.stdout)
  pipe(child.stderr, process.stderr)
  child.on("exit", (codeOrNull, signal) => {
    children.delete(name)
    if (!stopping) {
      console.error(`${prefix} exited unexpectedly (${signal ?? codeOrNull}); stopping everything`)
      stop(1)
    } else if (children.size === 0) {
      console.log("stopped")
      process.exit(process.exitCode ?? 0)
    }
  })
  children.set(name, child)
}

const stop = (exitCode = 0) => {
  if (stopping) return
  stopping = true
  process.exitCode = exitCode
  if (children.size === 0) process.exit(exitCode)
  console.log("\nstopping the server and the worker (they finish what they are doing)...")
  for (const child of children.values()) child.kill("SIGTERM")
  setTimeout(() => {
    for (const child of children.values()) child.kill("SIGKILL")
    process.exit(exitCode || 1)
  }, 15_000).unref()
}

process.on("SIGINT", () => stop(0))
process.on("SIGTERM", () => stop(0))

console.log(`starting Chronicle on ${database.startsWith("postgres") ? "PostgreSQL" : `SQLite (${database})`}...`)
start("server", "36")
start("worker", "35")

const deadline = Date.now() + 60_000
const waitForServer = async () => {
  while (!stopping && Date.now() < deadline) {
    try {
      const response = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2_000) })
      if (response.status < 500) {
        console.log(`
${color("1", "Chronicle is running")}
  API docs      ${color("4", `${base}/docs`)}
  dashboard     ${base}/dashboard
  OpenAPI       ${base}/openapi.json
  health        ${base}/health      metrics ${base}/metrics

  try it:       pnpm demo        (in another terminal)
  stop:         Ctrl-C
`)
        return
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
  if (!stopping) {
    console.error(`the server did not answer at ${base}/health within a minute; stopping`)
    stop(1)
  }
}
waitForServer()
