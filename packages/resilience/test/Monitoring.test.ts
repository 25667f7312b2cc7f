import { Alerts, CircuitBreaker, Monitoring } from "@chronicle/resilience"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Logger, Metric, Queue, TestClock } from "effect"

describe("Alerts", () => {
  it.effect("an alert is published, kept, counted by severity and logged at a matching level", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        logs.push(`${logLevel.label}:${Array.isArray(message) ? message.join(" ") : String(message)}`)
      })
      const alerts = yield* Alerts.make({ capacity: 2 })
      const subscription = yield* alerts.subscribe
      const before = yield* Metric.value(Metric.tagged(Alerts.alertsTotal, "severity", "critical"))
      yield* TestClock.adjust("5 seconds")
      yield* alerts.raise({ title: "Disk", message: "90 % full", severity: "warning" }).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      yield* alerts.raise({ title: "Down", message: "db unreachable", severity: "critical", source: "db" }).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      yield* alerts.raise({ title: "Up", message: "db back", severity: "info" })
      const received = Chunk.toReadonlyArray(yield* Queue.takeAll(subscription))
      assert.deepStrictEqual(received.map((a) => [a.id, a.title, a.severity]), [
        [1, "Disk", "warning"],
        [2, "Down", "critical"],
        [3, "Up", "info"]
      ])
      assert.strictEqual(received[0].at.getTime(), 5000)
      assert.strictEqual(received[1].source, "db")
      assert.deepStrictEqual((yield* alerts.recent).map((a) => a.title), ["Down", "Up"], "only the last two are kept")
      const after = yield* Metric.value(Metric.tagged(Alerts.alertsTotal, "severity", "critical"))
      assert.strictEqual(after.count - before.count, 1)
      assert.deepStrictEqual(logs, ["WARN:[warning] Disk: 90 % full", "FATAL:[critical] Down: db unreachable"])
    }).pipe(Effect.scoped))
})

describe("Monitoring", () => {
  it.effect("aggregates operations, breaker states and alerts into plain JSON data", () =>
    Effect.gen(function*() {
      const monitoring = yield* Monitoring.Monitoring
      yield* monitoring.record({ source: "command-bus", name: "RenameDocument", outcome: "success", durationMillis: 4 })
      yield* monitoring.record({
        source: "command-bus",
        name: "RenameDocument",
        outcome: "failure",
        durationMillis: 8,
        detail: "conflict"
      })
      yield* monitoring.record({ source: "persistence", name: "save:critical", outcome: "success", durationMillis: 1 })
      const breaker = yield* CircuitBreaker.make({ name: "monitored", policy: CircuitBreaker.consecutive(1) })
      yield* Effect.either(breaker.execute(Effect.fail("boom")))
      const snapshot = yield* monitoring.snapshot
      assert.deepStrictEqual(snapshot.operations.totals.find((t) => t.name === "RenameDocument"), {
        source: "command-bus",
        name: "RenameDocument",
        successes: 1,
        failures: 1,
        averageMillis: 6,
        maxMillis: 8
      })
      assert.strictEqual(snapshot.operations.recent.length, 3)
      assert.strictEqual(snapshot.operations.recent[1].detail, "conflict")
      assert.deepStrictEqual(snapshot.breakers.map((b) => [b.name, b.state]), [["monitored", "Open"]])
      assert.deepStrictEqual(snapshot.alerts.map((a) => a.title), ["Circuit Opened"])
      assert.deepStrictEqual(JSON.parse(JSON.stringify(snapshot)), snapshot, "the snapshot is plain JSON data")
    }).pipe(Effect.provide(Monitoring.layerWithAlerts())))

  it.effect("keeps only the most recent operations and track records outcomes and durations", () =>
    Effect.gen(function*() {
      const monitoring = yield* Monitoring.Monitoring
      for (let i = 0; i < 5; i++) {
        yield* Monitoring.record({ source: "s", name: `op${i}`, outcome: "success", durationMillis: i })
      }
      const fiber = yield* Effect.fork(Effect.sleep("250 millis").pipe(Monitoring.track("worker", "tick")))
      yield* TestClock.adjust("250 millis")
      yield* fiber.await
      yield* Effect.either(Effect.fail("nope").pipe(Monitoring.track("worker", "tick")))
      const snapshot = yield* monitoring.snapshot
      assert.deepStrictEqual(snapshot.operations.recent.map((o) => o.name), ["op4", "tick", "tick"])
      assert.deepStrictEqual(snapshot.operations.totals.find((t) => t.name === "tick"), {
        source: "worker",
        name: "tick",
        successes: 1,
        failures: 1,
        averageMillis: 125,
        maxMillis: 250
      })
    }).pipe(Effect.provide(Monitoring.layer({ capacity: 3 }))))
})
