// End to end, with real processes: the server and the worker on a temporary SQLite file, and on a
// fresh PostgreSQL database when one answers. Drives the HTTP contract, hostile input, the worker
// killed with SIGKILL mid-way, and the OpenAPI document.
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Validator } from "@seriousme/openapi-schema-validator"
import { inject } from "vitest"
import {
  type Database,
  json,
  postgresDatabase,
  type Proc,
  request,
  type Server,
  spawnApp,
  sqliteDatabase,
  startServer,
  waitUntil
} from "./harness.js"

const pgUrl = inject("pgUrl")

interface Health {
  readonly status: string
  readonly store: { readonly head: number }
  readonly projections: ReadonlyArray<
    { readonly name: string; readonly checkpoint: number; readonly lag: number; readonly state: string }
  >
}

const suite = (label: string, makeDatabase: () => Promise<Database>) =>
  describe(`end to end on ${label}`, { timeout: 120_000 }, () => {
    let database: Database
    let server: Server
    let guarded: Server
    let worker: Proc
    const ids = new Set<string>()
    const base = () => server.base

    const health = async (): Promise<Health> => (await request(base(), "GET", "/health")).body as Health
    const head = async () => (await health()).store.head
    // every read model at the head, and the head showing every write made so far
    const caughtUp = async () => {
      const h = await health()
      return h.projections.length === 3 && h.store.head === await database.newest() &&
        h.projections.every((p) => p.lag === 0 && p.checkpoint === h.store.head)
    }
    const create = async (id: string, content = "hello world", extra: Record<string, unknown> = {}) => {
      ids.add(id)
      const response = await request(base(), "POST", "/documents", {
        id,
        title: `Title of ${id}`,
        authorId: "ada",
        content: { blocks: [{ content }] },
        ...extra
      })
      assert.strictEqual(response.status, 201, JSON.stringify(response.body))
      return json(response.body)
    }

    beforeAll(async () => {
      database = await makeDatabase()
      server = await startServer(database.url)
      worker = spawnApp("worker", { DATABASE_URL: database.url })
      guarded = await startServer(database.url, { CHRONICLE_API_TOKEN: "s3cret", CHRONICLE_BODY_LIMIT: "2000" })
    }, 120_000)

    afterAll(async () => {
      await Promise.all([server?.proc.stop(), guarded?.proc.stop(), worker?.stop()])
      await database?.drop()
    })

    it("creates, reads, edits, renames, shares and deletes a document over HTTP", async () => {
      const id = `doc-${Date.now().toString(36)}`
      const created = await create(id, "The quick brown fox")
      for (
        const field of ["id", "title", "content", "authorId", "collaboratorIds", "version", "createdAt", "lastModified"]
      ) {
        assert.isTrue(field in created, `missing ${field}`)
      }
      assert.strictEqual(created.version, 1)
      assert.isNumber(created.globalPosition)
      assert.deepStrictEqual(json(created.content).blocks, [{
        id: "b1",
        type: "paragraph",
        content: "The quick brown fox"
      }])

      const again = await request(base(), "POST", "/documents", { id, content: { blocks: [{ content: "x" }] } })
      assert.strictEqual(again.status, 409)
      assert.strictEqual(json(again.body)._tag, "DocumentExists")

      const anonymous = await request(base(), "POST", "/documents", { content: { blocks: [{ content: "no id" }] } })
      assert.strictEqual(anonymous.status, 201)
      assert.strictEqual(json(anonymous.body).title, "Untitled Document")
      ids.add(String(json(anonymous.body).id))

      const read = await request(base(), "GET", `/documents/${id}?minPosition=${created.globalPosition}`)
      assert.strictEqual(read.status, 200, JSON.stringify(read.body))
      assert.strictEqual(json(read.body).title, `Title of ${id}`)
      assert.strictEqual(json(read.body).version, 1)
      assert.strictEqual((await request(base(), "GET", "/documents/does-not-exist")).status, 404)

      const saved = await request(base(), "PUT", `/documents/${id}/content`, {
        content: {
          blocks: [{ id: "intro", type: "heading", content: "Intro" }, { content: "jumps over the lazy dog" }]
        },
        metadata: { reason: "test" },
        expectedVersion: 1
      })
      assert.strictEqual(saved.status, 200, JSON.stringify(saved.body))
      assert.strictEqual(json(saved.body).version, 2)

      const stale = await request(base(), "PUT", `/documents/${id}/content`, {
        content: { blocks: [{ content: "late" }] },
        expectedVersion: 1
      })
      assert.strictEqual(stale.status, 409)
      assert.strictEqual(json(stale.body)._tag, "VersionConflict")
      assert.strictEqual(json(stale.body).expected, 1)
      assert.strictEqual(json(stale.body).actual, 2)
      assert.isString(json(stale.body).message)

      const broken = await request(base(), "PUT", `/documents/${id}/content`, {
        content: { blocks: [{ content: "  " }] }
      })
      assert.strictEqual(broken.status, 422)
      assert.strictEqual(json(broken.body)._tag, "InvariantViolated")
      assert.include(String(json(broken.body).reason), "empty")
      const none = await request(base(), "PUT", `/documents/${id}/content`, { content: { blocks: [] } })
      assert.strictEqual(none.status, 422)
      assert.strictEqual(
        (await request(base(), "PUT", "/documents/nobody-here/content", { content: { blocks: [{ content: "x" }] } }))
          .status,
        404
      )

      const renamed = await request(base(), "POST", `/documents/${id}/rename`, { title: "Renamed", expectedVersion: 2 })
      assert.strictEqual(renamed.status, 200)
      assert.strictEqual(json(renamed.body).title, "Renamed")
      assert.strictEqual(
        (await request(base(), "POST", `/documents/${id}/rename`, { title: "x", expectedVersion: 2 })).status,
        409
      )

      const shared = await request(base(), "POST", `/documents/${id}/collaborators`, { userId: "bob" })
      assert.strictEqual(shared.status, 200)
      assert.deepStrictEqual(json(shared.body).collaboratorIds, ["bob"])
      await request(base(), "POST", `/documents/${id}/collaborators`, { userId: "cy" })
      const unshared = await request(base(), "DELETE", `/documents/${id}/collaborators/cy`)
      assert.strictEqual(unshared.status, 200)
      assert.deepStrictEqual(json(unshared.body).collaboratorIds, ["bob"])
      const last = json(unshared.body)

      // version is the number of events in the stream; events carry the envelope
      const events = await request(base(), "GET", `/documents/${id}/events`)
      assert.strictEqual(events.status, 200)
      const list = events.body as Array<Record<string, unknown>>
      assert.strictEqual(list.length, last.version)
      for (const field of ["eventId", "type", "version", "globalPosition", "timestamp", "data", "metadata"]) {
        assert.isTrue(field in list[0], `event misses ${field}`)
      }
      assert.deepStrictEqual(list.map((e) => e.type), [
        "DocumentCreated",
        "DocumentContentSaved",
        "DocumentRenamed",
        "CollaboratorAdded",
        "CollaboratorAdded",
        "CollaboratorRemoved"
      ])
      assert.deepStrictEqual(
        { old: json(list[2].data).oldTitle, new: json(list[2].data).newTitle },
        { old: `Title of ${id}`, new: "Renamed" }
      )
      assert.strictEqual(list.at(-1)?.globalPosition, last.globalPosition)

      // read your writes through ?minPosition=, with history
      const withHistory = await request(
        base(),
        "GET",
        `/documents/${id}?includeHistory=true&minPosition=${last.globalPosition}`
      )
      assert.strictEqual(withHistory.status, 200)
      const history = json(withHistory.body).history as Array<Record<string, unknown>>
      assert.strictEqual(history.length, 6)
      assert.deepStrictEqual(Object.keys(history[0]).sort(), ["data", "timestamp", "type", "version"])
      assert.strictEqual(json(withHistory.body).version, 6)
      assert.deepStrictEqual(json(withHistory.body).collaboratorIds, ["bob"])

      // the search index and the list
      const search = await request(base(), "GET", `/documents?q=lazy+DOG&minPosition=${last.globalPosition}`)
      assert.strictEqual(search.status, 200)
      assert.deepStrictEqual((json(search.body).items as Array<Record<string, unknown>>).map((d) => d.id), [id])
      assert.strictEqual(
        (json((await request(base(), "GET", `/documents?q=quick`)).body).items as Array<unknown>).length,
        0
      )
      const page = await request(base(), "GET", `/documents?limit=1&offset=0&minPosition=${last.globalPosition}`)
      assert.strictEqual((json(page.body).items as Array<unknown>).length, 1)
      assert.isAtLeast(Number(json(page.body).total), 2)

      const notes = await request(base(), "GET", `/users/bob/notifications?minPosition=${last.globalPosition}`)
      assert.deepStrictEqual((notes.body as Array<Record<string, unknown>>).map((n) => n.kind), ["added"])

      // deleted: reads 410, changes 410
      const deleted = await request(base(), "DELETE", `/documents/${id}`)
      assert.strictEqual(deleted.status, 204)
      const position = deleted.headers.get("x-global-position")
      assert.isNotNull(position)
      assert.strictEqual((await request(base(), "GET", `/documents/${id}?minPosition=${position}`)).status, 410)
      for (
        const [method, path, body] of [
          ["PUT", `/documents/${id}/content`, { content: { blocks: [{ content: "x" }] } }],
          ["POST", `/documents/${id}/rename`, { title: "x" }],
          ["POST", `/documents/${id}/collaborators`, { userId: "dan" }],
          ["DELETE", `/documents/${id}/collaborators/bob`, undefined],
          ["DELETE", `/documents/${id}`, undefined]
        ] as const
      ) {
        const refused = await request(base(), method, path, body)
        assert.include([409, 410], refused.status, `${method} ${path}`)
        assert.strictEqual(json(refused.body)._tag, "DocumentDeleted")
      }
      assert.strictEqual(
        (await request(base(), "POST", "/documents", { id, content: { blocks: [{ content: "x" }] } })).status,
        409
      )
      const searchAfter = await request(base(), "GET", `/documents?q=lazy&minPosition=${position}`)
      assert.strictEqual((json(searchAfter.body).items as Array<unknown>).length, 0)
      assert.deepStrictEqual(
        ((await request(base(), "GET", `/users/bob/notifications?minPosition=${position}`)).body as Array<
          Record<string, unknown>
        >)
          .map((n) => n.kind),
        ["deleted", "added"]
      )
    })

    it("the same Idempotency-Key writes once", async () => {
      const id = `idem-${Date.now().toString(36)}`
      await create(id)
      const headers = { "idempotency-key": "rename-1" }
      const first = await request(base(), "POST", `/documents/${id}/rename`, { title: "Once" }, headers)
      const second = await request(base(), "POST", `/documents/${id}/rename`, { title: "Once" }, headers)
      assert.strictEqual(first.status, 200)
      assert.strictEqual(second.status, 200)
      assert.strictEqual(json(second.body).version, 2)
      assert.strictEqual((((await request(base(), "GET", `/documents/${id}/events`)).body) as Array<unknown>).length, 2)
      // content saves go through the document pipeline, which records the content hash
      const save = { content: { blocks: [{ content: "saved once" }] } }
      const saved = await request(base(), "PUT", `/documents/${id}/content`, save, { "idempotency-key": "save-1" })
      const resaved = await request(base(), "PUT", `/documents/${id}/content`, save, { "idempotency-key": "save-1" })
      assert.strictEqual(saved.status, 200)
      assert.strictEqual(resaved.status, 200)
      assert.strictEqual(json(resaved.body).version, 3)
      const events = (await request(base(), "GET", `/documents/${id}/events`)).body as Array<Record<string, unknown>>
      assert.strictEqual(events.length, 3)
      assert.match(String(json(json(events[2].data).metadata).contentHash), /^[0-9a-f]{64}$/)
    })

    it("an Idempotency-Key retry answers the first result even where deciding again would refuse", async () => {
      const id = `retry-${Date.now().toString(36)}`
      await create(id)
      const eventCount = async () =>
        ((await request(base(), "GET", `/documents/${id}/events`)).body as Array<unknown>).length
      const twice = async (method: string, path: string, body: unknown, key: string) => {
        const first = await request(base(), method, path, body, { "idempotency-key": key })
        const second = await request(base(), method, path, body, { "idempotency-key": key })
        assert.strictEqual(second.status, first.status, JSON.stringify(second.body))
        return [first, second] as const
      }
      const [saved, resaved] = await twice("PUT", `/documents/${id}/content`, {
        content: { blocks: [{ content: "two" }] },
        expectedVersion: 1
      }, "r1")
      assert.strictEqual(saved.status, 200, JSON.stringify(saved.body))
      assert.strictEqual(json(resaved.body).version, 2)
      assert.strictEqual(json(resaved.body).globalPosition, json(saved.body).globalPosition)
      const [renamed, renamedAgain] = await twice("POST", `/documents/${id}/rename`, {
        title: "Retried",
        expectedVersion: 2
      }, "r2")
      assert.strictEqual(renamed.status, 200, JSON.stringify(renamed.body))
      assert.strictEqual(json(renamedAgain.body).version, 3)
      const [added] = await twice("POST", `/documents/${id}/collaborators`, { userId: "bob", expectedVersion: 3 }, "r3")
      assert.strictEqual(added.status, 200, JSON.stringify(added.body))
      const [removed] = await twice("DELETE", `/documents/${id}/collaborators/bob`, undefined, "r4")
      assert.strictEqual(removed.status, 200, JSON.stringify(removed.body))
      assert.strictEqual(await eventCount(), 5)
      const [deleted, deletedAgain] = await twice("DELETE", `/documents/${id}`, undefined, "r5")
      assert.strictEqual(deleted.status, 204)
      assert.strictEqual(deletedAgain.headers.get("x-global-position"), deleted.headers.get("x-global-position"))
      assert.strictEqual(await eventCount(), 6)
      // without the key, the same delete is refused: the document is gone
      assert.strictEqual((await request(base(), "DELETE", `/documents/${id}`)).status, 410)
    })

    it("an Idempotency-Key reused for another change is a 409 and writes nothing", async () => {
      const id = `reuse-${Date.now().toString(36)}`
      await create(id)
      const headers = { "idempotency-key": "s1" }
      const saved = await request(base(), "PUT", `/documents/${id}/content`, {
        content: { blocks: [{ content: "kept" }] }
      }, headers)
      assert.strictEqual(saved.status, 200)
      const renamed = await request(base(), "POST", `/documents/${id}/rename`, { title: "Never" }, headers)
      assert.strictEqual(renamed.status, 409, JSON.stringify(renamed.body))
      assert.strictEqual(json(renamed.body)._tag, "DocumentExists")
      assert.include(String(json(renamed.body).message), "Idempotency-Key")
      const other = await request(base(), "PUT", `/documents/${id}/content`, {
        content: { blocks: [{ content: "other" }] }
      }, headers)
      assert.strictEqual(other.status, 409, JSON.stringify(other.body))
      const events = (await request(base(), "GET", `/documents/${id}/events`)).body as Array<Record<string, unknown>>
      assert.deepStrictEqual(events.map((e) => e.type), ["DocumentCreated", "DocumentContentSaved"])
    })

    it("a creation without an id under an Idempotency-Key creates one document", async () => {
      const key = `create-${Date.now().toString(36)}`
      const body = { title: "Keyed", content: { blocks: [{ content: "once" }] } }
      const first = await request(base(), "POST", "/documents", body, { "idempotency-key": key })
      const second = await request(base(), "POST", "/documents", body, { "idempotency-key": key })
      assert.strictEqual(first.status, 201, JSON.stringify(first.body))
      assert.strictEqual(second.status, 201, JSON.stringify(second.body))
      const id = String(json(first.body).id)
      ids.add(id)
      assert.strictEqual(json(second.body).id, id)
      assert.strictEqual(json(second.body).globalPosition, json(first.body).globalPosition)
      const events = (await request(base(), "GET", `/documents/${id}/events`)).body as Array<unknown>
      assert.strictEqual(events.length, 1)
      // the same key for another creation
      const other = await request(base(), "POST", "/documents", { ...body, title: "Other" }, { "idempotency-key": key })
      assert.strictEqual(other.status, 409, JSON.stringify(other.body))
      // without a key, each creation is its own document
      const a = await request(base(), "POST", "/documents", body)
      const b = await request(base(), "POST", "/documents", body)
      assert.notStrictEqual(json(a.body).id, json(b.body).id)
      ids.add(String(json(a.body).id))
      ids.add(String(json(b.body).id))
    })

    it("blocks without an id get ids that no block of the request has", async () => {
      const created = await request(base(), "POST", "/documents", {
        content: { blocks: [{ id: "b2", content: "given" }, { content: "second" }, { content: "third" }] }
      })
      assert.strictEqual(created.status, 201, JSON.stringify(created.body))
      ids.add(String(json(created.body).id))
      const blocks = json(json(created.body).content).blocks as Array<{ readonly id: string }>
      assert.deepStrictEqual(blocks.map((block) => block.id), ["b2", "b3", "b4"])
    })

    it("health, metrics, docs, dashboard", async () => {
      const h = await health()
      assert.strictEqual(h.status, "ok")
      assert.deepStrictEqual(h.projections.map((p) => p.name).sort(), [
        "documents-notifications",
        "documents-search",
        "documents-view"
      ])
      assert.isTrue("breakers" in h)
      const metrics = await fetch(`${base()}/metrics`)
      assert.strictEqual(metrics.status, 200)
      assert.include(metrics.headers.get("content-type") ?? "", "text/plain")
      const text = await metrics.text()
      for (
        const name of [
          "chronicle_cqrs_messages_total",
          "chronicle_eventstore_append_duration_count",
          "chronicle_projection_lag",
          "chronicle_breaker_state"
        ]
      ) {
        assert.include(text, name)
      }
      assert.match(text, /chronicle_cqrs_messages_total\{kind="command",type="CreateDocument",outcome="success"\} \d+/)
      assert.match(text, /chronicle_cqrs_messages_total\{kind="query",/)
      for (const line of text.split("\n").filter((l) => l.length > 0 && !l.startsWith("#"))) {
        assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eEInfNa]+$/, line)
      }
      const docs = await fetch(`${base()}/docs`)
      assert.strictEqual(docs.status, 200)
      assert.include(await docs.text(), "swagger")
      const dashboard = await fetch(`${base()}/dashboard`)
      assert.include(await dashboard.text(), "Chronicle")
      const monitoring = json((await request(base(), "GET", "/monitoring")).body)
      assert.isArray(monitoring.breakers)
      assert.isArray(monitoring.projections)
    })

    it("the OpenAPI document is valid OpenAPI 3 with every path and its schemas", async () => {
      const spec = json((await request(base(), "GET", "/openapi.json")).body)
      assert.match(String(spec.openapi), /^3\./)
      const paths = Object.keys(json(spec.paths))
      for (
        const path of [
          "/documents",
          "/documents/{id}",
          "/documents/{id}/content",
          "/documents/{id}/rename",
          "/documents/{id}/collaborators",
          "/documents/{id}/collaborators/{userId}",
          "/documents/{id}/events",
          "/health",
          "/metrics"
        ]
      ) {
        assert.include(paths, path)
      }
      assert.isAbove(Object.keys(json(json(spec.components).schemas)).length, 5)
      const validator = new Validator()
      const result = await validator.validate(spec)
      assert.isTrue(result.valid, JSON.stringify(result.errors, null, 2))
    })

    it("writes need the bearer token when CHRONICLE_API_TOKEN is set; the body limit is configurable", async () => {
      const before = await database.newest()
      const body = { id: `tok-${Date.now().toString(36)}`, content: { blocks: [{ content: "secret" }] } }
      const missing = await request(guarded.base, "POST", "/documents", body)
      assert.strictEqual(missing.status, 401)
      assert.strictEqual(json(missing.body)._tag, "Unauthorized")
      assert.strictEqual(
        (await request(guarded.base, "POST", "/documents", body, { authorization: "Bearer wrong" })).status,
        401
      )
      assert.strictEqual(
        (await request(guarded.base, "DELETE", "/documents/x", undefined, { authorization: "Basic czNjcmV0" })).status,
        401
      )
      assert.strictEqual(await database.newest(), before)
      const ok = await request(guarded.base, "POST", "/documents", body, { authorization: "Bearer s3cret" })
      assert.strictEqual(ok.status, 201)
      ids.add(body.id)
      assert.strictEqual((await request(guarded.base, "GET", `/documents/${body.id}/events`)).status, 200)
      const large = await request(guarded.base, "POST", "/documents", {
        content: { blocks: [{ content: "x".repeat(3000) }] }
      }, {
        authorization: "Bearer s3cret"
      })
      assert.strictEqual(large.status, 413)
      assert.strictEqual(json(large.body)._tag, "PayloadTooLarge")
    })

    it("answers at least 50 kinds of malformed request with a JSON 4xx, and writes nothing", async () => {
      const id = `target-${Date.now().toString(36)}`
      await create(id)
      await request(base(), "POST", `/documents/${id}/collaborators`, { userId: "bob" })
      const ok = { content: { blocks: [{ content: "fine" }] } }
      const deep = "[".repeat(20_000) + "]".repeat(20_000)
      const cases: ReadonlyArray<readonly [string, string, string, unknown, Record<string, string>?]> = [
        ["malformed JSON", "POST", "/documents", "{"],
        ["truncated JSON", "POST", "/documents", "{\"content\":{\"blocks\":["],
        ["empty body", "POST", "/documents", ""],
        ["null body", "POST", "/documents", "null"],
        ["array body", "POST", "/documents", "[]"],
        ["string body", "POST", "/documents", "\"text\""],
        ["number body", "POST", "/documents", "42"],
        ["missing content", "POST", "/documents", {}],
        ["content not an object", "POST", "/documents", { content: "text" }],
        ["content without blocks", "POST", "/documents", { content: {} }],
        ["blocks not an array", "POST", "/documents", { content: { blocks: "x" } }],
        ["block content a number", "POST", "/documents", { content: { blocks: [{ content: 1 }] } }],
        ["block without content", "POST", "/documents", { content: { blocks: [{}] } }],
        ["unknown top-level field", "POST", "/documents", { ...ok, admin: true }],
        ["unknown field in content", "POST", "/documents", { content: { blocks: [{ content: "x" }], html: "<b>" } }],
        ["unknown field in a block", "POST", "/documents", { content: { blocks: [{ content: "x", style: "red" }] } }],
        ["unknown block type", "POST", "/documents", { content: { blocks: [{ content: "x", type: "script" }] } }],
        ["hostile block id", "POST", "/documents", { content: { blocks: [{ content: "x", id: "../../x" }] } }],
        ["id with a slash", "POST", "/documents", { ...ok, id: "a/b" }],
        ["id too long", "POST", "/documents", { ...ok, id: "x".repeat(65) }],
        ["empty id", "POST", "/documents", { ...ok, id: "" }],
        ["numeric id", "POST", "/documents", { ...ok, id: 7 }],
        ["SQL in the id", "POST", "/documents", { ...ok, id: "x'; DROP TABLE chronicle_events; --" }],
        ["empty title", "POST", "/documents", { ...ok, title: "" }],
        ["blank title", "POST", "/documents", { ...ok, title: "   " }],
        ["title too long", "POST", "/documents", { ...ok, title: "t".repeat(201) }],
        ["numeric title", "POST", "/documents", { ...ok, title: 3 }],
        ["author id with spaces", "POST", "/documents", { ...ok, authorId: "a b" }],
        ["nested metadata", "POST", "/documents", { ...ok, metadata: { a: { b: 1 } } }],
        ["metadata an array", "POST", "/documents", { ...ok, metadata: [1] }],
        ["metadata value too long", "POST", "/documents", { ...ok, metadata: { a: "m".repeat(1_001) } }],
        [
          "__proto__ pollution",
          "POST",
          "/documents",
          "{\"__proto__\":{\"admin\":true},\"content\":{\"blocks\":[{\"content\":\"x\"}]}}"
        ],
        ["too many blocks", "POST", "/documents", {
          content: { blocks: Array.from({ length: 1_001 }, () => ({ content: "x" })) }
        }],
        ["oversized body", "POST", "/documents", { content: { blocks: [{ content: "x".repeat(1_100_000) }] } }],
        ["deeply nested JSON", "POST", "/documents", deep],
        ["text/plain body", "POST", "/documents", "content=x", { "content-type": "text/plain" }],
        ["no blocks (invariant)", "POST", "/documents", { content: { blocks: [] } }],
        ["an empty block (invariant)", "POST", "/documents", { content: { blocks: [{ content: "" }] } }],
        ["duplicate block ids (invariant)", "POST", "/documents", {
          content: { blocks: [{ id: "a", content: "x" }, { id: "a", content: "y" }] }
        }],
        ["an existing id", "POST", "/documents", { ...ok, id }],
        ["negative expectedVersion", "PUT", `/documents/${id}/content`, { ...ok, expectedVersion: -1 }],
        ["fractional expectedVersion", "PUT", `/documents/${id}/content`, { ...ok, expectedVersion: 1.5 }],
        ["string expectedVersion", "PUT", `/documents/${id}/content`, { ...ok, expectedVersion: "1" }],
        ["stale expectedVersion", "PUT", `/documents/${id}/content`, { ...ok, expectedVersion: 1 }],
        ["save without content", "PUT", `/documents/${id}/content`, { metadata: {} }],
        ["path traversal id", "PUT", "/documents/..%2F..%2Fetc%2Fpasswd/content", ok],
        ["NUL in the id", "PUT", "/documents/a%00b/content", ok],
        ["id of 65 characters", "PUT", `/documents/${"y".repeat(65)}/content`, ok],
        ["non-ASCII id", "PUT", "/documents/%C3%A9t%C3%A9/content", ok],
        ["unknown document", "PUT", "/documents/nobody/content", ok],
        ["rename without title", "POST", `/documents/${id}/rename`, {}],
        ["null title", "POST", `/documents/${id}/rename`, { title: null }],
        ["rename with unknown field", "POST", `/documents/${id}/rename`, { title: "x", by: "me" }],
        ["rename an unknown document", "POST", "/documents/nobody/rename", { title: "x" }],
        ["collaborator without userId", "POST", `/documents/${id}/collaborators`, {}],
        ["collaborator id with spaces", "POST", `/documents/${id}/collaborators`, { userId: "a b" }],
        ["the author as a collaborator", "POST", `/documents/${id}/collaborators`, { userId: "ada" }],
        ["a collaborator twice", "POST", `/documents/${id}/collaborators`, { userId: "bob" }],
        ["hostile collaborator in the path", "DELETE", `/documents/${id}/collaborators/a%20b`, undefined],
        ["removing a non-collaborator", "DELETE", `/documents/${id}/collaborators/zed`, undefined],
        ["deleting an unknown document", "DELETE", "/documents/nobody", undefined],
        ["limit 0", "GET", "/documents?limit=0", undefined],
        ["limit not a number", "GET", "/documents?limit=abc", undefined],
        ["limit too large", "GET", "/documents?limit=1000", undefined],
        ["negative offset", "GET", "/documents?offset=-1", undefined],
        ["negative minPosition", "GET", "/documents?minPosition=-5", undefined],
        ["minPosition not a number", "GET", `/documents/${id}?minPosition=abc`, undefined],
        ["minPosition beyond the head", "GET", `/documents/${id}?minPosition=${Number.MAX_SAFE_INTEGER}`, undefined],
        ["includeHistory not a boolean", "GET", `/documents/${id}?includeHistory=yes`, undefined],
        ["unknown query parameter", "GET", "/documents?sort=evil", undefined],
        ["query too long", "GET", `/documents?q=${"q".repeat(501)}`, undefined],
        ["unknown route", "GET", "/nothing/here", undefined],
        ["unsupported method", "PATCH", `/documents/${id}`, ok],
        ["events of an unknown document", "GET", "/documents/nobody/events", undefined]
      ]
      assert.isAtLeast(cases.length, 50)
      const newestBefore = await database.newest()
      const eventsBefore = ((await request(base(), "GET", `/documents/${id}/events`)).body as Array<unknown>).length
      for (const [name, method, path, body, headers] of cases) {
        const response = await request(base(), method, path, body, headers)
        assert.isTrue(
          response.status >= 400 && response.status < 500,
          `${name}: ${method} ${path} answered ${response.status}`
        )
        assert.isString(json(response.body)._tag, `${name}: no JSON _tag in ${JSON.stringify(response.body)}`)
        assert.isString(json(response.body).message, `${name}: no message`)
        assert.strictEqual(await database.newest(), newestBefore, `${name} wrote something`)
      }
      assert.strictEqual(
        ((await request(base(), "GET", `/documents/${id}/events`)).body as Array<unknown>).length,
        eventsBefore
      )
    })

    it("the worker stops gracefully, and killed with SIGKILL mid-way resumes: every read model equals the event history", async () => {
      await waitUntil("the worker to catch up", caughtUp, 60_000)
      const graceful = await worker.stop("SIGTERM")
      assert.strictEqual(graceful, 0, worker.output())
      const baseline = await head()
      assert.isTrue(
        (await health()).projections.every((p) => p.checkpoint === baseline),
        "checkpoints stored on shutdown"
      )
      // stopped but caught up: nothing is stale
      const idle = await request(base(), "GET", "/health")
      assert.strictEqual(idle.status, 200)
      assert.strictEqual((idle.body as Health).status, "ok")

      // a burst of writes while no worker runs
      const run = Date.now().toString(36)
      const docs = Array.from({ length: 30 }, (_, i) => `kill-${run}-${i}`)
      const user = (i: number) => `user-${run}-${i % 5}`
      await Promise.all(Array.from({ length: 6 }, async (_, lane) => {
        for (let i = lane; i < docs.length; i += 6) {
          const id = docs[i]
          await create(id, `first draft token${run}x${i}`)
          await request(base(), "POST", `/documents/${id}/collaborators`, { userId: user(i) })
          for (let edit = 0; edit < 3; edit++) {
            await request(base(), "PUT", `/documents/${id}/content`, {
              content: { blocks: [{ content: `edit ${edit} token${run}x${i}` }, { content: `common${run}` }] }
            })
          }
          await request(base(), "POST", `/documents/${id}/rename`, { title: `Renamed title${run}x${i}` })
          if (i % 4 === 0) await request(base(), "DELETE", `/documents/${id}/collaborators/${user(i)}`)
          if (i % 5 === 0) await request(base(), "DELETE", `/documents/${id}`)
        }
      }))
      const target = await head()
      assert.isAbove(target - baseline, 150)
      // behind with no worker to catch up: degraded (still 200; only a store that is down is a 503)
      const stale = await request(base(), "GET", "/health")
      assert.strictEqual(stale.status, 200)
      assert.strictEqual((stale.body as Health).status, "degraded")
      assert.isTrue((stale.body as Health).projections.every((p) => p.state !== "running" && p.lag > 0))

      // a slow worker (small batches), killed once it is part of the way through
      const slow = spawnApp("worker", { DATABASE_URL: database.url, CHRONICLE_PROJECTION_BATCH_SIZE: "3" })
      await waitUntil(
        "the worker to be part of the way",
        async () => {
          const h = await health()
          return h.projections.some((p) => p.checkpoint > baseline && p.checkpoint < target)
        },
        60_000,
        20
      )
      await slow.stop("SIGKILL")
      const midway = await health()
      assert.isTrue(midway.projections.some((p) => p.checkpoint < target), "killed before the end")

      worker = spawnApp("worker", { DATABASE_URL: database.url })
      await waitUntil("the restarted worker to catch up", caughtUp, 90_000)

      // every document: the read model equals the fold of its events
      const expectedNotifications = new Map<string, number>()
      for (const id of ids) {
        const events = (await request(base(), "GET", `/documents/${id}/events`)).body as Array<Record<string, unknown>>
        assert.isArray(events, id)
        let title = ""
        let blocks: unknown = []
        let collaborators: Array<string> = []
        let deleted = false
        const members = new Set<string>()
        const notify = (users: Iterable<string>) => {
          for (const u of users) expectedNotifications.set(u, (expectedNotifications.get(u) ?? 0) + 1)
        }
        for (const event of events) {
          const data = json(event.data)
          switch (event.type) {
            case "DocumentCreated":
              title = String(data.title)
              blocks = data.blocks
              break
            case "DocumentContentSaved":
              blocks = data.blocks
              notify(members)
              break
            case "DocumentRenamed":
              title = String(data.newTitle)
              notify(members)
              break
            case "CollaboratorAdded":
              collaborators = [...collaborators, String(data.userId)]
              members.add(String(data.userId))
              notify([String(data.userId)])
              break
            case "CollaboratorRemoved":
              collaborators = collaborators.filter((u) => u !== data.userId)
              members.delete(String(data.userId))
              notify([String(data.userId)])
              break
            case "DocumentDeleted":
              deleted = true
              notify(members)
              members.clear()
              break
          }
        }
        const read = await request(base(), "GET", `/documents/${id}`)
        if (deleted) {
          assert.strictEqual(read.status, 410, id)
          continue
        }
        assert.strictEqual(read.status, 200, id)
        const view = json(read.body)
        assert.deepStrictEqual(
          {
            title: view.title,
            blocks: json(view.content).blocks,
            collaborators: view.collaboratorIds,
            version: view.version
          },
          { title, blocks, collaborators, version: events.length },
          id
        )
      }
      // the search index: each live document is found by its own words, deleted ones are not
      for (const [i, id] of docs.entries()) {
        const found = json((await request(base(), "GET", `/documents?q=token${run}x${i}`)).body).items as Array<
          Record<string, unknown>
        >
        const byTitle = json((await request(base(), "GET", `/documents?q=title${run}x${i}`)).body).items as Array<
          Record<string, unknown>
        >
        const live = i % 5 !== 0
        assert.deepStrictEqual(found.map((d) => d.id), live ? [id] : [], `search token of ${id}`)
        assert.deepStrictEqual(byTitle.map((d) => d.id), live ? [id] : [], `search title of ${id}`)
      }
      const common = json((await request(base(), "GET", `/documents?q=common${run}&limit=100`)).body)
      assert.strictEqual(common.total, docs.filter((_, i) => i % 5 !== 0).length)
      // notifications: each exactly once
      for (let u = 0; u < 5; u++) {
        const userId = `user-${run}-${u}`
        const notes = (await request(base(), "GET", `/users/${userId}/notifications`)).body as Array<
          Record<string, unknown>
        >
        assert.strictEqual(notes.length, expectedNotifications.get(userId) ?? 0, userId)
        assert.strictEqual(new Set(notes.map((n) => n.id)).size, notes.length)
      }
    })

    // a transaction open elsewhere: on PostgreSQL it holds the head below a position just written
    it("a read of one's own write waits out a transaction open elsewhere instead of calling the position unwritten", async () => {
      const release = await database.holdTransaction()
      let released = false
      try {
        const created = await create(`held-${Date.now().toString(36)}`)
        const read = request(base(), "GET", `/documents/${created.id}?minPosition=${created.globalPosition}`)
        await new Promise((resolve) => setTimeout(resolve, 300))
        await release()
        released = true
        const response = await read
        assert.strictEqual(response.status, 200, JSON.stringify(response.body))
      } finally {
        if (!released) await release()
      }
    })

    it("the worker CLI shows status and rebuilds a read model with a progress bar", async () => {
      await waitUntil("the worker to catch up", caughtUp, 60_000)
      const status = spawnApp("worker", { DATABASE_URL: database.url }, ["status"])
      assert.strictEqual(await status.exited, 0, status.output())
      for (
        const word of [
          "projection",
          "checkpoint",
          "head",
          "lag",
          "quarantined",
          "documents-view",
          "documents-search",
          "documents-notifications"
        ]
      ) {
        assert.include(status.output(), word)
      }
      // a rebuild takes the projection's lease: the running worker stops first
      assert.strictEqual(await worker.stop("SIGTERM"), 0)
      const rebuild = spawnApp("worker", { DATABASE_URL: database.url }, ["rebuild", "documents-search"])
      assert.strictEqual(await rebuild.exited, 0, rebuild.output())
      assert.match(rebuild.output(), /documents-search \[#+\] 100% (\d+)\/\1 events/)
      const unknown = spawnApp("worker", { DATABASE_URL: database.url }, ["rebuild", "nope"])
      assert.notStrictEqual(await unknown.exited, 0)
      assert.include(unknown.output(), "no projection named nope")
      worker = spawnApp("worker", { DATABASE_URL: database.url })
      await waitUntil("the worker to catch up after the rebuild", caughtUp, 60_000)
      const id = `rebuilt-${Date.now().toString(36)}`
      const created = await create(id, "phoenix rises")
      const found = await request(base(), "GET", `/documents?q=phoenix&minPosition=${created.globalPosition}`)
      assert.deepStrictEqual((json(found.body).items as Array<Record<string, unknown>>).map((d) => d.id), [id])
    })
  })

suite("SQLite", async () => sqliteDatabase())

describe.skipIf(pgUrl === null)("PostgreSQL", () => {
  suite("PostgreSQL", () => postgresDatabase(pgUrl ?? ""))
})
