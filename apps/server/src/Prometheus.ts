/**
 * Renders Effect's metric registry in the Prometheus text exposition format (version 0.0.4).
 */
import { Effect, Metric, Option } from "effect"
import type { MetricPair } from "effect"
import * as MetricState from "effect/MetricState"

const sanitize = (name: string): string => name.replace(/[^a-zA-Z0-9_:]/g, "_")
const escapeLabel = (value: string): string => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")
const labels = (
  tags: ReadonlyArray<{ readonly key: string; readonly value: string }>,
  extra: Record<string, string> = {}
) => {
  const all = [...tags.map((t) => [sanitize(t.key), t.value] as const), ...Object.entries(extra)]
  return all.length === 0 ? "" : `{${all.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`
}
const number = (value: number | bigint): string =>
  typeof value === "bigint"
    ? value.toString()
    : Number.isFinite(value)
    ? String(value)
    : value > 0
    ? "+Inf"
    : value < 0
    ? "-Inf"
    : "NaN"

/** The text of every metric in the registry. */
export const render: Effect.Effect<string> = Effect.map(Metric.snapshot, (pairs) => format(pairs))

export const format = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, { type: string; help: string; lines: Array<string> }>()
  const family = (name: string, type: string, help: Option.Option<string>) => {
    let found = families.get(name)
    if (found === undefined) {
      found = { type, help: Option.getOrElse(help, () => name), lines: [] }
      families.set(name, found)
    }
    return found.lines
  }
  for (const pair of pairs) {
    const name = sanitize(pair.metricKey.name)
    const tags = pair.metricKey.tags
    const state = pair.metricState
    const help = pair.metricKey.description
    if (MetricState.isCounterState(state)) {
      family(name, "counter", help).push(`${name}${labels(tags)} ${number(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      family(name, "gauge", help).push(`${name}${labels(tags)} ${number(state.value)}`)
    } else if (MetricState.isHistogramState(state)) {
      const lines = family(name, "histogram", help)
      // Effect's buckets end with +Inf already: written once, from the count, below
      for (const [bound, count] of state.buckets) {
        if (Number.isFinite(bound)) lines.push(`${name}_bucket${labels(tags, { le: number(bound) })} ${count}`)
      }
      lines.push(`${name}_bucket${labels(tags, { le: "+Inf" })} ${state.count}`)
      lines.push(`${name}_sum${labels(tags)} ${number(state.sum)}`)
      lines.push(`${name}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isFrequencyState(state)) {
      const lines = family(name, "counter", help)
      for (const [key, count] of state.occurrences) lines.push(`${name}${labels(tags, { key })} ${count}`)
    } else if (MetricState.isSummaryState(state)) {
      const lines = family(name, "summary", help)
      for (const [quantile, value] of state.quantiles) {
        lines.push(
          `${name}${labels(tags, { quantile: String(quantile) })} ${
            Option.match(value, { onNone: () => "NaN", onSome: number })
          }`
        )
      }
      lines.push(`${name}_sum${labels(tags)} ${number(state.sum)}`)
      lines.push(`${name}_count${labels(tags)} ${state.count}`)
    }
  }
  const out: Array<string> = []
  for (const [name, f] of Array.from(families.entries()).sort(([a], [b]) => a.localeCompare(b))) {
    out.push(`# HELP ${name} ${f.help.replace(/\n/g, " ")}`, `# TYPE ${name} ${f.type}`, ...f.lines)
  }
  return out.join("\n") + "\n"
}
