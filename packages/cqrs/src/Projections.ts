/**
 * Runs projections from the event store into their read models, with checkpoints, leases shared by
 * several workers, quarantine of poison events, rebuilds with progress, status, and
 * read-your-writes waits.
 *
 * @since 0.1.0
 */
import { EventStore } from "@chronicle/eventstore"
import type { SqlClient } from "@effect/sql"
import type { Scope } from "effect"
import {
  Cause,
  Clock,
  Context,
  Data,
  Duration,
  Effect,
  Layer,
  Metric,
  Option,
  Ref,
  Schedule,
  Schema,
  Stream
} from "effect"
import { hostname } from "node:os"
import * as Store from "./internal/projectionStore.js"
import * as Tables from "./internal/tables.js"
import type { Projection } from "./Projection.js"

/**
 * What a projection is doing.
 *
 * @since 0.1.0
 * @category models
 */
export type State = "idle" | "running" | "stopped" | "rebuilding" | "failed"

/**
 * One projection's status, as data.
 *
 * @since 0.1.0
 * @category models
 */
export interface Status {
  readonly name: string
  readonly state: State
  /** The global position it has applied everything up to. */
  readonly checkpoint: number
  /** The store's head position. */
  readonly head: number
  /** Events after the checkpoint, still to apply. */
  readonly lag: number
  readonly lastError: string | null
  /** The worker holding its lease, if any. */
  readonly owner: string | null
  readonly quarantined: number
}

/**
 * A rebuild's progress.
 *
 * @since 0.1.0
 * @category models
 */
export interface RebuildProgress {
  readonly projection: string
  readonly done: number
  readonly total: number
  readonly ratePerSecond: number
  readonly etaSeconds: number
}

/**
 * An event a projection could not apply after its retries.
 *
 * @since 0.1.0
 * @category models
 */
export type QuarantinedEvent = Store.QuarantineRow

/**
 * A projection's storage or the event store failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProjectionError extends Data.TaggedError("ProjectionError")<{
  readonly projection: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `projection ${this.projection}: ${this.reason}`
  }
}

/**
 * No projection of that name is registered.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownProjection extends Schema.TaggedError<UnknownProjection>()("UnknownProjection", {
  name: Schema.String
}) {
  override get message(): string {
    return `no projection named ${this.name}`
  }
}

/**
 * A rebuild with swap was refused before anything changed: the projection declares no tables (or
 * names them in a way a swap cannot handle), or its setup does not create them through
 * `Projection.table`.
 *
 * @since 0.1.0
 * @category errors
 */
export class SwapRefused extends Schema.TaggedError<SwapRefused>()("SwapRefused", {
  projection: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `projection ${this.projection} cannot be rebuilt with swap: ${this.reason}`
  }
}

/**
 * How to rebuild.
 *
 * @since 0.1.0
 * @category models
 */
export interface RebuildOptions {
  /**
   * `false` (the default): empty the read model and replay into it; readers see it refill.
   * `true`: replay into shadow tables (`<table>__rebuild`) while readers keep the old model, then,
   * in one transaction, drop the live tables, rename the shadows over them and move the checkpoint
   * to where the shadow got. Needs the projection's `tables`; a failure leaves the live model as it was.
   */
  readonly swap?: boolean
}

/**
 * Read models did not reach a position in time.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProjectionTimeout extends Schema.TaggedError<ProjectionTimeout>()("ProjectionTimeout", {
  position: Schema.Number,
  lagging: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `read models ${this.lagging.join(", ")} have not reached position ${this.position} yet`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Events read per transaction (default 500). */
  readonly batchSize?: number
  /** How long a worker's lease lasts without renewal (default 5 s). Takeover happens within it plus `acquireInterval`. */
  readonly leaseTtl?: Duration.DurationInput
  /** How often a worker without a lease tries to take one (default 1 s). */
  readonly acquireInterval?: Duration.DurationInput
  /** Retries of an event whose handler fails, before it is quarantined (default: 3, exponential from 50 ms). */
  readonly retry?: Schedule.Schedule<unknown, unknown>
  /** After quarantining an event: `stop` the projection (default) or `skip` the event. */
  readonly onPoison?: "stop" | "skip"
  /** This worker's name in leases (default host-pid-random). */
  readonly owner?: string
}

/**
 * @since 0.1.0
 * @category services
 */
