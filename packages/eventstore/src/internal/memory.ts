// The in-memory adapter: one process, no durability; for tests and examples. Writes are
// serialized by a semaphore, so the global log is gap-free and in commit order.
import { Clock, Effect, Option, Stream, SubscriptionRef } from "effect"
import type { AppendResult, RecordedEvent, Service, Snapshot, StreamAppend, StreamInfo } from "../EventStore.js"
import { matchesFilter } from "../EventStore.js"
import { InvalidRequest, StreamDeleted } from "../EventStoreError.js"
import * as ExpectedVersion from "../ExpectedVersion.js"
import { readLimit, resolveRetry, validate, validateStreamId, wrongVersion } from "./append.js"
import { makeService } from "./service.js"

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

  const appendOne = (append: StreamAppend) =>
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
      return { kind: "new" as const, append, actual }
    })

  const appendMany: Service["appendMany"] = (appends) =>
    Effect.zipRight(
      validate(appends),
      writeLock.withPermits(1)(Effect.gen(function*() {
        // check every stream first: nothing is written unless all pass
        const plans = yield* Effect.forEach(appends, appendOne)
        const now = new Date(yield* Clock.currentTimeMillis)
        const results: Array<AppendResult> = []
        for (const plan of plans) {
          if (plan.kind === "retry") {
            results.push(plan.result)
            continue
          }
          const { append, actual } = plan
          let stream = streams.get(append.streamId)
          if (stream === undefined) {
            stream = { events: [], deleted: false }
            streams.set(append.streamId, stream)
          }
          const positions: Array<number> = []
          append.events.forEach((event, i) => {
            const recorded: RecordedEvent = {
              eventId: event.eventId,
              streamId: append.streamId,
              streamVersion: actual + i + 1,
              globalPosition: log.length + 1,
              type: event.type,
              schemaVersion: event.schemaVersion ?? 1,
              timestamp: now,
              correlationId: event.correlationId ?? null,
              causationId: event.causationId ?? null,
              metadata: structuredClone(event.metadata ?? {}),
              data: structuredClone(event.data)
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
    )

  const readStream: Service["readStream"] = (streamId, options = {}) =>
    Effect.gen(function*() {
      yield* validateStreamId(streamId)
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

  const saveSnapshot: Service["saveSnapshot"] = (streamId, snapshot) =>
    Effect.gen(function*() {
      yield* validateStreamId(streamId)
      if (!Number.isInteger(snapshot.version) || snapshot.version < 1) {
        return yield* Effect.fail(
          new InvalidRequest({ streamId, reason: "a snapshot's version must be a positive integer" })
        )
      }
      const now = new Date(yield* Clock.currentTimeMillis)
      snapshots.set(streamId, {
        streamId,
        version: snapshot.version,
        schemaVersion: snapshot.schemaVersion ?? 1,
        state: structuredClone(snapshot.state),
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
