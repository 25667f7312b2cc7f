import { Cause, Effect, Metric, MetricBoundaries } from "effect"
import type { Metadata } from "../Pipeline.js"
import { StepFailed } from "../PipelineError.js"
import type { RunState } from "./run.js"

/** @internal */
export const stepDuration: Metric.Metric.Histogram<number> = Metric.histogram(
  "chronicle_pipeline_step_duration",
  MetricBoundaries.exponential({ start: 0.01, factor: 2, count: 28 }),
  "Duration of one pipeline step in milliseconds, by step and outcome"
).pipe(Metric.tagged("time_unit", "milliseconds"))

/** @internal */
export const runLeaf = <In, Out, E, R>(
  name: string,
  run: (input: In) => Effect.Effect<Out, E, R>,
  metadata: Metadata | ((output: Out, input: In) => Metadata) | undefined
): (input: In, state: RunState) => Effect.Effect<Out, StepFailed<E>, R> => {
  const succeeded = stepDuration.pipe(Metric.tagged("step", name), Metric.tagged("outcome", "success"))
  const failed = stepDuration.pipe(Metric.tagged("step", name), Metric.tagged("outcome", "failure"))
  const spanName = `pipeline.step ${name}`
  const spanOptions = { attributes: { "pipeline.step": name }, kind: "internal" } as const
  return (input, state) =>
    Effect.withSpan(
      Effect.clockWith((clock) => {
        const start = clock.unsafeCurrentTimeNanos()
        return Effect.matchCauseEffect(Effect.suspend(() => run(input)), {
          onSuccess: (output) => {
            const durationMillis = Number(clock.unsafeCurrentTimeNanos() - start) / 1_000_000
            if (metadata !== undefined) {
              state.addMetadata(typeof metadata === "function" ? metadata(output, input) : metadata)
            }
            state.trace.push({ _tag: "Succeeded", step: name, durationMillis })
            return Effect.as(Metric.update(succeeded, durationMillis), output)
          },
          onFailure: (cause) => {
            const durationMillis = Number(clock.unsafeCurrentTimeNanos() - start) / 1_000_000
            const failure = Cause.map(cause, (error) =>
              new StepFailed({
                step: name,
                error,
                metadata: state.snapshotMetadata(),
                steps: state.snapshotTrace()
              }))
            return Effect.zipRight(Metric.update(failed, durationMillis), Effect.failCause(failure))
          }
        })
      }),
      spanName,
      spanOptions
    )
}
