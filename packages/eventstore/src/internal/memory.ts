// The in-memory adapter: one process, no durability; for tests and examples. Writes are
// serialized by a semaphore, so the global log is gap-free and in commit order.
import { Clock, Effect, Option, Stream, SubscriptionRef } from "effect"
import type { AppendResult, RecordedEvent, Service, Snapshot, StreamAppend, StreamInfo } from "../EventStore.js"
import { matchesFilter } from "../EventStore.js"
import { InvalidRequest, StreamDeleted } from "../EventStoreError.js"
import * as ExpectedVersion from "../ExpectedVersion.js"
import {
  encodeAppends,
  encodeSnapshot,
  mixedRetry,
  readLimit,
  resolveRetry,
  validateDelete,
  validateFrom,
  validateStreamId,
  wrongVersion
} from "./append.js"
import { makeService } from "./service.js"
import type { EncodedEvent } from "./sqlStatements.js"

interface StreamState {
  readonly events: Array<RecordedEvent>
  deleted: boolean
}

export const makeMemory: Effect.Effect<Service> = Effect.gen(function*() {
  const log: Array<RecordedEvent> = []
  const streams = new Map<string, StreamState>()
  const ids = new Map<string, RecordedEvent>()
  const snapshots = new Map<string, Snapshot>()
  const head = yield* SubscriptionRef.make(0)
  const writeLock = yield* Effect.makeSemaphore(1)

  const versionOf = (streamId: string) => streams.get(streamId)?.events.length ?? 0

  const appendOne = (append: StreamAppend, encoded: ReadonlyArray<EncodedEvent>) =>
    Effect.gen(function*() {
      const stream = streams.get(append.streamId)
      if (stream?.deleted) return yield* Effect.fail(new StreamDeleted({ streamId: append.streamId }))
      const stored = append.events.flatMap((e) => {
        const hit = ids.get(e.eventId)
        return hit === undefined ? [] : [hit]
      })
      const retried = yield* resolveRetry(append, stored)
      if (retried !== undefined) return { kind: "retry" as const, result: retried }
      const actual = stream?.events.length ?? 0
      if (!ExpectedVersion.matches(append.expected, actual)) return yield* Effect.fail(wrongVersion(append, actual))
      return { kind: "new" as const, append, encoded, actual }
    })

  const appendMany: Service["appendMany"] = (appends) =>
    Effect.suspend((): ReturnType<Service["appendMany"]> => {
      // encoded before the lock: the store keeps the JSON round trip of each event, as SQL does
      const encoded = encodeAppends(appends)
      if (encoded instanceof InvalidRequest) return Effect.fail(encoded)
      return writeLock.withPermits(1)(Effect.gen(function*() {
        // check every stream first: nothing is written unless all pass
        const plans = yield* Effect.forEach(appends, (append, i) => appendOne(append, encoded[i]))
        const retries = plans.filter((plan) => plan.kind === "retry")
        // a mix of retried and new events is never a clean retry (an empty guard is neither)
        if (retries.length > 0 && plans.some((plan) => plan.kind === "new" && plan.append.events.length > 0)) {
          return yield* Effect.fail(mixedRetry(
            retries[0].result.streamId,
            appends.flatMap((a) => a.events.filter((e) => ids.has(e.eventId)).map((e) => e.eventId))
          ))
        }
        const now = new Date(yield* Clock.currentTimeMillis)
        const results: Array<AppendResult> = []
        for (const plan of plans) {
          if (plan.kind === "retry") {
            results.push(plan.result)
            continue
          }
          const { actual, append } = plan
          let stream = streams.get(append.streamId)
          if (stream === undefined) {
            stream = { events: [], deleted: false }
            streams.set(append.streamId, stream)
          }
          const positions: Array<number> = []
          plan.encoded.forEach((event, i) => {
            const recorded: RecordedEvent = {
              eventId: event.eventId,
              streamId: append.streamId,
              streamVersion: actual + i + 1,
              globalPosition: log.length + 1,
              type: event.type,
              schemaVersion: event.schemaVersion,
              timestamp: now,
              correlationId: event.correlationId,
              causationId: event.causationId,
              metadata: JSON.parse(event.metadata),
              data: JSON.parse(event.data)
            }
            log.push(recorded)
            stream.events.push(recorded)
            ids.set(recorded.eventId, recorded)
            positions.push(recorded.globalPosition)
          })
          results.push({ streamId: append.streamId, version: actual + append.events.length, positions })
        }
        yield* SubscriptionRef.set(head, log.length)
        return results
      }))
    })

  const readStream: Service["readStream"] = (streamId, options = {}) =>
    Effect.gen(function*() {
      yield* validateStreamId(streamId)
      yield* validateFrom(streamId, options.from)
      const limit = yield* readLimit(options.limit, streamId)
      const stream = streams.get(streamId)
      if (stream?.deleted) return yield* Effect.fail(new StreamDeleted({ streamId }))
      const events = stream?.events ?? []
      if (options.direction === "backwards") {
        const from = Math.min(options.from ?? events.length, events.length)
        return events.slice(Math.max(0, from - limit), Math.max(0, from)).reverse()
      }
      const from = Math.max(options.from ?? 1, 1)
      return events.slice(from - 1, from - 1 + Math.min(limit, events.length))
    })

  const readAll: Service["readAll"] = (options = {}) =>
    Effect.gen(function*() {
      const limit = yield* readLimit(options.limit)
      const from = options.from ?? 0
      if (!Number.isInteger(from) || from < 0) {
        return yield* Effect.fail(
          new InvalidRequest({ streamId: "", reason: `position must be a non-negative integer, got ${from}` })
        )
      }
      const out: Array<RecordedEvent> = []
      for (let i = from; i < log.length && out.length < limit; i++) {
        const event = log[i]
        if (options.filter === undefined || matchesFilter(options.filter, event.streamId)) out.push(event)
      }
      return out
    })

  const streamInfo = (streamId: string): Effect.Effect<StreamInfo> =>
    Effect.sync(() => ({ streamId, version: versionOf(streamId), deleted: streams.get(streamId)?.deleted ?? false }))

  const deleteStream: Service["deleteStream"] = (streamId, expected = ExpectedVersion.Any) =>
    Effect.zipRight(
      validateDelete(streamId, expected),
      writeLock.withPermits(1)(Effect.gen(function*() {
        const stream = streams.get(streamId)
        if (stream?.deleted) return yield* Effect.fail(new StreamDeleted({ streamId }))
        const actual = stream?.events.length ?? 0
        if (!ExpectedVersion.matches(expected, actual)) {
          return yield* Effect.fail(wrongVersion({ streamId, events: [], expected }, actual))
        }
        if (stream === undefined) streams.set(streamId, { events: [], deleted: true })
        else stream.deleted = true
      }))
    )

  const saveSnapshot: Service["saveSnapshot"] = (streamId, snapshot) =>
    Effect.gen(function*() {
      // the JSON round trip, as SQL keeps it
      const state = JSON.parse(yield* encodeSnapshot(streamId, snapshot))
      const now = new Date(yield* Clock.currentTimeMillis)
      snapshots.set(streamId, {
        streamId,
        version: snapshot.version,
        schemaVersion: snapshot.schemaVersion ?? 1,
        state,
        timestamp: now
      })
    })

  return makeService({
    appendMany,
    readStream,
    readAll,
    head: SubscriptionRef.get(head),
    streamInfo,
    deleteStream,
    saveSnapshot,
    loadSnapshot: (streamId) => Effect.sync(() => Option.fromNullable(snapshots.get(streamId))),
    awaitChange: (position) => head.changes.pipe(Stream.filter((h) => h > position), Stream.take(1), Stream.runDrain)
  })
})
