// One benchmark case in its own process: warm up, then time batches of calls and print the median
// calls per second as JSON on the last line. Run by run.ts; see BENCHMARKS.md.
import { CircuitBreaker } from "@chronicle/resilience"
import { circuitBreaker, ConsecutiveBreaker, handleAll } from "cockatiel"
import { Effect } from "effect"
import { performance } from "node:perf_hooks"
import Opossum from "opossum"

type Runner = (calls: number) => Promise<void>

const noopAsync = async (): Promise<void> => {}

// A loop of `calls` sequential calls inside one fiber.
const effectLoop = (call: () => Effect.Effect<void, unknown>) => (calls: number) => {
  let i = 0
  return Effect.runPromise(Effect.whileLoop({
    while: () => i < calls,
    body: call,
    step: () => {
      i++
    }
  }))
}

const makeRunner = async (name: string): Promise<Runner> => {
  switch (name) {
    case "effect-bare":
      return effectLoop(() => Effect.void)
    case "effect-breaker": {
      const breaker = await Effect.runPromise(
        CircuitBreaker.make({ name: "bench", policy: CircuitBreaker.consecutive(5) })
      )
      return effectLoop(() => breaker.execute(Effect.void))
    }
    case "effect-breaker-built-once": {
      // The guarded effect built once and run per call (as Effect.retry or Effect.repeat run it):
      // the breaker still decides on every run.
      const breaker = await Effect.runPromise(
        CircuitBreaker.make({ name: "bench-once", policy: CircuitBreaker.consecutive(5) })
      )
      const guarded = breaker.execute(Effect.void)
      return effectLoop(() => guarded)
    }
    case "effect-breaker-count-window": {
      const breaker = await Effect.runPromise(
        CircuitBreaker.make({ name: "bench-window", policy: CircuitBreaker.countWindow({ size: 100 }) })
      )
      return effectLoop(() => breaker.execute(Effect.void))
    }
    case "effect-breaker-runPromise-per-call": {
      const breaker = await Effect.runPromise(
        CircuitBreaker.make({ name: "bench-promise", policy: CircuitBreaker.consecutive(5) })
      )
      return async (calls) => {
        for (let i = 0; i < calls; i++) await Effect.runPromise(breaker.execute(Effect.void))
      }
    }
    case "effect-bare-runPromise-per-call":
      return async (calls) => {
        for (let i = 0; i < calls; i++) await Effect.runPromise(Effect.void)
      }
    case "promise-bare":
      return async (calls) => {
        for (let i = 0; i < calls; i++) await noopAsync()
      }
    case "cockatiel": {
      const policy = circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) })
      return async (calls) => {
        for (let i = 0; i < calls; i++) await policy.execute(noopAsync)
      }
    }
    case "opossum-defaults": {
      const breaker = new Opossum(noopAsync)
      return async (calls) => {
        for (let i = 0; i < calls; i++) await breaker.fire()
      }
    }
    case "opossum-tuned": {
      const breaker = new Opossum(noopAsync, { timeout: false, rollingPercentilesEnabled: false })
      return async (calls) => {
        for (let i = 0; i < calls; i++) await breaker.fire()
      }
    }
    default:
      throw new Error(`unknown case ${name}`)
  }
}

const gc = (globalThis as { gc?: () => void }).gc

const measure = async (run: Runner, millis: number): Promise<number> => {
  const batch = 20_000
  let calls = 0
  const start = performance.now()
  let elapsed = 0
  while (elapsed < millis) {
    await run(batch)
    calls += batch
    elapsed = performance.now() - start
  }
  return (calls / elapsed) * 1000
}

// Bare and guarded cases alternating sample by sample in one process: their ratio survives load
// changes on a shared machine better than figures taken seconds apart.
const paired = async (samples: number, sampleMillis: number) => {
  const names = ["effect-bare", "effect-breaker", "promise-bare", "cockatiel", "effect-breaker-built-once"] as const
  const runners = await Promise.all(names.map(makeRunner))
  for (const run of runners) await measure(run, 300)
  const results: Array<Array<number>> = names.map(() => [])
  for (let i = 0; i < samples; i++) {
    for (let j = 0; j < runners.length; j++) {
      gc?.()
      results[j].push(await measure(runners[j], sampleMillis))
    }
  }
  const median = (values: Array<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
  const ratios = (a: number, b: number) => results[a].map((value, i) => value / results[b][i])
  console.log(JSON.stringify({
    name: "paired",
    breakerVsEffect: median(ratios(1, 0)),
    cockatielVsPromise: median(ratios(3, 2)),
    breakerVsCockatiel: median(ratios(1, 3)),
    builtOnceVsCockatiel: median(ratios(4, 3)),
    medians: Object.fromEntries(names.map((n, j) => [n, median(results[j])]))
  }))
}

const main = async () => {
  const name = process.argv[2] ?? "effect-bare"
  if (name === "paired") return paired(Number(process.argv[3] ?? 5), Number(process.argv[4] ?? 300))
  const samples = Number(process.argv[3] ?? 5)
  const sampleMillis = Number(process.argv[4] ?? 300)
  const run = await makeRunner(name)
  await measure(run, 500)
  const results: Array<number> = []
  for (let i = 0; i < samples; i++) {
    gc?.()
    results.push(await measure(run, sampleMillis))
  }
  results.sort((a, b) => a - b)
  console.log(JSON.stringify({ name, median: results[Math.floor(results.length / 2)], samples: results }))
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
