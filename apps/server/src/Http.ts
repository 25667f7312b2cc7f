/**
 * What wraps the whole HTTP app: the body size limit, and JSON errors with a stable `_tag` for
 * everything the API itself does not answer (unknown routes, unreadable bodies, defects).
 */
import { FileSystem, HttpIncomingMessage, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { HttpApp } from "@effect/platform"
import { Cause, Effect, Option } from "effect"
import { ServerSettings } from "./Services.js"

const jsonError = (status: number, tag: string, message: string) =>
  HttpServerResponse.unsafeJson({ _tag: tag, message }, { status })

const fromCause = (cause: Cause.Cause<unknown>, tooLarge: boolean) => {
  const failure = Cause.squash(cause)
  const tag = typeof failure === "object" && failure !== null && "_tag" in failure ? String(failure._tag) : ""
  if (tag === "RouteNotFound") return Effect.succeed(jsonError(404, "RouteNotFound", "no such route"))
  if (tag === "RequestError") {
    return Effect.succeed(
      tooLarge
        ? jsonError(413, "PayloadTooLarge", "the request body is larger than the limit")
        : jsonError(400, "MalformedRequest", "the request could not be read: is the body valid JSON?")
    )
  }
  if (Cause.isInterruptedOnly(cause)) {
    return Effect.succeed(jsonError(503, "ServiceUnavailable", "the server is stopping"))
  }
  return Effect.as(
    Effect.logError("unexpected failure", cause),
    jsonError(500, "InternalError", "something went wrong on our side; it was logged")
  )
}

// errors the platform answers with an empty body (unreadable JSON, unknown routes) get a JSON one
const emptyError = (response: HttpServerResponse.HttpServerResponse, tooLarge: boolean) => {
  switch (response.status) {
    case 400:
      return tooLarge
        ? jsonError(413, "PayloadTooLarge", "the request body is larger than the limit")
        : jsonError(
          400,
          "MalformedRequest",
          "the request body could not be read: is it valid JSON, within the size limit?"
        )
    case 404:
      return jsonError(404, "RouteNotFound", "no such route")
    case 405:
      return jsonError(405, "MethodNotAllowed", "this route does not accept that method")
    case 413:
      return jsonError(413, "PayloadTooLarge", "the request body is larger than the limit")
    default:
      return jsonError(response.status, "HttpError", `HTTP ${response.status}`)
  }
}

const maxDepth = 32

/** `application/json` or a `+json` type, with any parameters (`; charset=utf-8`). */
const isJson = (contentType: string): boolean => {
  const media = contentType.split(";")[0].trim().toLowerCase()
  return media === "application/json" || (media.startsWith("application/") && media.endsWith("+json"))
}

// how deeply arrays and objects nest in a JSON text (brackets inside strings do not count)
const nestingDepth = (text: string): number => {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 91 || c === 123) deepest = Math.max(deepest, ++depth)
    else if (c === 93 || c === 125) depth--
  }
  return deepest
}

/** Applies the body limit (`CHRONICLE_BODY_LIMIT`) and turns stray failures into JSON errors. */
export const guard = <E, R>(
  app: HttpApp.Default<E, R>
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  R | ServerSettings | HttpServerRequest.HttpServerRequest
> =>
  Effect.gen(function*() {
    const settings = yield* ServerSettings
    const request = yield* HttpServerRequest.HttpServerRequest
    const length = request.headers["content-length"]
    if (length !== undefined && !/^\d{1,15}$/.test(length)) {
      return jsonError(400, "MalformedRequest", "Content-Length is not a number")
    }
    if (length !== undefined && Number(length) > settings.bodyLimit) {
      return jsonError(413, "PayloadTooLarge", `the request body is larger than ${settings.bodyLimit} bytes`)
    }
    // the platform answers some failures itself (unreadable bodies, unknown routes) with an empty
    // body, before this middleware sees them; a pre-response handler still can rewrite those
    yield* HttpApp.appendPreResponseHandler((_request, response) =>
      Effect.succeed(
        response.status >= 400 && response.body._tag === "Empty" ? emptyError(response, false) : response
      )
    )
    const maxBodySize = Option.some(FileSystem.Size(settings.bodyLimit))
    if (request.method !== "GET" && request.method !== "HEAD") {
      // only JSON bodies: the platform would parse a form from the raw stream this middleware has
      // already read, and wait for it forever (multipart) or fail with a 500
      const contentType = request.headers["content-type"]
      if (contentType !== undefined && !isJson(contentType)) {
        return jsonError(415, "UnsupportedMediaType", "the request body must be JSON (content-type: application/json)")
      }
      // read (and cache) the body here, within the limit, and refuse JSON nested deep enough to
      // exhaust the stack of the parser or the decoder
      const body = yield* Effect.either(
        Effect.provideService(request.text, HttpIncomingMessage.MaxBodySize, maxBodySize)
      )
      if (body._tag === "Left") {
        return length === undefined
          ? jsonError(413, "PayloadTooLarge", `the request body could not be read within ${settings.bodyLimit} bytes`)
          : jsonError(400, "MalformedRequest", "the request body could not be read")
      }
      if (nestingDepth(body.right) > maxDepth) {
        return jsonError(400, "MalformedRequest", `the JSON is nested deeper than ${maxDepth} levels`)
      }
    }
    let limitHit = false
    return yield* app.pipe(
      Effect.provideService(HttpIncomingMessage.MaxBodySize, maxBodySize),
      Effect.tapErrorCause((cause) =>
        Effect.sync(() => {
          limitHit = Cause.pretty(cause).includes("maxBodySize") || Cause.pretty(cause).includes("too large")
        })
      ),
      Effect.catchAllCause((cause) => fromCause(cause, limitHit)),
      Effect.map((response) =>
        response.status >= 400 && response.body._tag === "Empty" ? emptyError(response, limitHit) : response
      )
    )
  })
