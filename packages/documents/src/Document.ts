/**
 * The seed's `Document` aggregate as a decider: content blocks, a title, an author, collaborators,
 * created and last-modified times; its commands, events and invariants.
 *
 * @since 0.0.0
 */
import { CommandHandler } from "@chronicle/cqrs"
import { Aggregate, DomainError } from "@chronicle/domain"
import { Serializer } from "@chronicle/eventstore"
import { Clock, Effect, Match, Schema } from "effect"

/**
 * A document id: letters, digits, `_` and `-`, 1 to 64 characters (it becomes part of a stream id
 * and of URLs, so nothing else is let in).
 *
 * @since 0.0.0
 * @category schemas
 */
export const DocumentId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/, {
    message: () => "an id is 1 to 64 letters, digits, '_' or '-'"
  }),
  Schema.brand("DocumentId")
)
/** @since 0.0.0 @category models */
export type DocumentId = typeof DocumentId.Type

/**
 * A user id (author, collaborator), with the same alphabet as document ids.
 *
 * @since 0.0.0
 * @category schemas
 */
export const UserId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_.@-]{1,64}$/, {
    message: () => "a user id is 1 to 64 letters, digits, '_', '.', '@' or '-'"
  }),
  Schema.brand("UserId")
)
/** @since 0.0.0 @category models */
export type UserId = typeof UserId.Type

/**
 * The kinds of content block.
 *
 * @since 0.0.0
 * @category schemas
 */
export const BlockType = Schema.Literal("paragraph", "heading", "list", "quote", "code")

/**
 * One block of content. An empty block is well-formed data but breaks an invariant, so the
 * decider (not the schema) refuses it, with the reason.
 *
 * @since 0.0.0
 * @category schemas
 */
export const Block = Schema.Struct({
  id: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/)),
  type: BlockType,
  content: Schema.String.pipe(Schema.maxLength(100_000))
})
/** @since 0.0.0 @category models */
export type Block = typeof Block.Type

/**
 * Free-form metadata recorded with a change: flat JSON values only.
 *
 * @since 0.0.0
 * @category schemas
 */
export const Metadata = Schema.Record({
  key: Schema.String.pipe(Schema.maxLength(100)),
  value: Schema.Union(Schema.String.pipe(Schema.maxLength(1_000)), Schema.Number, Schema.Boolean, Schema.Null)
})
/** @since 0.0.0 @category models */
export type Metadata = typeof Metadata.Type

/**
 * A title: trimmed, not empty, at most 200 characters.
 *
 * @since 0.0.0
 * @category schemas
 */
export const Title = Schema.Trimmed.pipe(Schema.minLength(1), Schema.maxLength(200))

// ---------------------------------------------------------------------------------------------
// events
// ---------------------------------------------------------------------------------------------

/** @since 0.0.0 @category events */
export const DocumentCreated = Schema.TaggedStruct("DocumentCreated", {
  documentId: DocumentId,
  title: Schema.String,
  authorId: UserId,
  blocks: Schema.Array(Block),
  metadata: Metadata,
  at: Schema.Date
})

/** @since 0.0.0 @category events */
export const DocumentContentSaved = Schema.TaggedStruct("DocumentContentSaved", {
  documentId: DocumentId,
  blocks: Schema.Array(Block),
  metadata: Metadata,
  at: Schema.Date
})

/**
 * A rename records the old title and the new one (the seed recorded the new one twice).
 *
 * @since 0.0.0
 * @category events
 */
export const DocumentRenamed = Schema.TaggedStruct("DocumentRenamed", {
  documentId: DocumentId,
  oldTitle: Schema.String,
  newTitle: Schema.String,
  at: Schema.Date
})

/** @since 0.0.0 @category events */
export const CollaboratorAdded = Schema.TaggedStruct("CollaboratorAdded", {
  documentId: DocumentId,
  userId: UserId,
  at: Schema.Date
})

/** @since 0.0.0 @category events */
export const CollaboratorRemoved = Schema.TaggedStruct("CollaboratorRemoved", {
  documentId: DocumentId,
  userId: UserId,
  at: Schema.Date
})

/** @since 0.0.0 @category events */
export const DocumentDeleted = Schema.TaggedStruct("DocumentDeleted", {
  documentId: DocumentId,
  at: Schema.Date
})

/**
 * Every event of a document; what is stored is its encoded form.
 *
 * @since 0.0.0
 * @category events
 */
export const DocumentEvent = Schema.Union(
  DocumentCreated,
  DocumentContentSaved,
  DocumentRenamed,
  CollaboratorAdded,
  CollaboratorRemoved,
  DocumentDeleted
)
/** @since 0.0.0 @category events */
export type DocumentEvent = typeof DocumentEvent.Type

/**
 * Encodes and decodes stored document events.
 *
 * @since 0.0.0
 * @category events
 */
export const serializer = Serializer.make(DocumentEvent)

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

/**
 * The client said which version it changed, and the document has moved on since.
 *
 * @since 0.0.0
 * @category errors
 */
