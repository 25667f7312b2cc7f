// The compiled decoder against Schema's own: for random schemas of the shapes it compiles and
// random inputs, valid or not, it accepts exactly what Schema accepts and gives the same value,
// key order included.
import { Serializer } from "@chronicle/eventstore"
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Effect, Either, FastCheck as fc, Schema } from "effect"
import { compile, compileByTag, Unmatched } from "../src/internal/compiledDecoder.js"

type AnySchema = Schema.Schema.AnyNoContext

const leaves: ReadonlyArray<AnySchema> = [
  Schema.String,
  Schema.Number,
  Schema.Boolean,
  Schema.Int,
  Schema.NonEmptyString,
  Schema.Positive,
  Schema.Literal("a", "b"),
  Schema.Literal(1),
  Schema.Null,
  Schema.Undefined,
  Schema.Unknown,
  // a transformation: never compiled, so a struct holding it is not either
  Schema.Date,
  // a fallback turns a refusal into a value: never compiled either
  Schema.Literal("x", "y").annotations({ decodingFallback: () => Either.right("x" as const) })
]

const schemas: fc.Arbitrary<AnySchema> = fc.letrec<{ schema: AnySchema }>((tie) => ({
  schema: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(...leaves),
    fc.array(
      fc.tuple(fc.constantFrom("a", "b", "c", "_tag"), tie("schema"), fc.constantFrom("required", "optional", "exact")),
      {
        minLength: 1,
        maxLength: 4
      }
    ).map((fields) =>
      Schema.Struct(Object.fromEntries(fields.map(([name, schema, kind]) => [
        name,
        kind === "required"
          ? schema
          : kind === "optional"
          ? Schema.optional(schema)
          : Schema.optionalWith(schema, { exact: true })
      ])))
    ),
    tie("schema").map((item) => Schema.Array(item)),
    tie("schema").map((item) => Schema.NullOr(item)),
    fc.tuple(tie("schema"), tie("schema")).map(([a, b]) => Schema.Union(a, b))
  )
})).schema

/** A value with every object's keys in order, so that comparing two also compares key order. */
const ordered = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(ordered)
    : typeof value === "object" && value !== null && !(value instanceof Date)
    ? Object.entries(value).map(([k, v]) => [k, ordered(v)])
    : value === undefined
    ? "<undefined>"
    : value

const isObject = (v: unknown): v is object => typeof v === "object" && v !== null && !Array.isArray(v)

/** Every object in it is plain, as JSON.parse makes them. */
const plainAll = (value: unknown): boolean =>
  Array.isArray(value)
    ? value.every(plainAll)
    : typeof value === "object" && value !== null
    ? [Object.prototype, null].includes(Object.getPrototypeOf(value)) && Object.values(value).every(plainAll)
    : true

/**
 * Inputs for a schema: valid ones, valid ones with an extra key, valid ones on a prototype of their
 * own (left to Schema), and anything at all.
 */
const inputs = (schema: AnySchema): fc.Arbitrary<unknown> => {
  const valid = Arbitrary.make(Schema.encodedSchema(schema))
  return fc.oneof(
    valid,
    valid.map((v) => isObject(v) ? { ...v, extra: 1 } : v),
    valid.map((v) => isObject(v) ? Object.assign(Object.create({ inherited: 1, _tag: "a" }), v) : v),
    fc.jsonValue(),
    fc.anything()
  )
}

