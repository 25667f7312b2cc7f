/**
 * Steps: named, typed transformations that compose into pipelines.
 *
 * A `Step<In, Out, E, R>` turns an `In` into an `Out` with an Effect that can fail with `E` and
 * needs `R`. Every step runs in its own span and records its duration; when it fails, the pipeline
 * fails with a `StepFailed<E>` naming it.
 *
 * @since 0.1.0
 */
import { Timeout } from "@chronicle/resilience"
import { Duration, Effect, Predicate, Schedule } from "effect"
import { dual } from "effect/Function"
import type { Pipeable } from "effect/Pipeable"
import type * as Types from "effect/Types"
import type { Concurrency } from "effect/Types"
import { runLeaf } from "./internal/instrument.js"
import { ExecuteId, type RunState } from "./internal/run.js"
import type { Metadata } from "./Pipeline.js"
import { StepFailed } from "./PipelineError.js"

/**
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("@chronicle/pipeline/Step")

/**
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * A named transformation from `In` to `Out` that can fail with `E` and needs `R`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Step<in In, out Out, out E = never, out R = never> extends Pipeable {
  readonly [TypeId]: {
    readonly _In: Types.Contravariant<In>
    readonly _Out: Types.Covariant<Out>
    readonly _E: Types.Covariant<E>
    readonly _R: Types.Covariant<R>
  }
  /** Names the step in spans, metrics, results and `StepFailed`; a composite joins its parts' names. */
  readonly name: string
  /** Runs the step inside a pipeline run; call `Pipeline.run` rather than this. */
  readonly [ExecuteId]: (input: In, state: RunState) => Effect.Effect<Out, StepFailed<E>, R>
}

/**
 * Any step: every step is assignable to it.
 *
 * @since 0.1.0
 * @category models
 */
export type Any = Step<never, unknown, unknown, unknown>

/** @since 0.1.0 @category type-level */
export type Input<S> = S extends Step<infer In, infer _Out, infer _E, infer _R> ? In : never
/** @since 0.1.0 @category type-level */
export type Output<S> = S extends Step<infer _In, infer Out, infer _E, infer _R> ? Out : never
/** @since 0.1.0 @category type-level */
export type Error<S> = S extends Step<infer _In, infer _Out, infer E, infer _R> ? E : never
/** @since 0.1.0 @category type-level */
export type Context<S> = S extends Step<infer _In, infer _Out, infer _E, infer R> ? R : never

/**
 * Metadata a step adds when it succeeds: fixed, or computed from its output and input.
 *
 * @since 0.1.0
 * @category models
 */
export type MetadataFrom<In, Out> = Metadata | ((output: Out, input: In) => Metadata)

const variance = {
  _In: (_: never) => _,
  _Out: (_: never) => _,
  _E: (_: never) => _,
  _R: (_: never) => _
}

const StepProto = {
  [TypeId]: variance,
  pipe(this: unknown, ...fns: ReadonlyArray<(a: unknown) => unknown>): unknown {
    return fns.reduce((value, f) => f(value), this)
  }
}

/** Builds a step from a name and how it runs within a pipeline run: every combinator uses it. */
const fromExecute = <In, Out, E, R>(
  name: string,
  execute: (input: In, state: RunState) => Effect.Effect<Out, StepFailed<E>, R>
): Step<In, Out, E, R> => {
  const step = Object.create(StepProto)
  step.name = name
  step[ExecuteId] = execute
  return step
}

/**
 * Whether a value is a step.
 *
 * @since 0.1.0
 * @category guards
 */
export const isStep = (u: unknown): u is Any => Predicate.hasProperty(u, TypeId)