export class VersionConflict extends Schema.TaggedError<VersionConflict>()("VersionConflict", {
  documentId: Schema.String,
  expected: Schema.Int,
  actual: Schema.Int
}) {
  override get message(): string {
    return `document ${this.documentId} is at version ${this.actual}, not ${this.expected}: reload it and retry`
  }
}

/**
 * Everything a document command can fail with.
 *
 * @since 0.0.0
 * @category errors
 */
export const CommandFailure = Schema.Union(DomainError.InvariantViolated, VersionConflict, CommandHandler.StoreFailure)

// ---------------------------------------------------------------------------------------------
// commands (bus messages that are also the decider's commands)
// ---------------------------------------------------------------------------------------------

const ExpectedVersion = Schema.optional(Schema.Int.pipe(Schema.nonNegative()))

/** @since 0.0.0 @category commands */
export class CreateDocument extends Schema.TaggedRequest<CreateDocument>()("CreateDocument", {
  payload: {
    documentId: DocumentId,
    title: Title,
    authorId: UserId,
    blocks: Schema.Array(Block),
    metadata: Metadata
  },
  success: CommandHandler.CommandResult,
  failure: CommandFailure
}) {}

/** @since 0.0.0 @category commands */
export class SaveDocumentContent extends Schema.TaggedRequest<SaveDocumentContent>()("SaveDocumentContent", {
  payload: {
    documentId: DocumentId,
    blocks: Schema.Array(Block),
    metadata: Metadata,
    expectedVersion: ExpectedVersion
  },
  success: CommandHandler.CommandResult,
  failure: CommandFailure
}) {}

/** @since 0.0.0 @category commands */
export class RenameDocument extends Schema.TaggedRequest<RenameDocument>()("RenameDocument", {
  payload: { documentId: DocumentId, title: Title, expectedVersion: ExpectedVersion },
  success: CommandHandler.CommandResult,
  failure: CommandFailure
}) {}

/** @since 0.0.0 @category commands */
export class AddCollaborator extends Schema.TaggedRequest<AddCollaborator>()("AddCollaborator", {
  payload: { documentId: DocumentId, userId: UserId, expectedVersion: ExpectedVersion },
  success: CommandHandler.CommandResult,
  failure: CommandFailure
}) {}

/** @since 0.0.0 @category commands */
export class RemoveCollaborator extends Schema.TaggedRequest<RemoveCollaborator>()("RemoveCollaborator", {
  payload: { documentId: DocumentId, userId: UserId, expectedVersion: ExpectedVersion },
  success: CommandHandler.CommandResult,
  failure: CommandFailure
}) {}

/** @since 0.0.0 @category commands */
export class DeleteDocument extends Schema.TaggedRequest<DeleteDocument>()("DeleteDocument", {
  payload: { documentId: DocumentId, expectedVersion: ExpectedVersion },
  success: CommandHandler.CommandResult,
  failure: CommandFailure
}) {}

/** @since 0.0.0 @category commands */
export type DocumentCommand =
  | CreateDocument
  | SaveDocumentContent
  | RenameDocument
  | AddCollaborator
  | RemoveCollaborator
  | DeleteDocument

// ---------------------------------------------------------------------------------------------
// state and decider
// ---------------------------------------------------------------------------------------------

/**
 * A document as its events leave it. `version` counts the events applied.
 *
 * @since 0.0.0
 * @category models
 */
export interface State {
  readonly status: "new" | "active" | "deleted"
  readonly id: string
  readonly title: string
  readonly authorId: string
  readonly blocks: ReadonlyArray<Block>
  readonly collaboratorIds: ReadonlyArray<string>
  readonly createdAt: Date | null
  readonly lastModified: Date | null
  readonly version: number
}

/** @since 0.0.0 @category models */
export const initialState: State = {
  status: "new",
  id: "",
  title: "",
  authorId: "",
  blocks: [],
  collaboratorIds: [],
  createdAt: null,
  lastModified: null,
  version: 0
}

/**
 * The title a document gets when none is given (the seed's).
 *
 * @since 0.0.0
 * @category models
 */
export const defaultTitle = "Untitled Document"

const refuse = (invariant: string, reason: string) =>
  Effect.fail(new DomainError.InvariantViolated({ aggregate: "Document", invariant, reason }))

/**
 * The content invariants: at least one block, no empty block, block ids unique.
 *
 * @since 0.0.0
 * @category invariants
 */
export const checkBlocks = (blocks: ReadonlyArray<Block>): Effect.Effect<void, DomainError.InvariantViolated> => {
  if (blocks.length === 0) return refuse("at least one block", "a document must have at least one block")
  const empty = blocks.findIndex((block) => block.content.trim().length === 0)
  if (empty !== -1) return refuse("no empty block", `block ${empty + 1} (${blocks[empty].id}) is empty`)
  const ids = new Set(blocks.map((block) => block.id))
  if (ids.size !== blocks.length) return refuse("unique block ids", "two blocks share an id")
  return Effect.void
}

type Changing = Exclude<DocumentCommand, CreateDocument>

