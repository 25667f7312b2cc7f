/**
 * Type-level tests, checked by `tsc -p tsconfig.json` and never run: each `@ts-expect-error` must
 * meet an error, and each `Equals` must hold, or the typecheck fails.
 */
import type { EventStore, EventStoreError } from "@chronicle/eventstore"
import type { ContentHash, Enrichment, PipelineError, Validation } from "@chronicle/pipeline"
import { Pipeline, Step } from "@chronicle/pipeline"
import type { Timeout } from "@chronicle/resilience"
import { Retry } from "@chronicle/resilience"
import { Context, Data, Effect, Schedule } from "effect"

type Equals<X, Y> = (<T>() => T extends X ? 1 : 2) extends (<T>() => T extends Y ? 1 : 2) ? true : false

class ParseError extends Data.TaggedError("ParseError")<{}> {}
class StoreError extends Data.TaggedError("StoreError")<{}> {}
class Clock extends Context.Tag("test/Clock")<Clock, { readonly now: number }>() {}
class Store extends Context.Tag("test/Store")<Store, { readonly save: (s: string) => Effect.Effect<void> }>() {}

const parse = Step.make("parse", (text: string): Effect.Effect<number, ParseError> => Effect.succeed(text.length))
const stamp = Step.make("stamp", (n: number) => Effect.map(Clock, (clock) => ({ n, at: clock.now })))
const save = Step.make(
  "save",
  (row: { readonly n: number; readonly at: number }): Effect.Effect<string, StoreError, Store> =>
    Effect.succeed(`${row.n}@${row.at}`)
)
const shout = Step.sync("shout", (s: string) => s.toUpperCase())

// Types flow end to end; errors and requirements are united.
const pipeline = Pipeline.make(parse, stamp, save, shout)
export const pipelineType: Equals<typeof pipeline, Step.Step<string, string, ParseError | StoreError, Clock | Store>> =
  true
export const piped = parse.pipe(Step.andThen(stamp), Step.andThen(save))
export const pipedType: Equals<typeof piped, Step.Step<string, string, ParseError | StoreError, Clock | Store>> = true
export const ran = Pipeline.run(pipeline, "hello")
export const runType: Equals<
  typeof ran,
  Effect.Effect<Pipeline.Result<string>, PipelineError.StepFailed<ParseError | StoreError>, Clock | Store>
> = true

// A pipeline that cannot fail has no error at all.
export const neverFails = Pipeline.run(Pipeline.make(shout, Step.sync("length", (s: string) => s.length)), "a")
export const neverFailsType: Equals<typeof neverFails, Effect.Effect<Pipeline.Result<number>>> = true

// A step whose input does not accept the previous output does not compile, in every form.
// @ts-expect-error string is not a number
export const badPipe = parse.pipe(Step.andThen(shout))
// @ts-expect-error string is not a number
export const badDataFirst = Step.andThen(parse, shout)
// @ts-expect-error stamp gives { n, at } but shout wants a string
export const badMake = Pipeline.make(parse, stamp, shout)
// @ts-expect-error the third step wants { n, at } but gets a number
export const badMakeMiddle = Pipeline.make(parse, Step.sync("id", (n: number) => n), save)
// @ts-expect-error the pipeline takes a string
export const badInput = Pipeline.run(pipeline, 42)

// A step accepting a wider input than the previous output fits.
const describeAny = Step.sync("describe", (u: unknown) => typeof u)
export const widening: Equals<typeof describeAny extends Step.Step<number, string> ? true : false, true> = true
export const widened = Pipeline.make(parse, describeAny)

// `when` needs a step that keeps the type; `if` unites its branches' outputs.
// @ts-expect-error parse changes string into number, so it cannot be skipped
export const badWhen = Step.when(parse, (s: string) => s.length > 0)
export const chosen = Step.if((n: number) => n > 0, {
  onTrue: Step.sync("pos", (n: number) => `+${n}`),
  onFalse: Step.sync("neg", (n: number) => n)
})
export const ifType: Equals<typeof chosen, Step.Step<number, string | number>> = true

// Parallel branches: tuples and records keep their shape; inputs are intersected.
export const both = Step.all({
  a: Step.sync("a", (x: { readonly a: number }) => x.a),
  b: Step.sync("b", (x: { readonly b: string }) => x.b)
})
export const allType: Equals<
  typeof both,
  Step.Step<{ readonly a: number } & { readonly b: string }, { a: number; b: string }>
> = true
export const tuple = Step.all([parse, shout])
export const tupleType: Equals<typeof tuple, Step.Step<string, [number, string], ParseError>> = true
export const merged = Step.merge(
  Step.sync("x", (n: number) => ({ x: n })),
  Step.sync("y", (n: number) => ({ y: `${n}` }))
)
export const mergeType: Equals<Step.Output<typeof merged>, { x: number } & { y: string }> = true

// Tap and bestEffort keep the data's type; bestEffort removes the error.
export const logged = Step.tap("log", (n: number) => Effect.succeed(`logged ${n}`))
export const tapType: Equals<typeof logged, Step.Step<number, number>> = true
export const safe = Step.bestEffort(Step.tap("mail", (_: string) => Effect.fail(new StoreError())))
export const bestEffortType: Equals<typeof safe, Step.Step<string, string>> = true
// @ts-expect-error bestEffort passes its input on, so the step must keep the type
export const badBestEffort = Step.bestEffort(parse)

// Retry keeps the step's type and takes resilience policies; a policy must accept the step's errors.
export const retried = parse.pipe(Step.retry(Retry.schedule({ times: 3 })))
export const retryType: Equals<typeof retried, Step.Step<string, number, ParseError>> = true
export const retriedWhile = Step.retry(parse, { schedule: Schedule.recurs(2), while: (e) => e._tag === "ParseError" })
export const retryWhileType: Equals<typeof retriedWhile, Step.Step<string, number, ParseError>> = true
const onlyStoreErrors: Schedule.Schedule<number, StoreError> = Schedule.recurs(1)
// @ts-expect-error the policy only takes StoreError, but parse fails with ParseError
export const badRetry = Step.retry(parse, onlyStoreErrors)
// @ts-expect-error the policy only takes StoreError, but parse fails with ParseError
export const badRetryPiped = parse.pipe(Step.retry(onlyStoreErrors))

// Timeout adds resilience's TimedOut to the errors.
export const limited = parse.pipe(Step.timeout("1 second"))
export const timeoutType: Equals<typeof limited, Step.Step<string, number, ParseError | Timeout.TimedOut>> = true

// Built-in steps.
declare const validate: Step.Step<unknown, { readonly id: string }, Validation.ValidationFailed>
declare const enrich: Step.Step<
  { readonly id: string },
  Enrichment.Enriched<{ readonly id: string }>,
  Enrichment.EnrichmentError,
  EventStore.EventStore
>
export const validated = Pipeline.make(validate, enrich)
export const builtInType: Equals<
  Step.Error<typeof validated>,
  | Validation.ValidationFailed
  | ContentHash.NotCanonicalJson
  | EventStoreError.StreamDeleted
  | EventStoreError.EventStoreError
> = true
// @ts-expect-error enrichment wraps the data: its output has no top-level id
export const badBuiltIn = Pipeline.make(validate, enrich, enrich)