/**
 * A step from an effectful function. It runs in a span named after it, its duration is recorded
 * in `Pipeline.stepDuration`, and `options.metadata` is added to the run's metadata on success.
 *
 * @example
 * ```ts
 * const load = Step.make("load", (id: string) => Effect.succeed({ id, title: "Draft" }), {
 *   metadata: (doc) => ({ loaded: doc.id })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <In, Out, E = never, R = never>(
  name: string,
  run: (input: In) => Effect.Effect<Out, E, R>,
  options?: { readonly metadata?: MetadataFrom<In, Out> | undefined }
): Step<In, Out, E, R> => fromExecute(name, runLeaf(name, run, options?.metadata, "scoped"))

/**
 * A step from a pure function that cannot fail. Its span has no children (a pure function opens
 * none), which makes it cheaper than `make`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sync = <In, Out>(
  name: string,
  f: (input: In) => Out,
  options?: { readonly metadata?: MetadataFrom<In, Out> | undefined }
): Step<In, Out> => fromExecute(name, runLeaf(name, (input: In) => Effect.succeed(f(input)), options?.metadata, "leaf"))

/**
 * A step that runs a side effect and passes its input on unchanged: whatever the effect returns
 * is discarded, so it cannot change the data.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tap = <In, E = never, R = never>(
  name: string,
  f: (input: In) => Effect.Effect<unknown, E, R>,
  options?: { readonly metadata?: MetadataFrom<In, In> | undefined }
): Step<In, In, E, R> => make(name, (input: In) => Effect.as(f(input), input), options)

/**
 * Runs `that` on the output of `self`. The output of `self` must be assignable to the input of
 * `that`, or the composition does not compile.
 *
 * @since 0.1.0
 * @category sequencing
 */
export const andThen: {
  <B, C, E2, R2>(that: Step<B, C, E2, R2>): <A, E, R>(self: Step<A, B, E, R>) => Step<A, C, E | E2, R | R2>
  <A, B, E, R, C, E2, R2>(self: Step<A, B, E, R>, that: Step<B, C, E2, R2>): Step<A, C, E | E2, R | R2>
} = dual(
  2,
  <A, B, E, R, C, E2, R2>(self: Step<A, B, E, R>, that: Step<B, C, E2, R2>): Step<A, C, E | E2, R | R2> => {
    const first = self[ExecuteId]
    const second = that[ExecuteId]
    return fromExecute<A, C, E | E2, R | R2>(
      `${self.name} >> ${that.name}`,
      (input: A, state) => Effect.flatMap(first(input, state), (b) => second(b, state))
    )
  }
)

/**
 * Transforms the output of a step with a pure function that also sees the step's input.
 *
 * @since 0.1.0
 * @category mapping
 */
export const map: {
  <A, B, C>(f: (output: B, input: A) => C): <E, R>(self: Step<A, B, E, R>) => Step<A, C, E, R>
  <A, B, E, R, C>(self: Step<A, B, E, R>, f: (output: B, input: A) => C): Step<A, C, E, R>
} = dual(2, <A, B, E, R, C>(self: Step<A, B, E, R>, f: (output: B, input: A) => C): Step<A, C, E, R> => {
  const execute = self[ExecuteId]
  return fromExecute(self.name, (input: A, state) => Effect.map(execute(input, state), (b) => f(b, input)))
})

/**
 * Adds metadata to the run when the step succeeds: fixed, or computed from its output and input.
 *
 * @since 0.1.0
 * @category metadata
 */
export const withMetadata: {
  <A, B>(metadata: MetadataFrom<A, B>): <E, R>(self: Step<A, B, E, R>) => Step<A, B, E, R>
  <A, B, E, R>(self: Step<A, B, E, R>, metadata: MetadataFrom<A, B>): Step<A, B, E, R>
} = dual(2, <A, B, E, R>(self: Step<A, B, E, R>, metadata: MetadataFrom<A, B>): Step<A, B, E, R> => {
  const execute = self[ExecuteId]
  return fromExecute(self.name, (input: A, state) =>
    Effect.map(execute(input, state), (output) => {
      state.addMetadata(typeof metadata === "function" ? metadata(output, input) : metadata)
      return output
    }))
})

/**
 * Runs the step only when the predicate holds for its input; otherwise passes the input on
 * unchanged and records the step as skipped.
 *
 * @since 0.1.0
 * @category conditionals
 */
export const when: {
  <A>(predicate: (input: A) => boolean): <E, R>(self: Step<A, A, E, R>) => Step<A, A, E, R>
  <A, E, R>(self: Step<A, A, E, R>, predicate: (input: A) => boolean): Step<A, A, E, R>
} = dual(2, <A, E, R>(self: Step<A, A, E, R>, predicate: (input: A) => boolean): Step<A, A, E, R> => {
  const execute = self[ExecuteId]
  const name = self.name
  return fromExecute(name, (input: A, state) => {
    if (predicate(input)) return execute(input, state)
    state.trace.push({ _tag: "Skipped", step: name })
    return Effect.succeed(input)
  })
})

