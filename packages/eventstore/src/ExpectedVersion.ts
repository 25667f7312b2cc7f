/**
 * What a writer expects of a stream before it appends: optimistic concurrency.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * `Any`: no check. `NoStream`: the stream must not exist yet. `StreamExists`: it must have at least
 * one event. `Exact`: it must hold exactly `version` events.
 *
 * @since 0.1.0
 * @category models
 */
export type ExpectedVersion = Data.TaggedEnum<{
  Any: {}
  NoStream: {}
  StreamExists: {}
  Exact: { readonly version: number }
}>

const ExpectedVersion = Data.taggedEnum<ExpectedVersion>()

/** @since 0.1.0 @category constructors */
export const Any: ExpectedVersion = ExpectedVersion.Any()
/** @since 0.1.0 @category constructors */
export const NoStream: ExpectedVersion = ExpectedVersion.NoStream()
/** @since 0.1.0 @category constructors */
export const StreamExists: ExpectedVersion = ExpectedVersion.StreamExists()
/** @since 0.1.0 @category constructors */
export const exact = (version: number): ExpectedVersion => ExpectedVersion.Exact({ version })

/**
 * Whether a stream currently at `actual` (0 when it has no events) satisfies the expectation.
 *
 * @since 0.1.0
 * @category checks
 */
export const matches = (expected: ExpectedVersion, actual: number): boolean => {
  switch (expected._tag) {
    case "Any":
      return true
    case "NoStream":
      return actual === 0
    case "StreamExists":
      return actual > 0
    case "Exact":
      return actual === expected.version
  }
}

/**
 * A readable form, used in errors.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (expected: ExpectedVersion): string =>
  expected._tag === "Exact" ? `version ${expected.version}` : expected._tag
