/**
 * The validation step: decodes unknown input with a Schema and reports every invalid field.
 *
 * @since 0.1.0
 */
import type { ParseResult as ParseResultTypes } from "effect"
import { Effect, ParseResult, Schema } from "effect"
import * as Step from "./Step.js"

/**
 * One invalid field: where it is (`[]` for the input itself) and what is wrong with it.
 *
 * @since 0.1.0
 * @category models
 */
export const FieldIssue = Schema.Struct({
  path: Schema.Array(Schema.Union(Schema.String, Schema.Number)),
  message: Schema.String
})

/** @since 0.1.0 @category models */
export type FieldIssue = typeof FieldIssue.Type

/**
 * The input did not match the schema. `issues` lists every invalid field, not only the first.
 *
 * @since 0.1.0
 * @category errors
 */
export class ValidationFailed extends Schema.TaggedError<ValidationFailed>()("ValidationFailed", {
  issues: Schema.Array(FieldIssue)
}) {
  override get message(): string {
    const fields = this.issues.map((issue) =>
      `${issue.path.length === 0 ? "input" : issue.path.join(".")}: ${issue.message}`
    )
    return `validation failed (${this.issues.length} issue${this.issues.length === 1 ? "" : "s"}): ${fields.join("; ")}`
  }
}

/**
 * Every issue of a parse error, one per invalid field.
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromParseError = (error: ParseResultTypes.ParseError): ValidationFailed =>
  new ValidationFailed({
    issues: ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
      path: issue.path.map((key) => typeof key === "symbol" ? String(key) : key),
      message: issue.message
    }))
  })

/**
 * A step that decodes its input with a schema, collecting every error (`{ errors: "all" }`), and
 * adds `{ validated: true }` to the metadata. Its default name is `validate`.
 *
 * @example
 * ```ts
 * const validate = Validation.schema(Schema.Struct({ id: Schema.NonEmptyString, content: Schema.String }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const schema = <A, I, R>(
  schema: Schema.Schema<A, I, R>,
  options?: {
    readonly name?: string | undefined
    readonly onExcessProperty?: "ignore" | "error" | "preserve" | undefined
  }
): Step.Step<unknown, A, ValidationFailed, R> => {
  const decode = Schema.decodeUnknown(schema, {
    errors: "all",
    onExcessProperty: options?.onExcessProperty ?? "ignore"
  })
  return Step.make(
    options?.name ?? "validate",
    (input: unknown) => Effect.mapError(decode(input), fromParseError),
    { metadata: { validated: true } }
  )
}
