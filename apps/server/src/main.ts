/**
 * The Chronicle documents server: the HTTP API, its OpenAPI document and docs, health, metrics and
 * the monitoring dashboard.
 */
import { HttpApiBuilder, HttpApiSwagger, HttpServer } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { Api } from "./Api.js"
import { AuthorizationLive, DocumentsLive, SystemLive } from "./Handlers.js"
import { guard } from "./Http.js"
import { ServicesLive, settingsConfig } from "./Services.js"

const ApiLive = HttpApiBuilder.api(Api).pipe(
  Layer.provide(Layer.mergeAll(DocumentsLive, SystemLive)),
  Layer.provide(AuthorizationLive),
  Layer.provide(ServicesLive)
)

const ServerLive = Layer.unwrapEffect(
  Effect.map(settingsConfig, (settings) => NodeHttpServer.layer(createServer, { port: settings.port }))
)

HttpApiBuilder.serve(guard).pipe(
  Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(ApiLive),
  Layer.provide(ServicesLive),
  HttpServer.withLogAddress,
  Layer.provide(ServerLive),
  Layer.ensureRequirementsType<never>(),
  Layer.launch,
  NodeRuntime.runMain
)