// a deleted or missing document refuses every change; a stale expected version is a conflict
const checkChange = (
  command: Changing,
  state: State
): Effect.Effect<void, DomainError.InvariantViolated | VersionConflict> => {
  if (state.status === "deleted") return refuse("not deleted", "nothing changes a deleted document")
  if (state.status === "new") return refuse("exists", `document ${command.documentId} does not exist`)
  if (command.expectedVersion !== undefined && command.expectedVersion !== state.version) {
    return Effect.fail(
      new VersionConflict({ documentId: command.documentId, expected: command.expectedVersion, actual: state.version })
    )
  }
  return Effect.void
}

const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))

const decide = (
  command: DocumentCommand,
  state: State
): Effect.Effect<ReadonlyArray<DocumentEvent>, DomainError.InvariantViolated | VersionConflict> =>
  Effect.flatMap(now, (at) =>
    Match.valueTags(command, {
      CreateDocument: (c) =>
        state.status !== "new"
          ? refuse("created once", `document ${c.documentId} already exists`)
          : Effect.as(checkBlocks(c.blocks), [
            DocumentCreated.make({
              documentId: c.documentId,
              title: c.title,
              authorId: c.authorId,
              blocks: c.blocks,
              metadata: c.metadata,
              at
            })
          ]),
      SaveDocumentContent: (c) =>
        checkChange(c, state).pipe(
          Effect.zipRight(checkBlocks(c.blocks)),
          Effect.as([
            DocumentContentSaved.make({ documentId: c.documentId, blocks: c.blocks, metadata: c.metadata, at })
          ])
        ),
      RenameDocument: (c) =>
        Effect.as(checkChange(c, state), [
          DocumentRenamed.make({ documentId: c.documentId, oldTitle: state.title, newTitle: c.title, at })
        ]),
      AddCollaborator: (c) =>
        checkChange(c, state).pipe(
          Effect.zipRight(
            c.userId === state.authorId
              ? refuse("collaborator is not the author", `${c.userId} is the document's author`)
              : state.collaboratorIds.includes(c.userId)
              ? refuse("collaborator added once", `${c.userId} is already a collaborator`)
              : Effect.void
          ),
          Effect.as([CollaboratorAdded.make({ documentId: c.documentId, userId: c.userId, at })])
        ),
      RemoveCollaborator: (c) =>
        checkChange(c, state).pipe(
          Effect.zipRight(
            state.collaboratorIds.includes(c.userId)
              ? Effect.void
              : refuse("is a collaborator", `${c.userId} is not a collaborator`)
          ),
          Effect.as([CollaboratorRemoved.make({ documentId: c.documentId, userId: c.userId, at })])
        ),
      DeleteDocument: (c) => Effect.as(checkChange(c, state), [DocumentDeleted.make({ documentId: c.documentId, at })])
    }))

const evolve = (state: State, event: DocumentEvent): State => {
  const version = state.version + 1
  return Match.valueTags(event, {
    DocumentCreated: (e) => ({
      ...state,
      status: "active" as const,
      id: e.documentId,
      title: e.title,
      authorId: e.authorId,
      blocks: e.blocks,
      createdAt: e.at,
      lastModified: e.at,
      version
    }),
    DocumentContentSaved: (e) => ({ ...state, blocks: e.blocks, lastModified: e.at, version }),
    DocumentRenamed: (e) => ({ ...state, title: e.newTitle, lastModified: e.at, version }),
    CollaboratorAdded: (e) => ({
      ...state,
      collaboratorIds: [...state.collaboratorIds, e.userId],
      lastModified: e.at,
      version
    }),
    CollaboratorRemoved: (e) => ({
      ...state,
      collaboratorIds: state.collaboratorIds.filter((id) => id !== e.userId),
      lastModified: e.at,
      version
    }),
    DocumentDeleted: (e) => ({ ...state, status: "deleted" as const, lastModified: e.at, version })
  })
}

/**
 * The aggregate: streams are named `Document-<id>`.
 *
 * @since 0.0.0
 * @category aggregate
 */
export const Document = Aggregate.make({
  name: "Document",
  events: DocumentEvent,
  initialState,
  decide,
  evolve
})

/**
 * The stream of one document.
 *
 * @since 0.0.0
 * @category aggregate
 */
export const streamId = (id: string): string => Aggregate.streamId(Document, id)

/**
 * The document's public shape, as the API shows it.
 *
 * @since 0.0.0
 * @category views
 */
export const DocumentView = Schema.Struct({
  id: Schema.String,
  title: Schema.String,
  content: Schema.Struct({ blocks: Schema.Array(Block) }),
  authorId: Schema.String,
  collaboratorIds: Schema.Array(Schema.String),
  version: Schema.Int,
  createdAt: Schema.String,
  lastModified: Schema.String
})
/** @since 0.0.0 @category views */
export type DocumentView = typeof DocumentView.Type

/**
 * The view of a state (of an existing document).
 *
 * @since 0.0.0
 * @category views
 */
export const toView = (state: State): DocumentView => ({
  id: state.id,
  title: state.title,
  content: { blocks: state.blocks },
  authorId: state.authorId,
  collaboratorIds: state.collaboratorIds,
  version: state.version,
  createdAt: (state.createdAt ?? new Date(0)).toISOString(),
  lastModified: (state.lastModified ?? new Date(0)).toISOString()
})
