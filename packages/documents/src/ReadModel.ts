/**
 * The document read models, kept by projections in the event store's SQL database (SQLite or
 * PostgreSQL): the document view, the search index (word → documents) and collaborator
 * notifications; and the queries that read them.
 *
 * @since 0.0.0
 */
import { Projection, QueryBus } from "@chronicle/cqrs"
import type { Envelope } from "@chronicle/domain"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import * as Document from "./Document.js"

const client = Effect.map(SqlClient.SqlClient, (sql) => sql.withoutTransforms())

const run = <A>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, SqlError.SqlError>) => Effect.flatMap(client, f)

// Projections name their tables through `Projection.table`: the live table, or its shadow while
// the worker's `rebuild --swap` builds a new model beside the one readers use.
const on = <A>(
  table: string,
  f: (sql: SqlClient.SqlClient, table: string) => Effect.Effect<A, SqlError.SqlError>
) => Effect.flatMap(Projection.table(table), (physical) => run((sql) => f(sql, physical)))

// ---------------------------------------------------------------------------------------------
// the document view
// ---------------------------------------------------------------------------------------------

const viewTable = "documents_view"

/**
 * One document as the read model keeps it (deleted documents stay, marked).
 *
 * @since 0.0.0
 * @category models
 */
export interface ViewRow {
  readonly view: Document.DocumentView
  readonly deleted: boolean
  /** The global position of the last event applied to this row. */
  readonly position: number
}

const setupView = on(viewTable, (sql, t) =>
  sql`CREATE TABLE IF NOT EXISTS ${sql(t)} (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    author_id TEXT NOT NULL,
    blocks TEXT NOT NULL,
    collaborator_ids TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    position BIGINT NOT NULL
  )`.pipe(Effect.zipRight(sql`CREATE INDEX IF NOT EXISTS ${sql(`${t}_title`)} ON ${sql(t)} (deleted, title, id)`)))

const touch = (envelope: Envelope.EventEnvelope<unknown>, at: Date, set: Record<string, string | number>) =>
  on(viewTable, (sql, t) =>
    sql`UPDATE ${sql(t)} SET ${
      sql.update({
        ...set,
        version: envelope.streamVersion,
        last_modified: at.toISOString(),
        position: envelope.globalPosition
      })
    } WHERE id = ${envelopeId(envelope)}`).pipe(Effect.asVoid)

const envelopeId = (envelope: Envelope.EventEnvelope<unknown>): string => envelope.streamId.slice("Document-".length)

const readCollaborators = (id: string) =>
  on(viewTable, (sql, t) => sql<{ collaborator_ids: string }>`SELECT collaborator_ids FROM ${sql(t)} WHERE id = ${id}`)
    .pipe(
      Effect.map((rows) => rows.length === 0 ? [] : parseStrings(rows[0].collaborator_ids))
    )

const parseStrings = (json: string): ReadonlyArray<string> =>
  Option.getOrElse(Schema.decodeUnknownOption(Schema.parseJson(Schema.Array(Schema.String)))(json), () => [])

/**
 * The document view: one row per document, `version` the stream version of the last event.
 *
 * @since 0.0.0
 * @category projections
 */
