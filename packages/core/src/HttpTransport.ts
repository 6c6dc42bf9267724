/**
 * What every provider uses to talk HTTP: a JSON call and a byte stream over the `HttpClient`, with timeouts per
 * phase, typed failures and secrets kept out of error messages. Providers never touch `@effect/platform` directly;
 * they supply their status/code table (`mapError`) and decode the bytes.
 *
 * Failures:
 * - a non-2xx status: the body (first 64 KiB, scrubbed of `secrets`) goes to the provider's `mapError`;
 * - a 2xx `json` call whose body is not JSON: `ResponseDecodeError`;
 * - connection refused, reset, or a body cut off midway: `NetworkError`;
 * - a timeout: `TimeoutError` with its `phase` (`connect` is the pool's, see `Http.PoolOptions`).
 *
 * Every way a call can end early (a timeout, interrupting the fiber, a consumer that stops pulling the stream)
 * aborts the HTTP request, so the pool gets its connection slot back.
 *
 * @since 0.1.0
 */
import * as HttpBody from "@effect/platform/HttpBody"
import * as PlatformHttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as internal from "./internal/httpErrors.js"
import type { LlmError } from "./LlmError.js"
import { InvalidRequestError, NetworkError, ResponseDecodeError, TimeoutError } from "./LlmError.js"

/**
 * Timeouts by phase; an absent one takes its value from `defaultTimeouts`, and `Duration.infinity` turns one off.
 *
 * - `firstByte`: from the start of the call until the response headers arrive (includes connecting). A
 *   non-streaming call to a reasoning model sends its headers only once the whole answer is ready.
 * - `idle`: the longest wait allowed for the next chunk of a streamed body, the first one included (`stream` only).
 *   It runs only while the consumer is pulling, so a slow consumer is not mistaken for a silent server.
 * - `total`: the whole call, from the start of the request to the end of the body.
 *
 * @since 0.1.0
 * @category models
 */
export interface Timeouts {
  readonly firstByte?: Duration.DurationInput | undefined
  readonly idle?: Duration.DurationInput | undefined
  readonly total?: Duration.DurationInput | undefined
}

/**
 * The defaults: 10 minutes to the first byte (a long non-streaming answer from a reasoning model), 2 minutes of
 * silence inside a stream, and 15 minutes for the whole call, longer than the first-byte timeout so that a call
 * whose headers never come reports `first-byte`, and so that a stream that started late still has time to finish.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTimeouts: {
  readonly firstByte: Duration.Duration
  readonly idle: Duration.Duration
  readonly total: Duration.Duration
} = {
  firstByte: Duration.minutes(10),
  idle: Duration.minutes(2),
  total: Duration.minutes(15)
}

/**
 * One HTTP call. `url` is absolute; `body`, when present, is sent as JSON (`JSON.stringify`, with
 * `content-type: application/json`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly method: "POST" | "GET"
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: unknown
}

/**
 * What a call knows about itself beyond the request, carried into its errors.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallContext {
  readonly model: string | undefined
}

/**
 * A non-2xx response, as given to `mapError`.
 *
 * - `headers`: lower-cased names.
 * - `body`: the first 64 KiB of the body as text, with every secret replaced by `[REDACTED]`.
 * - `json`: `body` parsed as JSON, `undefined` when it is not JSON (an HTML error page, an empty body).
 * - `requestId`: from the first of the request-id headers present (`x-request-id`, `request-id`, …).
 *
 * @since 0.1.0
 * @category models
 */
export interface ErrorResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  readonly json: unknown
  readonly requestId: string | undefined
}

/**
 * - `provider`: the name put in every error.
 * - `mapError`: the provider's table from a non-2xx response to an error. Fields it leaves out (`model`, `status`,
 *   `requestId`, `body`) are filled in by the transport; the `body` kept is cut to 2 KiB.
 * - `secrets`: values (API keys) replaced by `[REDACTED]` in every body and message put in an error.
 * - `requestIdHeaders`: where to find the request id, first match wins (default `defaultRequestIdHeaders`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly provider: string
  readonly timeouts?: Timeouts | undefined
  readonly mapError: (response: ErrorResponse, context: CallContext) => LlmError
  readonly secrets?: ReadonlyArray<Redacted.Redacted<string>> | undefined
  readonly requestIdHeaders?: ReadonlyArray<string> | undefined
}

/**
 * The result of a successful `json` call.
 *
 * @since 0.1.0
 * @category models
 */
