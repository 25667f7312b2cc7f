/**
 * The endpoints' implementations: writes are commands on the command bus (repository, resilient
 * event store); reads are queries on the read models, optionally after waiting for a position.
 */
import { CommandBus, CommandHandler, Projections, QueryBus, StreamHistory } from "@chronicle/cqrs"
import { Document, Documents, ReadModel, SavePipeline } from "@chronicle/documents"
import { EventStore } from "@chronicle/eventstore"
import { Pipeline } from "@chronicle/pipeline"
import { Monitoring } from "@chronicle/resilience"
import { HttpApiBuilder, HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Duration, Effect, Layer, Metric, Option, Redacted } from "effect"
import { createHash, randomUUID, timingSafeEqual } from "node:crypto"
import * as Api from "./Api.js"
import { dashboardHtml } from "./Dashboard.js"
import * as Prometheus from "./Prometheus.js"
import { ServerSettings, StoreBreaker } from "./Services.js"

type ApiError =
  | Api.BadRequest
  | Api.DocumentNotFound
  | Api.DocumentExists
  | Api.DocumentDeleted
  | Api.VersionConflict
  | Api.InvariantViolated
  | Api.ServiceUnavailable

/** A command's failures, as the HTTP errors of the contract. */
const commandError =
  (documentId: string, creating: boolean) => (error: { readonly _tag: string } & object): ApiError => {
    const e = error as Record<string, unknown> & { readonly _tag: string; readonly message?: string }
    const message = typeof e.message === "string" && e.message.length > 0 ? e.message : e._tag
    switch (e._tag) {
      case "InvariantViolated":
        return new Api.InvariantViolated({ invariant: String(e.invariant), reason: String(e.reason), message })
      case "VersionConflict":
        return new Api.VersionConflict({ documentId, expected: Number(e.expected), actual: Number(e.actual), message })
      case "WrongExpectedVersion":
        return new Api.VersionConflict({
          documentId,
          expected: null,
          actual: Number(e.actual),
          message: `document ${documentId} was changed concurrently (now at version ${Number(e.actual)}); retry`
        })
      case "AggregateAlreadyExists":
        return new Api.DocumentExists({ documentId, message: `document ${documentId} already exists` })
      case "AggregateNotFound":
        return e.deleted === true
          ? creating
            ? new Api.DocumentExists({
              documentId,
              message: `document ${documentId} existed and was deleted; choose another id`
            })
            : new Api.DocumentDeleted({ documentId, message: `document ${documentId} was deleted` })
          : new Api.DocumentNotFound({ documentId, message: `document ${documentId} does not exist` })
      case "StreamDeleted":
        return new Api.DocumentDeleted({ documentId, message: `document ${documentId} was deleted` })
      case "IdempotencyConflict":
        return new Api.DocumentExists({ documentId, message: "this Idempotency-Key was used for another change" })
      case "InvalidRequest":
      case "ValidationError":
        return new Api.BadRequest({ message })
      default:
        return new Api.ServiceUnavailable({ message: `the store is unavailable: ${message}` })
    }
  }

const idempotencyKey = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
  const key = request.headers["idempotency-key"]
  return key !== undefined && /^[A-Za-z0-9_.:-]{1,128}$/.test(key) ? Option.some(key) : Option.none()
})

/** The id of a document created without one under an `Idempotency-Key`: `k` and 32 hex of its SHA-256. */
const documentIdOfKey = (key: string): string =>
  `k${createHash("sha256").update(`chronicle:create-document:${key}`).digest("hex").slice(0, 32)}`

// a block without an id is `b<its position>`, or the next such id no block of the request has
const toBlocks = (blocks: ReadonlyArray<typeof Api.CreateDocumentBody.Type["content"]["blocks"][number]>) => {
  const taken = new Set(blocks.flatMap((block) => block.id === undefined ? [] : [block.id]))
  return blocks.map((block, index) => {
    let id = block.id
    if (id === undefined) {
      let n = index + 1
      while (taken.has(`b${n}`)) n++
      id = `b${n}`
      taken.add(id)
    }
    return { id, type: block.type ?? ("paragraph" as const), content: block.content }
  })
}