const if_ = <A, B, E1, R1, C, E2, R2>(
  predicate: (input: A) => boolean,
  options: { readonly onTrue: Step<A, B, E1, R1>; readonly onFalse: Step<A, C, E2, R2> }
): Step<A, B | C, E1 | E2, R1 | R2> => {
  const onTrue = options.onTrue[ExecuteId]
  const onFalse = options.onFalse[ExecuteId]
  return fromExecute<A, B | C, E1 | E2, R1 | R2>(
    `if(${options.onTrue.name}, ${options.onFalse.name})`,
    (input, state) => predicate(input) ? onTrue(input, state) : onFalse(input, state)
  )
}

export {
  /**
   * Runs `onTrue` when the predicate holds for the input, `onFalse` otherwise.
   *
   * @since 0.1.0
   * @category conditionals
   */
  if_ as if
}

type BranchValues<T> = T extends ReadonlyArray<infer S> ? S : T[keyof T]

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I
  : never

/**
 * The input of parallel branches: a value every branch accepts.
 *
 * @since 0.1.0
 * @category type-level
 */
export type AllInput<T> = [BranchValues<T>] extends [never] ? unknown
  : UnionToIntersection<Input<BranchValues<T>>>

/**
 * The output of parallel branches: a tuple or a record of each branch's output.
 *
 * @since 0.1.0
 * @category type-level
 */
export type AllOutput<T> = { -readonly [K in keyof T]: Output<T[K]> }

/**
 * Parallel branch options: how many branches run at once (all of them by default).
 *
 * @since 0.1.0
 * @category models
 */
export interface AllOptions {
  readonly concurrency?: Concurrency | undefined
}

const runBranches = <In>(
  steps: ReadonlyArray<Any>,
  input: In,
  state: RunState,
  options: AllOptions | undefined
): Effect.Effect<Array<unknown>, StepFailed<unknown>, unknown> =>
  Effect.suspend(() => {
    const children = steps.map(() => state.child())
    return Effect.map(
      Effect.all(
        steps.map((step, i) =>
          (step[ExecuteId] as (input: In, state: RunState) => Effect.Effect<unknown, StepFailed<unknown>, unknown>)(
            input,
            children[i]
          )
        ),
        { concurrency: options?.concurrency ?? "unbounded" }
      ),
      (outputs) => {
        for (const child of children) state.merge(child)
        return outputs
      }
    )
  })

/**
 * Runs branches on the same input concurrently and gathers their outputs into a tuple or a record
 * of the same shape. The first branch to fail fails the step (the others are interrupted); when
 * all succeed, their metadata is merged in branch order.
 *
 * @example
 * ```ts
 * const both = Step.all({ words: countWords, links: findLinks }) // Step<Doc, { words: number; links: Array<string> }>
 * ```
 *
 * @since 0.1.0
 * @category parallel
 */
export const all = <const T extends ReadonlyArray<Any> | Readonly<Record<string, Any>>>(
  branches: T,
  options?: AllOptions
): Step<AllInput<T>, AllOutput<T>, Error<BranchValues<T>>, Context<BranchValues<T>>> => {
  const isTuple = Array.isArray(branches)
  const keys = Object.keys(branches)
  const steps: ReadonlyArray<Any> = isTuple
    ? (branches as ReadonlyArray<Any>)
    : keys.map((key) => (branches as Readonly<Record<string, Any>>)[key])
  const name = `all(${steps.map((step) => step.name).join(", ")})`
  return fromExecute(
    name,
    (input: AllInput<T>, state) =>
      Effect.map(runBranches(steps, input, state, options), (outputs) => {
        if (isTuple) return outputs as AllOutput<T>
        const record: Record<string, unknown> = {}
        for (let i = 0; i < keys.length; i++) record[keys[i]] = outputs[i]
        return record as AllOutput<T>
      }) as Effect.Effect<AllOutput<T>, StepFailed<Error<BranchValues<T>>>, Context<BranchValues<T>>>
  )
}

