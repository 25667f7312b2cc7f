import { ContentHash } from "@chronicle/pipeline"
import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

const right = <A, E>(either: Either.Either<A, E>): A =>
  Either.isRight(either) ? either.right : assert.fail(`expected a right, got ${String(either.left)}`)

const left = <A, E>(either: Either.Either<A, E>): E =>
  Either.isLeft(either) ? either.left : assert.fail(`expected a left, got ${String(either.right)}`)

/** Structural JSON equality: key order does not matter, `0` and `-0` are the same JSON number. */
const jsonEqual = (a: Json, b: Json): boolean => {
  if (a === b) return true
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((item, i) => jsonEqual(item, b[i]))
  }
  const ra = a as { readonly [key: string]: Json }
  const rb = b as { readonly [key: string]: Json }
  const ka = Object.keys(ra)
  if (ka.length !== Object.keys(rb).length) return false
  return ka.every((key) => Object.prototype.hasOwnProperty.call(rb, key) && jsonEqual(ra[key], rb[key]))
}

/** A copy of a JSON value with every object's keys in a different order, chosen by `seed`. */
const shuffleKeys = (value: Json, seed: number): Json => {
  let state = seed >>> 0
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state
  }
  const go = (v: Json): Json => {
    if (v === null || typeof v !== "object") return v
    if (Array.isArray(v)) return v.map(go)
    const record = v as { readonly [key: string]: Json }
    const keys = Object.keys(record)
    for (let i = keys.length - 1; i > 0; i--) {
      const j = next() % (i + 1)
      const tmp = keys[i]
      keys[i] = keys[j]
      keys[j] = tmp
    }
    return Object.fromEntries(keys.map((key) => [key, go(record[key])]))
  }
  return go(value)
}

/** Every position in a JSON value, as a path of keys and indices. */
const positions = (value: Json, path: ReadonlyArray<string | number> = []): Array<ReadonlyArray<string | number>> => {
  const here = [path]
  if (value === null || typeof value !== "object") return here
  if (Array.isArray(value)) return here.concat(...value.map((item, i) => positions(item, [...path, i])))
  const record = value as { readonly [key: string]: Json }
  return here.concat(...Object.keys(record).map((key) => positions(record[key], [...path, key])))
}

const replaceAt = (value: Json, path: ReadonlyArray<string | number>, replacement: Json): Json => {
  if (path.length === 0) return replacement
  const [head, ...rest] = path
  if (Array.isArray(value)) return value.map((item, i) => i === head ? replaceAt(item, rest, replacement) : item)
  const record = value as { readonly [key: string]: Json }
  return Object.fromEntries(
    Object.keys(record).map((key) => [key, key === head ? replaceAt(record[key], rest, replacement) : record[key]])
  )
}

const json: fc.Arbitrary<Json> = fc.jsonValue() as fc.Arbitrary<Json>
const leaf: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(0, 1, -1, "", "0", false, true, null),
  fc.string(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.dictionary(fc.string(), fc.integer(), { minKeys: 1, maxKeys: 3 })
)
const whitespace = fc.string({ unit: fc.constantFrom(" ", "\t", "\n", "\r"), minLength: 1, maxLength: 10 })

describe("ContentHash", () => {
  it("canonical JSON sorts keys at every level and has no whitespace", () => {
    const encoded = right(ContentHash.canonicalJson({ b: [{ z: 1, y: "two" }, null], a: true, c: { e: 1.5, d: -2 } }))
    assert.strictEqual(encoded, "{\"a\":true,\"b\":[{\"y\":\"two\",\"z\":1},null],\"c\":{\"d\":-2,\"e\":1.5}}")
  })

  it("sorts keys by UTF-16 code units, as RFC 8785 does", () => {
    assert.strictEqual(
      right(ContentHash.canonicalJson({ "é": 1, "z": 2, "Z": 3, "10": 4, "9": 5 })),
      "{\"10\":4,\"9\":5,\"Z\":3,\"z\":2,\"é\":1}"
    )
  })

  it("keeps falsy and empty values", () => {
    const encoded = right(ContentHash.canonicalJson({ a: 0, b: "", c: false, d: null, e: [], f: {} }))
    assert.strictEqual(encoded, "{\"a\":0,\"b\":\"\",\"c\":false,\"d\":null,\"e\":[],\"f\":{}}")
  })

  it("leaves out undefined object fields and encodes dates as ISO strings", () => {
    const encoded = right(ContentHash.canonicalJson({ at: new Date(Date.UTC(2024, 0, 2)), missing: undefined }))
    assert.strictEqual(encoded, "{\"at\":\"2024-01-02T00:00:00.000Z\"}")
  })

  it("hash is the SHA-256 hex of the canonical encoding", () => {
    assert.strictEqual(
      ContentHash.sha256Hex("abc"),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert.strictEqual(right(ContentHash.hash({ b: 2, a: 1 })), ContentHash.sha256Hex("{\"a\":1,\"b\":2}"))
  })

  it("values without a JSON encoding are typed failures that say where they are", () => {
    const cyclic: Record<string, unknown> = { name: "loop" }
    cyclic.self = cyclic
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [{ n: Number.NaN }, "$.n"],
      [{ list: [1, Infinity] }, "$.list[1]"],
      [{ big: 1n }, "$.big"],
      [{ f: () => 1 }, "$.f"],
      [{ "odd key": new Map() }, "$[\"odd key\"]"],
      [[new Set([1])], "$[0]"],
      [undefined, "$"],
      [[undefined], "$[0]"],
      [cyclic, "$.self"]
    ]
    for (const [value, path] of cases) {
      const error = left(ContentHash.canonicalJson(value))
      assert.strictEqual(error._tag, "NotCanonicalJson")
      assert.strictEqual(error.path, path)
      assert.include(error.message, path)
    }
  })

  it("a value that appears twice without a cycle is fine", () => {
    const shared = { x: 1 }
    assert.strictEqual(
      right(ContentHash.canonicalJson({ a: shared, b: [shared] })),
      "{\"a\":{\"x\":1},\"b\":[{\"x\":1}]}"
    )
  })

  it("hashJsonText rejects text that is not JSON", () => {
    assert.strictEqual(left(ContentHash.hashJsonText("{\"a\":")).path, "$")
  })

  it.prop("the canonical encoding parses back to the same value", [json], ([value]) => {
    assert.isTrue(jsonEqual(JSON.parse(right(ContentHash.canonicalJson(value))), value))
  })

  it.prop("key order does not change the hash", [json, fc.integer()], ([value, seed]) => {
    assert.strictEqual(right(ContentHash.hash(shuffleKeys(value, seed))), right(ContentHash.hash(value)))
  })

  it.prop("whitespace does not change the hash", [json, whitespace], ([value, indent]) => {
    const text = JSON.stringify(value, null, indent)
    assert.strictEqual(right(ContentHash.hashJsonText(`${indent}${text}${indent}`)), right(ContentHash.hash(value)))
  })

  it.prop(
    "any change of a value changes the hash",
    [json, fc.nat(), leaf],
    ([value, at, replacement]) => {
      const all = positions(value)
      const changed = replaceAt(value, all[at % all.length], replacement)
      fc.pre(!jsonEqual(value, changed))
      assert.notStrictEqual(right(ContentHash.hash(changed)), right(ContentHash.hash(value)))
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop("two values hash the same exactly when they are equal as JSON", [json, json], ([a, b]) => {
    assert.strictEqual(right(ContentHash.hash(a)) === right(ContentHash.hash(b)), jsonEqual(a, b))
  })
})
