/**
 * Pipelines: steps in sequence, run with metadata gathered along the way.
 *
 * A pipeline is itself a `Step`, so pipelines nest. `run` gives the output with every step's
 * metadata and a record of each step, or fails with a `StepFailed` that names the failing step.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import { Effect as Fx } from "effect"
import type { Metric, Tracer } from "effect"
import { dual } from "effect/Function"
import * as instrument from "./internal/instrument.js"
import { ExecuteId, RunState } from "./internal/run.js"
import type { StepFailed } from "./PipelineError.js"
import * as Step from "./Step.js"

/**
 * Metadata gathered from the steps of a run: later keys overwrite earlier ones.
 *
 * @since 0.1.0
 * @category models
 */
export type Metadata = Readonly<Record<string, unknown>>

/**
 * What happened to one step of a run: it succeeded (and how long it took), it was skipped by a
 * condition, or it failed and `Step.bestEffort` let the run go on.
 *
 * @since 0.1.0
 * @category models
 */
export type StepRecord =
  | { readonly _tag: "Succeeded"; readonly step: string; readonly durationMillis: number }
  | { readonly _tag: "Skipped"; readonly step: string }
  | { readonly _tag: "FailureIgnored"; readonly step: string; readonly error: unknown }

/**
 * The outcome of a successful run: the last step's output, the metadata of every step, and a
 * record of each step in the order they finished.
 *
 * @since 0.1.0
 * @category models
 */
export interface Result<A> {
  readonly output: A
  readonly metadata: Metadata
  readonly steps: ReadonlyArray<StepRecord>
}

/**
 * How a pipeline whose steps fail with `E` fails: `StepFailed<E>`, or `never` when no step can fail.
 *
 * @since 0.1.0
 * @category models
 */
export type Failure<E> = [E] extends [never] ? never : StepFailed<E>

/**
 * The duration of each step in milliseconds, a histogram tagged with `step` (its name) and
 * `outcome` (`success` or `failure`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const stepDuration: Metric.Metric.Histogram<number> = instrument.stepDuration

/**
 * The duration metric of one step and outcome, to read its state in tests or dashboards.
 *
 * @since 0.1.0
 * @category metrics
 */
export const stepDurationOf: (step: string, outcome: "success" | "failure") => Metric.Metric.Histogram<number> =
  instrument.stepDurationOf

