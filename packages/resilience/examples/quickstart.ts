// A breaker, a retry policy and the persistence manager, end to end:
//   npx tsx --conditions=@chronicle/source examples/quickstart.ts
import { CircuitBreaker, Monitoring, PersistenceManager, Policy, Retry, Storage, Timeout } from "@chronicle/resilience"
import { Effect, Layer, Option, Schema } from "effect"

class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", { attempt: Schema.Number }) {}

// A dependency that fails its first three calls.
let calls = 0
const flakyPrice = Effect.suspend(() => {
  calls++
  return calls <= 3 ? Effect.fail(new Unavailable({ attempt: calls })) : Effect.succeed(42)
})

const breakerDemo = Effect.gen(function*() {
  const breaker = yield* CircuitBreaker.make<Unavailable>({
    name: "prices",
    policy: CircuitBreaker.consecutive(3),
    openDuration: "200 millis",
    successThreshold: 1
  })
  for (let i = 0; i < 4; i++) {
    const result = yield* Effect.either(breaker.execute(flakyPrice))
    const text = result._tag === "Right" ? `ok ${result.right}` : result.left._tag
    yield* Effect.log(`call ${i + 1}: ${text}, breaker ${yield* breaker.state}`)
  }
  yield* Effect.sleep("200 millis")
  const price = yield* breaker.execute(flakyPrice)
  yield* Effect.log(`after the open duration a probe went through: ${price}, breaker ${yield* breaker.state}`)
})

const retryDemo = Effect.gen(function*() {
  calls = 0
  const price = yield* flakyPrice.pipe(
    Retry.retry({ times: 5, base: "10 millis", maxDelay: "100 millis", while: (e) => e._tag === "Unavailable" })
  )
  yield* Effect.log(`retry: ${price} after ${calls} attempts`)
  calls = 0
  const breaker = yield* CircuitBreaker.make({ name: "prices-composed" })
  const composed = yield* flakyPrice.pipe(
    Policy.wrapWithFallback({
      breaker,
      timeout: "1 second",
      retry: { times: 1, base: "10 millis" },
      fallback: (error) => Effect.succeed(`fallback (${error._tag})`)
    })
  )
  yield* Effect.log(`composed: ${composed}`)
  const timedOut = yield* Effect.either(Effect.never.pipe(Timeout.timeout("20 millis", "slow call")))
  yield* Effect.log(`timeout: ${timedOut._tag === "Left" ? timedOut.left.message : "finished"}`)
})

const Settings = Schema.Struct({ theme: Schema.Literal("light", "dark"), fontSize: Schema.Number })

const persistenceDemo = Effect.gen(function*() {
  const storage = yield* Storage.Storage
  yield* Effect.scoped(Effect.gen(function*() {
    const settings = yield* PersistenceManager.makeFor(Settings, { importantDelay: "50 millis" })
    yield* settings.persist("settings/ada", { theme: "dark", fontSize: 14 }, "critical")
    yield* settings.persist("settings/bob", { theme: "light", fontSize: 12 }, "important")
    yield* settings.persist("settings/eve", { theme: "light", fontSize: 16 }, "background")
    yield* Effect.log(
      `pending writes are readable: ${JSON.stringify(Option.getOrNull(yield* settings.load("settings/eve")))}`
    )
    yield* Effect.log(`keys: ${(yield* settings.listKeys("settings/")).join(", ")}`)
  }))
  // the scope closed: every accepted write was flushed
  yield* Effect.log(`stored after a clean stop: ${(yield* storage.listKeys("settings/")).join(", ")}`)
  const monitoring = yield* Monitoring.Monitoring
  const snapshot = yield* monitoring.snapshot
  yield* Effect.log(`monitoring: ${snapshot.operations.totals.map((t) => `${t.name}=${t.successes}`).join(", ")}`)
  yield* Effect.log(`alerts: ${snapshot.alerts.map((a) => `${a.severity} ${a.title}`).join(", ")}`)
})

const program = Effect.gen(function*() {
  yield* breakerDemo
  yield* retryDemo
  yield* persistenceDemo
})

const MainLive = Layer.mergeAll(Storage.layerMemory, Monitoring.layerWithAlerts())

Effect.runPromise(program.pipe(Effect.provide(MainLive)))
