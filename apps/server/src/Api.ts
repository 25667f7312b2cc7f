/**
 * The HTTP contract: endpoints, their payloads, responses and errors. `/openapi.json` is derived
 * from it.
 */
import { Document, ReadModel } from "@chronicle/documents"
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "@effect/platform"
import { Schema } from "effect"

// Any JSON value. Without its own JSON Schema, every `Schema.Unknown` would carry the same `$id`,
// which makes the OpenAPI document invalid.
const JsonValue = Schema.Unknown.annotations({
  jsonSchema: {
    description: "any JSON value",
    anyOf: [{ type: "object" }, { type: "array" }, { type: "string" }, { type: "number" }, { type: "boolean" }, {
      type: "null"
    }]
  }
})

// Request bodies refuse fields they do not know.
const strict = { parseOptions: { onExcessProperty: "error" } } as const

// ---------------------------------------------------------------------------------------------
// errors: JSON with a stable `_tag` and a human `message`
// ---------------------------------------------------------------------------------------------

export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 400 })) {}

export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 401 })) {}

export class DocumentNotFound extends Schema.TaggedError<DocumentNotFound>()("DocumentNotFound", {
  documentId: Schema.String,
  message: Schema.String
}, HttpApiSchema.annotations({ status: 404 })) {}

export class DocumentExists extends Schema.TaggedError<DocumentExists>()("DocumentExists", {
  documentId: Schema.String,
  message: Schema.String
}, HttpApiSchema.annotations({ status: 409 })) {}

export class VersionConflict extends Schema.TaggedError<VersionConflict>()("VersionConflict", {
  documentId: Schema.String,
  expected: Schema.NullOr(Schema.Int),
  actual: Schema.Int,
  message: Schema.String
}, HttpApiSchema.annotations({ status: 409 })) {}

export class DocumentDeleted extends Schema.TaggedError<DocumentDeleted>()("DocumentDeleted", {
  documentId: Schema.String,
  message: Schema.String
}, HttpApiSchema.annotations({ status: 410 })) {}

export class InvariantViolated extends Schema.TaggedError<InvariantViolated>()("InvariantViolated", {
  invariant: Schema.String,
  reason: Schema.String,
  message: Schema.String
}, HttpApiSchema.annotations({ status: 422 })) {}

export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 503 })) {}

/** The read models did not reach `minPosition` in time; retry later. */
export class ReadModelBehind extends Schema.TaggedError<ReadModelBehind>()("ReadModelBehind", {
  position: Schema.Int,
  message: Schema.String
}, HttpApiSchema.annotations({ status: 503 })) {}

// ---------------------------------------------------------------------------------------------
// security: a bearer token for writes, when CHRONICLE_API_TOKEN is set
// ---------------------------------------------------------------------------------------------

export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("Authorization", {
  failure: Unauthorized,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

// ---------------------------------------------------------------------------------------------
// schemas
// ---------------------------------------------------------------------------------------------

const BlockInput = Schema.Struct({
  id: Schema.optional(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/))),
  type: Schema.optional(Document.BlockType),
  content: Schema.String.pipe(Schema.maxLength(100_000))
}).annotations({ ...strict, identifier: "BlockInput" })

const ContentInput = Schema.Struct({
  blocks: Schema.Array(BlockInput).pipe(Schema.maxItems(1_000))
}).annotations({ ...strict, identifier: "ContentInput" })

export const CreateDocumentBody = Schema.Struct({
  id: Schema.optional(Document.DocumentId),
  title: Schema.optional(Document.Title),
  authorId: Schema.optional(Document.UserId),
  content: ContentInput,
  metadata: Schema.optional(Document.Metadata)
}).annotations({ ...strict, identifier: "CreateDocumentBody" })

export const SaveContentBody = Schema.Struct({
  content: ContentInput,
  metadata: Schema.optional(Document.Metadata),
  expectedVersion: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
}).annotations({ ...strict, identifier: "SaveContentBody" })

export const RenameBody = Schema.Struct({
  title: Document.Title,
  expectedVersion: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
}).annotations({ ...strict, identifier: "RenameBody" })

