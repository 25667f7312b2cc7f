// Builds the full EventStore service from the few primitives an adapter implements: paged Streams
// and live subscriptions are written once here, so every adapter pages and subscribes the same way.
import { Chunk, Effect, Option, Stream } from "effect"
import type { Filter, RecordedEvent, Service } from "../EventStore.js"
import { all } from "../EventStore.js"
import type { EventStoreError, InvalidRequest as InvalidRequestError } from "../EventStoreError.js"
import { InvalidRequest } from "../EventStoreError.js"

export interface Primitives extends Omit<Service, "append" | "streamEvents" | "allEvents" | "subscribe"> {
  /**
   * Completes when events after `position` may have become visible: an adapter wakes it on local
   * commits, notifications, or after a poll interval.
   */
  readonly awaitChange: (position: number) => Effect.Effect<void, EventStoreError>
}

const defaultPageSize = 500

const checkPageSize = (pageSize: number, streamId = ""): Effect.Effect<void, InvalidRequestError> =>
  Number.isInteger(pageSize) && pageSize > 0
    ? Effect.void
    : Effect.fail(new InvalidRequest({ streamId, reason: `page size must be a positive integer, got ${pageSize}` }))

export const makeService = (primitives: Primitives): Service => {
  const allEvents: Service["allEvents"] = (options = {}) => {
    const pageSize = options.pageSize ?? defaultPageSize
    const filter: Filter = options.filter ?? all
    return Stream.unwrap(
      Effect.as(
        checkPageSize(pageSize),
        Stream.paginateChunkEffect(
          options.from ?? 0,
          (from) =>
            primitives.readAll({ from, limit: pageSize, filter }).pipe(
              Effect.map((page) => {
                const last = page.at(-1)
                return [
                  Chunk.unsafeFromArray(page),
                  page.length < pageSize || last === undefined ? Option.none() : Option.some(last.globalPosition)
                ] as const
              })
            )
        )
      )
    )
  }

  const streamEvents: Service["streamEvents"] = (streamId, options = {}) => {
    const pageSize = options.pageSize ?? defaultPageSize
    const backwards = options.direction === "backwards"
    return Stream.unwrap(
      Effect.as(
        checkPageSize(pageSize, streamId),
        Stream.paginateChunkEffect(options.from, (from) =>
          primitives.readStream(streamId, {
            direction: backwards ? "backwards" : "forwards",
            limit: pageSize,
            ...(from === undefined ? {} : { from })
          }).pipe(Effect.map((page) => {
            const last = page.at(-1)
            const next = last === undefined || page.length < pageSize
              ? Option.none<number | undefined>()
              : backwards
              ? last.streamVersion > 1 ? Option.some(last.streamVersion - 1) : Option.none()
              : Option.some(last.streamVersion + 1)
            return [Chunk.unsafeFromArray(page), next] as const
          })))
      )
    )
  }

  const subscribe: Service["subscribe"] = (options = {}) => {
    const filter: Filter = options.filter ?? all
    // A subscription moves forwards through what `readAll` shows, and `readAll` only shows events
    // up to the adapter's gap-free high-water mark, so nothing is skipped or repeated. The head is
    // read before the page, so a filtered read that finds nothing still moves past what it scanned.
    const pull = (
      from: number
    ): Effect.Effect<
      readonly [Chunk.Chunk<RecordedEvent>, Option.Option<number>],
      InvalidRequestError | EventStoreError
    > =>
      Effect.flatMap(
        primitives.head,
        (head) =>
          Effect.flatMap(primitives.readAll({ from, limit: defaultPageSize, filter }), (page) => {
            const last = page.at(-1)
            if (page.length === defaultPageSize && last !== undefined) {
              return Effect.succeed([Chunk.unsafeFromArray(page), Option.some(last.globalPosition)] as const)
            }
            const next = Math.max(head, last?.globalPosition ?? from, from)
            if (page.length > 0 || next > from) {
              return Effect.succeed([Chunk.unsafeFromArray(page), Option.some(next)] as const)
            }
            return Effect.zipRight(primitives.awaitChange(from), pull(from))
          })
      )
    return Stream.paginateChunkEffect(options.from ?? 0, pull)
  }

  return {
    append: (streamId, events, expected) =>
      Effect.map(primitives.appendMany([{ streamId, events, expected }]), (results) => results[0]),
    appendMany: primitives.appendMany,
    readStream: primitives.readStream,
    streamEvents,
    readAll: primitives.readAll,
    allEvents,
    subscribe,
    head: primitives.head,
    streamInfo: primitives.streamInfo,
    deleteStream: primitives.deleteStream,
    saveSnapshot: primitives.saveSnapshot,
    loadSnapshot: primitives.loadSnapshot
  }
}