const sameSecret = (given: string, expected: string): boolean =>
  timingSafeEqual(createHash("sha256").update(given).digest(), createHash("sha256").update(expected).digest())

/** Writes need `Authorization: Bearer <CHRONICLE_API_TOKEN>` when the token is set. */
export const AuthorizationLive = Layer.effect(
  Api.Authorization,
  Effect.map(ServerSettings, (settings) =>
    Api.Authorization.of({
      bearer: (credential) =>
        Option.match(settings.token, {
          onNone: () => Effect.void,
          onSome: (token) =>
            sameSecret(Redacted.value(credential), Redacted.value(token))
              ? Effect.void
              : Effect.fail(
                new Api.Unauthorized({ message: "this write needs Authorization: Bearer <CHRONICLE_API_TOKEN>" })
              )
        })
    }))
)

export const DocumentsLive = HttpApiBuilder.group(Api.Api, "documents", (handlers) =>
  Effect.gen(function*() {
    const commands = yield* CommandBus.CommandBus
    const queries = yield* QueryBus.QueryBus
    const documents = yield* Documents.Documents
    const projections = yield* Projections.Projections
    const store = yield* EventStore.EventStore
    const settings = yield* ServerSettings
    const savePipeline = yield* SavePipeline.make

    // Sends a command and answers with the document as of the version it wrote.
    const execute = (documentId: string, command: Document.DocumentCommand, creating = false) =>
      Effect.gen(function*() {
        const key = yield* idempotencyKey
        const options = {
          metadata: { source: "http" },
          ...(Option.isSome(key) ? { messageId: `${documentId}:${key.value}` } : {})
        }
        const result = yield* (commands.dispatch(command, options) as Effect.Effect<
          CommandHandler.CommandResult,
          { readonly _tag: string } & object
        >).pipe(Effect.mapError(commandError(documentId, creating)))
        const loaded = yield* documents.loadAt(documentId, { version: result.version }).pipe(
          Effect.mapError(commandError(documentId, creating))
        )
        return { ...Document.toView(loaded.state), globalPosition: result.globalPosition }
      })

    // Read your writes: wait, bounded, until the named read models reached `minPosition`. The head
    // is asked only after a timeout, to tell a position never written from read models behind: on
    // PostgreSQL it stops below transactions still open on the server, so a position just written
    // can be above it for a moment.
    const waitFor = (minPosition: number | undefined, names: ReadonlyArray<string>) =>
      minPosition === undefined || minPosition === 0
        ? Effect.void
        : projections.waitFor(minPosition, { projections: names, timeout: settings.readTimeout }).pipe(
          Effect.catchTags({
            ProjectionTimeout: () =>
              Effect.flatMap(
                store.head.pipe(
                  Effect.mapError(() => new Api.ServiceUnavailable({ message: "the event store is unavailable" }))
                ),
                (head) =>
                  Effect.fail(
                    minPosition > head
                      ? new Api.BadRequest({
                        message: `minPosition ${minPosition} is beyond the last written position (${head})`
                      })
                      : new Api.ReadModelBehind({
                        position: minPosition,
                        message: `the read models have not reached position ${minPosition} within ${
                          Duration.format(settings.readTimeout)
                        }; is the worker running?`
                      })
                  )
              ),
            ProjectionError: (e) => Effect.fail(new Api.ServiceUnavailable({ message: e.message })),
            UnknownProjection: (e) => Effect.fail(new Api.ServiceUnavailable({ message: e.message }))
          })
        )

    const query = <A>(effect: Effect.Effect<A, { readonly _tag: string; readonly message: string }>) =>
      Effect.mapError(effect, (e) =>
        new Api.ServiceUnavailable({ message: `the read model is unavailable: ${e.message}` }))

    const history = (documentId: string) =>
      query(
        queries.dispatch(new StreamHistory.GetStreamHistory({ streamId: Document.streamId(documentId), limit: 10_000 }))
      )

    return handlers
      .handle("create", ({ payload }) =>
        Effect.flatMap(idempotencyKey, (key) => {
          // A retry without an id must name the same document, so the id comes from the key.
          const documentId = payload.id ??
            Document.DocumentId.make(Option.isSome(key) ? documentIdOfKey(key.value) : randomUUID())
          return execute(
            documentId,
            new Document.CreateDocument({
              documentId,
              title: payload.title ?? Document.defaultTitle,
              authorId: payload.authorId ?? Document.UserId.make("anonymous"),
              blocks: toBlocks(payload.content.blocks),
              metadata: payload.metadata ?? {}
            }),
            true
          )
        }))
      .handle("list", ({ urlParams }) =>
        Effect.gen(function*() {
          const limit = urlParams.limit ?? 20
          const offset = urlParams.offset ?? 0
          if (urlParams.q !== undefined) {
            yield* waitFor(urlParams.minPosition, [
              ReadModel.DocumentViewProjection.name,
              ReadModel.SearchIndexProjection.name
            ])
            return yield* query(queries.dispatch(new ReadModel.SearchDocuments({ query: urlParams.q, limit, offset })))
          }
          yield* waitFor(urlParams.minPosition, [ReadModel.DocumentViewProjection.name])
          return yield* query(queries.dispatch(new ReadModel.ListDocuments({ limit, offset })))
        }))
      .handle("get", ({ path, urlParams }) =>
        Effect.gen(function*() {
          yield* waitFor(urlParams.minPosition, [ReadModel.DocumentViewProjection.name])
          const found = yield* query(queries.dispatch(new ReadModel.GetDocument({ documentId: path.id })))
          if (Option.isNone(found)) {
            return yield* Effect.fail(
              new Api.DocumentNotFound({ documentId: path.id, message: `document ${path.id} does not exist` })
            )
          }
          if (found.value.deleted) {
            return yield* Effect.fail(
              new Api.DocumentDeleted({ documentId: path.id, message: `document ${path.id} was deleted` })
            )
          }
          const response = { ...found.value.view, globalPosition: found.value.position }
          if (urlParams.includeHistory !== true) {
            return response
          }
          const events = yield* history(path.id)
          return {
            ...response,
            history: events.map((e) => ({
              type: e.type,
              version: e.streamVersion,
              timestamp: e.timestamp.toISOString(),
              data: e.data
            }))
          }
        }))
      .handle("saveContent", ({ path, payload }) =>
        // the seed's pipeline: validate → enrich (time, next version, content hash) → persist → notify
        Effect.gen(function*() {
          const key = yield* idempotencyKey
          const saved = yield* Pipeline.run(savePipeline, {
            _tag: "SaveDocumentContent",
            documentId: path.id,
            blocks: toBlocks(payload.content.blocks),
            metadata: payload.metadata ?? {},
            ...(payload.expectedVersion === undefined ? {} : { expectedVersion: payload.expectedVersion })
          }).pipe(
            Effect.provideService(EventStore.EventStore, store),
            (run) =>
              Option.match(key, {
                onNone: () =>
                  run,
                onSome: (k) => Effect.provideService(run, SavePipeline.CommandId, `${path.id}:${k}`)
              }),
            Effect.mapError((failed) =>
              failed.error._tag === "ValidationFailed"
                ? new Api.BadRequest({ message: failed.error.message })
                : commandError(path.id, false)(failed.error)
            )
          )
          const loaded = yield* documents.loadAt(path.id, { version: saved.output.result.version }).pipe(
            Effect.mapError(commandError(path.id, false))
          )
          return { ...Document.toView(loaded.state), globalPosition: saved.output.result.globalPosition }
        }))
      .handle("rename", ({ path, payload }) =>
        execute(
          path.id,
          new Document.RenameDocument({
            documentId: path.id,
            title: payload.title,
            expectedVersion: payload.expectedVersion
          })
        ))
      .handle("addCollaborator", ({ path, payload }) =>
        execute(
          path.id,
          new Document.AddCollaborator({
            documentId: path.id,
            userId: payload.userId,
            expectedVersion: payload.expectedVersion
          })
        ))
      .handle(
        "removeCollaborator",
        ({ path }) => execute(path.id, new Document.RemoveCollaborator({ documentId: path.id, userId: path.userId }))
      )
      .handle("delete", ({ path }) =>
        Effect.gen(function*() {
          const key = yield* idempotencyKey
          const result = yield* (commands.dispatch(new Document.DeleteDocument({ documentId: path.id }), {
            metadata: { source: "http" },
            ...(Option.isSome(key) ? { messageId: `${path.id}:${key.value}` } : {})
          }) as Effect.Effect<CommandHandler.CommandResult, { readonly _tag: string } & object>).pipe(
            Effect.mapError(commandError(path.id, false))
          )
          yield* HttpApp.appendPreResponseHandler((_request, response) =>
            Effect.succeed(
              HttpServerResponse.setHeader(response, "x-global-position", String(result.globalPosition ?? 0))
            )
          )
        }))
      .handle("events", ({ path }) =>
        Effect.gen(function*() {
          const events = yield* history(path.id)
          if (events.length === 0) {
            return yield* Effect.fail(
              new Api.DocumentNotFound({ documentId: path.id, message: `document ${path.id} has no events` })
            )
          }
          return events.map((e) => ({
            eventId: e.eventId,
            type: e.type,
            version: e.streamVersion,
            globalPosition: e.globalPosition,
            timestamp: e.timestamp.toISOString(),
            data: e.data,
            metadata: e.metadata
          }))
        }))
      .handle("notifications", ({ path, urlParams }) =>
        Effect.zipRight(
          waitFor(urlParams.minPosition, [ReadModel.NotificationsProjection.name]),
          query(queries.dispatch(new ReadModel.GetNotifications({ userId: path.userId, limit: 100 })))
        ))
  }))

