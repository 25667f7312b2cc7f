/**
 * A 4-step pipeline against the same four functions called directly: as plain Effects composed
 * with flatMap, and as plain function calls. Each case runs in its own process (with --expose-gc
 * and a warm-up), the cases are interleaved over several rounds, and the table shows medians of
 * rates in operations per second of CPU time.
 *
 *   cd packages/pipeline && npx tsx --conditions=@chronicle/source bench/run.ts [--rounds 3]
 */
import { ContentHash, Pipeline, Step } from "@chronicle/pipeline"
import { Effect, Either } from "effect"
import { execFileSync } from "node:child_process"
import { createRequire } from "node:module"
import * as os from "node:os"
import { fileURLToPath } from "node:url"

// ---------------------------------------------------------------------------------------------
// The work: two sets of four functions, identical in every case.

interface Doc {
  readonly id: string
  readonly title: string
  readonly content: string
  readonly author: string
}
interface EnrichedDoc {
  readonly data: Doc
  readonly timestamp: number
  readonly version: number
  readonly hash: string
}
interface Saved {
  readonly id: string
  readonly version: number
}

const store = new Map<string, EnrichedDoc>()
let notified = 0

const validate = (input: unknown): Doc => {
  const doc = input as Record<string, unknown>
  if (
    typeof doc !== "object" || doc === null || typeof doc.id !== "string" || typeof doc.title !== "string" ||
    typeof doc.content !== "string" || typeof doc.author !== "string"
  ) return { id: "invalid", title: "", content: "", author: "" }
  return { id: doc.id, title: doc.title, content: doc.content, author: doc.author }
}
const enrich = (doc: Doc): EnrichedDoc => ({
  data: doc,
  timestamp: Date.now(),
  version: (store.get(doc.id)?.version ?? 0) + 1,
  hash: Either.getOrElse(ContentHash.hash(doc), () => "")
})
const persist = (doc: EnrichedDoc): Saved => {
  store.set(doc.data.id, doc)
  return { id: doc.data.id, version: doc.version }
}
const notify = (saved: Saved): Saved => {
  notified += saved.version > 0 ? 1 : 0
  return saved
}

const inc = (n: number): number => n + 1
const dbl = (n: number): number => n * 2
const dec = (n: number): number => n - 3
const half = (n: number): number => n / 2

const docs: ReadonlyArray<Doc> = Array.from({ length: 64 }, (_, i) => ({
  id: `doc-${i}`,
  title: `Quarterly report ${i}`,
  content: "Revenue grew in every region; costs fell. ".repeat(3),
  author: `user-${i % 7}`
}))

// ---------------------------------------------------------------------------------------------
// The cases: each runs `n` operations and returns a value so nothing is optimised away.

type Case = (n: number) => Promise<number> | number

const loop = <A>(n: number, op: (i: number) => Effect.Effect<A>, sink: (a: A) => void): Effect.Effect<void> => {
  const go = (i: number): Effect.Effect<void> =>
    i === n ? Effect.void : Effect.flatMap(op(i), (a) => {
      sink(a)
      return go(i + 1)
    })
  return go(0)
}

const syncSteps = <A, B, C, D, E>(
  names: readonly [string, string, string, string],
  f1: (a: A) => B,
  f2: (b: B) => C,
  f3: (c: C) => D,
  f4: (d: D) => E
) => Pipeline.make(Step.sync(names[0], f1), Step.sync(names[1], f2), Step.sync(names[2], f3), Step.sync(names[3], f4))
const effectSteps = <A, B, C, D, E>(
  names: readonly [string, string, string, string],
  f1: (a: A) => B,
  f2: (b: B) => C,
  f3: (c: C) => D,
  f4: (d: D) => E
) =>
  Pipeline.make(
    Step.make(names[0], (a: A) => Effect.sync(() => f1(a))),
    Step.make(names[1], (b: B) => Effect.sync(() => f2(b))),
    Step.make(names[2], (c: C) => Effect.sync(() => f3(c))),
    Step.make(names[3], (d: D) => Effect.sync(() => f4(d)))
  )
