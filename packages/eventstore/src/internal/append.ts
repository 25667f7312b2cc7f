// Rules every adapter applies to an append the same way: input validation, the expected-version
// check, and telling a retry of an earlier append from a conflicting one.
import { Effect } from "effect"
import type { AppendResult, EventData, StreamAppend } from "../EventStore.js"
import { IdempotencyConflict, InvalidRequest, WrongExpectedVersion } from "../EventStoreError.js"
import * as ExpectedVersion from "../ExpectedVersion.js"
import { maxVersion } from "./sqlStatements.js"
import type { EncodedEvent } from "./sqlStatements.js"

const maxStreamIdLength = 512

/** Neither NUL nor a lone surrogate: PostgreSQL refuses the first and cannot keep the second. */
const loneSurrogate = /\p{Cs}/u
const storable = (text: string): boolean => !text.includes("\u0000") && !loneSurrogate.test(text)

/** What is wrong with a stream id, if anything. */
const streamIdProblem = (streamId: unknown): InvalidRequest | undefined =>
  typeof streamId !== "string" || streamId.length === 0
    ? new InvalidRequest({ streamId: String(streamId), reason: "stream id must be a non-empty string" })
    : streamId.length > maxStreamIdLength
    ? new InvalidRequest({
      streamId: streamId.slice(0, 40),
      reason: `stream id is longer than ${maxStreamIdLength} characters`
    })
    : !storable(streamId)
    ? new InvalidRequest({ streamId, reason: "stream id contains NUL or a lone surrogate" })
    : undefined

export const validateStreamId = (streamId: unknown): Effect.Effect<void, InvalidRequest> => {
  const problem = streamIdProblem(streamId)
  return problem === undefined ? Effect.void : Effect.fail(problem)
}

const isPositiveInteger = (value: number) => Number.isInteger(value) && value >= 1 && value <= maxVersion

const expectationProblem = (streamId: string, expected: ExpectedVersion.ExpectedVersion): InvalidRequest | undefined =>
  expected._tag === "Exact" && (!Number.isInteger(expected.version) || expected.version < 0)
    ? new InvalidRequest({
      streamId,
      reason: `expected version must be a non-negative integer, got ${expected.version}`
    })
    : undefined

/** Checks a stream id and an expectation before a stream is deleted. */
export const validateDelete = (
  streamId: string,
  expected: ExpectedVersion.ExpectedVersion
): Effect.Effect<void, InvalidRequest> => {
  const problem = streamIdProblem(streamId) ?? expectationProblem(streamId, expected)
  return problem === undefined ? Effect.void : Effect.fail(problem)
}

/** Checks where a stream read starts. */
export const validateFrom = (streamId: string, from: number | undefined): Effect.Effect<void, InvalidRequest> =>
  from === undefined || (Number.isInteger(from) && from >= 0)
    ? Effect.void
    : Effect.fail(new InvalidRequest({ streamId, reason: `from must be a non-negative integer, got ${from}` }))

// JSON.stringify writes NUL and lone surrogates, and only those of the characters PostgreSQL
// refuses, as `\u` escapes, so text without one is fine and the common case is a single scan.
const jsonStorable = (text: string): boolean => {
  if (!text.includes("\\u")) return true
  for (let i = text.indexOf("\\"); i !== -1 && i < text.length; i = text.indexOf("\\", i)) {
    if (text[i + 1] !== "u") {
      // an escaped backslash or another escape: skip both characters
      i += 2
      continue
    }
    const code = Number.parseInt(text.slice(i + 2, i + 6), 16)
    if (code === 0 || (code >= 0xd800 && code <= 0xdfff)) return false
    i += 6
  }
  return true
}

interface Unstorable {
  readonly problem: string
}

/** A value as the JSON text every store keeps, or why it cannot be stored. */
export const encodeJson = (value: unknown): string | Unstorable => {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch {
    text = undefined
  }
  if (text === undefined) return { problem: "is not JSON-compatible" }
  if (!jsonStorable(text)) return { problem: "contains NUL or a lone surrogate" }
  return text
}

const validateEvent = (event: EventData): string | undefined => {
  if (typeof event.eventId !== "string" || event.eventId.length === 0) return "every event needs a non-empty eventId"
  if (typeof event.type !== "string" || event.type.length === 0) return `event ${event.eventId} needs a non-empty type`
  if (event.schemaVersion !== undefined && !isPositiveInteger(event.schemaVersion)) {
    return `event ${event.eventId}: schemaVersion must be a positive integer up to ${maxVersion}`
  }
  if (
    !storable(event.eventId) || !storable(event.type) ||
    (typeof event.correlationId === "string" && !storable(event.correlationId)) ||
    (typeof event.causationId === "string" && !storable(event.causationId))
  ) return `event ${event.eventId}: an id or type contains NUL or a lone surrogate`
  return undefined
}

/** What is wrong with a batch of appends, if anything, besides its events' data. */
const appendProblem = (appends: ReadonlyArray<StreamAppend>): InvalidRequest | undefined => {
  const streams = new Set<string>()
  const ids = new Set<string>()
  for (const { events, expected, streamId } of appends) {
    const badId = streamIdProblem(streamId)
    if (badId !== undefined) return badId
    if (streams.has(streamId)) {
      return new InvalidRequest({ streamId, reason: "a stream may appear only once in a multi-stream append" })
    }
    streams.add(streamId)
    const badExpectation = expectationProblem(streamId, expected)
    if (badExpectation !== undefined) return badExpectation
    for (const event of events) {
      const problem = validateEvent(event)
      if (problem !== undefined) return new InvalidRequest({ streamId, reason: problem })
      if (ids.has(event.eventId)) {
        return new InvalidRequest({ streamId, reason: `event id ${event.eventId} appears twice in one append` })
      }
      ids.add(event.eventId)
    }
  }
  return undefined
}

