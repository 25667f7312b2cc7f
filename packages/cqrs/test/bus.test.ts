// The buses on their own: routing, middleware order, the feed, missing handlers, validation,
// metrics. The handlers here need no store except the history query's.
import { BusEvent, CommandBus, CqrsError, Middleware, QueryBus, StreamHistory } from "@chronicle/cqrs"
import { EventStore, ExpectedVersion } from "@chronicle/eventstore"
import { assert, describe, it } from "@effect/vitest"
import {
  Chunk,
  Effect,
  Exit,
  Fiber,
  Layer,
  Metric,
  MetricState,
  Option,
  Queue,
  Ref,
  Schedule,
  Schema,
  Stream,
  TestClock
} from "effect"

class Greet extends Schema.TaggedRequest<Greet>()("Greet", {
  payload: { name: Schema.NonEmptyString },
  success: Schema.String,
  failure: Schema.Never
}) {}

class Fail extends Schema.TaggedRequest<Fail>()("Fail", {
  payload: { reason: Schema.String },
  success: Schema.Void,
  failure: Schema.TaggedStruct("Refused", { reason: Schema.String })
}) {}

class Unhandled extends Schema.TaggedRequest<Unhandled>()("Unhandled", {
  payload: {},
  success: Schema.Void,
  failure: Schema.Never
}) {}

class Boom extends Schema.TaggedRequest<Boom>()("Boom", {
  payload: {},
  success: Schema.Void,
  failure: Schema.Never
}) {}

class CountGreetings extends Schema.TaggedRequest<CountGreetings>()("CountGreetings", {
  payload: {},
  success: Schema.Number,
  failure: Schema.TaggedStruct("Unavailable", {})
}) {}

// A read model the command handler feeds and the query handler reads.
class Greetings extends Effect.Service<Greetings>()("test/Greetings", {
  effect: Ref.make(0)
}) {}

const GreetHandler = CommandBus.handler(
  Greet,
  Effect.map(
    Greetings,
    (count) => (command: Greet) => Effect.as(Ref.update(count, (n) => n + 1), `hello ${command.name}`)
  )
)
const FailHandler = CommandBus.handler(
  Fail,
  (command) => Effect.fail({ _tag: "Refused" as const, reason: command.reason })
)
const BoomHandler = CommandBus.handler(Boom, () => Effect.dieMessage("kaboom"))
const CountHandler = QueryBus.handler(CountGreetings, Effect.map(Greetings, (count) => () => Ref.get(count)))

const busLayer = (middleware: ReadonlyArray<Middleware.Middleware> = []) =>
  Layer.mergeAll(GreetHandler, FailHandler, BoomHandler, CountHandler).pipe(
    Layer.provideMerge(Layer.mergeAll(CommandBus.layer({ middleware }), QueryBus.layer({ middleware }))),
    Layer.provideMerge(Greetings.Default)
  )