/**
 * Composes steps in sequence: each step's input must accept the previous step's output, or the
 * pipeline does not compile. The errors and requirements of all steps are united.
 *
 * @example
 * ```ts
 * const pipeline = Pipeline.make(validate, enrich, persist, notify)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export function make<A0, A1, E1, R1>(s1: Step.Step<A0, A1, E1, R1>): Step.Step<A0, A1, E1, R1>
export function make<
  A0,
  A1,
  A2,
  E1,
  E2,
  R1,
  R2
>(
  s1: Step.Step<A0, A1, E1, R1>,
  s2: Step.Step<A1, A2, E2, R2>
): Step.Step<A0, A2, E1 | E2, R1 | R2>
export function make<
  A0,
  A1,
  A2,
  A3,
  E1,
  E2,
  E3,
  R1,
  R2,
  R3
>(
  s1: Step.Step<A0, A1, E1, R1>,
  s2: Step.Step<A1, A2, E2, R2>,
  s3: Step.Step<A2, A3, E3, R3>
): Step.Step<A0, A3, E1 | E2 | E3, R1 | R2 | R3>
export function make<
  A0,
  A1,
  A2,
  A3,
  A4,
  E1,
  E2,
  E3,
  E4,
  R1,
  R2,
  R3,
  R4
>(
  s1: Step.Step<A0, A1, E1, R1>,
  s2: Step.Step<A1, A2, E2, R2>,
  s3: Step.Step<A2, A3, E3, R3>,
  s4: Step.Step<A3, A4, E4, R4>
): Step.Step<A0, A4, E1 | E2 | E3 | E4, R1 | R2 | R3 | R4>
export function make<
  A0,
  A1,
  A2,
  A3,
  A4,
  A5,
  E1,
  E2,
  E3,
  E4,
  E5,
  R1,
  R2,
  R3,
  R4,
  R5
>(
  s1: Step.Step<A0, A1, E1, R1>,
  s2: Step.Step<A1, A2, E2, R2>,
  s3: Step.Step<A2, A3, E3, R3>,
  s4: Step.Step<A3, A4, E4, R4>,
  s5: Step.Step<A4, A5, E5, R5>
): Step.Step<A0, A5, E1 | E2 | E3 | E4 | E5, R1 | R2 | R3 | R4 | R5>
export function make<
  A0,
  A1,
  A2,
  A3,
  A4,
  A5,
  A6,
  E1,
  E2,
  E3,
  E4,
  E5,
  E6,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6
>(
  s1: Step.Step<A0, A1, E1, R1>,
  s2: Step.Step<A1, A2, E2, R2>,
  s3: Step.Step<A2, A3, E3, R3>,
  s4: Step.Step<A3, A4, E4, R4>,
  s5: Step.Step<A4, A5, E5, R5>,
  s6: Step.Step<A5, A6, E6, R6>
): Step.Step<A0, A6, E1 | E2 | E3 | E4 | E5 | E6, R1 | R2 | R3 | R4 | R5 | R6>
export function make<
  A0,
  A1,
  A2,
  A3,
  A4,
  A5,
  A6,
  A7,
  E1,
  E2,
  E3,
  E4,
  E5,
  E6,
  E7,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7
>(
  s1: Step.Step<A0, A1, E1, R1>,
  s2: Step.Step<A1, A2, E2, R2>,
  s3: Step.Step<A2, A3, E3, R3>,
  s4: Step.Step<A3, A4, E4, R4>,
  s5: Step.Step<A4, A5, E5, R5>,
  s6: Step.Step<A5, A6, E6, R6>,
  s7: Step.Step<A6, A7, E7, R7>
): Step.Step<A0, A7, E1 | E2 | E3 | E4 | E5 | E6 | E7, R1 | R2 | R3 | R4 | R5 | R6 | R7>
export function make<
  A0,
  A1,
  A2,
  A3,
  A4,
  A5,
  A6,
  A7,
  A8,
  E1,
  E2,
  E3,
  E4,
  E5,
  E6,
  E7,
  E8,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R8
>(
  s1: Step.Step<A0, A1, E1, R1>,
  s2: Step.Step<A1, A2, E2, R2>,
  s3: Step.Step<A2, A3, E3, R3>,
  s4: Step.Step<A3, A4, E4, R4>,
  s5: Step.Step<A4, A5, E5, R5>,
  s6: Step.Step<A5, A6, E6, R6>,
  s7: Step.Step<A6, A7, E7, R7>,
  s8: Step.Step<A7, A8, E8, R8>
): Step.Step<A0, A8, E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8, R1 | R2 | R3 | R4 | R5 | R6 | R7 | R8>
export function make<
  A0,
  A1,
  A2,
  A3,
  A4,
  A5,
  A6,
  A7,
  A8,
  A9,
  E1,
  E2,
  E3,
  E4,
  E5,
  E6,
  E7,
  E8,
  E9,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R8,
  R9
>(
  s1: Step.Step<A0, A1, E1, R1>,
  s2: Step.Step<A1, A2, E2, R2>,
  s3: Step.Step<A2, A3, E3, R3>,
  s4: Step.Step<A3, A4, E4, R4>,
  s5: Step.Step<A4, A5, E5, R5>,
  s6: Step.Step<A5, A6, E6, R6>,
  s7: Step.Step<A6, A7, E7, R7>,
  s8: Step.Step<A7, A8, E8, R8>,
  s9: Step.Step<A8, A9, E9, R9>
): Step.Step<A0, A9, E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8 | E9, R1 | R2 | R3 | R4 | R5 | R6 | R7 | R8 | R9>
export function make<
  A0,
  A1,
  A2,
  A3,
  A4,
  A5,
  A6,
  A7,
  A8,
  A9,
  A10,
  E1,
  E2,
  E3,
  E4,
  E5,
  E6,
  E7,
  E8,
  E9,
  E10,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R8,
  R9,
  R10
>(
  s1: Step.Step<A0, A1, E1, R1>,
  s2: Step.Step<A1, A2, E2, R2>,
  s3: Step.Step<A2, A3, E3, R3>,
  s4: Step.Step<A3, A4, E4, R4>,
  s5: Step.Step<A4, A5, E5, R5>,
  s6: Step.Step<A5, A6, E6, R6>,
  s7: Step.Step<A6, A7, E7, R7>,
  s8: Step.Step<A7, A8, E8, R8>,
  s9: Step.Step<A8, A9, E9, R9>,
  s10: Step.Step<A9, A10, E10, R10>
): Step.Step<
  A0,
  A10,
  E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8 | E9 | E10,
  R1 | R2 | R3 | R4 | R5 | R6 | R7 | R8 | R9 | R10
>
export function make<
  A0,
  A1,
  A2,
  A3,
  A4,
  A5,
  A6,
  A7,
  A8,
  A9,
  A10,
  A11,
  E1,
  E2,
  E3,
  E4,
  E5,
  E6,
  E7,
  E8,
  E9,
  E10,
  E11,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R8,
  R9,
  R10,
  R11
>(
  s1: Step.Step<A0, A1, E1, R1>,
  s2: Step.Step<A1, A2, E2, R2>,
  s3: Step.Step<A2, A3, E3, R3>,
  s4: Step.Step<A3, A4, E4, R4>,
  s5: Step.Step<A4, A5, E5, R5>,
  s6: Step.Step<A5, A6, E6, R6>,
  s7: Step.Step<A6, A7, E7, R7>,
  s8: Step.Step<A7, A8, E8, R8>,
  s9: Step.Step<A8, A9, E9, R9>,
  s10: Step.Step<A9, A10, E10, R10>,
  s11: Step.Step<A10, A11, E11, R11>
): Step.Step<
  A0,
  A11,
  E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8 | E9 | E10 | E11,
  R1 | R2 | R3 | R4 | R5 | R6 | R7 | R8 | R9 | R10 | R11
>
export function make<
  A0,
  A1,
  A2,
  A3,
  A4,
  A5,
  A6,
  A7,
  A8,
  A9,
  A10,
  A11,
  A12,
  E1,
  E2,
  E3,
  E4,
  E5,
  E6,
  E7,
  E8,
  E9,
  E10,
  E11,
  E12,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R8,
  R9,
  R10,
  R11,
  R12
>(
  s1: Step.Step<A0, A1, E1, R1>,
  s2: Step.Step<A1, A2, E2, R2>,
  s3: Step.Step<A2, A3, E3, R3>,
  s4: Step.Step<A3, A4, E4, R4>,
  s5: Step.Step<A4, A5, E5, R5>,
  s6: Step.Step<A5, A6, E6, R6>,
  s7: Step.Step<A6, A7, E7, R7>,
  s8: Step.Step<A7, A8, E8, R8>,
  s9: Step.Step<A8, A9, E9, R9>,
  s10: Step.Step<A9, A10, E10, R10>,
  s11: Step.Step<A10, A11, E11, R11>,
  s12: Step.Step<A11, A12, E12, R12>
): Step.Step<
  A0,
  A12,
  E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8 | E9 | E10 | E11 | E12,
  R1 | R2 | R3 | R4 | R5 | R6 | R7 | R8 | R9 | R10 | R11 | R12
>
export function make(...steps: ReadonlyArray<Step.Any>): Step.Any {
  let pipeline = steps[0]
  for (let i = 1; i < steps.length; i++) {
    pipeline = Step.andThen(
      pipeline as Step.Step<never, unknown, unknown, unknown>,
      steps[i] as Step.Step<unknown, unknown, unknown, unknown>
    )
  }
  return pipeline
}

/**
 * Runs a pipeline (or any step) on an input, in a span named `pipeline.run`.
 *
 * @since 0.1.0
 * @category running
 */
export const run: {
  <A>(input: A): <B, E, R>(self: Step.Step<A, B, E, R>) => Effect.Effect<Result<B>, Failure<E>, R>
  <A, B, E, R>(self: Step.Step<A, B, E, R>, input: A): Effect.Effect<Result<B>, Failure<E>, R>
} = dual(
  2,
  <A, B, E, R>(self: Step.Step<A, B, E, R>, input: A): Effect.Effect<Result<B>, Failure<E>, R> => {
    const execute = self[ExecuteId]
    const spanOptions = {
      attributes: { "pipeline.name": self.name },
      kind: "internal",
      captureStackTrace: false
    } as const
    // A step of a pipeline whose error type is `never` cannot fail, so `Failure<E>` is exact.
    return instrument.withDetachedSpan("pipeline.run", spanOptions, (span: Tracer.AnySpan | undefined) => {
      const state = new RunState(undefined, span)
      return Fx.map(execute(input, state), (output): Result<B> => ({
        output,
        metadata: state.own,
        steps: state.trace
      }))
    }) as Effect.Effect<Result<B>, Failure<E>, R>
  }
)
