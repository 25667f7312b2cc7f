/**
 * Typed failures of a pipeline run.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { Metadata, StepRecord } from "./Pipeline.js"

const describe = (error: unknown): string => {
  if (error instanceof Error) return error.message === "" ? error.name : error.message
  if (typeof error === "object" && error !== null && "_tag" in error) return String(error._tag)
  return String(error)
}

/**
 * A step failed: `step` names it (the seed's `failed_step`), `error` is its own typed error, and
 * `metadata` and `steps` are what the run gathered before it failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class StepFailed<E> extends Data.TaggedError("StepFailed")<{
  readonly step: string
  readonly error: E
  readonly metadata: Metadata
  readonly steps: ReadonlyArray<StepRecord>
}> {
  override get message(): string {
    return `pipeline step "${this.step}" failed: ${describe(this.error)}`
  }
}

/**
 * Whether a value is a `StepFailed`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isStepFailed = (u: unknown): u is StepFailed<unknown> => u instanceof StepFailed