export const DocumentViewProjection = Projection.make({
  name: "documents-view",
  category: Document.Document.name,
  serializer: Document.serializer,
  tables: [viewTable],
  setup: setupView,
  reset: on(viewTable, (sql, t) => sql`DELETE FROM ${sql(t)}`).pipe(Effect.asVoid),
  handlers: {
    DocumentCreated: (e, envelope) =>
      on(viewTable, (sql, t) =>
        sql`INSERT INTO ${sql(t)} ${
          sql.insert({
            id: e.documentId,
            title: e.title,
            author_id: e.authorId,
            blocks: JSON.stringify(e.blocks),
            collaborator_ids: "[]",
            version: envelope.streamVersion,
            created_at: e.at.toISOString(),
            last_modified: e.at.toISOString(),
            deleted: 0,
            position: envelope.globalPosition
          })
        }`).pipe(Effect.asVoid),
    DocumentContentSaved: (e, envelope) => touch(envelope, e.at, { blocks: JSON.stringify(e.blocks) }),
    DocumentRenamed: (e, envelope) => touch(envelope, e.at, { title: e.newTitle }),
    CollaboratorAdded: (e, envelope) =>
      Effect.flatMap(
        readCollaborators(e.documentId),
        (ids) => touch(envelope, e.at, { collaborator_ids: JSON.stringify([...ids, e.userId]) })
      ),
    CollaboratorRemoved: (e, envelope) =>
      Effect.flatMap(
        readCollaborators(e.documentId),
        (ids) => touch(envelope, e.at, { collaborator_ids: JSON.stringify(ids.filter((id) => id !== e.userId)) })
      ),
    DocumentDeleted: (e, envelope) => touch(envelope, e.at, { deleted: 1 })
  }
})

// ---------------------------------------------------------------------------------------------
// the search index
// ---------------------------------------------------------------------------------------------

/**
 * The words of a text, as the index keeps them: lower case, letters and digits, each once.
 *
 * @since 0.0.0
 * @category search
 */
export const words = (text: string): ReadonlyArray<string> => {
  const found = text.normalize("NFKC").toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
  return Array.from(new Set(found.filter((word) => word.length <= 64))).slice(0, 5_000)
}

const searchTable = "documents_search"

const indexWords = (documentId: string, source: "title" | "content", text: string) =>
  on(searchTable, (sql, t) =>
    sql`DELETE FROM ${sql(t)} WHERE document_id = ${documentId} AND source = ${source}`.pipe(
      Effect.zipRight(Effect.forEach(
        chunks(words(text), 500),
        (chunk) =>
          sql`INSERT INTO ${sql(t)} ${
            sql.insert(chunk.map((word) => ({ word, document_id: documentId, source })))
          } ON CONFLICT DO NOTHING`,
        { discard: true }
      ))
    ))

const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

const blocksText = (blocks: ReadonlyArray<Document.Block>) => blocks.map((block) => block.content).join("\n")

/**
 * The search index: which documents hold which words (in their title or content).
 *
 * @since 0.0.0
 * @category projections
 */
export const SearchIndexProjection = Projection.make({
  name: "documents-search",
  category: Document.Document.name,
  serializer: Document.serializer,
  tables: [searchTable],
  setup: on(searchTable, (sql, t) =>
    sql`CREATE TABLE IF NOT EXISTS ${sql(t)} (
      word TEXT NOT NULL,
      document_id TEXT NOT NULL,
      source TEXT NOT NULL,
      PRIMARY KEY (word, document_id, source)
    )`.pipe(
      Effect.zipRight(sql`CREATE INDEX IF NOT EXISTS ${sql(`${t}_document`)} ON ${sql(t)} (document_id)`)
    )).pipe(Effect.asVoid),
  reset: on(searchTable, (sql, t) => sql`DELETE FROM ${sql(t)}`).pipe(Effect.asVoid),
  handlers: {
    DocumentCreated: (e) =>
      Effect.zipRight(
        indexWords(e.documentId, "title", e.title),
        indexWords(e.documentId, "content", blocksText(e.blocks))
      ),
    DocumentContentSaved: (e) => indexWords(e.documentId, "content", blocksText(e.blocks)),
    DocumentRenamed: (e) => indexWords(e.documentId, "title", e.newTitle),
    DocumentDeleted: (e) =>
      on(searchTable, (sql, t) => sql`DELETE FROM ${sql(t)} WHERE document_id = ${e.documentId}`).pipe(Effect.asVoid)
  }
})

// ---------------------------------------------------------------------------------------------
// collaborator notifications
// ---------------------------------------------------------------------------------------------