const flatMapped = <A, B, C, D, E>(f1: (a: A) => B, f2: (b: B) => C, f3: (c: C) => D, f4: (d: D) => E) => (a: A) =>
  Effect.sync(() => f1(a)).pipe(
    Effect.flatMap((b) => Effect.sync(() => f2(b))),
    Effect.flatMap((c) => Effect.sync(() => f3(c))),
    Effect.flatMap((d) => Effect.sync(() => f4(d)))
  )

const documentNames = ["validate", "enrich", "persist", "notify"] as const
const microNames = ["inc", "dbl", "dec", "half"] as const
const documentEffect = flatMapped(validate, enrich, persist, notify)
const documentMake = effectSteps(documentNames, validate, enrich, persist, notify)
const documentSync = syncSteps(documentNames, validate, enrich, persist, notify)
const microEffect = flatMapped(inc, dbl, dec, half)
const microMake = effectSteps(microNames, inc, dbl, dec, half)
const microSync = syncSteps(microNames, inc, dbl, dec, half)

const untraced = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.withTracerEnabled(self, false)
const traced = <A, E, R>(self: Effect.Effect<A, E, R>) => self

const runLoop = <A>(n: number, op: (i: number) => Effect.Effect<A>, value: (a: A) => number, wrap = traced) => {
  let sum = 0
  return Effect.runPromise(wrap(loop(n, op, (a) => (sum += value(a))))).then(() => sum)
}

const cases: Record<string, { readonly label: string; readonly run: Case }> = {
  "document/plain": {
    label: "document: plain function calls",
    run: (n) => {
      let sum = 0
      for (let i = 0; i < n; i++) sum += notify(persist(enrich(validate(docs[i & 63])))).version
      return sum
    }
  },
  "document/effect": {
    label: "document: Effects composed with flatMap",
    run: (n) => runLoop(n, (i) => documentEffect(docs[i & 63]), (s) => s.version)
  },
  "document/pipeline-make": {
    label: "document: pipeline of Step.make",
    run: (n) => runLoop(n, (i) => Pipeline.run(documentMake, docs[i & 63]), (r) => r.output.version)
  },
  "document/pipeline-sync": {
    label: "document: pipeline of Step.sync",
    run: (n) => runLoop(n, (i) => Pipeline.run(documentSync, docs[i & 63]), (r) => r.output.version)
  },
  "micro/plain": {
    label: "trivial: plain function calls",
    run: (n) => {
      let sum = 0
      for (let i = 0; i < n; i++) sum += half(dec(dbl(inc(i))))
      return sum
    }
  },
  "micro/effect": {
    label: "trivial: Effects composed with flatMap",
    run: (n) => runLoop(n, microEffect, (s) => s)
  },
  "micro/pipeline-make": {
    label: "trivial: pipeline of Step.make",
    run: (n) => runLoop(n, (i) => Pipeline.run(microMake, i), (r) => r.output)
  },
  "micro/pipeline-sync": {
    label: "trivial: pipeline of Step.sync",
    run: (n) => runLoop(n, (i) => Pipeline.run(microSync, i), (r) => r.output)
  },
  "micro/pipeline-untraced": {
    label: "trivial: pipeline of Step.make, tracer off",
    run: (n) => runLoop(n, (i) => Pipeline.run(microMake, i), (r) => r.output, untraced)
  }
}

// ---------------------------------------------------------------------------------------------
// One case in this process: warm up, calibrate a batch to ~100 ms, then time several batches.

const gc = (globalThis as { gc?: () => void }).gc

/**
 * CPU time of this process in milliseconds. The machines are shared and often overloaded: wall
 * time then measures how long the OS kept this process waiting, not the work. Every case is timed
 * the same way; garbage collection (also on helper threads) is counted, as it is real cost.
 */
const cpuMillis = (): number => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

