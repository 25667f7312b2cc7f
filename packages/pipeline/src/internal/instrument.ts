import type { Fiber } from "effect"
import {
  Cause,
  Chunk,
  Clock,
  Context,
  Effect,
  Exit,
  FiberRef,
  HashMap,
  Metric,
  MetricBoundaries,
  MetricKey,
  MetricLabel,
  Option,
  Tracer
} from "effect"
import type { Metadata } from "../Pipeline.js"
import { StepFailed } from "../PipelineError.js"
import type { RunState } from "./run.js"

const stepDurationKey = MetricKey.histogram(
  "chronicle_pipeline_step_duration",
  MetricBoundaries.exponential({ start: 0.01, factor: 2, count: 28 }),
  "Duration of one pipeline step in milliseconds, by step and outcome"
).pipe(MetricKey.tagged("time_unit", "milliseconds"))

/** @internal */
export const stepDuration: Metric.Metric.Histogram<number> = Metric.fromMetricKey(stepDurationKey)

/**
 * The metric of one step and outcome, with its tags in its key: `Metric.tagged` would look the
 * metric up in the registry on every update, this looks it up once.
 *
 * @internal
 */
export const stepDurationOf = (step: string, outcome: "success" | "failure"): Metric.Metric.Histogram<number> =>
  Metric.fromMetricKey(
    MetricKey.taggedWithLabels(stepDurationKey, [MetricLabel.make("step", step), MetricLabel.make("outcome", outcome)])
  )

/**
 * How a leaf step is traced. `"scoped"`: its span is the parent of every span its effect opens
 * (`Effect.withSpan`). `"leaf"`: for steps whose work is a pure function and so cannot open spans,
 * the span is recorded without becoming the parent, which skips the cost of changing the fiber's
 * context.
 *
 * @internal
 */
export type SpanMode = "scoped" | "leaf"

const parentOf = (span: Tracer.AnySpan | undefined): Option.Option<Tracer.AnySpan> => {
  if (span === undefined) return Option.none()
  if (!Context.get(span.context, Tracer.DisablePropagation)) return Option.some(span)
  return span._tag === "Span" ? parentOf(Option.getOrUndefined(span.parent)) : Option.none()
}

/**
 * Opens a span the way `Effect.makeSpan` does (annotations and links from the fiber), with the
 * given parent (or the fiber's current span), without an extra effect and without making it the
 * fiber's current span: changing the fiber's context is what makes `Effect.withSpan` expensive.
 *
 * @internal
 */
export const openSpan = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  name: string,
  options: Tracer.SpanOptions,
  parent: Tracer.AnySpan | undefined,
  now?: bigint
): Tracer.Span => {
  const links = fiber.getFiberRef(FiberRef.currentTracerSpanLinks)
  const startTime = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
    ? now ?? Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeNanos()
    : BigInt(0)
  const span = fiber.currentTracer.span(
    name,
    parentOf(parent ?? fiber.currentSpan),
    Context.empty(),
    Chunk.isEmpty(links) ? [] : Chunk.toReadonlyArray(links),
    startTime,
    "internal",
    options
  )
  const annotations = fiber.getFiberRef(FiberRef.currentTracerSpanAnnotations)
  if (HashMap.size(annotations) > 0) HashMap.forEach(annotations, (value, key) => span.attribute(key, value))
  if (options.attributes !== undefined) {
    for (const key in options.attributes) span.attribute(key, options.attributes[key])
  }
  return span
}

/** The time to end a span at: zero when the fiber does not time its spans, as Effect does. */
const endTime = (fiber: Fiber.RuntimeFiber<unknown, unknown>, clock: Clock.Clock): bigint =>
  fiber.getFiberRef(FiberRef.currentTracerTimingEnabled) ? clock.unsafeCurrentTimeNanos() : BigInt(0)

/**
 * Runs an effect in a span that is ended however the effect exits, interruption included.
 *
 * @internal
 */
export const withDetachedSpan = <A, E, R>(
  name: string,
  options: Tracer.SpanOptions,
  use: (span: Tracer.Span | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) => {
    if (!fiber.getFiberRef(FiberRef.currentTracerEnabled)) return use(undefined)
    const span = openSpan(fiber, name, options, undefined)
    const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
    return Effect.onExit(use(span), (exit) => Effect.sync(() => span.end(endTime(fiber, clock), exit)))
  })

