#!/usr/bin/env node
/* global AbortSignal */
// `pnpm demo`: drives a scripted scenario against the running system (`pnpm start`) and prints it:
// a document created, edited and renamed; a concurrent edit rejected with 409; its history; a
// search; a deleted document refusing changes; and the metrics that moved.
const base = (process.env.CHRONICLE_URL ?? `http://localhost:${process.env.PORT ?? "3000"}`).replace(/\/$/, "")
const token = process.env.CHRONICLE_API_TOKEN
const tty = process.stdout.isTTY
const paint = (code) => (text) => (tty ? `\x1b[${code}m${text}\x1b[0m` : String(text))
const bold = paint("1"),
  dim = paint("2"),
  green = paint("32"),
  red = paint("31"),
  cyan = paint("36"),
  yellow = paint("33")

const call = async (method, path, body) => {
  const headers = { accept: "application/json" }
  if (body !== undefined) headers["content-type"] = "application/json"
  if (token !== undefined && token !== "" && method !== "GET") headers.authorization = `Bearer ${token}`
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await response.text()
  let json
  try {
    json = text.length === 0 ? undefined : JSON.parse(text)
  } catch {
    json = text
  }
  const status = response.status < 300
    ? green(response.status)
    : response.status < 500
    ? yellow(response.status)
    : red(response.status)
  console.log(
    `  ${dim(method.padEnd(6))} ${path} → ${status}${
      json?._tag ? ` ${json._tag}: ${String(json.message).split("\n")[0]}` : ""
    }`
  )
  return { status: response.status, body: json, headers: response.headers }
}

const step = (n, title) => console.log(`\n${bold(cyan(`${n}.`))} ${bold(title)}`)
const show = (label, value) => console.log(`     ${dim(label.padEnd(14))} ${value}`)

const metrics = async () => {
  const text = await (await fetch(`${base}/metrics`)).text()
  const values = new Map()
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue
    const space = line.lastIndexOf(" ")
    values.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return values
}

const main = async () => {
  try {
    await fetch(`${base}/health`, { signal: AbortSignal.timeout(5_000) })
  } catch {
    console.error(`${red("The Chronicle server is not running")} at ${base}.
Start it in another terminal with ${bold("pnpm start")}, wait for "Chronicle is running", then run ${
      bold("pnpm demo")
    } again.
(Elsewhere? Set CHRONICLE_URL, e.g. CHRONICLE_URL=http://localhost:3000 pnpm demo.)`)
    process.exit(1)
  }
  const before = await metrics()
  const id = `demo-${Date.now().toString(36)}`
  const word = `chronicle${Math.floor(Math.random() * 1e6)}`
  console.log(`${bold("Chronicle demo")} against ${base} — document ${bold(id)}`)

  step(1, "Create a document (a CreateDocument command on the bus → DocumentCreated in the event store)")
  const created = await call("POST", "/documents", {
    id,
    title: "Meeting notes",
    authorId: "ada",
    content: { blocks: [{ type: "heading", content: "Agenda" }, { content: `Discuss the ${word} launch` }] },
    metadata: { client: "demo" }
  })
  if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`)
  show("version", created.body.version)
  show("global position", created.body.globalPosition)

  step(2, "Edit its content, saying which version we edited")
  const edited = await call("PUT", `/documents/${id}/content`, {
    content: {
      blocks: [{ type: "heading", content: "Agenda" }, { content: `Discuss the ${word} launch and the budget` }]
    },
    expectedVersion: created.body.version
  })
  show("version", edited.body.version)

  step(3, "Rename it (the event records the old and the new title)")
  const renamed = await call("POST", `/documents/${id}/rename`, {
    title: "Launch plan",
    expectedVersion: edited.body.version
  })
  show("title", `${created.body.title} → ${renamed.body.title}`)
  const shared = await call("POST", `/documents/${id}/collaborators`, { userId: "bob" })
  show("collaborators", shared.body.collaboratorIds.join(", "))

  step(4, "Two people edit the same version at once: one wins, the other gets 409")
  const current = (await call("GET", `/documents/${id}?minPosition=${shared.body.globalPosition}`)).body
  show("both read", `version ${current.version}`)
  const [a, b] = await Promise.all([
    call("PUT", `/documents/${id}/content`, {
      content: { blocks: [{ content: `Ada's ${word} version` }] },
      expectedVersion: current.version
    }),
    call("PUT", `/documents/${id}/content`, {
      content: { blocks: [{ content: `Bob's ${word} version` }] },
      expectedVersion: current.version
    })
  ])
  const loser = a.status === 409 ? a : b
  const winner = a.status === 409 ? b : a
  show("accepted", winner.status === 200 ? green(`version ${winner.body.version}`) : red(winner.status))
  show(
    "rejected",
    loser.status === 409
      ? yellow(`409: expected ${loser.body.expected}, actual ${loser.body.actual}`)
      : red(loser.status)
  )

  step(5, "The history: every event of the document's stream")
  const withHistory =
    (await call("GET", `/documents/${id}?includeHistory=true&minPosition=${winner.body.globalPosition}`)).body
  for (const event of withHistory.history ?? []) {
    const detail = event.type === "DocumentRenamed"
      ? `"${event.data.oldTitle}" → "${event.data.newTitle}"`
      : event.type === "CollaboratorAdded"
      ? event.data.userId
      : event.data.blocks?.map((block) => block.content).join(" | ") ?? ""
    show(`v${event.version}`, `${event.type.padEnd(22)} ${dim(detail)}`)
  }
  show("version", `${withHistory.version} (= the number of events)`)

  step(6, `Search the index for "${word}" (a projection kept by the worker)`)
  const found = (await call("GET", `/documents?q=${word}&minPosition=${winner.body.globalPosition}`)).body
  for (const item of found.items ?? []) show("found", `${item.id} "${item.title}"`)
  const notes = (await call("GET", `/users/bob/notifications?minPosition=${winner.body.globalPosition}`)).body
  show("bob was told", `${notes.filter((n) => n.documentId === id).map((n) => n.kind).join(", ")}`)

  step(7, "Delete it: reads and changes are refused")
  const deleted = await call("DELETE", `/documents/${id}`)
  const position = deleted.headers.get("x-global-position") ?? "0"
  await call("GET", `/documents/${id}?minPosition=${position}`)
  await call("PUT", `/documents/${id}/content`, { content: { blocks: [{ content: "too late" }] } })
  await call("POST", `/documents/${id}/rename`, { title: "Too late" })

  step(8, "The metrics that moved (GET /metrics)")
  const after = await metrics()
  const moved = []
  for (const [key, value] of after) {
    if (
      !/^chronicle_(cqrs_messages_total|eventstore_append_duration_count|eventstore_head|projection_lag|breaker_state)/
        .test(key)
    ) continue
    const was = before.get(key) ?? 0
    if (value !== was || key.startsWith("chronicle_projection_lag") || key.startsWith("chronicle_breaker_state")) {
      moved.push([key, was, value])
    }
  }
  for (const [key, was, value] of moved) {
    show(value === was ? "=" : `+${value - was}`, `${key} ${dim(`${was} → ${value}`)}`)
  }
  console.log(`\nSee the dashboard at ${bold(`${base}/dashboard`)} and the API docs at ${bold(`${base}/docs`)}.`)
}

main().catch((error) => {
  console.error(red(`the demo failed: ${error instanceof Error ? error.message : String(error)}`))
  process.exit(1)
})