describe("the compiled decoder", () => {
  it("accepts what Schema accepts, with the same value, for random schemas and inputs", () => {
    let compiled = 0
    fc.assert(
      fc.property(
        schemas.chain((schema) =>
          fc.tuple(fc.constant(schema), fc.array(inputs(schema), { minLength: 1, maxLength: 10 }))
        ),
        ([schema, values]) => {
          const decoder = compile(schema.ast)
          if (decoder === undefined) return
          compiled++
          const generic = Schema.decodeUnknownEither(schema, { onExcessProperty: "ignore" })
          for (const value of values) {
            const fast = decoder(value)
            const expected = generic(value)
            if (Either.isLeft(expected)) {
              assert.strictEqual(fast, Unmatched, `Schema refused ${JSON.stringify(value)} for ${String(schema)}`)
            } else if (fast !== Unmatched) {
              assert.deepStrictEqual(ordered(fast), ordered(expected.right))
            } else {
              // only an input that is not plain JSON data may be left to Schema
              assert.isFalse(plainAll(value), `Schema accepted ${JSON.stringify(value)} for ${String(schema)}`)
            }
          }
        }
      ),
      { numRuns: 400 }
    )
    // many random schemas compile (about 220 of the 400, a few more or less from run to run):
    // the property says something
    assert.isAbove(compiled, 150)
  })

  it("does not compile what it cannot decode exactly", () => {
    assert.isUndefined(compile(Schema.Struct({ at: Schema.Date }).ast))
    assert.isUndefined(compile(Schema.Struct({}).ast))
    assert.isUndefined(compile(Schema.Record({ key: Schema.String, value: Schema.Number }).ast))
    assert.isUndefined(compile(Schema.Tuple(Schema.String, Schema.Number).ast))
    assert.isUndefined(compile(Schema.Struct({ a: Schema.String }).annotations({ parseOptions: { exact: true } }).ast))
    const fallback = Schema.Literal("a", "b").annotations({ decodingFallback: () => Either.right("a" as const) })
    assert.isUndefined(compile(Schema.Struct({ f: Schema.NullOr(fallback) }).ast))
    assert.isDefined(compile(Schema.Struct({ a: Schema.String, b: Schema.Array(Schema.Int) }).ast))
  })

  it("leaves objects with a prototype of their own to Schema, which picks union members by own keys", () => {
    const A = Schema.Struct({ _tag: Schema.Literal("A"), n: Schema.Number })
    const inherited = Object.assign(Object.create({ _tag: "A" }), { n: 1 })
    assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(Schema.NullOr(A))(inherited)))
    assert.strictEqual(compile(Schema.NullOr(A).ast)?.(inherited), Unmatched)
    const byTag = compileByTag(Schema.Union(A, Schema.Struct({ _tag: Schema.Literal("B") })).ast)
    assert.strictEqual(byTag.get("A")?.(inherited), Unmatched)
    assert.deepStrictEqual(byTag.get("A")?.({ _tag: "A", n: 1 }), { _tag: "A", n: 1 })
  })

  it("dispatches by tag only where one member has the tag and compiles", () => {
    class Moved extends Schema.TaggedClass<Moved>()("Moved", { to: Schema.String }) {}
    const Added = Schema.TaggedStruct("Added", { n: Schema.Int })
    const Dated = Schema.TaggedStruct("Dated", { at: Schema.Date })
    const byTag = compileByTag(Schema.Union(Added, Dated, Moved).ast)
    assert.deepStrictEqual([...byTag.keys()], ["Added"])
    // two members with one tag: Schema tries both, so neither is compiled
    assert.strictEqual(
      compileByTag(Schema.Union(Added, Schema.TaggedStruct("Added", { n: Schema.String })).ast).size,
      0
    )
    // a member without a literal tag could match any input
    assert.strictEqual(compileByTag(Schema.Union(Added, Schema.Struct({ n: Schema.Int })).ast).size, 0)
  })

  it.effect("the serializer decodes through it and the generic decoder alike", () =>
    Effect.gen(function*() {
      class Moved extends Schema.TaggedClass<Moved>()("Moved", { to: Schema.String }) {}
      const Added = Schema.TaggedStruct("Added", { n: Schema.Int, note: Schema.optional(Schema.String) })
      const serializer = Serializer.make(Schema.Union(Added, Moved))
      const recorded = (type: string, data: unknown) => ({
        eventId: "e-1",
        streamId: "S-1",
        streamVersion: 1,
        globalPosition: 1,
        type,
        schemaVersion: 1,
        timestamp: new Date(0),
        correlationId: null,
        causationId: null,
        metadata: {},
        data
      })
      const added = yield* serializer.decode(recorded("Added", { _tag: "Added", n: 2, extra: true }))
      assert.deepStrictEqual(added.data, { _tag: "Added", n: 2 })
      const moved = yield* serializer.decode(recorded("Moved", { _tag: "Moved", to: "x" }))
      assert.instanceOf(moved.data, Moved)
      // an upcaster's class instance is not plain data: Schema decides, and refuses an inherited tag
      const inherited = Object.assign(Object.create({ _tag: "Added" }), { n: 1 })
      assert.strictEqual((yield* Effect.flip(serializer.decode(recorded("Added", inherited))))._tag, "EventDecodeError")
      const refused = yield* Effect.flip(serializer.decode(recorded("Added", { _tag: "Added", n: 1.5 })))
      assert.strictEqual(refused._tag, "EventDecodeError")
      assert.include(refused.reason, "Expected an integer")
    }))
})
