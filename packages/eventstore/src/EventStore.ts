/**
 * The event store port: every Chronicle package writes to and reads from this service.
 *
 * @since 0.1.0
 */
import type { Envelope } from "@chronicle/domain"
import type { Effect, Option, Stream } from "effect"
import { Context, Layer } from "effect"
import type {
  AppendError,
  EventStoreError,
  InvalidRequest,
  StreamDeleted,
  WrongExpectedVersion
} from "./EventStoreError.js"
import type { ExpectedVersion } from "./ExpectedVersion.js"
import { makeMemory } from "./internal/memory.js"

/**
 * An event to append, already encoded: `data` and `metadata` must be JSON-compatible.
 *
 * @since 0.1.0
 * @category models
 */
export interface EventData {
  /** Unique across the store; appending the same id again at the same place is a no-op retry. */
  readonly eventId: string
  readonly type: string
  /** The version of the shape of `data`, for upcasting on read. Defaults to 1. */
  readonly schemaVersion?: number
  readonly data: unknown
  readonly metadata?: Envelope.Metadata
  readonly correlationId?: string | null
  readonly causationId?: string | null
}

/**
 * A stored event: data as it was encoded, with its envelope.
 *
 * @since 0.1.0
 * @category models
 */
export type RecordedEvent = Envelope.EventEnvelope<unknown>

/**
 * What an append wrote: the stream's version after it and the global position of each event.
 *
 * @since 0.1.0
 * @category models
 */
export interface AppendResult {
  readonly streamId: string
  /** The number of events the stream holds after the append. */
  readonly version: number
  /** The global position of each appended event, in order. */
  readonly positions: ReadonlyArray<number>
  /** `true` when the append was recognized as a retry of an earlier one and wrote nothing. */
  readonly duplicate?: boolean
}

/**
 * One stream's part of an atomic multi-stream append.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamAppend {
  readonly streamId: string
  readonly events: ReadonlyArray<EventData>
  readonly expected: ExpectedVersion
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ReadStreamOptions {
  readonly direction?: "forwards" | "backwards"
  /** The first version to read (inclusive): forwards defaults to 1, backwards to the last event. */
  readonly from?: number
  readonly limit?: number
}

/**
 * Which events a global read or a subscription sees.
 *
 * @since 0.1.0
 * @category models
 */
export type Filter =
  | { readonly _tag: "All" }
  | { readonly _tag: "Stream"; readonly streamId: string }
  | { readonly _tag: "Category"; readonly category: string }

/** @since 0.1.0 @category filters */
export const all: Filter = { _tag: "All" }
/** @since 0.1.0 @category filters */
export const stream = (streamId: string): Filter => ({ _tag: "Stream", streamId })
/**
 * A category is the part of a stream id before its first `-`: `Document-42` is in `Document`.
 *
 * @since 0.1.0
 * @category filters
 */
export const category = (name: string): Filter => ({ _tag: "Category", category: name })

/**
 * @since 0.1.0
 * @category models
 */
export interface ReadAllOptions {
  /** Read events after this global position (exclusive). Defaults to 0: from the start. */
  readonly from?: number
  readonly limit?: number
  readonly filter?: Filter
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SubscribeOptions {
  /** Deliver events after this global position (exclusive). Defaults to 0: from the start. */
  readonly from?: number
  readonly filter?: Filter
}

/**
 * A stream's version and whether it is deleted; version 0 means it has no events.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamInfo {
  readonly streamId: string
  readonly version: number
  readonly deleted: boolean
}

/**
 * The latest saved state of a stream and the version it covers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly streamId: string
  readonly version: number
  readonly schemaVersion: number
  readonly state: unknown
  readonly timestamp: Date
}

/**
 * The event store service.
 *
 * @since 0.1.0
 * @category services
 */
export interface Service {
  /** Appends events to one stream if it is at the expected version: all or nothing, durable on return. */
  readonly append: (
    streamId: string,
    events: ReadonlyArray<EventData>,
    expected: ExpectedVersion
  ) => Effect.Effect<AppendResult, AppendError>
  /** Appends to several streams in one transaction, each with its own expectation: all or nothing. */
  readonly appendMany: (
    appends: ReadonlyArray<StreamAppend>
  ) => Effect.Effect<ReadonlyArray<AppendResult>, AppendError>
  /** Reads a page of one stream. A stream that never existed reads as empty. */
  readonly readStream: (
    streamId: string,
    options?: ReadStreamOptions
  ) => Effect.Effect<ReadonlyArray<RecordedEvent>, StreamDeleted | InvalidRequest | EventStoreError>
  /** Reads a whole stream (or from `options.from`) as a Stream that pages underneath. */
  readonly streamEvents: (
    streamId: string,
    options?: ReadStreamOptions & { readonly pageSize?: number }
  ) => Stream.Stream<RecordedEvent, StreamDeleted | InvalidRequest | EventStoreError>
  /** Reads a page of every stream's events in global order. */
  readonly readAll: (
    options?: ReadAllOptions
  ) => Effect.Effect<ReadonlyArray<RecordedEvent>, InvalidRequest | EventStoreError>
  /** Reads all events from a position as a Stream that pages underneath and ends at the head. */
  readonly allEvents: (
    options?: ReadAllOptions & { readonly pageSize?: number }
  ) => Stream.Stream<RecordedEvent, InvalidRequest | EventStoreError>
  /** Catches up from a position, then stays live: never skips or repeats an event. */
  readonly subscribe: (options?: SubscribeOptions) => Stream.Stream<RecordedEvent, InvalidRequest | EventStoreError>
  /** The highest global position a reader can see without a gap (0 for an empty store). */
  readonly head: Effect.Effect<number, EventStoreError>
  readonly streamInfo: (streamId: string) => Effect.Effect<StreamInfo, EventStoreError>
  /** Tombstones a stream: later appends and reads fail with `StreamDeleted`; its events stay in the global log. */
  readonly deleteStream: (
    streamId: string,
    expected?: ExpectedVersion
  ) => Effect.Effect<void, WrongExpectedVersion | StreamDeleted | InvalidRequest | EventStoreError>
  /** Saves the latest snapshot of a stream, replacing an older one. */
  readonly saveSnapshot: (
    streamId: string,
    snapshot: { readonly version: number; readonly state: unknown; readonly schemaVersion?: number }
  ) => Effect.Effect<void, InvalidRequest | EventStoreError>
  readonly loadSnapshot: (streamId: string) => Effect.Effect<Option.Option<Snapshot>, EventStoreError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class EventStore extends Context.Tag("@chronicle/eventstore/EventStore")<EventStore, Service>() {}

/**
 * The category of a stream id: the part before its first `-`.
 *
 * @since 0.1.0
 * @category filters
 */
export const categoryOf = (streamId: string): string => {
  const dash = streamId.indexOf("-")
  return dash === -1 ? streamId : streamId.slice(0, dash)
}

/**
 * Whether an event passes a filter.
 *
 * @since 0.1.0
 * @category filters
 */
export const matchesFilter = (filter: Filter, streamId: string): boolean => {
  switch (filter._tag) {
    case "All":
      return true
    case "Stream":
      return streamId === filter.streamId
    case "Category":
      return categoryOf(streamId) === filter.category
  }
}

/**
 * An event store in memory: one process, nothing durable. For tests and examples.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<EventStore> = Layer.effect(EventStore, makeMemory)