/**
 * A notification for a collaborator: what happened to which document.
 *
 * @since 0.0.0
 * @category models
 */
export const Notification = Schema.Struct({
  id: Schema.String,
  userId: Schema.String,
  documentId: Schema.String,
  kind: Schema.String,
  message: Schema.String,
  position: Schema.Int,
  createdAt: Schema.String
})
/** @since 0.0.0 @category models */
export type Notification = typeof Notification.Type

const membersTable = "documents_members"
const notificationsTable = "documents_notifications"

const members = (documentId: string) =>
  on(
    membersTable,
    (sql, t) => sql<{ user_id: string }>`SELECT user_id FROM ${sql(t)} WHERE document_id = ${documentId}`
  ).pipe(
    Effect.map((rows) => rows.map((row) => row.user_id))
  )

const notify = (
  users: ReadonlyArray<string>,
  envelope: Envelope.EventEnvelope<unknown>,
  documentId: string,
  kind: string,
  message: string,
  at: Date
) =>
  users.length === 0 ?
    Effect.void :
    on(notificationsTable, (sql, t) =>
      sql`INSERT INTO ${sql(t)} ${
        sql.insert(users.map((userId) => ({
          id: `${envelope.eventId}:${userId}`,
          user_id: userId,
          document_id: documentId,
          kind,
          message,
          position: envelope.globalPosition,
          created_at: at.toISOString()
        })))
      } ON CONFLICT DO NOTHING`).pipe(Effect.asVoid)

const notifyMembers = (
  envelope: Envelope.EventEnvelope<unknown>,
  documentId: string,
  kind: string,
  message: string,
  at: Date
) => Effect.flatMap(members(documentId), (users) => notify(users, envelope, documentId, kind, message, at))

/**
 * Collaborator notifications: a collaborator hears about being added or removed, and about every
 * change to a document they collaborate on (the seed's "notify collaborators").
 *
 * @since 0.0.0
 * @category projections
 */
export const NotificationsProjection = Projection.make({
  name: "documents-notifications",
  category: Document.Document.name,
  serializer: Document.serializer,
  tables: [membersTable, notificationsTable],
  setup: Effect.gen(function*() {
    const sql = yield* client
    const membership = yield* Projection.table(membersTable)
    const notifications = yield* Projection.table(notificationsTable)
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(membership)} (
      document_id TEXT NOT NULL,
      user_id TEXT NOT NULL,
      PRIMARY KEY (document_id, user_id)
    )`
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(notifications)} (
      id TEXT PRIMARY KEY,
      user_id TEXT NOT NULL,
      document_id TEXT NOT NULL,
      kind TEXT NOT NULL,
      message TEXT NOT NULL,
      position BIGINT NOT NULL,
      created_at TEXT NOT NULL
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`${notifications}_user`)} ON ${sql(notifications)} (user_id, position)`
  }),
  reset: Effect.zipRight(
    on(notificationsTable, (sql, t) => sql`DELETE FROM ${sql(t)}`),
    on(membersTable, (sql, t) => sql`DELETE FROM ${sql(t)}`)
  ).pipe(Effect.asVoid),
  handlers: {
    CollaboratorAdded: (e, envelope) =>
      on(
        membersTable,
        (sql, t) =>
          sql`INSERT INTO ${sql(t)} ${
            sql.insert({ document_id: e.documentId, user_id: e.userId })
          } ON CONFLICT DO NOTHING`
      ).pipe(
        Effect.zipRight(
          notify([e.userId], envelope, e.documentId, "added", `you were added to document ${e.documentId}`, e.at)
        )
      ),
    CollaboratorRemoved: (e, envelope) =>
      on(
        membersTable,
        (sql, t) => sql`DELETE FROM ${sql(t)} WHERE document_id = ${e.documentId} AND user_id = ${e.userId}`
      )
        .pipe(
          Effect.zipRight(
            notify(
              [e.userId],
              envelope,
              e.documentId,
              "removed",
              `you were removed from document ${e.documentId}`,
              e.at
            )
          )
        ),
    DocumentContentSaved: (e, envelope) =>
      notifyMembers(envelope, e.documentId, "updated", `document ${e.documentId} was updated`, e.at),
    DocumentRenamed: (e, envelope) =>
      notifyMembers(envelope, e.documentId, "renamed", `document ${e.documentId} was renamed to "${e.newTitle}"`, e.at),
    DocumentDeleted: (e, envelope) =>
      notifyMembers(envelope, e.documentId, "deleted", `document ${e.documentId} was deleted`, e.at).pipe(
        Effect.zipRight(on(membersTable, (sql, t) => sql`DELETE FROM ${sql(t)} WHERE document_id = ${e.documentId}`))
      )
  }
})

