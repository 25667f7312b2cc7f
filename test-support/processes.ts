// Runs TypeScript test fixtures as real child processes (crash and multi-process tests of every
// package share it).
import { type ChildProcess, spawn } from "node:child_process"

export interface Child {
  readonly process: ChildProcess
  /** Lines printed so far. */
  readonly lines: Array<string>
  readonly exited: Promise<number | null>
}

export const spawnTs = (script: string, args: ReadonlyArray<string>, cwd: string): Child => {
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@chronicle/source", script, ...args], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"]
  })
  const lines: Array<string> = []
  let pending = ""
  child.stdout?.on("data", (chunk: Buffer) => {
    pending += chunk.toString()
    const parts = pending.split("\n")
    pending = parts.pop() ?? ""
    lines.push(...parts.filter((l) => l.length > 0))
  })
  let stderr = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      if (code !== 0 && code !== null && stderr.length > 0) process.stderr.write(stderr)
      resolve(code)
    })
  )
  return { process: child, lines, exited }
}

export const waitFor = async (check: () => boolean, timeoutMs: number) => {
  const started = Date.now()
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