export interface JsonResponse {
  readonly json: unknown
  readonly headers: Readonly<Record<string, string>>
  readonly requestId: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Transport {
  /** Sends the request and parses the 2xx body as JSON. */
  readonly json: (request: Request, context: CallContext) => Effect.Effect<JsonResponse, LlmError>
  /**
   * Sends the request and streams the body of a 2xx response. The request starts when the stream is run, and is
   * aborted whenever the stream ends before the body does.
   */
  readonly stream: (request: Request, context: CallContext) => Stream.Stream<Uint8Array, LlmError>
}

/**
 * The request-id headers looked for by default, in order: OpenAI and most others, Anthropic, AWS, Azure.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRequestIdHeaders: ReadonlyArray<string> = [
  "x-request-id",
  "request-id",
  "x-amzn-requestid",
  "x-amz-request-id",
  "x-ms-request-id",
  "apim-request-id"
]

const errorBodyLimit = 64 * 1024
const keptBodyLimit = 2 * 1024
const decoder = new TextDecoder()

/** What one call has learnt so far, for its errors. */
interface Call {
  readonly model: string | undefined
  status: number | undefined
  requestId: string | undefined
}

interface CommonFields {
  provider: string
  message: string
  model?: string
  status?: number
  requestId?: string
  body?: string
}

type ErrorConstructor = new(props: Record<string, unknown>) => LlmError

const finite = (input: Duration.DurationInput): Duration.Duration | undefined => {
  const duration = Duration.decode(input)
  return Duration.isFinite(duration) ? duration : undefined
}

const parseJson = (text: string): unknown => {
  if (text === "") return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * Waits one event-loop turn. With pipelining 1, undici hands a socket back to its pool one turn after a response
 * ends (`setImmediate(client[kResume])` in its `client-h1.js`); a request dispatched sooner opens a second socket, so
 * back-to-back calls would alternate between two. Finishing a call after that turn keeps them on one socket.
 */
const socketReturned: Effect.Effect<void> = typeof setImmediate === "function"
  ? Effect.async<void>((resume) => {
    const handle = setImmediate(() => resume(Effect.void))
    return Effect.sync(() => clearImmediate(handle))
  })
  : Effect.void

const endOfBody: Stream.Stream<never> = Stream.drain(Stream.fromEffect(socketReturned))

const withoutQuery = (url: string): string => {
  const query = url.indexOf("?")
  return query === -1 ? url : url.slice(0, query)
}

/**
 * Builds the transport over the `HttpClient` in context. Everything that does not depend on the call (timeouts,
 * messages, the secret scrubber) is prepared here once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Transport, never, PlatformHttpClient.HttpClient> =>
  Effect.map(PlatformHttpClient.HttpClient, (client) => makeWith(client, options))

/**
 * Builds the transport over the given client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWith = (httpClient: PlatformHttpClient.HttpClient, options: Options): Transport => {
  // trace headers (traceparent, b3) are nobody's business at a third-party API
  const client = PlatformHttpClient.withTracerPropagation(httpClient, false)
  const provider = options.provider
  const mapError = options.mapError
  const requestIdHeaders = options.requestIdHeaders ?? defaultRequestIdHeaders
  const scrub = internal.makeScrubber((options.secrets ?? []).map(Redacted.value))

  const firstByte = finite(options.timeouts?.firstByte ?? defaultTimeouts.firstByte)
  const idle = finite(options.timeouts?.idle ?? defaultTimeouts.idle)
  const total = finite(options.timeouts?.total ?? defaultTimeouts.total)
  const firstByteMessage = firstByte && `no response headers within ${Duration.format(firstByte)}`
  const idleMessage = idle && `no data for ${Duration.format(idle)} while streaming the response body`
  const totalMessage = total && `the call did not complete within ${Duration.format(total)}`

  const common = (call: Call, message: string): CommonFields => {
    const fields: CommonFields = { provider, message: scrub(message) }
    if (call.model !== undefined) fields.model = call.model
    if (call.status !== undefined) fields.status = call.status
    if (call.requestId !== undefined) fields.requestId = call.requestId
    return fields
  }

  const timeoutError = (phase: TimeoutError["phase"], message: string, call: Call): TimeoutError =>
    new TimeoutError({ ...common(call, message), phase })

  const invalidRequest = (message: string, call: Call): InvalidRequestError =>
    new InvalidRequestError({ ...common(call, message), source: "client" })

  const transportFailure = (cause: unknown, where: string, call: Call): LlmError => {
    const failure = internal.classifyTransportFailure(cause)
    switch (failure._tag) {
      case "ConnectTimeout":
        return timeoutError("connect", failure.message, call)
      case "HeadersTimeout":
        return timeoutError("first-byte", failure.message, call)
      case "BodyTimeout":
        return timeoutError("idle", failure.message, call)
      case "InvalidRequest":
        return invalidRequest(`${where}: ${failure.message}`, call)
      case "Network":
        return new NetworkError(common(call, `${where}: ${failure.message}`))
    }
  }

  const requestFailure = (
    error: HttpClientError.HttpClientError,
    request: HttpClientRequest.HttpClientRequest,
    call: Call
  ): LlmError => {
    const where = `${request.method} ${withoutQuery(request.url)}`
    if (error._tag === "RequestError") {
      switch (error.reason) {
        case "InvalidUrl":
          return invalidRequest(`${where}: invalid URL`, call)
        case "Encode":
          return invalidRequest(`${where}: the request body could not be encoded`, call)
        case "Transport":
          return transportFailure(error.cause, where, call)
      }
    }
    return transportFailure(error.cause, where, call)
  }

  const bodyFailure = (error: HttpClientError.ResponseError, call: Call): LlmError =>
    transportFailure(error.cause, "the response body broke off", call)

  /** Fills in what the provider's error left out, and keeps its body short and its texts free of secrets. */
  const completeError = (error: LlmError, call: Call, text: string): LlmError => {
    const current = error as unknown as Record<string, unknown>
    const patch: Record<string, unknown> = {}
    let patched = false
    const set = (key: string, value: unknown): void => {
      patch[key] = value
      patched = true
    }
    if (current.model === undefined && call.model !== undefined) set("model", call.model)
    if (current.status === undefined && call.status !== undefined) set("status", call.status)
    if (current.requestId === undefined && call.requestId !== undefined) set("requestId", call.requestId)
    const body = typeof current.body === "string" ? current.body : text === "" ? undefined : text
    if (body !== undefined) {
      const kept = internal.truncate(scrub(body), keptBodyLimit)
      if (kept !== current.body) set("body", kept)
    }
    const message = scrub(error.message)
    if (message !== error.message) set("message", message)
    const fields = (error.constructor as { readonly fields?: Record<string, unknown> }).fields
    if (!patched || fields === undefined) return error
    const props: Record<string, unknown> = {}
    for (const key in fields) {
      if (key !== "_tag" && current[key] !== undefined) props[key] = current[key]
    }
    return new (error.constructor as ErrorConstructor)({ ...props, ...patch })
  }

  const readErrorBody = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<string> =>
    Effect.suspend(() => {
      const chunks: Array<Uint8Array> = []
      let size = 0
      return response.stream.pipe(
        Stream.runForEachWhile((chunk) =>
          Effect.sync(() => {
            chunks.push(chunk)
            size += chunk.length
            return size < errorBodyLimit
          })
        ),
        // The status is what the call failed with; a body that breaks off midway is reported as far as it came.
        Effect.orElse(() => Effect.void),
        Effect.map(() => decoder.decode(internal.concatBounded(chunks, errorBodyLimit)))
      )
    })

  const statusFailure = (
    response: HttpClientResponse.HttpClientResponse,
    headers: Readonly<Record<string, string>>,
    call: Call
  ): Effect.Effect<never, LlmError> =>
    Effect.flatMap(readErrorBody(response), (raw) => {
      const text = scrub(raw)
      const errorResponse: ErrorResponse = {
        status: response.status,
        headers: { ...headers },
        body: text,
        json: parseJson(text),
        requestId: call.requestId
      }
      return Effect.fail(completeError(mapError(errorResponse, { model: call.model }), call, text))
    })

  const toHttpRequest = (
    request: Request,
    call: Call
  ): Effect.Effect<HttpClientRequest.HttpClientRequest, LlmError> => {
    const make = request.method === "POST" ? HttpClientRequest.post : HttpClientRequest.get
    if (request.body === undefined) return Effect.succeed(make(request.url, { headers: request.headers }))
    let json: string | undefined
    try {
      json = JSON.stringify(request.body)
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause)
      return Effect.fail(invalidRequest(`the request body cannot be serialised as JSON: ${reason}`, call))
    }
    if (typeof json !== "string") {
      return Effect.fail(invalidRequest("the request body cannot be serialised as JSON", call))
    }
    return Effect.succeed(
      make(request.url, { headers: request.headers, body: HttpBody.text(json, "application/json") })
    )
  }