/**
 * The output of merged branches: the intersection of every branch's output.
 *
 * @since 0.1.0
 * @category type-level
 */
export type MergeOutput<T extends ReadonlyArray<Any>> = UnionToIntersection<Output<T[number]>>

/**
 * Runs branches that each produce an object on the same input concurrently and merges their
 * outputs into one object, later branches winning on a shared key.
 *
 * @example
 * ```ts
 * const enrich = Step.merge(withTimestamp, withVersion, withHash) // Step<Doc, { timestamp } & { version } & { hash }>
 * ```
 *
 * @since 0.1.0
 * @category parallel
 */
export const merge = <const T extends ReadonlyArray<Step<never, object, unknown, unknown>>>(
  ...branches: T
): Step<AllInput<T>, MergeOutput<T>, Error<T[number]>, Context<T[number]>> =>
  fromExecute(`merge(${branches.map((step) => step.name).join(", ")})`, (input: AllInput<T>, state) =>
    Effect.map(
      runBranches(branches, input, state, undefined),
      (outputs) => Object.assign({}, ...outputs) as MergeOutput<T>
    ) as Effect.Effect<MergeOutput<T>, StepFailed<Error<T[number]>>, Context<T[number]>>)

/**
 * How a step is retried: a `Schedule` fed with the step's errors (a `@chronicle/resilience` retry
 * policy is one), optionally only while `while` holds for the error.
 *
 * @since 0.1.0
 * @category models
 */
export type RetryPolicy<E, R> = Schedule.Schedule<unknown, E, R> | {
  readonly schedule: Schedule.Schedule<unknown, E, R>
  readonly while?: ((error: E) => boolean) | undefined
}

/**
 * Retries a step that fails with its own typed error, following a schedule. Each attempt starts
 * from the metadata gathered before the step: a failed attempt leaves nothing behind. The policy
 * must accept every error of the step; in the pipeable form, annotate the `while` parameter.
 *
 * @example
 * ```ts
 * const persist = persistStep.pipe(Step.retry(Schedule.exponential("10 millis").pipe(Schedule.intersect(Schedule.recurs(3)))))
 * ```
 *
 * @since 0.1.0
 * @category resilience
 */
export const retry: {
  <EP, R2>(policy: RetryPolicy<EP, R2>): <A, B, E extends EP, R>(self: Step<A, B, E, R>) => Step<A, B, E, R | R2>
  <A, B, E, R, R2>(self: Step<A, B, E, R>, policy: RetryPolicy<NoInfer<E>, R2>): Step<A, B, E, R | R2>
} = dual(
  2,
  <A, B, E extends EP, R, EP, R2>(self: Step<A, B, E, R>, policy: RetryPolicy<EP, R2>): Step<A, B, E, R | R2> => {
    const execute = self[ExecuteId]
    const schedule = Predicate.hasProperty(policy, "schedule") ? policy.schedule : policy
    const retryWhile = Predicate.hasProperty(policy, "schedule") ? policy.while : undefined
    const errors = Schedule.mapInput(schedule, (failure: StepFailed<E>) => failure.error)
    return fromExecute(self.name, (input: A, state) => {
      const attempt = Effect.suspend(() => {
        const child = state.child()
        return Effect.map(execute(input, child), (output) => {
          state.merge(child)
          return output
        })
      })
      return Effect.retry(
        attempt,
        retryWhile === undefined ? errors : { schedule: errors, while: (failure) => retryWhile(failure.error) }
      )
    })
  }
)

/**
 * Lets a step's failure be recorded without failing the pipeline: on failure the input passes on
 * unchanged, the run's `steps` get a `FailureIgnored` record, and `onFailure` (if any) runs.
 * Defects and interruptions still propagate. This is the seed's notification step.
 *
 * @since 0.1.0
 * @category error handling
 */