export interface Service {
  readonly status: Effect.Effect<ReadonlyArray<Status>, ProjectionError>
  /** Waits until the read models (all, or the named ones) have applied everything up to `position`. */
  readonly waitFor: (
    position: number,
    options?: { readonly projections?: ReadonlyArray<string>; readonly timeout?: Duration.DurationInput }
  ) => Effect.Effect<void, ProjectionTimeout | ProjectionError | UnknownProjection>
  /**
   * Replays every event into a read model, reporting progress; workers resume it after. By default
   * it empties the model first; with `{ swap: true }` it builds a new one beside it and swaps it in.
   */
  readonly rebuild: (
    name: string,
    options?: RebuildOptions
  ) => Stream.Stream<RebuildProgress, ProjectionError | UnknownProjection | SwapRefused>
  readonly quarantined: (name?: string) => Effect.Effect<ReadonlyArray<QuarantinedEvent>, ProjectionError>
  /**
   * Applies quarantined events the checkpoint has passed (skipped ones) again; those that now
   * succeed leave the quarantine. Returns how many. The event a stopped projection stopped on is
   * applied by `resume` instead, and leaves the quarantine then.
   */
  readonly replayQuarantined: (name: string) => Effect.Effect<number, ProjectionError | UnknownProjection>
  /**
   * Lets workers run a projection that stopped on a poison event again, from the event it stopped
   * on. Does nothing to a projection in any other state.
   */
  readonly resume: (name: string) => Effect.Effect<void, ProjectionError | UnknownProjection>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Projections extends Context.Tag("@chronicle/cqrs/Projections")<Projections, Service>() {}

const eventsApplied = Metric.counter("chronicle_projection_events_total", {
  description: "Events applied by projections",
  incremental: true
})
const checkpointGauge = Metric.gauge("chronicle_projection_checkpoint", { description: "Projection checkpoints" })
const rebuildGauge = Metric.gauge("chronicle_projection_rebuild_progress", { description: "Rebuild progress, 0 to 1" })
const batchTimer = Metric.timer("chronicle_projection_batch_duration", "Time to apply one batch")

class LeaseLost extends Data.TaggedError("LeaseLost")<{}> {}
class Poisoned extends Data.TaggedError("Poisoned")<{ readonly error: string }> {}
/** A handler threw: as much a poison event as one that failed, so it is retried and quarantined too. */
class HandlerDied extends Data.TaggedError("HandlerDied")<{ readonly defect: unknown }> {
  override get message(): string {
    return this.defect instanceof Error ? `${this.defect.name}: ${this.defect.message}` : String(this.defect)
  }
}

/** Where batches go: the live read model and its checkpoint, or a rebuild's shadow tables. */
interface Target {
  readonly state: State
  /** Who holds the lease the batches are written under: the worker, or one rebuild. */
  readonly owner: string
  /** While a rebuild with swap fills shadow tables: their names, and what it quarantined so far. */
  readonly shadow: Shadow | undefined
  /**
   * Quarantined events past the checkpoint, the ones a stopped projection stopped on: applied at
   * last, they leave the quarantine in the same transaction.
   */
  readonly ahead: ReadonlySet<string>
}

interface Shadow {
  readonly tables: ReadonlyMap<string, string>
  readonly quarantined: Ref.Ref<ReadonlyArray<Store.Quarantined>>
}

const live = (state: State, owner: string, ahead: ReadonlySet<string> = new Set()): Target => ({
  state,
  owner,
  shadow: undefined,
  ahead
})

const describe = (cause: Cause.Cause<unknown>) => Cause.pretty(cause).split("\n").slice(0, 3).join(" ").slice(0, 500)

const make = <R>(projections: ReadonlyArray<Projection<unknown, R>>, options: Options = {}) =>
  Effect.gen(function*() {
    const store = yield* Store.make.pipe(
      Effect.mapError((cause) =>
        new ProjectionError({ projection: "*", reason: "could not prepare projection tables", cause })
      )
    )
    const ddl = yield* Tables.make
    const events = yield* EventStore.EventStore
    const context = yield* Effect.context<R>()
    const sql = store.sql
    const batchSize = options.batchSize ?? 500
    const ttl = Duration.toMillis(options.leaseTtl ?? "5 seconds")
    const acquireInterval = options.acquireInterval ?? "1 second"
    const retry = options.retry ?? Schedule.exponential("50 millis").pipe(Schedule.intersect(Schedule.recurs(3)))
    const onPoison = options.onPoison ?? "stop"
    const owner = options.owner ?? `${hostname()}-${process.pid}-${crypto.randomUUID().slice(0, 8)}`
    const byName = new Map(projections.map((p) => [p.name, p]))
    yield* Effect.forEach(projections, (p) => store.ensure(p.name)).pipe(
      Effect.mapError((cause) =>
        new ProjectionError({ projection: "*", reason: "could not register projections", cause })
      )
    )

    const fail = (projection: string, reason: string) => (cause: unknown) =>
      new ProjectionError({ projection, reason, cause })
    const find = (name: string) =>
      Option.match(Option.fromNullable(byName.get(name)), {
        onNone: () => Effect.fail(new UnknownProjection({ name })),
        onSome: Effect.succeed
      })
    const provided = <A, E>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, context)
    const now = Clock.currentTimeMillis

    /** Runs a projection's effect against the target's tables (`Projection.table` reads them). */
    const inTables = <A, E>(effect: Effect.Effect<A, E, R>, target: Target) =>
      target.shadow === undefined
        ? provided(effect)
        : Effect.locally(provided(effect), Tables.currentTables, target.shadow.tables)

    const applyAll = (p: Projection<unknown, R>, batch: ReadonlyArray<EventStore.RecordedEvent>, target: Target) =>
      inTables(
        p.applyBatch !== undefined && batch.length > 0
          ? p.applyBatch(batch)
          : Effect.forEach(batch, p.apply, { discard: true }),
        target
      ).pipe(Effect.catchAllDefect((defect) => Effect.fail(new HandlerDied({ defect }))))

    /** The batch's events that were quarantined ahead of the checkpoint leave the quarantine. */
    const settle = (p: Projection<unknown, R>, batch: ReadonlyArray<EventStore.RecordedEvent>, target: Target) => {
      const settled = target.ahead.size === 0 ? [] : batch.filter((e) => target.ahead.has(e.eventId))
      return settled.length === 0
        ? Effect.void
        : Effect.forEach(settled, (e) => store.unquarantine(p.name, e.eventId), { discard: true })
    }

    /** Moves the checkpoint (or, filling shadow tables, only renews the lease), while we own it. */
    const advance = (p: Projection<unknown, R>, position: number, target: Target) =>
      Effect.flatMap(now, (t) =>
        target.shadow === undefined
          ? store.advance(p.name, target.owner, position, target.state, t, ttl)
          : store.renew(p.name, target.owner, t, ttl)).pipe(
          Effect.flatMap((owned) => owned ? Effect.void : Effect.fail(new LeaseLost()))
        )

    // a shadow's quarantine waits for its swap: until then the live model's stands
    const quarantine = (
      p: Projection<unknown, R>,
      event: EventStore.RecordedEvent,
      error: string,
      t: number,
      target: Target
    ) =>
      target.shadow === undefined
        ? store.quarantine(p.name, event, error, t)
        : Ref.update(target.shadow.quarantined, (all) => [...all, { event, error, at: t }])

    /** Applies a batch and moves the checkpoint, in one transaction for SQL read models. */
    const commit = (
      p: Projection<unknown, R>,
      batch: ReadonlyArray<EventStore.RecordedEvent>,
      to: number,
      target: Target
    ) => {
      const work = Effect.zipRight(
        Effect.zipRight(applyAll(p, batch, target), settle(p, batch, target)),
        advance(p, to, target)
      )
      return p.transactional ? sql.withTransaction(work) : work
    }

    /** A batch failed: apply it one event at a time, retrying, and quarantine what still fails. */
    const slowPath = (
      p: Projection<unknown, R>,
      batch: ReadonlyArray<EventStore.RecordedEvent>,
      to: number,
      target: Target
    ) =>
      Effect.gen(function*() {
        for (const event of batch) {
          const single = commit(p, [event], event.globalPosition, target).pipe(
            Effect.retry({ schedule: retry, while: (e) => !(e instanceof LeaseLost) })
          )
          const outcome = yield* Effect.exit(single)
          if (outcome._tag === "Success") continue
          if (Cause.failureOption(outcome.cause).pipe(Option.exists((e) => e instanceof LeaseLost))) {
            return yield* Effect.fail(new LeaseLost())
          }
          const error = describe(outcome.cause)
          const t = yield* now
          yield* Effect.logError(
            `projection ${p.name}: event ${event.eventId} at ${event.globalPosition} failed: ${error}`
          )
          if (onPoison === "skip") {
            yield* sql.withTransaction(
              Effect.zipRight(quarantine(p, event, error, t, target), advance(p, event.globalPosition, target))
            )
            continue
          }
          // a rebuild into shadow tables just fails: the live projection is left as it was
          if (target.shadow !== undefined) return yield* Effect.fail(new Poisoned({ error }))
          // fenced: a worker that lost its lease meanwhile quarantines nothing
          yield* sql.withTransaction(Effect.gen(function*() {
            if (!(yield* store.release(p.name, target.owner, "failed", error, t))) {
              return yield* Effect.fail(new LeaseLost())
            }
            yield* store.quarantine(p.name, event, error, t)
          }))
          return yield* Effect.fail(new Poisoned({ error }))
        }
        yield* advance(p, to, target)
      })

    // tagged once per projection: a tagged metric is a new key, looked up by hash on every update
    const tagged = new Map<
      string,
      {
        readonly applied: typeof eventsApplied
        readonly checkpoint: typeof checkpointGauge
        readonly rebuild: typeof rebuildGauge
      }
    >()
    const metricsOf = (name: string) => {
      let metrics = tagged.get(name)
      if (metrics === undefined) {
        metrics = {
          applied: Metric.tagged(eventsApplied, "projection", name),
          checkpoint: Metric.tagged(checkpointGauge, "projection", name),
          rebuild: Metric.tagged(rebuildGauge, "projection", name)
        }
        tagged.set(name, metrics)
      }
      return metrics
    }

    /** One batch from the checkpoint: how far it got, and whether it reached the head. */
    const step = (p: Projection<unknown, R>, from: number, target: Target) =>
      Effect.gen(function*() {
        const read = events.readAll({
          from,
          limit: batchSize,
          ...(p.category === undefined ? {} : { filter: EventStore.category(p.category) })
        })
        let page = yield* read
        let head = 0
        if (page.length < batchSize) {
          // a short page may let the checkpoint jump to the head, which must then be read before
          // the page it bounds; a full page (catching up) needs no head
          head = yield* events.head
          page = yield* read
        }
        const last = page.at(-1)
        const full = page.length === batchSize
        // below the head every position is final, so a short page lets the checkpoint jump to it
        const to = full && last !== undefined ? last.globalPosition : Math.max(head, last?.globalPosition ?? from, from)
        if (to === from) return { to, applied: 0, atHead: true }
        const batch = page.filter((e) => p.eventTypes.has(e.type))
        const started = yield* now
        yield* commit(p, batch, to, target).pipe(
          Effect.catchIf((e) => !(e instanceof LeaseLost), () => slowPath(p, batch, to, target)),
          Effect.uninterruptible
        )
        yield* Metric.update(batchTimer, Duration.millis((yield* now) - started))
        const metrics = metricsOf(p.name)
        yield* Metric.incrementBy(metrics.applied, batch.length)
        yield* Metric.set(metrics.checkpoint, to)
        return { to, applied: page.length, atHead: !full }
      })

    /** Owns a projection until its lease is lost: catches up, then follows the store. */
    const follow = (p: Projection<unknown, R>) =>
      Effect.gen(function*() {
        yield* provided(p.setup)
        let position = (yield* store.get(p.name))?.position ?? 0
        const ahead = (yield* store.quarantined(p.name)).filter((q) => q.position > position)
        const target = live("running", owner, new Set(ahead.map((q) => q.eventId)))
        yield* Effect.logInfo(`projection ${p.name}: running from ${position} as ${owner}`)
        while (true) {
          const { atHead, to } = yield* step(p, position, target)
          position = to
          if (atHead) {
            // wait for new events, waking at least often enough to renew the lease
            yield* events.subscribe({
              from: position,
              ...(p.category === undefined ? {} : { filter: EventStore.category(p.category) })
            }).pipe(
              Stream.runHead,
              Effect.race(Effect.sleep(Duration.millis(ttl / 3))),
              Effect.ignore
            )
            yield* advance(p, position, target)
          }
        }
      })

    const runProjection = (p: Projection<unknown, R>) =>
      Effect.gen(function*() {
        const acquired = yield* Effect.flatMap(now, (t) => store.acquire(p.name, owner, t, ttl))
        if (!acquired) return yield* Effect.sleep(acquireInterval)
        yield* follow(p).pipe(
          Effect.ensuring(
            Effect.flatMap(now, (t) => store.release(p.name, owner, "stopped", null, t)).pipe(Effect.ignore)
          ),
          Effect.catchIf(
            (e): e is LeaseLost => e instanceof LeaseLost,
            () => Effect.logWarning(`projection ${p.name}: lease lost; another worker owns it now`)
          ),
          Effect.catchIf(
            (e): e is Poisoned => e instanceof Poisoned,
            (e) => Effect.logError(`projection ${p.name}: stopped on a poison event: ${e.error}`)
          ),
          Effect.catchAllCause((cause) =>
            Effect.zipRight(
              Effect.logError(`projection ${p.name}: failed, will retry: ${describe(cause)}`),
              Effect.sleep(acquireInterval)
            )
          )
        )
      }).pipe(
        // e.g. the database is unreachable: try again later, never in a tight loop
        Effect.catchAllCause((cause) =>
          Effect.zipRight(Effect.logError(`projection ${p.name}: ${describe(cause)}`), Effect.sleep(acquireInterval))
        ),
        Effect.forever
      )

    const status: Service["status"] = Effect.gen(function*() {
      const head = yield* events.head
      const rows = yield* store.all
      const quarantined = yield* store.quarantined()
      return yield* Effect.forEach(projections, (p) =>
        Effect.gen(function*() {
          const row = rows.find((r) => r.name === p.name)
          const checkpoint = row?.position ?? 0
          const live = row !== undefined && row.owner !== null && row.leaseUntil >= (yield* now)
          const state = (row === undefined ? "idle" : row.state === "running" && !live ? "stopped" : row.state) as State
          return {
            name: p.name,
            state,
            checkpoint,
            head,
            lag: checkpoint >= head ? 0 : yield* store.countAfter(checkpoint, p.category),
            lastError: row?.lastError ?? null,
            owner: live ? row.owner : null,
            quarantined: quarantined.filter((q) => q.projection === p.name).length
          }
        }))
    }).pipe(Effect.mapError(fail("*", "status failed")))

    const waitFor: Service["waitFor"] = (position, waitOptions = {}) =>
      Effect.gen(function*() {
        const names = waitOptions.projections ?? projections.map((p) => p.name)
        yield* Effect.forEach(names, find)
        const lagging = Effect.map(
          store.all,
          (rows) => names.filter((name) => (rows.find((r) => r.name === name)?.position ?? 0) < position)
        )
        const reached = yield* lagging.pipe(
          Effect.repeat({
            schedule: Schedule.spaced("20 millis"),
            until: (l) => l.length === 0
          }),
          Effect.timeoutOption(waitOptions.timeout ?? "5 seconds"),
          Effect.mapError(fail(names.join(", "), "waiting failed"))
        )
        if (Option.isNone(reached)) {
          const behind = yield* lagging.pipe(Effect.mapError(fail(names.join(", "), "waiting failed")))
          if (behind.length > 0) return yield* Effect.fail(new ProjectionTimeout({ position, lagging: behind }))
        }
      })

    /** Fills a rebuild's target from a clean start: the live model emptied, or fresh shadow tables. */
    const prepare = (p: Projection<unknown, R>, swap: boolean, by: string) =>
      Effect.gen(function*() {
        if (!swap) {
          yield* provided(p.setup).pipe(Effect.mapError(fail(p.name, "setup failed")))
          const t = yield* now
          // the model is emptied only while the rebuild still holds the lease
          yield* sql.withTransaction(
            Effect.flatMap(
              store.resetCheckpoint(p.name, by, t),
              (owned) => owned ? provided(p.reset) : Effect.fail(new LeaseLost())
            )
          ).pipe(Effect.mapError((e) => e instanceof LeaseLost ? e : fail(p.name, "reset failed")(e)))
          return live("rebuilding", by)
        }
        const tables = new Map(p.tables.map((table) => [table, Tables.shadowName(table)]))
        const shadows = [...tables.values()]
        // left by a rebuild that died: stale
        yield* sql.withTransaction(ddl.drop(shadows)).pipe(
          Effect.mapError(fail(p.name, "could not drop stale shadow tables"))
        )
        // an unfinished shadow is dropped, unless another rebuild has taken the lease (and the tables) since
        yield* Effect.addFinalizer(() =>
          sql.withTransaction(
            Effect.flatMap(store.get(p.name), (row) => row?.owner === by ? ddl.drop(shadows) : Effect.void)
          ).pipe(Effect.ignore)
        )
        const target: Target = {
          state: "rebuilding",
          owner: by,
          shadow: { tables, quarantined: yield* Ref.make<ReadonlyArray<Store.Quarantined>>([]) },
          ahead: new Set()
        }
        yield* inTables(p.setup, target).pipe(Effect.mapError(fail(p.name, "setup of the shadow tables failed")))
        const missing = yield* Effect.filter(shadows, (table) => Effect.map(ddl.exists(table), (found) => !found)).pipe(
          Effect.mapError(fail(p.name, "could not check the shadow tables"))
        )
        if (missing.length > 0) {
          // its handlers would write to the live tables: stop before replaying anything
          return yield* Effect.fail(
            new SwapRefused({
              projection: p.name,
              reason: `setup did not create ${
                missing.join(", ")
              }: setup and handlers must name their tables through Projection.table`
            })
          )
        }
        return target
      })

    /** Puts the shadow tables in place of the live ones and moves the checkpoint, in one transaction. */
    const swapIn = (p: Projection<unknown, R>, shadow: Shadow, position: number, by: string) =>
      Effect.gen(function*() {
        const quarantined = yield* Ref.get(shadow.quarantined)
        const t = yield* now
        yield* sql.withTransaction(Effect.gen(function*() {
          if (!(yield* store.swapCheckpoint(p.name, by, position, quarantined, t, ttl))) {
            return yield* Effect.fail(new LeaseLost())
          }
          yield* ddl.swap(p.tables)
        }))
        yield* Metric.set(metricsOf(p.name).checkpoint, position)
        yield* Effect.logInfo(`projection ${p.name}: swapped the rebuilt ${p.tables.join(", ")} in at ${position}`)
      }).pipe(Effect.mapError((e) => e instanceof LeaseLost ? e : fail(p.name, "swap failed")(e)))

    const rebuildFailure = (name: string) => (e: unknown) =>
      e instanceof ProjectionError
        ? e
        : e instanceof LeaseLost
        ? fail(name, "rebuild interrupted: another worker took the projection over")(e)
        : e instanceof Poisoned
        ? fail(name, `rebuild stopped on a poison event: ${e.error}`)(e)
        : fail(name, "rebuild failed")(e)

    const rebuild: Service["rebuild"] = (name, rebuildOptions = {}) =>
      Stream.unwrapScoped(
        Effect.gen(function*() {
          const p = yield* find(name)
          const swap = rebuildOptions.swap === true
          const refusal = swap ? Tables.refusal(p.tables) : undefined
          if (refusal !== undefined) return yield* Effect.fail(new SwapRefused({ projection: name, reason: refusal }))
          // a lease of its own, even beside this process's worker: the worker hands over like any other
          const by = `${owner}/rebuild-${crypto.randomUUID().slice(0, 8)}`
          // ask a running worker to hand the projection over, then take its lease once it lets go
          // (or once its lease expires, if it died); a failed projection can be rebuilt too
          yield* Effect.flatMap(now, (t) => store.requestHandover(name, t)).pipe(
            Effect.mapError(fail(name, "could not request the lease"))
          )
          yield* Effect.flatMap(now, (t) => store.acquireForRebuild(name, by, t, ttl)).pipe(
            Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (acquired) => acquired }),
            Effect.mapError(fail(name, "could not take the lease"))
          )
          yield* Effect.addFinalizer(() =>
            Effect.flatMap(now, (t) => store.release(name, by, "idle", null, t)).pipe(Effect.ignore)
          )
          const t0 = yield* now
          const target = yield* prepare(p, swap, by)
          const total = yield* store.countAfter(0, p.category)
          yield* Effect.logInfo(
            `projection ${name}: rebuilding ${total} events${
              target.shadow === undefined ? "" : ` into ${[...target.shadow.tables.values()].join(", ")}`
            }`
          )
          let lastLog = t0
          return Stream.paginateEffect({ position: 0, done: 0 }, (s) =>
            Effect.gen(function*() {
              const { applied, atHead, to } = yield* step(p, s.position, target)
              // caught up: the shadow replaces the live model before the last progress is reported
              if (atHead && target.shadow !== undefined) yield* swapIn(p, target.shadow, to, by)
              const done = Math.min(s.done + applied, Math.max(total, s.done + applied))
              const t = yield* now
              const seconds = Math.max((t - t0) / 1000, 0.001)
              const rate = done / seconds
              const progress: RebuildProgress = {
                projection: name,
                done,
                total: Math.max(total, done),
                ratePerSecond: Math.round(rate),
                etaSeconds: rate > 0 ? Math.max(0, Math.round((Math.max(total, done) - done) / rate)) : 0
              }
              yield* Metric.set(metricsOf(name).rebuild, total === 0 ? 1 : done / total)
              if (t - lastLog >= 2000 || atHead) {
                lastLog = t
                yield* Effect.logInfo(
                  `projection ${name}: rebuilt ${done}/${progress.total} (${progress.ratePerSecond}/s, ETA ${progress.etaSeconds}s)`
                )
              }
              return [progress, atHead ? Option.none() : Option.some({ position: to, done })] as const
            }).pipe(Effect.mapError(rebuildFailure(name))))
        }).pipe(
          Effect.mapError((e) =>
            e instanceof UnknownProjection || e instanceof SwapRefused ? e : rebuildFailure(name)(e)
          )
        )
      )

    const quarantinedEvents: Service["quarantined"] = (name) =>
      store.quarantined(name).pipe(Effect.mapError(fail(name ?? "*", "could not list quarantined events")))

    const replayQuarantined: Service["replayQuarantined"] = (name) =>
      Effect.gen(function*() {
        const p = yield* find(name)
        const rows = yield* store.quarantined(name)
        let replayed = 0
        for (const row of rows) {
          const [event] = yield* events.readAll({ from: row.position - 1, limit: 1 })
          if (event === undefined || event.eventId !== row.eventId) continue
          // only events the checkpoint has passed (skipped ones): the event a stopped projection
          // stopped on is still ahead of it, and the worker applies it once resumed
          const outcome = yield* Effect.exit(sql.withTransaction(
            Effect.flatMap(store.passed(name, row.position), (passed) =>
              passed
                ? applyAll(p, [event], live("running", owner)).pipe(
                  Effect.zipRight(store.unquarantine(name, row.eventId)),
                  Effect.as(true)
                )
                : Effect.succeed(false))
          ))
          if (outcome._tag === "Success" && outcome.value) replayed++
        }
        return replayed
      }).pipe(Effect.mapError((e) => e instanceof UnknownProjection ? e : fail(name, "replay failed")(e)))

    const resume: Service["resume"] = (name) =>
      Effect.gen(function*() {
        yield* find(name)
        yield* Effect.flatMap(now, (t) => store.resume(name, t))
      }).pipe(Effect.mapError((e) => e instanceof UnknownProjection ? e : fail(name, "resume failed")(e)))

    const service: Service = {
      status,
      waitFor,
      rebuild,
      quarantined: quarantinedEvents,
      replayQuarantined,
      resume
    }
    return { service, run: Effect.forEach(projections, (p) => Effect.forkScoped(runProjection(p)), { discard: true }) }
  })

/**
 * The service without running anything (for a server or a CLI): status, waits, rebuilds, quarantine.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <R>(
  projections: ReadonlyArray<Projection<unknown, R>>,
  options?: Options
): Layer.Layer<Projections, ProjectionError, SqlClient.SqlClient | EventStore.EventStore | R> =>
  Layer.effect(Projections, Effect.map(make(projections, options), (m) => m.service))

/**
 * The service, and every projection running in the background with checkpoints and leases (for
 * workers). Stopping the layer finishes the batch in flight and releases the leases.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWorker = <R>(
  projections: ReadonlyArray<Projection<unknown, R>>,
  options?: Options
): Layer.Layer<Projections, ProjectionError, SqlClient.SqlClient | EventStore.EventStore | Exclude<R, Scope.Scope>> =>
  Layer.scoped(Projections, Effect.flatMap(make(projections, options), (m) => Effect.as(m.run, m.service)))
