// Write requests whose body is not JSON: refused at once with 415, writing nothing. A form body
// once made the platform parse the request stream the server had already read, and hang or 500.
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type Database, json, request, type Server, sqliteDatabase, startServer } from "./harness.js"

describe("bodies that are not JSON", { timeout: 120_000 }, () => {
  let database: Database
  let server: Server

  beforeAll(async () => {
    database = sqliteDatabase()
    server = await startServer(database.url)
  }, 120_000)

  afterAll(async () => {
    await server?.proc.stop()
    await database?.drop()
  })

  it("are refused with 415 and change nothing, and JSON with parameters still works", async () => {
    const created = await request(server.base, "POST", "/documents", { content: { blocks: [{ content: "one" }] } })
    assert.strictEqual(created.status, 201)
    const id = String(json(created.body).id)
    const before = await database.newest()
    const cases: ReadonlyArray<readonly [string, string, string, string]> = [
      ["POST", "/documents", "multipart/form-data; boundary=x", "--x--\r\n"],
      ["PUT", `/documents/${id}/content`, "multipart/form-data; boundary=x", "--x--\r\n"],
      ["POST", `/documents/${id}/rename`, "multipart/form-data", "a"],
      ["POST", `/documents/${id}/rename`, "application/x-www-form-urlencoded", "title=x"],
      ["POST", `/documents/${id}/collaborators`, "text/plain", "bob"]
    ]
    for (const [method, path, contentType, body] of cases) {
      const response = await request(server.base, method, path, body, { "content-type": contentType })
      assert.strictEqual(response.status, 415, `${contentType} on ${method} ${path}`)
      assert.strictEqual(json(response.body)._tag, "UnsupportedMediaType")
    }
    assert.strictEqual(await database.newest(), before)
    const renamed = await request(server.base, "POST", `/documents/${id}/rename`, JSON.stringify({ title: "Two" }), {
      "content-type": "application/json; charset=utf-8"
    })
    assert.strictEqual(renamed.status, 200)
  })
})
