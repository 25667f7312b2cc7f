/**
 * The mutable state of one pipeline run. It never leaves the run: a pipeline's caller sees frozen
 * copies in `Pipeline.Result` and `StepFailed`.
 */
import type { Tracer } from "effect"
import type { Metadata, StepRecord } from "../Pipeline.js"

/** @internal */
export class RunState {
  readonly own: Record<string, unknown> = {}
  readonly trace: Array<StepRecord> = []
  /** The run's span: the parent of every step's span, without being the fiber's current span. */
  readonly span: Tracer.AnySpan | undefined

  constructor(readonly parent: RunState | undefined, span?: Tracer.AnySpan) {
    this.span = parent === undefined ? span : parent.span
  }

  /** Adds a step's metadata; a later step's key overwrites an earlier one, as in the seed. */
  addMetadata(metadata: Metadata): void {
    for (const key in metadata) this.own[key] = metadata[key]
  }

  /** All metadata visible from this state: the parents' first, then this state's own. */
  snapshotMetadata(): Metadata {
    if (this.parent === undefined) return { ...this.own }
    return { ...this.parent.snapshotMetadata(), ...this.own }
  }

  snapshotTrace(): ReadonlyArray<StepRecord> {
    if (this.parent === undefined) return this.trace.slice()
    return [...this.parent.snapshotTrace(), ...this.trace]
  }

  /** A state for a branch or an attempt: it sees this state's metadata and can be merged back. */
  child(): RunState {
    return new RunState(this)
  }

  /** Keeps what a successful branch or attempt gathered. */
  merge(child: RunState): void {
    for (const key in child.own) this.own[key] = child.own[key]
    for (const record of child.trace) this.trace.push(record)
  }
}

/** The property under which a step keeps how it runs within a pipeline run. */
export const ExecuteId: unique symbol = Symbol.for("@chronicle/pipeline/Step/execute")
