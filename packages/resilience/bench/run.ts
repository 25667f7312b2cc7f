// Circuit-breaker overhead: a breaker-wrapped no-op Effect beside the bare Effect, cockatiel 4 and
// opossum 10 around an async no-op. Each case runs in its own process (node --expose-gc), the cases
// interleaved over several rounds; each process warms up, then reports the median of its samples.
// Usage: pnpm bench [rounds] [samples] [sampleMillis]
import { execFileSync } from "node:child_process"
import { cpus, loadavg } from "node:os"
import { fileURLToPath } from "node:url"

const rounds = Number(process.argv[2] ?? 3)
const samples = Number(process.argv[3] ?? 3)
const sampleMillis = Number(process.argv[4] ?? 200)

const allCases = [
  "effect-bare",
  "effect-breaker",
  "effect-breaker-built-once",
  "effect-breaker-count-window",
  "promise-bare",
  "cockatiel",
  "opossum-defaults",
  "opossum-tuned",
  "effect-bare-runPromise-per-call",
  "effect-breaker-runPromise-per-call"
] as const
type Case = typeof allCases[number]
// The two runPromise-per-call cases (the cost of entering Effect from promise code) run with BENCH_ALL=1.
const cases: ReadonlyArray<Case> = process.env.BENCH_ALL === "1"
  ? allCases
  : allCases.filter((c) => !c.includes("runPromise"))

const labels: Record<Case, string> = {
  "effect-bare": "Effect.void, bare (in one fiber)",
  "effect-breaker": "Effect.void through CircuitBreaker (consecutive 5)",
  "effect-breaker-built-once": "the same, the guarded effect built once and run per call",
  "effect-breaker-count-window": "Effect.void through CircuitBreaker (count window 100)",
  "promise-bare": "await async no-op, bare",
  "cockatiel": "cockatiel 4 ConsecutiveBreaker(5), await execute",
  "opossum-defaults": "opossum 10 defaults, await fire",
  "opossum-tuned": "opossum 10 { timeout: false, rollingPercentilesEnabled: false }",
  "effect-bare-runPromise-per-call": "Effect.runPromise(Effect.void) per call",
  "effect-breaker-runPromise-per-call": "Effect.runPromise(breaker.execute(Effect.void)) per call"
}

const caseFile = fileURLToPath(new URL("./case.ts", import.meta.url))
const results = new Map<Case, Array<number>>(cases.map((c) => [c, []]))

for (let round = 1; round <= rounds; round++) {
  // rotate the order each round so no case always runs first or last
  const order = cases.map((_, i) => cases[(i + round - 1) % cases.length])
  for (const name of order) {
    const output = execFileSync(
      process.execPath,
      [
        "--expose-gc",
        "--import",
        "tsx",
        "--conditions=@chronicle/source",
        caseFile,
        name,
        `${samples}`,
        `${sampleMillis}`
      ],
      { encoding: "utf8" }
    )
    const lines = output.trim().split("\n")
    const parsed: unknown = JSON.parse(lines[lines.length - 1])
    const median =
      typeof parsed === "object" && parsed !== null && "median" in parsed && typeof parsed.median === "number"
        ? parsed.median
        : Number.NaN
    results.get(name)?.push(median)
    process.stderr.write(`round ${round} ${name}: ${(median / 1e6).toFixed(2)}M calls/s\n`)
  }
}

// One paired process per round: bare and guarded alternating sample by sample (see case.ts).
const paired: Array<
  { breakerVsEffect: number; cockatielVsPromise: number; breakerVsCockatiel: number; builtOnceVsCockatiel: number }
> = []
for (let round = 1; round <= rounds; round++) {
  const output = execFileSync(
    process.execPath,
    [
      "--expose-gc",
      "--import",
      "tsx",
      "--conditions=@chronicle/source",
      caseFile,
      "paired",
      `${samples}`,
      `${sampleMillis}`
    ],
    { encoding: "utf8" }
  )
  const lines = output.trim().split("\n")
  const parsed: unknown = JSON.parse(lines[lines.length - 1])
  if (
    typeof parsed === "object" && parsed !== null && "breakerVsEffect" in parsed &&
    typeof parsed.breakerVsEffect === "number" && "cockatielVsPromise" in parsed &&
    typeof parsed.cockatielVsPromise === "number" && "breakerVsCockatiel" in parsed &&
    typeof parsed.breakerVsCockatiel === "number" && "builtOnceVsCockatiel" in parsed &&
    typeof parsed.builtOnceVsCockatiel === "number"
  ) {
    paired.push({
      breakerVsEffect: parsed.breakerVsEffect,
      cockatielVsPromise: parsed.cockatielVsPromise,
      breakerVsCockatiel: parsed.breakerVsCockatiel,
      builtOnceVsCockatiel: parsed.builtOnceVsCockatiel
    })
  }
  process.stderr.write(`round ${round} paired: ${lines[lines.length - 1]}\n`)
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}
const fmt = (n: number) => `${(n / 1e6).toFixed(2)}M`
const medians = new Map(cases.map((c) => [c, median(results.get(c) ?? [])]))
const ratio = (a: Case, b: Case) =>
  medians.has(a) && medians.has(b) ? ((medians.get(a) ?? 0) / (medians.get(b) ?? 1)).toFixed(2) : "-"

console.log(`\nmachine: ${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), Node ${process.version}`)
console.log(`rounds: ${rounds}, samples per process: ${samples} x ${sampleMillis} ms after a 500 ms warm-up`)
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n`)
console.log("| case | median calls/s | spread (min-max of round medians) | vs its bare baseline | vs cockatiel |")
console.log("|---|---:|---:|---:|---:|")
const baselineOf = (c: Case): Case =>
  c.startsWith("effect-breaker-runPromise") ?
    "effect-bare-runPromise-per-call" :
    c.startsWith("effect") && !c.includes("runPromise")
    ? "effect-bare"
    : "promise-bare"
for (const c of cases) {
  const values = results.get(c) ?? []
  console.log(
    `| ${labels[c]} | ${fmt(medians.get(c) ?? 0)} | ${fmt(Math.min(...values))}-${fmt(Math.max(...values))} | ${
      ratio(c, baselineOf(c))
    } | ${ratio(c, "cockatiel")} |`
  )
}

const pairedMedian = (
  key: "breakerVsEffect" | "cockatielVsPromise" | "breakerVsCockatiel" | "builtOnceVsCockatiel"
) => median(paired.map((p) => p[key])).toFixed(2)
console.log("\nPaired in one process (median ratio of alternating samples over the rounds):")
console.log(`- breaker / bare Effect: ${pairedMedian("breakerVsEffect")}`)
console.log(`- cockatiel / bare async no-op: ${pairedMedian("cockatielVsPromise")}`)
console.log(`- breaker / cockatiel: ${pairedMedian("breakerVsCockatiel")}`)
console.log(`- breaker, guarded effect built once / cockatiel: ${pairedMedian("builtOnceVsCockatiel")}`)
