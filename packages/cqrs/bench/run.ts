// `pnpm bench`: each case in its own process (node --expose-gc), interleaved over a few rounds;
// prints medians, the spread and the ratios the issue asks for.
import { execFileSync } from "node:child_process"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"

const rounds = Number(process.env.BENCH_ROUNDS ?? "3")
const only = process.env.BENCH_ONLY
const here = fileURLToPath(new URL("./case.ts", import.meta.url))

const plan = [
  "dispatch/direct",
  "dispatch/bus",
  "dispatch/bus+middleware",
  "dispatch/nest",
  "cycle/direct",
  "cycle/bus",
  "cycle/nest"
].filter((c) => only === undefined || c.includes(only))

const results = new Map<string, Array<number>>()
const settings = new Map<string, string>()
for (let round = 1; round <= rounds; round++) {
  for (const name of plan) {
    const out = execFileSync(process.execPath, [
      "--expose-gc",
      "--import",
      "tsx",
      "--conditions=@chronicle/source",
      here,
      name
    ], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"]
    })
    const line = out.trim().split("\n").at(-1) ?? "{}"
    const parsed = JSON.parse(line) as { opsPerSec: number; settings: string }
    results.set(name, [...(results.get(name) ?? []), parsed.opsPerSec])
    settings.set(name, parsed.settings)
    process.stderr.write(`round ${round} ${name}: ${Math.round(parsed.opsPerSec)}/s\n`)
  }
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
const med = (label: string) => median(results.get(label) ?? [Number.NaN])

console.log(
  `\n@chronicle/cqrs benchmark: node ${process.version}, ${cpus().length} cores (${
    cpus()[0]?.model ?? "?"
  }), ${rounds} rounds, medians (ops/s)`
)
console.log(`| case | median | min–max | settings |\n|---|---:|---:|---|`)
for (const [label, xs] of results) {
  console.log(
    `| ${label} | ${fmt(median(xs))} | ${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))} | ${settings.get(label)} |`
  )
}
const ratio = (a: string, b: string, note: string) => {
  if (!results.has(a) || !results.has(b)) return
  console.log(`| ${a} ÷ ${b} | ${(med(a) / med(b)).toFixed(2)}× | ${note} |`)
}
console.log(`\n| ratio | value | reading |\n|---|---:|---|`)
ratio("dispatch/bus", "dispatch/direct", "goal ≥ 0.5× (bus overhead at most 2× a direct call)")
ratio("dispatch/bus", "dispatch/nest", "goal > 1× (ahead of @nestjs/cqrs)")
ratio("dispatch/nest", "dispatch/direct", "for orientation")
ratio("dispatch/bus+middleware", "dispatch/direct", "with validation and metrics")
ratio("cycle/bus", "cycle/direct", "goal ≥ 0.5×")
ratio("cycle/bus", "cycle/nest", "goal > 1×")