const measure = async (name: string, samples: number): Promise<Array<number>> => {
  const run = cases[name].run
  // One full collection before warming up, none between samples: a forced collection shrinks the
  // young generation, and the next samples of allocation-heavy cases pay for growing it again.
  gc?.()
  let n = 100
  const warmUntil = cpuMillis() + 250
  while (cpuMillis() < warmUntil) {
    const start = cpuMillis()
    await run(n)
    if (cpuMillis() - start < 25) n = Math.min(n * 2, 50_000_000)
  }
  const start = cpuMillis()
  await run(n)
  n = Math.max(100, Math.round((n * 60) / Math.max(1, cpuMillis() - start)))
  const rates: Array<number> = []
  for (let s = 0; s < samples; s++) {
    const t0 = cpuMillis()
    await run(n)
    rates.push((n * 1000) / Math.max(0.001, cpuMillis() - t0))
  }
  store.clear()
  return rates
}

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const arg = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag)
  return i === -1 ? undefined : process.argv[i + 1]
}

const child = arg("--case")
if (child !== undefined) {
  const rates = await measure(child, Number(arg("--samples") ?? "5"))
  process.stdout.write(JSON.stringify({ case: child, rates, notified: notified > 0 }) + "\n")
} else {
  const rounds = Number(arg("--rounds") ?? "3")
  const samples = Number(arg("--samples") ?? "5")
  const only = arg("--only")
  const names = Object.keys(cases).filter((name) => only === undefined || name.startsWith(only))
  const self = fileURLToPath(import.meta.url)
  const require = createRequire(import.meta.url)
  const effectVersion = (require("effect/package.json") as { version: string }).version
  const results = new Map<string, Array<number>>(names.map((name) => [name, []]))
  const perRound = new Map<string, Array<number>>(names.map((name) => [name, []]))
  console.log(
    `node ${process.version}, ${os.cpus().length} x ${
      os.cpus()[0]?.model ?? "cpu"
    }, ${os.platform()} ${os.release()}, effect ${effectVersion}`
  )
  console.log(
    `${rounds} rounds x ${names.length} cases, ${samples} samples each (CPU time), one process per case, --expose-gc`
  )
  for (let round = 0; round < rounds; round++) {
    // Interleave: each round runs every case once, in a rotated order.
    const order = names.map((_, i) => names[(i + round) % names.length])
    for (const name of order) {
      const out = execFileSync(
        process.execPath,
        [
          "--expose-gc",
          "--conditions=@chronicle/source",
          "--import",
          "tsx",
          self,
          "--case",
          name,
          "--samples",
          String(samples)
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }
      )
      const line = out.trim().split("\n").pop() ?? "{}"
      const parsed = JSON.parse(line) as { rates: Array<number> }
      results.get(name)?.push(...parsed.rates)
      perRound.get(name)?.push(median(parsed.rates))
      console.log(
        `  round ${round + 1} ${name.padEnd(24)} ${
          Math.round(median(parsed.rates)).toLocaleString("en-US").padStart(12)
        } ops/s`
      )
    }
  }
  const med = (name: string) => median(results.get(name) ?? [])
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US")
  const spread = (name: string) => {
    const rs = perRound.get(name) ?? []
    return `${fmt(Math.min(...rs))}–${fmt(Math.max(...rs))}`
  }
  const rows = names.map((name) => {
    const [workload] = name.split("/")
    const plain = med(`${workload}/plain`)
    const effect = med(`${workload}/effect`)
    const m = med(name)
    const us = 1e6 / m
    return `| ${cases[name].label} | ${fmt(m)} | ${spread(name)} | ${us.toFixed(2)} µs | ${(plain / m).toFixed(1)}x | ${
      (effect / m).toFixed(2)
    }x |`
  })
  console.log("")
  console.log("| case | median ops/s | per-round medians | per op | vs plain | vs Effect flatMap |")
  console.log("|---|---:|---:|---:|---:|---:|")
  for (const row of rows) console.log(row)
  console.log("")
  for (const name of names.filter((name) => name.includes("/pipeline"))) {
    const base = `${name.split("/")[0]}/effect`
    if (!names.includes(base)) continue
    const perStep = (1e6 / med(name) - 1e6 / med(base)) / 4
    console.log(`${cases[name].label}: ~${perStep.toFixed(2)} µs per step over a bare Effect`)
  }
}