/**
 * Every document projection, for a worker (or inline) runner.
 *
 * @since 0.0.0
 * @category projections
 */
export const projections = [DocumentViewProjection, SearchIndexProjection, NotificationsProjection] as const

/**
 * Creates every read model table (idempotent): for processes that read before a worker ran.
 *
 * @since 0.0.0
 * @category projections
 */
export const setup = Effect.forEach(projections, (projection) => projection.setup, { discard: true })

// ---------------------------------------------------------------------------------------------
// queries
// ---------------------------------------------------------------------------------------------

interface ViewRecord {
  readonly id: string
  readonly title: string
  readonly author_id: string
  readonly blocks: string
  readonly collaborator_ids: string
  readonly version: number | string | bigint
  readonly created_at: string
  readonly last_modified: string
  readonly deleted: number | string | boolean | bigint
  readonly position: number | string | bigint
}

const BlocksJson = Schema.parseJson(Schema.Array(Document.Block))

const toRow = (record: ViewRecord): ViewRow => ({
  view: {
    id: record.id,
    title: record.title,
    content: { blocks: Option.getOrElse(Schema.decodeUnknownOption(BlocksJson)(record.blocks), () => []) },
    authorId: record.author_id,
    collaboratorIds: parseStrings(record.collaborator_ids),
    version: Number(record.version),
    createdAt: record.created_at,
    lastModified: record.last_modified
  },
  deleted: Number(record.deleted) === 1,
  position: Number(record.position)
})

/**
 * A page of documents and how many there are in all.
 *
 * @since 0.0.0
 * @category models
 */
export const Page = Schema.Struct({
  items: Schema.Array(Document.DocumentView),
  total: Schema.Int,
  limit: Schema.Int,
  offset: Schema.Int
})
/** @since 0.0.0 @category models */
export type Page = typeof Page.Type

/**
 * The read model failed underneath.
 *
 * @since 0.0.0
 * @category errors
 */
export class ReadModelError extends Schema.TaggedError<ReadModelError>()("ReadModelError", {
  operation: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    return `read model ${this.operation} failed`
  }
}

const readFailure = (operation: string) => (cause: SqlError.SqlError) => new ReadModelError({ operation, cause })

/** @since 0.0.0 @category queries */
export class GetDocument extends Schema.TaggedRequest<GetDocument>()("GetDocument", {
  payload: { documentId: Schema.String },
  success: Schema.Option(Schema.Struct({ view: Document.DocumentView, deleted: Schema.Boolean, position: Schema.Int })),
  failure: ReadModelError
}) {}

/** @since 0.0.0 @category queries */
export class ListDocuments extends Schema.TaggedRequest<ListDocuments>()("ListDocuments", {
  payload: { limit: Schema.Int, offset: Schema.Int },
  success: Page,
  failure: ReadModelError
}) {}

/** @since 0.0.0 @category queries */
export class SearchDocuments extends Schema.TaggedRequest<SearchDocuments>()("SearchDocuments", {
  payload: { query: Schema.String, limit: Schema.Int, offset: Schema.Int },
  success: Page,
  failure: ReadModelError
}) {}

