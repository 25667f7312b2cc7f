/**
 * The notification step: tells someone what happened, and never fails the pipeline.
 *
 * @since 0.1.0
 */
import type { PubSub } from "effect"
import { Effect } from "effect"
import { dual } from "effect/Function"
import type { StepFailed } from "./PipelineError.js"
import * as Step from "./Step.js"

const logIgnored = (failure: StepFailed<unknown>): Effect.Effect<void> =>
  Effect.logWarning("pipeline notification failed; the pipeline goes on").pipe(
    Effect.annotateLogs({ "pipeline.step": failure.step, error: failure.message })
  )

/**
 * A step that sends a notification about its input and passes the input on unchanged. When the
 * notification fails, the failure is recorded in the run's `steps` (as `FailureIgnored`) and
 * logged as a warning (or handed to `onFailure`), and the pipeline goes on. On success it adds
 * `{ notified: true }` to the metadata. Its default name is `notify`.
 *
 * @example
 * ```ts
 * const notify = Notification.make((saved: Persistence.Appended<Doc>) => Console.log(`saved ${saved.append.streamId}`))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, E = never, R = never, R2 = never>(
  notify: (input: A) => Effect.Effect<unknown, E, R>,
  options?: {
    readonly name?: string | undefined
    readonly onFailure?: ((failure: StepFailed<E>, input: A) => Effect.Effect<unknown, never, R2>) | undefined
  }
): Step.Step<A, A, never, R | R2> =>
  Step.bestEffort(Step.tap(options?.name ?? "notify", notify, { metadata: { notified: true } }), {
    onFailure: options?.onFailure ?? logIgnored
  })

/**
 * A notification step that publishes a message made from its input to a `PubSub`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toPubSub = <A, M>(
  pubsub: PubSub.PubSub<M>,
  message: (input: A) => M,
  options?: { readonly name?: string | undefined }
): Step.Step<A, A> => make((input: A) => pubsub.publish(message(input)), options)

/**
 * Sends a notification when a pipeline (or any step) fails, then fails with the same
 * `StepFailed`. A failure of the notification itself is logged and never hides the original one.
 *
 * @since 0.1.0
 * @category combinators
 */
export const onFailure: {
  <A, E, E2, R2>(
    notify: (failure: StepFailed<E>, input: A) => Effect.Effect<unknown, E2, R2>
  ): <B, R>(self: Step.Step<A, B, E, R>) => Step.Step<A, B, E, R | R2>
  <A, B, E, R, E2, R2>(
    self: Step.Step<A, B, E, R>,
    notify: (failure: StepFailed<E>, input: A) => Effect.Effect<unknown, E2, R2>
  ): Step.Step<A, B, E, R | R2>
} = dual(2, <A, B, E, R, E2, R2>(
  self: Step.Step<A, B, E, R>,
  notify: (failure: StepFailed<E>, input: A) => Effect.Effect<unknown, E2, R2>
): Step.Step<A, B, E, R | R2> =>
  Step.tapError(
    self,
    (failure: StepFailed<E>, input: A) =>
      Effect.catchAllCause(notify(failure, input), (cause) =>
        Effect.logWarning("pipeline failure notification failed", cause).pipe(
          Effect.annotateLogs({ "pipeline.step": failure.step })
        ))
  ))