export const bestEffort = <A, E, R, R2 = never>(
  self: Step<A, A, E, R>,
  options?: {
    readonly onFailure?: ((failure: StepFailed<E>, input: A) => Effect.Effect<unknown, never, R2>) | undefined
  }
): Step<A, A, never, R | R2> => {
  const execute = self[ExecuteId]
  const onFailure = options?.onFailure
  return fromExecute(self.name, (input: A, state) =>
    Effect.suspend(() => {
      const child = state.child()
      return Effect.matchEffect(execute(input, child), {
        onSuccess: (output) => {
          state.merge(child)
          return Effect.succeed(output)
        },
        onFailure: (failure) => {
          state.trace.push({ _tag: "FailureIgnored", step: failure.step, error: failure.error })
          return onFailure === undefined ? Effect.succeed(input) : Effect.as(onFailure(failure, input), input)
        }
      })
    }))
}

/**
 * Runs an effect when a step fails (to alert, log or notify), then fails with the same error.
 *
 * @since 0.1.0
 * @category error handling
 */
export const tapError: {
  <A, E, R2>(
    f: (failure: StepFailed<E>, input: A) => Effect.Effect<unknown, never, R2>
  ): <B, R>(self: Step<A, B, E, R>) => Step<A, B, E, R | R2>
  <A, B, E, R, R2>(
    self: Step<A, B, E, R>,
    f: (failure: StepFailed<E>, input: A) => Effect.Effect<unknown, never, R2>
  ): Step<A, B, E, R | R2>
} = dual(2, <A, B, E, R, R2>(
  self: Step<A, B, E, R>,
  f: (failure: StepFailed<E>, input: A) => Effect.Effect<unknown, never, R2>
): Step<A, B, E, R | R2> => {
  const execute = self[ExecuteId]
  return fromExecute(
    self.name,
    (input: A, state) => Effect.tapError(execute(input, state), (failure) => f(failure, input))
  )
})

/**
 * Fails a step with `onTimeout()` when it takes longer than `duration`; the step is interrupted
 * and `StepFailed` names it.
 *
 * @since 0.1.0
 * @category resilience
 */
export const timeoutWith: {
  <E2>(
    options: { readonly duration: Duration.DurationInput; readonly onTimeout: (step: string) => E2 }
  ): <A, B, E, R>(self: Step<A, B, E, R>) => Step<A, B, E | E2, R>
  <A, B, E, R, E2>(
    self: Step<A, B, E, R>,
    options: { readonly duration: Duration.DurationInput; readonly onTimeout: (step: string) => E2 }
  ): Step<A, B, E | E2, R>
} = dual(2, <A, B, E, R, E2>(
  self: Step<A, B, E, R>,
  options: { readonly duration: Duration.DurationInput; readonly onTimeout: (step: string) => E2 }
): Step<A, B, E | E2, R> => {
  const execute = self[ExecuteId]
  const name = self.name
  return fromExecute(name, (input: A, state) =>
    Effect.suspend(() => {
      const child = state.child()
      return Effect.timeoutFail(
        Effect.map(execute(input, child), (output) => {
          state.merge(child)
          return output
        }),
        {
          duration: options.duration,
          onTimeout: (): StepFailed<E | E2> =>
            new StepFailed({
              step: name,
              error: options.onTimeout(name),
              metadata: state.snapshotMetadata(),
              steps: state.snapshotTrace()
            })
        }
      )
    }))
})

/**
 * Fails a step with `@chronicle/resilience`'s typed `TimedOut` when it takes longer than
 * `duration`; the step is interrupted and `StepFailed` names it. Put it inside `retry` to retry
 * timeouts.
 *
 * @example
 * ```ts
 * const persist = persistStep.pipe(Step.timeout("2 seconds"), Step.retry(Retry.schedule({ times: 3 })))
 * ```
 *
 * @since 0.1.0
 * @category resilience
 */
export const timeout: {
  (duration: Duration.DurationInput): <A, B, E, R>(self: Step<A, B, E, R>) => Step<A, B, E | Timeout.TimedOut, R>
  <A, B, E, R>(self: Step<A, B, E, R>, duration: Duration.DurationInput): Step<A, B, E | Timeout.TimedOut, R>
} = dual(
  2,
  <A, B, E, R>(self: Step<A, B, E, R>, duration: Duration.DurationInput): Step<A, B, E | Timeout.TimedOut, R> => {
    const durationMillis = Duration.toMillis(duration)
    return timeoutWith(self, {
      duration,
      onTimeout: (step) => new Timeout.TimedOut({ operation: `pipeline step ${step}`, durationMillis })
    })
  }
)