const projectionLag = Metric.gauge("chronicle_projection_lag", {
  description: "Events after a projection's checkpoint"
})
const projectionQuarantined = Metric.gauge("chronicle_projection_quarantined", {
  description: "Events a projection quarantined"
})
const storeHead = Metric.gauge("chronicle_eventstore_head", { description: "The event store's last global position" })

export const SystemLive = HttpApiBuilder.group(Api.Api, "system", (handlers) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    const projections = yield* Projections.Projections
    const breaker = yield* StoreBreaker
    const monitoring = yield* Monitoring.Monitoring

    const projectionStatus = projections.status.pipe(Effect.orElseSucceed(() => []))

    const health = Effect.gen(function*() {
      const head = yield* store.head.pipe(Effect.timeout("2 seconds"), Effect.either)
      const status = yield* projectionStatus
      const breakerState = yield* breaker.state
      const reachable = head._tag === "Right"
      const failing = status.some((p) => p.state === "failed")
      // Behind with nothing running it (never started, or no live owner): its read model stays stale.
      const stalled = status.some((p) => p.state !== "running" && p.state !== "rebuilding" && p.lag > 0)
      return {
        status: !reachable
          ? "down" as const
          : failing || stalled || breakerState !== "Closed"
          ? "degraded" as const
          : "ok" as const,
        store: {
          reachable,
          head: reachable ? head.right : null,
          error: head._tag === "Left" ? head.left.message : null
        },
        projections: status.map((p) => ({
          name: p.name,
          state: p.state,
          checkpoint: p.checkpoint,
          lag: p.lag,
          quarantined: p.quarantined,
          lastError: p.lastError
        })),
        breakers: [{ name: breaker.name, state: breakerState }]
      }
    })

    return handlers
      .handle("health", () => Effect.flatMap(health, (h) => (h.status === "down" ? Effect.fail(h) : Effect.succeed(h))))
      .handle("metrics", () =>
        Effect.gen(function*() {
          const status = yield* projectionStatus
          const head = yield* store.head.pipe(Effect.orElseSucceed(() => 0))
          yield* Metric.set(storeHead, head)
          for (const p of status) {
            yield* Metric.set(Metric.tagged(projectionLag, "projection", p.name), p.lag)
            yield* Metric.set(Metric.tagged(projectionQuarantined, "projection", p.name), p.quarantined)
          }
          return yield* Prometheus.render
        }))
      .handle("monitoring", () =>
        Effect.gen(function*() {
          const snapshot = yield* monitoring.snapshot
          const status = yield* projectionStatus
          const head = yield* store.head.pipe(Effect.orElseSucceed(() => null))
          return { ...snapshot, head, projections: status }
        }))
      .handle("dashboard", () => Effect.succeed(dashboardHtml))
  }))
