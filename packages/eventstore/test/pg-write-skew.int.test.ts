// PostgreSQL runs appends under READ COMMITTED: a check in one transaction cannot see another's
// uncommitted writes. These tests race the cases where that could let two conflicting calls both
// succeed (docs/decisions/0009).
import { EventStore, ExpectedVersion } from "@chronicle/eventstore"
import { PgEventStore } from "@chronicle/eventstore/pg"
import { SqlClient } from "@effect/sql"
import { assert, describe, layer } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option } from "effect"
import { inject } from "vitest"

const pgUrl = inject("pgUrl")
const event = (n: number) => ({ eventId: crypto.randomUUID(), type: "Happened", data: { n } })
const freshCategory = () => `ws${crypto.randomUUID().replaceAll("-", "")}`

describe.skipIf(pgUrl === null)("PostgreSQL write skew", () => {
  layer(PgEventStore.layer({ url: pgUrl ?? "", maxConnections: 12 }), { excludeTestServices: true, timeout: 60_000 })(
    (it) => {
      // an append still open in a transaction when the delete starts: the delete waits for it
      for (const count of [1, 3]) {
        it.effect(`deleteStream waits for an open append of ${count} event(s) and sees it`, () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const sql = yield* SqlClient.SqlClient
            const id = `${freshCategory()}-1`
            const appended = yield* Deferred.make<void>()
            const release = yield* Deferred.make<void>()
            const append = yield* sql.withTransaction(Effect.gen(function*() {
              const result = yield* store.append(
                id,
                Array.from({ length: count }, (_, i) => event(i)),
                ExpectedVersion.exact(0)
              )
              yield* Deferred.succeed(appended, undefined)
              yield* Deferred.await(release)
              return result
            })).pipe(Effect.exit, Effect.fork)
            yield* Deferred.await(appended)
            const deletion = yield* store.deleteStream(id, ExpectedVersion.exact(0)).pipe(Effect.exit, Effect.fork)
            yield* Effect.sleep("200 millis")
            // still waiting for the append's transaction
            assert.isTrue(Option.isNone(yield* Fiber.poll(deletion)))
            yield* Deferred.succeed(release, undefined)
            const appendExit = yield* Fiber.join(append)
            const deleteExit = yield* Fiber.join(deletion)
            assert.isTrue(Exit.isSuccess(appendExit))
            assert.isTrue(Exit.isFailure(deleteExit))
            if (Exit.isFailure(deleteExit)) {
              const error = yield* Effect.flip(deleteExit)
              assert.deepInclude(error, { _tag: "WrongExpectedVersion", actual: count })
            }
            assert.deepStrictEqual(yield* store.streamInfo(id), { streamId: id, version: count, deleted: false })
          }))
      }

      // the delete still open in a transaction when the append starts: the append waits, then sees the tombstone
      for (const count of [1, 3]) {
        it.effect(`an append of ${count} event(s) waits for an open delete and sees its tombstone`, () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const sql = yield* SqlClient.SqlClient
            const id = `${freshCategory()}-1`
            const deleted = yield* Deferred.make<void>()
            const release = yield* Deferred.make<void>()
            const deletion = yield* sql.withTransaction(Effect.gen(function*() {
              yield* store.deleteStream(id, ExpectedVersion.exact(0))
              yield* Deferred.succeed(deleted, undefined)
              yield* Deferred.await(release)
            })).pipe(Effect.exit, Effect.fork)
            yield* Deferred.await(deleted)
            const append = yield* store.append(
              id,
              Array.from({ length: count }, (_, i) => event(i)),
              ExpectedVersion.exact(0)
            )
              .pipe(Effect.exit, Effect.fork)
            yield* Effect.sleep("200 millis")
            yield* Deferred.succeed(release, undefined)
            assert.isTrue(Exit.isSuccess(yield* Fiber.join(deletion)))
            const appendExit = yield* Fiber.join(append)
            assert.isTrue(Exit.isFailure(appendExit))
            if (Exit.isFailure(appendExit)) assert.strictEqual((yield* Effect.flip(appendExit))._tag, "StreamDeleted")
            assert.deepStrictEqual(yield* store.streamInfo(id), { streamId: id, version: 0, deleted: true })
          }))
      }

      it.effect(
        "property: an append and a delete at the same expected version never both succeed",
        () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cat = freshCategory()
            const rounds = yield* Effect.forEach(
              Array.from({ length: 60 }, (_, i) => i),
              (i) => {
                const id = `${cat}-${i}`
                // single events take the prepared statement, several the function
                const batch = Array.from({ length: 1 + (i % 3) }, (_, n) => event(n))
                return Effect.all([
                  Effect.exit(store.append(id, batch, ExpectedVersion.exact(0))),
                  Effect.exit(store.deleteStream(id, ExpectedVersion.exact(0)))
                ], { concurrency: 2 }).pipe(
                  Effect.flatMap(([append, deletion]) =>
                    Effect.map(store.streamInfo(id), (info) => ({ append, deletion, info, count: batch.length }))
                  )
                )
              },
              { concurrency: 4 }
            )
            for (const { append, count, deletion, info } of rounds) {
              assert.notStrictEqual(Exit.isSuccess(append), Exit.isSuccess(deletion))
              assert.deepStrictEqual(
                info,
                Exit.isSuccess(append)
                  ? { ...info, version: count, deleted: false }
                  : { ...info, version: 0, deleted: true }
              )
            }
          }),
        { timeout: 60_000 }
      )

      it.effect(
        "property: two calls that each guard the stream the other writes never both succeed",
        () =>
          Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cat = freshCategory()
            const rounds = yield* Effect.forEach(
              Array.from({ length: 40 }, (_, i) => i),
              (i) => {
                const a = `${cat}-a${i}`
                const b = `${cat}-b${i}`
                const expected = i % 2 === 0 ? ExpectedVersion.exact(0) : ExpectedVersion.NoStream
                return Effect.all([
                  Effect.exit(store.appendMany([
                    { streamId: a, events: [event(1)], expected: ExpectedVersion.Any },
                    { streamId: b, events: [], expected }
                  ])),
                  Effect.exit(store.appendMany([
                    { streamId: b, events: [event(1)], expected: ExpectedVersion.Any },
                    { streamId: a, events: [], expected }
                  ]))
                ], { concurrency: 2 }).pipe(
                  Effect.flatMap((exits) =>
                    Effect.map(
                      Effect.all([store.streamInfo(a), store.streamInfo(b)]),
                      ([infoA, infoB]) => ({ exits, versions: [infoA.version, infoB.version] })
                    )
                  )
                )
              },
              { concurrency: 4 }
            )
            for (const { exits: [x, y], versions } of rounds) {
              assert.isFalse(Exit.isSuccess(x) && Exit.isSuccess(y))
              // whatever failed wrote nothing, and failed for the right reason
              assert.deepStrictEqual(versions, [Exit.isSuccess(x) ? 1 : 0, Exit.isSuccess(y) ? 1 : 0])
              for (const exit of [x, y]) {
                if (Exit.isFailure(exit)) assert.strictEqual((yield* Effect.flip(exit))._tag, "WrongExpectedVersion")
              }
            }
          }),
        { timeout: 60_000 }
      )

      it.effect("a guard inside a caller's transaction leaves no row behind", () =>
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const sql = yield* SqlClient.SqlClient
          const cat = freshCategory()
          yield* sql.withTransaction(Effect.gen(function*() {
            yield* store.append(`${cat}-a`, [event(1)], ExpectedVersion.NoStream)
            yield* store.append(`${cat}-b`, [], ExpectedVersion.NoStream)
            yield* store.append(`${cat}-c`, [], ExpectedVersion.exact(0))
          }))
          const rows = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM chronicle_events
            WHERE category = ${cat} OR event_id LIKE 'chronicle-guard-%' OR position < 0`
          assert.strictEqual(rows[0].n, 1)
        }))
    }
  )
})