interface Leaf<In, Out> {
  readonly name: string
  readonly metadata: Metadata | ((output: Out, input: In) => Metadata) | undefined
  readonly succeeded: Metric.Metric.Histogram<number>
  readonly failed: Metric.Metric.Histogram<number>
}

/** One run of a leaf step: what its completion handlers need. */
interface LeafCall<In, Out> {
  readonly leaf: Leaf<In, Out>
  readonly input: In
  readonly state: RunState
  readonly clock: Clock.Clock
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  readonly start: bigint
  readonly span: Tracer.Span | undefined
}

// The handlers are made by these factories rather than written inline: an inline handler is a
// named closure, and transpilers that keep names (tsx, esbuild's keepNames) pay a defineProperty
// for each one on every step.
const onSuccessOf = <In, Out>(call: LeafCall<In, Out>) => (output: Out): Effect.Effect<Out> => {
  const end = call.clock.unsafeCurrentTimeNanos()
  const durationMillis = Number(end - call.start) / 1_000_000
  const { leaf, state } = call
  if (leaf.metadata !== undefined) {
    state.addMetadata(typeof leaf.metadata === "function" ? leaf.metadata(output, call.input) : leaf.metadata)
  }
  state.trace.push({ _tag: "Succeeded", step: leaf.name, durationMillis })
  // Updating the metric directly (labels were read once) saves two effects per step.
  leaf.succeeded.unsafeUpdate(durationMillis, call.labels)
  if (call.span !== undefined) call.span.end(end, Exit.succeed(output))
  return Effect.succeed(output)
}

const onFailureOf =
  <In, Out, E>(call: LeafCall<In, Out>) => (cause: Cause.Cause<E>): Effect.Effect<never, StepFailed<E>> => {
    const end = call.clock.unsafeCurrentTimeNanos()
    const { leaf, state } = call
    leaf.failed.unsafeUpdate(Number(end - call.start) / 1_000_000, call.labels)
    const failure = Cause.map(
      cause,
      (error) =>
        new StepFailed({ step: leaf.name, error, metadata: state.snapshotMetadata(), steps: state.snapshotTrace() })
    )
    if (call.span !== undefined) call.span.end(end, Exit.failCause(failure))
    return Effect.failCause(failure)
  }

/** @internal */
export const runLeaf = <In, Out, E, R>(
  name: string,
  run: (input: In) => Effect.Effect<Out, E, R>,
  metadata: Metadata | ((output: Out, input: In) => Metadata) | undefined,
  spanMode: SpanMode
): (input: In, state: RunState) => Effect.Effect<Out, StepFailed<E>, R> => {
  const leaf: Leaf<In, Out> = {
    name,
    metadata,
    succeeded: stepDurationOf(name, "success"),
    failed: stepDurationOf(name, "failure")
  }
  const spanName = `pipeline.step ${name}`
  const spanOptions: Tracer.SpanOptions = {
    attributes: { "pipeline.step": name },
    kind: "internal",
    captureStackTrace: false
  }
  return (input, state) =>
    Effect.withFiberRuntime<Out, StepFailed<E>, R>((fiber) => {
      const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
      const start = clock.unsafeCurrentTimeNanos()
      const tracing = fiber.getFiberRef(FiberRef.currentTracerEnabled)
      const leafSpan = tracing && spanMode === "leaf"
      const call: LeafCall<In, Out> = {
        leaf,
        input,
        state,
        clock,
        labels: fiber.getFiberRef(FiberRef.currentMetricLabels),
        start,
        span: leafSpan ? openSpan(fiber, spanName, spanOptions, state.span, start) : undefined
      }
      const body = Effect.matchCauseEffect(Effect.suspend(() => run(input)), {
        onSuccess: onSuccessOf(call),
        onFailure: onFailureOf<In, Out, E>(call)
      })
      if (!tracing) return body
      // A pure step cannot stop half-way, so running it uninterruptibly costs nothing and
      // guarantees its span is ended.
      if (leafSpan) return Effect.uninterruptible(body)
      return Effect.withSpan(
        body,
        spanName,
        state.span === undefined ? spanOptions : { ...spanOptions, parent: state.span }
      )
    })
}