/** @since 0.0.0 @category queries */
export class GetNotifications extends Schema.TaggedRequest<GetNotifications>()("GetNotifications", {
  payload: { userId: Schema.String, limit: Schema.Int },
  success: Schema.Array(Notification),
  failure: ReadModelError
}) {}

const getDocument = (sql: SqlClient.SqlClient) => (query: GetDocument) =>
  sql<ViewRecord>`SELECT * FROM documents_view WHERE id = ${query.documentId}`.pipe(
    Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toRow)),
    Effect.mapError(readFailure("get"))
  )

const listDocuments = (sql: SqlClient.SqlClient) => (query: ListDocuments) =>
  Effect.all([
    sql<
      ViewRecord
    >`SELECT * FROM documents_view WHERE deleted = 0 ORDER BY title, id LIMIT ${query.limit} OFFSET ${query.offset}`,
    sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM documents_view WHERE deleted = 0`
  ]).pipe(
    Effect.map(([rows, count]): Page => ({
      items: rows.map((row) => toRow(row).view),
      total: Number(count[0]?.n ?? 0),
      limit: query.limit,
      offset: query.offset
    })),
    Effect.mapError(readFailure("list"))
  )

const searchDocuments = (sql: SqlClient.SqlClient) => (query: SearchDocuments) => {
  const terms = words(query.query).slice(0, 20)
  if (terms.length === 0) return Effect.succeed<Page>({ items: [], total: 0, limit: query.limit, offset: query.offset })
  // documents that hold every word of the query
  const matching = sql`SELECT document_id FROM documents_search WHERE ${sql.in("word", terms)}
    GROUP BY document_id HAVING COUNT(DISTINCT word) = ${terms.length}`
  return Effect.all([
    sql<ViewRecord>`SELECT * FROM documents_view WHERE deleted = 0 AND id IN (${matching})
      ORDER BY title, id LIMIT ${query.limit} OFFSET ${query.offset}`,
    sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM documents_view WHERE deleted = 0 AND id IN (${matching})`
  ]).pipe(
    Effect.map(([rows, count]): Page => ({
      items: rows.map((row) => toRow(row).view),
      total: Number(count[0]?.n ?? 0),
      limit: query.limit,
      offset: query.offset
    })),
    Effect.mapError(readFailure("search"))
  )
}

interface NotificationRecord {
  readonly id: string
  readonly user_id: string
  readonly document_id: string
  readonly kind: string
  readonly message: string
  readonly position: number | string | bigint
  readonly created_at: string
}

const getNotifications = (sql: SqlClient.SqlClient) => (query: GetNotifications) =>
  sql<NotificationRecord>`SELECT * FROM documents_notifications WHERE user_id = ${query.userId}
    ORDER BY position DESC, id LIMIT ${query.limit}`.pipe(
    Effect.map((rows) =>
      rows.map((row): Notification => ({
        id: row.id,
        userId: row.user_id,
        documentId: row.document_id,
        kind: row.kind,
        message: row.message,
        position: Number(row.position),
        createdAt: row.created_at
      }))
    ),
    Effect.mapError(readFailure("notifications"))
  )

/**
 * The query handlers of the read models, on the `QueryBus` and `SqlClient` in context.
 *
 * @since 0.0.0
 * @category layers
 */
export const layerQueries = Layer.mergeAll(
  QueryBus.handler(GetDocument, Effect.map(client, getDocument)),
  QueryBus.handler(ListDocuments, Effect.map(client, listDocuments)),
  QueryBus.handler(SearchDocuments, Effect.map(client, searchDocuments)),
  QueryBus.handler(GetNotifications, Effect.map(client, getNotifications))
)

/**
 * The tables, for tests and tools that compare read models with the event history.
 *
 * @since 0.0.0
 * @category tables
 */
export const tables = { view: viewTable, search: searchTable, notifications: notificationsTable } as const
