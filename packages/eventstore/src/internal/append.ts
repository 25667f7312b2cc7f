// Rules every adapter applies to an append the same way: input validation, the expected-version
// check, and telling a retry of an earlier append from a conflicting one.
import { Effect } from "effect"
import type { AppendResult, EventData, StreamAppend } from "../EventStore.js"
import { IdempotencyConflict, InvalidRequest, WrongExpectedVersion } from "../EventStoreError.js"
import * as ExpectedVersion from "../ExpectedVersion.js"

const maxStreamIdLength = 512

const isJsonCompatible = (value: unknown): boolean => {
  try {
    return JSON.stringify(value) !== undefined
  } catch {
    return false
  }
}

/** What is wrong with a stream id, if anything. */
const streamIdProblem = (streamId: unknown): InvalidRequest | undefined =>
  typeof streamId !== "string" || streamId.length === 0
    ? new InvalidRequest({ streamId: String(streamId), reason: "stream id must be a non-empty string" })
    : streamId.length > maxStreamIdLength
    ? new InvalidRequest({
      streamId: streamId.slice(0, 40),
      reason: `stream id is longer than ${maxStreamIdLength} characters`
    })
    : undefined

export const validateStreamId = (streamId: unknown): Effect.Effect<void, InvalidRequest> => {
  const problem = streamIdProblem(streamId)
  return problem === undefined ? Effect.void : Effect.fail(problem)
}

const validateEvent = (event: EventData, checkJson: boolean): string | undefined => {
  if (typeof event.eventId !== "string" || event.eventId.length === 0) return "every event needs a non-empty eventId"
  if (typeof event.type !== "string" || event.type.length === 0) return `event ${event.eventId} needs a non-empty type`
  if (
    event.schemaVersion !== undefined && (!Number.isInteger(event.schemaVersion) || event.schemaVersion < 1)
  ) return `event ${event.eventId}: schemaVersion must be a positive integer`
  if (checkJson && !isJsonCompatible(event.data)) return `event ${event.eventId}: data is not JSON-compatible`
  if (checkJson && event.metadata !== undefined && !isJsonCompatible(event.metadata)) {
    return `event ${event.eventId}: metadata is not JSON-compatible`
  }
  return undefined
}

/** What is wrong with a batch of appends, if anything; `checkJson: false` when the caller encodes. */
export const appendProblem = (
  appends: ReadonlyArray<StreamAppend>,
  checkJson: boolean
): InvalidRequest | undefined => {
  const streams = new Set<string>()
  const ids = new Set<string>()
  for (const { events, expected, streamId } of appends) {
    const badId = streamIdProblem(streamId)
    if (badId !== undefined) return badId
    if (streams.has(streamId)) {
      return new InvalidRequest({ streamId, reason: "a stream may appear only once in a multi-stream append" })
    }
    streams.add(streamId)
    if (expected._tag === "Exact" && (!Number.isInteger(expected.version) || expected.version < 0)) {
      return new InvalidRequest({
        streamId,
        reason: `expected version must be a non-negative integer, got ${expected.version}`
      })
    }
    for (const event of events) {
      const problem = validateEvent(event, checkJson)
      if (problem !== undefined) return new InvalidRequest({ streamId, reason: problem })
      if (ids.has(event.eventId)) {
        return new InvalidRequest({ streamId, reason: `event id ${event.eventId} appears twice in one append` })
      }
      ids.add(event.eventId)
    }
  }
  return undefined
}

/** Checks a batch of appends before anything is written. */
export const validate = (appends: ReadonlyArray<StreamAppend>): Effect.Effect<void, InvalidRequest> =>
  Effect.suspend(() => {
    const problem = appendProblem(appends, true)
    return problem === undefined ? Effect.void : Effect.fail(problem)
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