describe("CommandBus and QueryBus", () => {
  it.effect("route commands and queries to their handlers", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* CommandBus.send(new Greet({ name: "ada" })), "hello ada")
      assert.strictEqual(yield* CommandBus.send(new Greet({ name: "bob" })), "hello bob")
      assert.strictEqual(yield* QueryBus.send(new CountGreetings()), 2)
      const refused = yield* Effect.flip(CommandBus.send(new Fail({ reason: "no" })))
      assert.deepStrictEqual(refused, { _tag: "Refused", reason: "no" })
    }).pipe(Effect.provide(busLayer())))

  it.effect("a command without a handler fails with HandlerNotFound at run time", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus.CommandBus
      const error = yield* Effect.flip(bus.dispatch(new Unhandled()))
      assert.strictEqual(error._tag, "HandlerNotFound")
      if (error._tag === "HandlerNotFound") {
        assert.strictEqual(error.type, "Unhandled")
        assert.strictEqual(error.kind, "command")
      }
      const unknown = yield* Effect.flip(bus.dispatchUnknown({ _tag: "Nope" }))
      assert.instanceOf(unknown, CqrsError.HandlerNotFound)
      assert.isFalse(bus.hasHandler("Unhandled"))
      const query = yield* Effect.flip(QueryBus.dispatch(new Unhandled()))
      assert.strictEqual(query._tag, "HandlerNotFound")
    }).pipe(Effect.provide(busLayer())))

  it.effect("a command without a handler does not compile with send", () =>
    Effect.gen(function*() {
      const program = CommandBus.send(new Unhandled())
      const provided = program.pipe(Effect.provide(busLayer()))
      // @ts-expect-error: CommandBus.Handler<"Unhandled"> is not provided by any layer
      const typed: Effect.Effect<void, unknown, never> = provided
      // at run time, the guarantee's absence is a defect, not a silent success
      const exit = yield* Effect.exit(typed)
      assert.isTrue(Exit.isFailure(exit))
      const handled: Effect.Effect<string, unknown, never> = CommandBus.send(new Greet({ name: "x" })).pipe(
        Effect.provide(busLayer())
      )
      assert.strictEqual(yield* handled, "hello x")
    }))

  it.effect("two handlers for one type fail the layer with DuplicateHandler", () =>
    Effect.gen(function*() {
      const twice = Layer.merge(GreetHandler, CommandBus.handler(Greet, () => Effect.succeed("again"))).pipe(
        Layer.provideMerge(CommandBus.layer()),
        Layer.provide(Greetings.Default)
      )
      const error = yield* Effect.flip(Effect.scoped(Layer.build(twice)))
      assert.strictEqual(error._tag, "DuplicateHandler")
    }))

  it.effect("dispatchUnknown decodes outside input with the registered schema", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus.CommandBus
      assert.strictEqual(yield* bus.dispatchUnknown({ _tag: "Greet", name: "json" }), "hello json")
      const invalid = yield* Effect.flip(bus.dispatchUnknown({ _tag: "Greet", name: "" }))
      assert.strictEqual((invalid as { _tag: string })._tag, "ValidationError")
      assert.strictEqual(yield* QueryBus.send(new CountGreetings()), 1)
    }).pipe(Effect.provide(busLayer())))

  it.effect("middleware runs in the order given: the first is the outermost", () =>
    Effect.gen(function*() {
      const trail = yield* Ref.make<ReadonlyArray<string>>([])
      const note = (entry: string) => Ref.update(trail, (all) => [...all, entry])
      const recording = (name: string) =>
        Middleware.make(name, (next, context) =>
          note(`${name}>${context.type}`).pipe(
            Effect.zipRight(next),
            Effect.tap(() => note(`${name}<`))
          ))
      const handler = CommandBus.handler(Greet, (command) => Effect.as(note("handler"), command.name))
      const layer = handler.pipe(
        Layer.provideMerge(CommandBus.layer({ middleware: [recording("a"), recording("b"), recording("c")] }))
      )
      yield* CommandBus.send(new Greet({ name: "x" })).pipe(Effect.provide(layer))
      assert.deepStrictEqual(yield* Ref.get(trail), ["a>Greet", "b>Greet", "c>Greet", "handler", "c<", "b<", "a<"])
    }))

  it.effect("the validation middleware refuses a message that breaks its schema; the handler never runs", () =>
    Effect.gen(function*() {
      const bad = new Greet({ name: "" }, true)
      const error = yield* Effect.flip(CommandBus.send(bad))
      assert.strictEqual(error._tag, "ValidationError")
      assert.strictEqual(yield* QueryBus.send(new CountGreetings()), 0)
    }).pipe(Effect.provide(busLayer([Middleware.validation]))))

  it.effect("the metrics middleware counts and times messages by type and outcome", () =>
    Effect.gen(function*() {
      yield* CommandBus.send(new Greet({ name: "m" }))
      yield* CommandBus.send(new Greet({ name: "n" }))
      yield* Effect.exit(CommandBus.send(new Fail({ reason: "r" })))
      const count = (type: string, outcome: string) =>
        Middleware.messageCount.pipe(
          Metric.tagged("kind", "command"),
          Metric.tagged("type", type),
          Metric.tagged("outcome", outcome),
          Metric.value,
          Effect.map((state: MetricState.MetricState.Counter<number>) => state.count)
        )
      assert.strictEqual(yield* count("Greet", "success"), 2)
      assert.strictEqual(yield* count("Fail", "failure"), 1)
      assert.strictEqual(yield* count("Fail", "success"), 0)
    }).pipe(Effect.provide(busLayer([Middleware.metrics]))))

  it.effect("the retry middleware re-runs the pipeline while its predicate holds", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const flaky = CommandBus.handler(Fail, () =>
        Effect.flatMap(
          Ref.updateAndGet(attempts, (n) => n + 1),
          (n) => n < 3 ? Effect.fail({ _tag: "Refused" as const, reason: "transient" }) : Effect.void
        ))
      const layer = flaky.pipe(
        Layer.provideMerge(CommandBus.layer({
          middleware: [Middleware.retry({
            schedule: Schedule.recurs(5),
            while: (e) => (e as { reason?: string }).reason === "transient"
          })]
        }))
      )
      yield* CommandBus.send(new Fail({ reason: "x" })).pipe(Effect.provide(layer))
      assert.strictEqual(yield* Ref.get(attempts), 3)
    }))

  it.effect("the tracing middleware runs the handler in a span named after the message", () =>
    Effect.gen(function*() {
      const probe = CommandBus.handler(Greet, () =>
        Effect.map(Effect.orElseSucceed(Effect.currentSpan, () => ({ name: "no span" })), (span) => span.name))
      const layer = probe.pipe(Layer.provideMerge(CommandBus.layer({ middleware: [Middleware.tracing] })))
      assert.strictEqual(yield* CommandBus.send(new Greet({ name: "t" })).pipe(Effect.provide(layer)), "command Greet")
      const untraced = probe.pipe(Layer.provideMerge(CommandBus.layer()))
      assert.strictEqual(yield* CommandBus.send(new Greet({ name: "t" })).pipe(Effect.provide(untraced)), "no span")
    }))

  it.effect("the timeout middleware rejects a message that takes too long", () =>
    Effect.gen(function*() {
      const slow = CommandBus.handler(Fail, () => Effect.never)
      const layer = slow.pipe(Layer.provideMerge(CommandBus.layer({ middleware: [Middleware.timeout("1 second")] })))
      const fiber = yield* Effect.fork(
        Effect.flip(CommandBus.send(new Fail({ reason: "x" })).pipe(Effect.provide(layer)))
      )
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "MessageRejected")
    }))

  it.effect("a handler's failures must be the ones its schema declares", () =>
    Effect.sync(() => {
      // @ts-expect-error: "Oops" is not in Greet's failure schema (Schema.Never)
      const wrong = CommandBus.handler(Greet, () => Effect.fail({ _tag: "Oops" as const }))
      // @ts-expect-error: Greet succeeds with a string, not a number
      const mistyped = CommandBus.handler(Greet, () => Effect.succeed(42))
      assert.isTrue(Layer.isLayer(wrong) && Layer.isLayer(mistyped))
    }))

  it.effect("the feed reports commands and queries executed and failed, with type, duration and outcome", () =>
    Effect.gen(function*() {
      const commands = yield* CommandBus.CommandBus
      const queries = yield* QueryBus.QueryBus
      const commandFeed = yield* commands.subscribe
      const queryFeed = yield* queries.subscribe
      yield* CommandBus.send(new Greet({ name: "f" }), { messageId: "m-1", correlationId: "c-1" })
      yield* Effect.exit(CommandBus.send(new Fail({ reason: "nope" }), { messageId: "m-2" }))
      yield* Effect.exit(CommandBus.send(new Boom(), { messageId: "m-3" }))
      yield* QueryBus.send(new CountGreetings(), { messageId: "q-1" })
      yield* Effect.exit(queries.dispatch(new Unhandled()))
      const seenCommands = Chunk.toReadonlyArray(yield* Queue.takeAll(commandFeed))
      const seenQueries = Chunk.toReadonlyArray(yield* Queue.takeAll(queryFeed))
      assert.deepStrictEqual(
        seenCommands.map((e) => [e._tag, e.type, e.messageId, e.correlationId, "outcome" in e ? e.outcome : "success"]),
        [
          ["CommandExecuted", "Greet", "m-1", "c-1", "success"],
          ["CommandFailed", "Fail", "m-2", null, "failure"],
          ["CommandFailed", "Boom", "m-3", null, "defect"]
        ]
      )
      const failed = seenCommands[1]
      assert.strictEqual(failed._tag === "CommandFailed" ? failed.error : "", "Refused")
      for (const event of seenCommands) assert.isAtLeast(event.durationMillis, 0)
      // a query without a handler never reaches the pipeline: it is not on the feed
      assert.deepStrictEqual(seenQueries.map((e) => [e._tag, e.type, e.messageId]), [[
        "QueryExecuted",
        "CountGreetings",
        "q-1"
      ]])
      // the events are valid against the feed's schema
      for (const event of [...seenCommands, ...seenQueries]) {
        assert.isTrue(Option.isSome(Schema.validateOption(BusEvent.BusEvent)(event)))
      }
    }).pipe(Effect.scoped, Effect.provide(busLayer())))

  it.effect("the feed as a Stream sees what happens after it starts", () =>
    Effect.gen(function*() {
      const fiber = yield* CommandBus.events.pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      // the stream subscribes when it starts running: send until it has seen two commands
      let sent = 0
      while (Option.isNone(yield* Fiber.poll(fiber)) && sent < 1000) {
        yield* CommandBus.send(new Greet({ name: "s" }), { messageId: `s-${sent++}` })
        yield* Effect.yieldNow()
      }
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      assert.strictEqual(seen.length, 2)
      const first = Number(seen[0].messageId.slice(2))
      assert.deepStrictEqual(seen.map((e) => [e._tag, e.type, e.messageId]), [
        ["CommandExecuted", "Greet", `s-${first}`],
        ["CommandExecuted", "Greet", `s-${first + 1}`]
      ])
    }).pipe(Effect.provide(busLayer())))

  it.effect("the history query returns a stream's events", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append("Thing-1", [
        { eventId: crypto.randomUUID(), type: "Made", data: { n: 1 } },
        { eventId: crypto.randomUUID(), type: "Changed", data: { n: 2 } },
        { eventId: crypto.randomUUID(), type: "Changed", data: { n: 3 } }
      ], ExpectedVersion.NoStream)
      const all = yield* QueryBus.send(new StreamHistory.GetStreamHistory({ streamId: "Thing-1" }))
      assert.deepStrictEqual(all.map((e) => [e.type, e.streamVersion, e.data]), [
        ["Made", 1, { n: 1 }],
        ["Changed", 2, { n: 2 }],
        ["Changed", 3, { n: 3 }]
      ])
      const page = yield* QueryBus.send(
        new StreamHistory.GetStreamHistory({ streamId: "Thing-1", fromVersion: 2, limit: 1 })
      )
      assert.deepStrictEqual(page.map((e) => e.streamVersion), [2])
    }).pipe(
      Effect.provide(StreamHistory.layer.pipe(
        Layer.provideMerge(QueryBus.layer()),
        Layer.provideMerge(EventStore.layerMemory)
      ))
    ))
})