/**
 * Validates a batch of appends and encodes their events to JSON text once, synchronously, before
 * anything is written: every store keeps what this gives, so they all refuse the same input.
 */
export const encodeAppends = (appends: ReadonlyArray<StreamAppend>): InvalidRequest | Array<Array<EncodedEvent>> => {
  const problem = appendProblem(appends)
  if (problem !== undefined) return problem
  const out: Array<Array<EncodedEvent>> = []
  for (const append of appends) {
    const encoded: Array<EncodedEvent> = []
    for (const event of append.events) {
      const data = encodeJson(event.data)
      const metadata = event.metadata === undefined ? "{}" : encodeJson(event.metadata)
      if (typeof data !== "string" || typeof metadata !== "string") {
        const reason = typeof data !== "string"
          ? `data ${data.problem}`
          : `metadata ${(metadata as Unstorable).problem}`
        return new InvalidRequest({ streamId: append.streamId, reason: `event ${event.eventId}: ${reason}` })
      }
      encoded.push({
        eventId: event.eventId,
        type: event.type,
        schemaVersion: event.schemaVersion ?? 1,
        data,
        metadata,
        correlationId: event.correlationId ?? null,
        causationId: event.causationId ?? null
      })
    }
    out.push(encoded)
  }
  return out
}

/** Validates a snapshot and encodes its state to the JSON text every store keeps. */
export const encodeSnapshot = (
  streamId: string,
  snapshot: { readonly version: number; readonly state: unknown; readonly schemaVersion?: number | undefined }
): Effect.Effect<string, InvalidRequest> =>
  Effect.suspend(() => {
    const badId = streamIdProblem(streamId)
    if (badId !== undefined) return Effect.fail(badId)
    if (!isPositiveInteger(snapshot.version)) {
      return Effect.fail(
        new InvalidRequest({ streamId, reason: `a snapshot's version must be a positive integer up to ${maxVersion}` })
      )
    }
    if (snapshot.schemaVersion !== undefined && !isPositiveInteger(snapshot.schemaVersion)) {
      return Effect.fail(
        new InvalidRequest({
          streamId,
          reason: `a snapshot's schemaVersion must be a positive integer up to ${maxVersion}`
        })
      )
    }
    const state = encodeJson(snapshot.state)
    return typeof state === "string"
      ? Effect.succeed(state)
      : Effect.fail(new InvalidRequest({ streamId, reason: `a snapshot's state ${state.problem}` }))
  })

/** A multi-stream append that is partly a retry and partly new: never a clean retry. */
export const mixedRetry = (streamId: string, eventIds: ReadonlyArray<string>): IdempotencyConflict =>
  new IdempotencyConflict({
    streamId,
    eventIds,
    reason: "part of this multi-stream append is already stored and part is not"
  })

/** Where an already-stored event sits. */
export interface StoredId {
  readonly eventId: string
  readonly streamId: string
  readonly streamVersion: number
  readonly globalPosition: number
}

/**
 * Given which of an append's event ids are already stored, decides whether the append is a retry
 * of an earlier one (the same ids, in order, at consecutive versions where the expectation put
 * them), answered with the earlier result; or a conflict; or `undefined`: none are stored.
 */
export const resolveRetry = (
  append: StreamAppend,
  stored: ReadonlyArray<StoredId>
): Effect.Effect<AppendResult | undefined, IdempotencyConflict> => {
  if (stored.length === 0 || append.events.length === 0) return Effect.succeed(undefined)
  const byId = new Map(stored.map((s) => [s.eventId, s]))
  const found = append.events.map((e) => byId.get(e.eventId))
  const conflict = (reason: string) =>
    Effect.fail(
      new IdempotencyConflict({
        streamId: append.streamId,
        eventIds: stored.map((s) => s.eventId),
        reason
      })
    )
  if (found.some((f) => f === undefined)) return conflict("some of these event ids are already stored, others are not")
  const hits = found as ReadonlyArray<StoredId>
  const first = hits[0].streamVersion
  const inPlace = hits.every((hit, i) => hit.streamId === append.streamId && hit.streamVersion === first + i)
  if (!inPlace) return conflict("these event ids are already stored elsewhere")
  const expectedStart = append.expected._tag === "Exact"
    ? append.expected.version
    : append.expected._tag === "NoStream"
    ? 0
    : first - 1
  if (first - 1 !== expectedStart) return conflict("these event ids are already stored at another version")
  return Effect.succeed({
    streamId: append.streamId,
    version: first - 1 + hits.length,
    positions: hits.map((h) => h.globalPosition),
    duplicate: true
  })
}

export const wrongVersion = (append: StreamAppend, actual: number) =>
  new WrongExpectedVersion({ streamId: append.streamId, expected: ExpectedVersion.format(append.expected), actual })

export const readLimit = (limit: number | undefined, streamId = ""): Effect.Effect<number, InvalidRequest> =>
  limit === undefined
    ? Effect.succeed(Number.MAX_SAFE_INTEGER)
    : Number.isInteger(limit) && limit > 0
    ? Effect.succeed(limit)
    : Effect.fail(new InvalidRequest({ streamId, reason: `limit must be a positive integer, got ${limit}` }))
