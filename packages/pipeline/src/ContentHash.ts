/**
 * Content hashes: the SHA-256 of a canonical JSON encoding, so equal data always hashes the same
 * whatever its key order or formatting.
 *
 * @since 0.1.0
 */
import { Either, Schema } from "effect"
import { createHash } from "node:crypto"

/**
 * A value has no canonical JSON encoding (a non-finite number, a bigint, a function, a Map, a
 * cycle...). `path` locates it, as in `$.blocks[2].text`.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotCanonicalJson extends Schema.TaggedError<NotCanonicalJson>()("NotCanonicalJson", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `no canonical JSON for ${this.path}: ${this.reason}`
  }
}

class Failure {
  constructor(readonly path: string, readonly reason: string) {}
}

const propertyPath = (path: string, key: string): string =>
  /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`

const hasToJSON = (value: object): value is { toJSON: (key: string) => unknown } =>
  "toJSON" in value && typeof value.toJSON === "function"

const encode = (value: unknown, path: string, ancestors: Set<object>): string | Failure => {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value)
    case "boolean":
      return value ? "true" : "false"
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : new Failure(path, `${value} is not a JSON number`)
    case "bigint":
      return new Failure(path, "a bigint is not a JSON number")
    case "undefined":
      return new Failure(path, "undefined is not a JSON value")
    case "symbol":
    case "function":
      return new Failure(path, `a ${typeof value} is not a JSON value`)
    case "object": {
      if (value === null) return "null"
      if (ancestors.has(value)) return new Failure(path, "the value contains a cycle")
      if (hasToJSON(value)) {
        ancestors.add(value)
        const encoded = encode(value.toJSON(""), path, ancestors)
        ancestors.delete(value)
        return encoded
      }
      if (value instanceof Map || value instanceof Set || value instanceof WeakMap || value instanceof WeakSet) {
        return new Failure(path, `a ${value.constructor.name} has no JSON encoding`)
      }
      ancestors.add(value)
      let out: string
      if (Array.isArray(value)) {
        out = "["
        for (let i = 0; i < value.length; i++) {
          const item = encode(value[i], `${path}[${i}]`, ancestors)
          if (item instanceof Failure) return item
          out += i === 0 ? item : "," + item
        }
        out += "]"
      } else {
        const record = value as Record<string, unknown>
        const keys = Object.keys(record).sort()
        out = "{"
        let first = true
        for (const key of keys) {
          const field = record[key]
          // An absent optional field and one set to undefined are the same JSON object.
          if (field === undefined) continue
          const item = encode(field, propertyPath(path, key), ancestors)
          if (item instanceof Failure) return item
          out += (first ? "" : ",") + JSON.stringify(key) + ":" + item
          first = false
        }
        out += "}"
      }
      ancestors.delete(value)
      return out
    }
  }
}

/**
 * The canonical JSON encoding of a value: object keys sorted by UTF-16 code units, no whitespace,
 * numbers and strings as `JSON.stringify` writes them, `undefined` object fields left out, and
 * `toJSON` honoured (a `Date` encodes as its ISO string). This is RFC 8785 (JCS) for JSON values.
 *
 * @example
 * ```ts
 * ContentHash.canonicalJson({ b: 1, a: [true, null] }) // Either.right('{"a":[true,null],"b":1}')
 * ```
 *
 * @since 0.1.0
 * @category encoding
 */
export const canonicalJson = (value: unknown): Either.Either<string, NotCanonicalJson> => {
  const encoded = encode(value, "$", new Set())
  return encoded instanceof Failure
    ? Either.left(new NotCanonicalJson({ path: encoded.path, reason: encoded.reason }))
    : Either.right(encoded)
}

/**
 * The SHA-256 of a string's UTF-8 bytes, as 64 lowercase hex digits.
 *
 * @since 0.1.0
 * @category hashing
 */
export const sha256Hex = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex")

/**
 * The content hash of a value: the SHA-256 of its canonical JSON encoding.
 *
 * @since 0.1.0
 * @category hashing
 */
export const hash = (value: unknown): Either.Either<string, NotCanonicalJson> =>
  Either.map(canonicalJson(value), sha256Hex)

/**
 * The content hash of a JSON text: its formatting and key order do not matter. Text that is not
 * JSON fails with `NotCanonicalJson` at `$`.
 *
 * @since 0.1.0
 * @category hashing
 */
export const hashJsonText = (text: string): Either.Either<string, NotCanonicalJson> =>
  Either.flatMap(
    Either.try({
      try: (): unknown => JSON.parse(text),
      catch: (error) =>
        new NotCanonicalJson({ path: "$", reason: error instanceof Error ? error.message : "not JSON text" })
    }),
    hash
  )