export const CollaboratorBody = Schema.Struct({
  userId: Document.UserId,
  expectedVersion: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
}).annotations({ ...strict, identifier: "CollaboratorBody" })

const HistoryEntry = Schema.Struct({
  type: Schema.String,
  version: Schema.Int,
  timestamp: Schema.String,
  data: JsonValue
}).annotations({ identifier: "HistoryEntry" })

/** A document, and the global position of the write that produced it (command responses). */
export const DocumentResponse = Schema.Struct({
  ...Document.DocumentView.fields,
  globalPosition: Schema.NullOr(Schema.Int),
  history: Schema.optional(Schema.Array(HistoryEntry))
}).annotations({ identifier: "Document" })

export const StoredEvent = Schema.Struct({
  eventId: Schema.String,
  type: Schema.String,
  version: Schema.Int,
  globalPosition: Schema.Int,
  timestamp: Schema.String,
  data: JsonValue,
  metadata: JsonValue
}).annotations({ identifier: "StoredEvent" })

const Position = Schema.NumberFromString.pipe(Schema.int(), Schema.between(0, Number.MAX_SAFE_INTEGER))
const BooleanParam = Schema.Literal("true", "false").pipe(
  Schema.transform(Schema.Boolean, { decode: (s) => s === "true", encode: (b) => (b ? "true" : "false") })
)

const idPath = Schema.Struct({ id: Document.DocumentId })

export const ListParams = Schema.Struct({
  q: Schema.optional(Schema.String.pipe(Schema.maxLength(500))),
  limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 100))),
  offset: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(0, 1_000_000))),
  minPosition: Schema.optional(Position)
}).annotations(strict)

export const GetParams = Schema.Struct({
  includeHistory: Schema.optional(BooleanParam),
  minPosition: Schema.optional(Position)
}).annotations(strict)

const Health = Schema.Struct({
  status: Schema.Literal("ok", "degraded", "down"),
  store: Schema.Struct({
    reachable: Schema.Boolean,
    head: Schema.NullOr(Schema.Int),
    error: Schema.NullOr(Schema.String)
  }),
  projections: Schema.Array(Schema.Struct({
    name: Schema.String,
    state: Schema.String,
    checkpoint: Schema.Int,
    lag: Schema.Int,
    quarantined: Schema.Int,
    lastError: Schema.NullOr(Schema.String)
  })),
  breakers: Schema.Array(Schema.Struct({ name: Schema.String, state: Schema.String }))
}).annotations({ identifier: "Health" })

// ---------------------------------------------------------------------------------------------
// endpoints
// ---------------------------------------------------------------------------------------------