  /** Sends the request and waits for a 2xx response's headers; any other status fails through `mapError`. */
  const open = (
    request: Request,
    call: Call
  ): Effect.Effect<
    { readonly response: HttpClientResponse.HttpClientResponse; readonly headers: Readonly<Record<string, string>> },
    LlmError
  > =>
    Effect.flatMap(toHttpRequest(request, call), (httpRequest) => {
      const sent = Effect.mapError(client.execute(httpRequest), (error) => requestFailure(error, httpRequest, call))
      const timed = firstByte === undefined ? sent : Effect.timeoutFail(sent, {
        duration: firstByte,
        onTimeout: () => timeoutError("first-byte", firstByteMessage!, call)
      })
      return Effect.flatMap(timed, (response) => {
        // the getter builds a new object on every access
        const headers = response.headers
        call.status = response.status
        call.requestId = internal.requestIdOf(headers, requestIdHeaders)
        return response.status >= 200 && response.status < 300
          ? Effect.succeed({ response, headers })
          : statusFailure(response, headers, call)
      })
    })

  const decodeJson = (
    text: string,
    headers: Readonly<Record<string, string>>,
    call: Call
  ): Effect.Effect<JsonResponse, LlmError> => {
    try {
      return Effect.succeed({ json: JSON.parse(text), headers, requestId: call.requestId })
    } catch {
      const got = text === ""
        ? "an empty body"
        : `a body that is not JSON (content-type: ${headers["content-type"] ?? "none"})`
      return Effect.fail(
        new ResponseDecodeError({
          ...common(call, `expected a JSON response, got ${got}`),
          ...(text === "" ? {} : { body: internal.truncate(scrub(text), keptBodyLimit) })
        })
      )
    }
  }

