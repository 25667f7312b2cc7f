// The Prometheus text format: each series once, histograms with their buckets, sum and count.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, MetricBoundaries } from "effect"
import { render } from "../src/Prometheus.js"

describe("Prometheus", () => {
  it.effect("writes a histogram's +Inf bucket once, equal to its count", () =>
    Effect.gen(function*() {
      const name = `test_histogram_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`
      const histogram = Metric.histogram(name, MetricBoundaries.fromIterable([1, 10]), "a test histogram").pipe(
        Metric.tagged("outcome", "success")
      )
      yield* Metric.update(histogram, 0.5)
      yield* Metric.update(histogram, 5)
      yield* Metric.update(histogram, 50)
      const lines = (yield* render).split("\n").filter((line) => line.startsWith(`${name}_`))
      assert.deepStrictEqual(lines, [
        `${name}_bucket{outcome="success",le="1"} 1`,
        `${name}_bucket{outcome="success",le="10"} 2`,
        `${name}_bucket{outcome="success",le="+Inf"} 3`,
        `${name}_sum{outcome="success"} 55.5`,
        `${name}_count{outcome="success"} 3`
      ])
    }))
})