export class DocumentsApi extends HttpApiGroup.make("documents")
  .add(
    HttpApiEndpoint.post("create", "/documents")
      .setPayload(CreateDocumentBody)
      .addSuccess(DocumentResponse, { status: 201 })
      .addError(DocumentNotFound)
      .addError(DocumentExists)
      .addError(DocumentDeleted)
      .addError(VersionConflict)
      .addError(InvariantViolated)
      .middleware(Authorization)
      .annotate(OpenApi.Summary, "Create a document")
  )
  .add(
    HttpApiEndpoint.get("list", "/documents")
      .setUrlParams(ListParams)
      .addSuccess(ReadModel.Page)
      .addError(ReadModelBehind)
      .annotate(OpenApi.Summary, "List documents (paged), or search them with ?q=")
  )
  .add(
    HttpApiEndpoint.get("get", "/documents/:id")
      .setPath(idPath)
      .setUrlParams(GetParams)
      .addSuccess(DocumentResponse)
      .addError(DocumentNotFound)
      .addError(DocumentDeleted)
      .addError(ReadModelBehind)
      .annotate(OpenApi.Summary, "Read a document from the read model; ?includeHistory=true adds its events")
  )
  .add(
    HttpApiEndpoint.put("saveContent", "/documents/:id/content")
      .setPath(idPath)
      .setPayload(SaveContentBody)
      .addSuccess(DocumentResponse)
      .addError(DocumentNotFound)
      .addError(DocumentExists)
      .addError(DocumentDeleted)
      .addError(VersionConflict)
      .addError(InvariantViolated)
      .middleware(Authorization)
      .annotate(OpenApi.Summary, "Save a document's content")
  )
  .add(
    HttpApiEndpoint.post("rename", "/documents/:id/rename")
      .setPath(idPath)
      .setPayload(RenameBody)
      .addSuccess(DocumentResponse)
      .addError(DocumentNotFound)
      .addError(DocumentExists)
      .addError(DocumentDeleted)
      .addError(VersionConflict)
      .addError(InvariantViolated)
      .middleware(Authorization)
      .annotate(OpenApi.Summary, "Rename a document")
  )
  .add(
    HttpApiEndpoint.post("addCollaborator", "/documents/:id/collaborators")
      .setPath(idPath)
      .setPayload(CollaboratorBody)
      .addSuccess(DocumentResponse)
      .addError(DocumentNotFound)
      .addError(DocumentExists)
      .addError(DocumentDeleted)
      .addError(VersionConflict)
      .addError(InvariantViolated)
      .middleware(Authorization)
      .annotate(OpenApi.Summary, "Add a collaborator")
  )
  .add(
    HttpApiEndpoint.del("removeCollaborator", "/documents/:id/collaborators/:userId")
      .setPath(Schema.Struct({ id: Document.DocumentId, userId: Document.UserId }))
      .addSuccess(DocumentResponse)
      .addError(DocumentNotFound)
      .addError(DocumentExists)
      .addError(DocumentDeleted)
      .addError(VersionConflict)
      .addError(InvariantViolated)
      .middleware(Authorization)
      .annotate(OpenApi.Summary, "Remove a collaborator")
  )
  .add(
    HttpApiEndpoint.del("delete", "/documents/:id")
      .setPath(idPath)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(DocumentNotFound)
      .addError(DocumentExists)
      .addError(DocumentDeleted)
      .addError(VersionConflict)
      .addError(InvariantViolated)
      .middleware(Authorization)
      .annotate(OpenApi.Summary, "Delete a document (its global position is in the X-Global-Position header)")
  )
  .add(
    HttpApiEndpoint.get("events", "/documents/:id/events")
      .setPath(idPath)
      .addSuccess(Schema.Array(StoredEvent))
      .addError(DocumentNotFound)
      .annotate(OpenApi.Summary, "The document's stored events")
  )
  .add(
    HttpApiEndpoint.get("notifications", "/users/:userId/notifications")
      .setPath(Schema.Struct({ userId: Document.UserId }))
      .setUrlParams(Schema.Struct({ minPosition: Schema.optional(Position) }).annotations(strict))
      .addSuccess(Schema.Array(ReadModel.Notification))
      .addError(ReadModelBehind)
      .annotate(OpenApi.Summary, "A user's collaborator notifications, newest first")
  )
  .addError(BadRequest)
  .addError(ServiceUnavailable)
{}

export class SystemApi extends HttpApiGroup.make("system")
  .add(
    HttpApiEndpoint.get("health", "/health")
      .addSuccess(Health)
      .addError(Schema.Struct({ ...Health.fields }).annotations(HttpApiSchema.annotations({ status: 503 })))
      .annotate(OpenApi.Summary, "Store reachability, projection lag, breaker states")
  )
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" }))
      .annotate(OpenApi.Summary, "Prometheus metrics")
  )
  .add(
    HttpApiEndpoint.get("monitoring", "/monitoring")
      .addSuccess(JsonValue)
      .annotate(OpenApi.Summary, "The monitoring snapshot (operations, breakers, alerts, projections) as JSON")
  )
  .add(
    HttpApiEndpoint.get("dashboard", "/dashboard")
      .addSuccess(HttpApiSchema.Text({ contentType: "text/html; charset=utf-8" }))
      .annotate(OpenApi.Summary, "The monitoring dashboard page")
  )
{}

export class Api extends HttpApi.make("chronicle")
  .add(DocumentsApi)
  .add(SystemApi)
  .annotate(OpenApi.Title, "Chronicle documents")
  .annotate(OpenApi.Version, "0.0.0")
  .annotate(
    OpenApi.Description,
    "The Chronicle demo: documents saved through commands into an event store, read through projections."
  )
{}