  const json = (request: Request, context: CallContext): Effect.Effect<JsonResponse, LlmError> =>
    Effect.suspend(() => {
      const call: Call = { model: context.model, status: undefined, requestId: undefined }
      const effect = Effect.flatMap(open(request, call), ({ headers, response }) =>
        Effect.matchEffect(response.text, {
          onFailure: (error) => Effect.fail(bodyFailure(error, call)),
          onSuccess: (text) => Effect.zipRight(socketReturned, decodeJson(text, headers, call))
        }))
      return total === undefined ? effect : Effect.timeoutFail(effect, {
        duration: total,
        onTimeout: () => timeoutError("total", totalMessage!, call)
      })
    })

  const stream = (request: Request, context: CallContext): Stream.Stream<Uint8Array, LlmError> =>
    Stream.suspend(() => {
      const call: Call = { model: context.model, status: undefined, requestId: undefined }
      const body = Stream.unwrap(Effect.map(open(request, call), ({ response }) => {
        const bytes = Stream.mapError(response.stream, (error) => bodyFailure(error, call))
        const guarded = idle === undefined
          ? bytes
          : Stream.timeoutFail(bytes, () => timeoutError("idle", idleMessage!, call), idle)
        return Stream.concat(guarded, endOfBody)
      }))
      return total === undefined ? body : Stream.interruptWhen(
        body,
        Effect.zipRight(Effect.sleep(total), Effect.failSync(() => timeoutError("total", totalMessage!, call)))
      )
    })

  return { json, stream }
}
