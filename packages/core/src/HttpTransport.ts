/**
 * What every provider uses to talk HTTP: a JSON call and a byte stream over the `HttpClient`, with timeouts per
 * phase, typed failures and secrets kept out of error messages. Providers never touch `@effect/platform` directly;
 * they supply their status/code table (`mapError`) and decode the bytes.
 *
 * Failures:
 * - a non-2xx status: the body (first 64 KiB, scrubbed of `secrets`) goes to the provider's `mapError`;
 * - an error the stream's decoder returns (an error event, a malformed event) is scrubbed of `secrets` too, as is
 *   every other error made here, its `requestId` included;
 * - a 2xx `json` call whose body is not JSON (or nests deeper than `Json.maxDepth`): `ResponseDecodeError`;
 * - a 2xx body past `Limits.body`, a stream event past `Limits.event`: `ResponseDecodeError`, at once, and the
 *   connection is closed rather than reused;
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
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as internal from "./internal/httpErrors.js"
import * as undici from "./internal/httpUndici.js"
import * as Json from "./Json.js"
import type { LlmError } from "./LlmError.js"
import { InvalidRequestError, NetworkError, ResponseDecodeError, TimeoutError } from "./LlmError.js"
import * as Secrets from "./Secrets.js"
import * as StreamDecoder from "./StreamDecoder.js"

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
 * Caps on what a response may make the client hold, against a server that sends without end. Past one, the call
 * fails at once with `ResponseDecodeError` naming the cap, and the connection is closed, not returned to the pool.
 * `Infinity` turns one off.
 *
 * - `body`: the largest 2xx body of a non-streamed call, in bytes. A `content-length` above it fails the call before
 *   the body is read.
 * - `event`: the longest event of a stream (an SSE event, an NDJSON line), in UTF-16 code units of its decoded
 *   text: for the ASCII JSON that most providers send, its size in bytes; a string of that length takes at most
 *   twice as many bytes of memory.
 *
 * Error bodies (non-2xx) are always cut at 64 KiB and never fail for their size.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  readonly body?: number | undefined
  readonly event?: number | undefined
}

/**
 * The defaults: 64 MiB for a body and 8 Mi (8,388,608) for one stream event.
 *
 * The largest legitimate bodies are embeddings: OpenAI's largest batch (2,048 inputs of 3,072 dimensions) is 32 MiB
 * in the base64 encoding we ask for, so the cap holds it twice over (the same batch as JSON floats, about 120 MiB,
 * needs a higher cap or smaller batches); a chat completion, even 100,000 tokens long, is well under 1 MiB. A stream
 * event carries one delta, usually under 1 KiB; the large ones repeat a whole answer (DashScope without incremental
 * output, 100,000 tokens in under 1 MiB) or carry an image as base64 (a few MiB). Past that, a server is sending
 * something no caller wants held in memory.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultLimits: {
  readonly body: number
  readonly event: number
} = {
  body: 64 * 1024 * 1024,
  event: 8 * 1024 * 1024
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
 * - `secrets`: values (API keys) replaced by `[REDACTED]` in every field of every error made here (the body, the
 *   message, the request id, what the decoder of a stream returns), or the client's `Secrets` (which can also
 *   learn tokens derived at run time), shared with `LlmProvider.make`.
 * - `requestIdHeaders`: where to find the request id, first match wins (default `defaultRequestIdHeaders`).
 * - `limits`: caps on bodies and stream events (default `defaultLimits`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly provider: string
  readonly timeouts?: Timeouts | undefined
  readonly limits?: Limits | undefined
  readonly mapError: (response: ErrorResponse, context: CallContext) => LlmError
  readonly secrets?: ReadonlyArray<Redacted.Redacted<string>> | Secrets.Secrets | undefined
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
  /**
   * `stream` decoded with a fresh `decoder` per run: the same as `stream(…).pipe(StreamDecoder.decode(decoder))`,
   * but on `Http.layer` the decoder runs on each read of the socket in the stage that reads it, which costs about
   * half as much per read as a byte stream piped into a decoding stage. The decoder is given `Limits.event` and the
   * error to fail with past it (its framing enforces it: `Sse.makeDecoder({ maxEventLength })`); failing with that
   * error closes the connection.
   */
  readonly decodeStream: <B>(
    request: Request,
    context: CallContext,
    decoder: (bounds: StreamDecoder.Bounds<LlmError>) => StreamDecoder.Decoder<Uint8Array, B, LlmError>
  ) => Stream.Stream<B, LlmError>
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

// Node's timers fire at once (after 1 ms) for more than 2^31 - 1 ms: a longer timeout is no timeout.
const maxTimerMillis = 2 ** 31 - 1

const finite = (input: Duration.DurationInput): Duration.Duration | undefined => {
  const duration = Duration.decode(input)
  return Duration.isFinite(duration) && Duration.toMillis(duration) <= maxTimerMillis ? duration : undefined
}

/** A phase's bound, or `undefined` when the total ends the call no later than the phase would. */
const within = (phase: Duration.Duration | undefined, total: Duration.Duration | undefined) =>
  phase !== undefined && total !== undefined && Duration.greaterThanOrEqualTo(phase, total) ? undefined : phase

/** A size cap, `undefined` for none (`Infinity`). */
const cap = (limit: number): number | undefined => Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : undefined

const MiB = 1024 * 1024

const bytes = (n: number): string =>
  n >= MiB && n % MiB === 0
    ? `${n / MiB} MiB`
    : n >= 1024 && n % 1024 === 0
    ? `${n / 1024} KiB`
    : `${n.toLocaleString("en-US")} bytes`

const describeThrown = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

const parseJson = (text: string): unknown => {
  if (text === "") return undefined
  const parsed = Json.parse(text)
  return Either.isRight(parsed) ? parsed.right : undefined
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

const endOfStream: Effect.Effect<never, Option.Option<never>> = Effect.zipRight(
  socketReturned,
  Effect.fail(Option.none())
)

// bytes queued from the socket before the body is paused until the consumer pulls
const streamHighWaterMark = 64 * 1024

// how long the rest of a body is read after the decoder has seen its end marker, before the request is aborted
const drainGraceMillis = 5_000

/** A URL as errors quote it: without its query (an API key may travel there) or its user info (a password). */
const withoutQuery = (url: string): string => {
  const query = url.indexOf("?")
  const bare = query === -1 ? url : url.slice(0, query)
  const at = bare.indexOf("@")
  if (at === -1) return bare
  const authority = bare.indexOf("//") + 2
  const path = bare.indexOf("/", authority)
  return authority >= 2 && at > authority && (path === -1 || at < path)
    ? bare.slice(0, authority) + bare.slice(at + 1)
    : bare
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
  // Trace headers (traceparent, b3) are nobody's business at a third-party API. Nor is there an `http.client` span:
  // the call's own span (`Telemetry`) says what happened, as it does over `Http.layer`, which makes none; and that
  // span would carry every response header as an attribute, where a server can put anything, the key included.
  const client = PlatformHttpClient.withTracerDisabledWhen(
    PlatformHttpClient.withTracerPropagation(httpClient, false),
    () => true
  )
  const provider = options.provider
  const mapError = options.mapError
  const requestIdHeaders = options.requestIdHeaders ?? defaultRequestIdHeaders
  const secrets = options.secrets === undefined || Array.isArray(options.secrets)
    ? Secrets.make(options.secrets ?? [])
    : options.secrets as Secrets.Secrets
  const scrub = secrets.scrub
  const scrubError = secrets.scrubError
  /** The decoder with every error it returns scrubbed; its successful steps cost one more call per batch. */
  const scrubbing = <A, B>(
    decoder: StreamDecoder.Decoder<A, B, LlmError>
  ): StreamDecoder.Decoder<A, B, LlmError> => {
    const { done, end, step } = decoder
    return {
      step: (input, out) => {
        const error = step(input, out)
        return error === undefined ? undefined : scrubError(error)
      },
      end: end === undefined ? undefined : (out) => {
        const error = end(out)
        return error === undefined ? undefined : scrubError(error)
      },
      done
    }
  }

  const total = finite(options.timeouts?.total ?? defaultTimeouts.total)
  // A phase that cannot end before the call does is the call's: with a first-byte bound equal to the total (a bare
  // `timeout: "30 seconds"` sets both), it is the total that fires, and says so.
  const firstByte = within(finite(options.timeouts?.firstByte ?? defaultTimeouts.firstByte), total)
  const idle = within(finite(options.timeouts?.idle ?? defaultTimeouts.idle), total)
  const maxBody = cap(options.limits?.body ?? defaultLimits.body)
  const maxEvent = cap(options.limits?.event ?? defaultLimits.event)
  const bodyTooLargeMessage = maxBody && `the response body is larger than ${bytes(maxBody)} (limits.body)`
  const eventTooLongMessage = `a stream event is longer than ${
    maxEvent === undefined ? "" : maxEvent.toLocaleString("en-US")
  } characters (limits.event)`
  const firstByteMessage = firstByte && `no response headers within ${Duration.format(firstByte)}`
  const idleMessage = idle && `no data for ${Duration.format(idle)} while streaming the response body`
  const totalMessage = total && `the call did not complete within ${Duration.format(total)}`

  const common = (call: Call, message: string): CommonFields => {
    const fields: CommonFields = { provider, message: scrub(message) }
    if (call.model !== undefined) fields.model = call.model
    if (call.status !== undefined) fields.status = call.status
    if (call.requestId !== undefined) fields.requestId = scrub(call.requestId)
    return fields
  }

  const timeoutError = (phase: TimeoutError["phase"], message: string, call: Call): TimeoutError =>
    new TimeoutError({ ...common(call, message), phase })

  const bodyTooLarge = (call: Call): ResponseDecodeError =>
    new ResponseDecodeError(common(call, `${bodyTooLargeMessage!}; the connection was closed`))

  const eventTooLong = (call: Call): ResponseDecodeError =>
    new ResponseDecodeError(common(call, `${eventTooLongMessage}; the connection was closed`))

  const boundsOf = (call: Call): StreamDecoder.Bounds<LlmError> => ({
    maxEventLength: maxEvent ?? Infinity,
    eventTooLong: () => eventTooLong(call)
  })

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
    // the other fields (`requestId`, `code`, `param`) may quote the response too
    if (!patched || fields === undefined) return scrubError(error)
    const props: Record<string, unknown> = {}
    for (const key in fields) {
      if (key !== "_tag" && current[key] !== undefined) props[key] = current[key]
    }
    return scrubError(new (error.constructor as ErrorConstructor)({ ...props, ...patch }))
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

  const statusError = (
    status: number,
    headers: Readonly<Record<string, string>>,
    raw: string,
    call: Call
  ): LlmError => {
    const text = scrub(raw)
    const errorResponse: ErrorResponse = {
      status,
      headers: { ...headers },
      body: text,
      json: parseJson(text),
      requestId: call.requestId
    }
    return completeError(mapError(errorResponse, { model: call.model }), call, text)
  }

  const statusFailure = (
    response: HttpClientResponse.HttpClientResponse,
    headers: Readonly<Record<string, string>>,
    call: Call
  ): Effect.Effect<never, LlmError> =>
    Effect.flatMap(readErrorBody(response), (raw) => Effect.fail(statusError(response.status, headers, raw, call)))

  /** `JSON.stringify` of the body, or the error of a body that cannot be serialised. */
  const serialise = (request: Request, call: Call): string | undefined | LlmError => {
    if (request.body === undefined) return undefined
    let json: string | undefined
    try {
      json = JSON.stringify(request.body)
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause)
      return invalidRequest(`the request body cannot be serialised as JSON: ${reason}`, call)
    }
    return typeof json === "string" ? json : invalidRequest("the request body cannot be serialised as JSON", call)
  }

  const toHttpRequest = (
    request: Request,
    call: Call
  ): Effect.Effect<HttpClientRequest.HttpClientRequest, LlmError> => {
    const make = request.method === "POST" ? HttpClientRequest.post : HttpClientRequest.get
    const json = serialise(request, call)
    if (json === undefined) return Effect.succeed(make(request.url, { headers: request.headers }))
    if (typeof json !== "string") return Effect.fail(json)
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
    const parsed = Json.parse(text)
    if (Either.isRight(parsed)) return Effect.succeed({ json: parsed.right, headers, requestId: call.requestId })
    const got = text === ""
      ? "an empty body"
      : parsed.left === "nested too deeply"
      ? `a body of ${Json.describe(parsed.left)}`
      : `a body that is not JSON (content-type: ${headers["content-type"] ?? "none"})`
    return Effect.fail(
      new ResponseDecodeError({
        ...common(call, `expected a JSON response, got ${got}`),
        ...(text === "" ? {} : { body: internal.truncate(scrub(text), keptBodyLimit) })
      })
    )
  }

  // --- the lean path, over the undici dispatcher of `Http.layer` (see internal/httpUndici.ts) ---

  const dispatcher = undici.dispatcherOf(httpClient)
  const firstByteMillis = firstByte && Duration.toMillis(firstByte)
  const totalMillis = total && Duration.toMillis(total)
  const idleMillis = idle && Duration.toMillis(idle)
  // the request headers with `content-type` added, per headers object (providers reuse theirs from call to call)
  const withContentType = new WeakMap<object, Readonly<Record<string, string>>>()
  const jsonHeaders = (headers: Readonly<Record<string, string>>): Readonly<Record<string, string>> => {
    let out = withContentType.get(headers)
    if (out === undefined) {
      out = { ...headers, "content-type": "application/json" }
      withContentType.set(headers, out)
    }
    return out
  }

  /** Prepares a call: the target, headers and body, or the error that stops it before anything is sent. */
  const prepare = (
    request: Request,
    call: Call
  ): LlmError | {
    readonly target: undici.Target
    readonly headers: Readonly<Record<string, string>>
    readonly body: string | undefined
    readonly where: string
  } => {
    const where = `${request.method} ${withoutQuery(request.url)}`
    const target = undici.targetOf(request.url)
    if (target === undefined) return invalidRequest(`${where}: invalid URL`, call)
    const body = serialise(request, call)
    if (typeof body === "object") return body
    return { target, headers: body === undefined ? request.headers : jsonHeaders(request.headers), body, where }
  }

  /** Collects an error body, up to `errorBodyLimit` bytes. */
  class ErrorBody {
    chunks: Array<Uint8Array> = []
    size = 0
    /** Returns false once the limit is reached. */
    add(chunk: Uint8Array): boolean {
      this.chunks.push(chunk)
      this.size += chunk.length
      return this.size < errorBodyLimit
    }
    text(): string {
      return decoder.decode(internal.concatBounded(this.chunks, errorBodyLimit))
    }
  }

  const fastJson =
    (dispatcher: NonNullable<ReturnType<typeof undici.dispatcherOf>>) =>
    (request: Request, context: CallContext): Effect.Effect<JsonResponse, LlmError> =>
      Effect.async<JsonResponse, LlmError>((resume) => {
        const call: Call = { model: context.model, status: undefined, requestId: undefined }
        const prepared = prepare(request, call)
        if ("_tag" in prepared) return resume(Effect.fail(prepared))
        let done = false
        let headers: Record<string, string> = {}
        let chunks: Array<Buffer> = []
        let size = 0
        let errorBody: ErrorBody | undefined = undefined
        let firstByteTimer: ReturnType<typeof setTimeout> | undefined = undefined
        let totalTimer: ReturnType<typeof setTimeout> | undefined = undefined
        const finish = (effect: Effect.Effect<JsonResponse, LlmError>): void => {
          if (done) return
          done = true
          if (firstByteTimer !== undefined) clearTimeout(firstByteTimer)
          if (totalTimer !== undefined) clearTimeout(totalTimer)
          resume(effect)
        }
        const complete = (): void => {
          if (done) return
          if (errorBody !== undefined) {
            finish(Effect.fail(statusError(call.status!, headers, errorBody.text(), call)))
            return
          }
          let text: string
          try {
            text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks, size).toString("utf8")
          } catch (cause) {
            // a body beyond what a string can hold (about 512 MiB), with `limits.body` turned off
            finish(
              Effect.fail(
                new ResponseDecodeError(common(call, `the response body cannot be read: ${describeThrown(cause)}`))
              )
            )
            return
          } finally {
            chunks = []
          }
          done = true
          if (totalTimer !== undefined) clearTimeout(totalTimer)
          // Finishing one turn later lets undici put the socket back first (see `socketReturned`); it schedules that
          // turn once this callback returns, hence the microtask.
          queueMicrotask(() => setImmediate(() => resume(decodeJson(text, headers, call))))
        }
        const inFlight = undici.dispatch(dispatcher, prepared.target, request.method, prepared.headers, prepared.body, {
          onHeaders: (status, received) => {
            if (firstByteTimer !== undefined) clearTimeout(firstByteTimer)
            headers = received
            call.status = status
            call.requestId = internal.requestIdOf(received, requestIdHeaders)
            if (status < 200 || status >= 300) {
              errorBody = new ErrorBody()
            } else if (maxBody !== undefined) {
              const declared = received["content-length"]
              if (declared !== undefined && Number(declared) > maxBody) {
                inFlight.abort()
                finish(Effect.fail(bodyTooLarge(call)))
              }
            }
          },
          onData: (chunk) => {
            if (errorBody !== undefined) {
              if (!errorBody.add(chunk)) {
                inFlight.abort()
                complete()
                return false
              }
              return true
            }
            size += chunk.length
            if (maxBody !== undefined && size > maxBody) {
              chunks = []
              inFlight.abort()
              finish(Effect.fail(bodyTooLarge(call)))
              return false
            }
            chunks.push(chunk)
            return true
          },
          onComplete: complete,
          // our bug, not the server's: the call ends as a defect instead of waiting for a timer
          onThrow: (cause) => finish(Effect.die(cause)),
          onError: (error) =>
            finish(Effect.fail(
              call.status === undefined
                ? transportFailure(error, prepared.where, call)
                : errorBody !== undefined
                // the status is what the call failed with; the body is reported as far as it came
                ? statusError(call.status, headers, errorBody.text(), call)
                : transportFailure(error, "the response body broke off", call)
            ))
        })
        if (!done && firstByteMillis !== undefined) {
          firstByteTimer = setTimeout(() => {
            inFlight.abort()
            finish(Effect.fail(timeoutError("first-byte", firstByteMessage!, call)))
          }, firstByteMillis)
        }
        if (!done && totalMillis !== undefined) {
          totalTimer = setTimeout(() => {
            inFlight.abort()
            finish(Effect.fail(timeoutError("total", totalMessage!, call)))
          }, totalMillis)
        }
        return Effect.sync(() => {
          done = true
          if (firstByteTimer !== undefined) clearTimeout(firstByteTimer)
          if (totalTimer !== undefined) clearTimeout(totalTimer)
          inFlight.abort()
        })
      })

  /** One streamed response: its body queued as it arrives, handed over a batch per pull. */
  class BodyStream {
    readonly call: Call
    inFlight: undici.InFlight | undefined = undefined
    headers: Record<string, string> = {}
    queue: Array<Uint8Array> = []
    queued = 0
    paused = false
    ended = false
    failure: LlmError | undefined = undefined
    /** set, with `failure`, when a callback of ours threw: the stream then dies with it instead of failing */
    defect: { readonly cause: unknown } | undefined = undefined
    errorBody: ErrorBody | undefined = undefined
    /** the fiber waiting for the headers, or for the next piece of the body */
    waitingHeaders: ((effect: Effect.Effect<void, LlmError>) => void) | undefined = undefined
    waitingBody: (() => void) | undefined = undefined
    firstByteTimer: ReturnType<typeof setTimeout> | undefined = undefined
    totalTimer: ReturnType<typeof setTimeout> | undefined = undefined
    idleTimer: ReturnType<typeof setTimeout> | undefined = undefined
    /** when the consumer started waiting (`performance.now()`), while it waits */
    waitingSince = 0
    headersDone = false
    /** the decoder has seen the body's end marker: what follows is read and dropped, so the socket can be reused */
    draining = false

    constructor(call: Call) {
      this.call = call
    }

    start(request: Request, prepared: Exclude<ReturnType<typeof prepare>, LlmError>): void {
      this.inFlight = undici.dispatch(dispatcher!, prepared.target, request.method, prepared.headers, prepared.body, {
        onHeaders: (status, received) => {
          this.clearFirstByte()
          this.headers = received
          this.call.status = status
          this.call.requestId = internal.requestIdOf(received, requestIdHeaders)
          if (status < 200 || status >= 300) {
            this.errorBody = new ErrorBody()
          } else {
            this.headersDone = true
            this.wakeHeaders(Effect.void)
          }
        },
        onData: (chunk) => {
          if (this.errorBody !== undefined) {
            if (!this.errorBody.add(chunk)) {
              this.inFlight!.abort()
              this.failStatus()
              return false
            }
            return true
          }
          if (this.draining) return true
          this.queue.push(chunk)
          this.queued += chunk.length
          if (this.waitingBody !== undefined) this.wakeBody()
          if (this.queued >= streamHighWaterMark) {
            this.paused = true
            return false
          }
          return true
        },
        onComplete: () => {
          if (this.errorBody !== undefined) return this.failStatus()
          this.ended = true
          this.clearTimers()
          if (this.waitingBody !== undefined) this.wakeBody()
        },
        onError: (error) => {
          if (this.errorBody !== undefined) return this.failStatus()
          this.fail(
            this.headersDone
              ? transportFailure(error, "the response body broke off", this.call)
              : transportFailure(error, prepared.where, this.call)
          )
        },
        onThrow: (cause) => {
          if (this.failure !== undefined || this.ended) return
          this.defect = { cause }
          this.fail(new NetworkError(common(this.call, `the response could not be handled: ${describeThrown(cause)}`)))
        }
      })
      if (this.failure !== undefined || this.ended) return
      if (firstByteMillis !== undefined) {
        this.firstByteTimer = setTimeout(() => {
          this.inFlight!.abort()
          this.fail(timeoutError("first-byte", firstByteMessage!, this.call))
        }, firstByteMillis)
      }
      if (totalMillis !== undefined) {
        this.totalTimer = setTimeout(() => {
          this.inFlight!.abort()
          this.fail(timeoutError("total", totalMessage!, this.call))
        }, totalMillis)
      }
    }

    failStatus(): void {
      const errorBody = this.errorBody!
      this.fail(statusError(this.call.status!, this.headers, errorBody.text(), this.call))
    }

    fail(error: LlmError): void {
      if (this.failure !== undefined || this.ended) return
      this.failure = error
      this.clearTimers()
      this.wakeHeaders(this.failed)
      if (this.waitingBody !== undefined) this.wakeBody()
    }

    clearFirstByte(): void {
      if (this.firstByteTimer !== undefined) {
        clearTimeout(this.firstByteTimer)
        this.firstByteTimer = undefined
      }
    }

    clearTimers(): void {
      this.clearFirstByte()
      if (this.totalTimer !== undefined) {
        clearTimeout(this.totalTimer)
        this.totalTimer = undefined
      }
      if (this.idleTimer !== undefined) {
        clearTimeout(this.idleTimer)
        this.idleTimer = undefined
      }
    }

    wakeHeaders(effect: Effect.Effect<void, LlmError>): void {
      const waiting = this.waitingHeaders
      if (waiting !== undefined) {
        this.waitingHeaders = undefined
        waiting(effect)
      }
    }

    wakeBody(): void {
      const waiting = this.waitingBody!
      this.waitingBody = undefined
      waiting()
    }

    // One idle timer per body, not one per wait: it is armed when a wait begins and none is pending, and when it
    // fires it fails the call only if the consumer has been waiting for the whole idle time; otherwise it re-arms
    // itself for what is left, or lapses when nobody waits.
    readonly onIdleTimer = (): void => {
      this.idleTimer = undefined
      if (this.waitingBody === undefined || idleMillis === undefined) return
      const left = idleMillis - (performance.now() - this.waitingSince)
      if (left > 0) {
        this.idleTimer = setTimeout(this.onIdleTimer, left)
        return
      }
      this.inFlight!.abort()
      this.fail(timeoutError("idle", idleMessage!, this.call))
    }

    /** The pieces queued so far (resuming a paused body), or `undefined` when none are. */
    take(): Chunk.Chunk<Uint8Array> | undefined {
      if (this.queue.length === 0) return undefined
      const out = Chunk.unsafeFromArray(this.queue)
      this.queue = []
      this.queued = 0
      if (this.paused) {
        this.paused = false
        this.inFlight!.resume()
      }
      return out
    }

    /** How the call ends once `failure` is set. */
    get failed(): Effect.Effect<never, LlmError> {
      return this.defect !== undefined ? Effect.die(this.defect.cause) : Effect.fail(this.failure!)
    }

    /** What a pull returns now: the queued pieces, the failure or the end. */
    next(): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<LlmError>> {
      const out = this.take()
      if (out !== undefined) return Effect.succeed(out)
      if (this.failure !== undefined) {
        return this.defect !== undefined ? Effect.die(this.defect.cause) : Effect.fail(Option.some(this.failure))
      }
      return endOfStream
    }

    get ready(): boolean {
      return this.queue.length > 0 || this.failure !== undefined || this.ended
    }

    /** Waits until `ready`, for at most the idle timeout. */
    // No canceler, which would cost an interruption handler on every wait: when the fiber is interrupted, the
    // runtime marks this wait's callback as called, so a wake-up that comes later does nothing.
    readonly wait: Effect.Effect<void> = Effect.async<void>((resume) => {
      this.waitingBody = () => resume(Effect.void)
      if (idleMillis !== undefined) {
        this.waitingSince = performance.now()
        if (this.idleTimer === undefined) this.idleTimer = setTimeout(this.onIdleTimer, idleMillis)
      }
    })

    readonly awaitHeaders: Effect.Effect<void, LlmError> = Effect.suspend(() => {
      if (this.headersDone) return Effect.void
      if (this.failure !== undefined) return this.failed
      return Effect.async<void, LlmError>((resume) => {
        this.waitingHeaders = resume
        return Effect.sync(() => {
          this.waitingHeaders = undefined
        })
      })
    })

    readonly pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<LlmError>> = Effect.suspend(() =>
      this.ready ? this.next() : Effect.zipRight(this.wait, Effect.suspend(() => this.next()))
    )

    close(): void {
      this.clearTimers()
      this.waitingBody = undefined
      if (this.draining && !this.ended && this.failure === undefined) {
        // The answer is complete; the server's end of the body normally follows at once. Read it and drop it,
        // so that the connection goes back to the pool, but give up on a server that keeps it open.
        this.queue = []
        if (this.paused) {
          this.paused = false
          this.inFlight!.resume()
        }
        this.totalTimer = setTimeout(() => this.inFlight!.abort(), drainGraceMillis)
        // nothing waits for it: it must not keep the process alive
        this.totalTimer.unref?.()
        return
      }
      this.inFlight?.abort()
    }
  }

  /** Sends the request; `use` reads the body of its 2xx response. The request is aborted when `use` ends early. */
  const withBody = <B>(
    request: Request,
    context: CallContext,
    use: (body: BodyStream) => Channel.Channel<Chunk.Chunk<B>, unknown, LlmError, unknown, void, unknown>
  ): Stream.Stream<B, LlmError> =>
    Stream.fromChannel(Channel.suspend(() => {
      const call: Call = { model: context.model, status: undefined, requestId: undefined }
      const prepared = prepare(request, call)
      if ("_tag" in prepared) return Channel.fail(prepared)
      // The request starts here, and its finalizer is in place before the channel runs any effect that could be
      // interrupted: a suspended channel is evaluated, and its `ensuring` registered, in one synchronous step.
      const body = new BodyStream(call)
      body.start(request, prepared)
      return Channel.ensuringWith(
        Channel.zipRight(Channel.fromEffect(body.awaitHeaders), use(body)),
        () => Effect.sync(() => body.close())
      )
    }))

  const fastStream = (request: Request, context: CallContext): Stream.Stream<Uint8Array, LlmError> =>
    withBody(request, context, (body) => Stream.toChannel(Stream.repeatEffectChunkOption(body.pull)))

  // Decoding as the body is read: each read of the socket goes through the decoder within the one stage that reads
  // it, with no stream of bytes (and no pipe between two stages) in between.
  const fastDecodeStream = <B>(
    request: Request,
    context: CallContext,
    decoder: (bounds: StreamDecoder.Bounds<LlmError>) => StreamDecoder.Decoder<Uint8Array, B, LlmError>
  ): Stream.Stream<B, LlmError> =>
    withBody(request, context, (body) => {
      const decoding = scrubbing(decoder(boundsOf(body.call)))
      const done = decoding.done
      const { end, input } = StreamDecoder.steps(
        done === undefined ? decoding : {
          ...decoding,
          done: () => done() && (body.draining = true)
        }
      )
      type Loop = Channel.Channel<Chunk.Chunk<B>, unknown, LlmError, unknown, void, unknown>
      const ended: Loop = Channel.zipRight(
        Channel.fromEffect(socketReturned),
        Channel.suspend(() => end<never, unknown, unknown, unknown>())
      )
      const loop: Loop = Channel.suspend(() => {
        const bytes = body.take()
        if (bytes !== undefined) return input<never, unknown, unknown, unknown>(bytes, loop)
        if (body.failure !== undefined) return Channel.fromEffect(body.failed)
        if (body.ended) return ended
        return Channel.zipRight(Channel.fromEffect(body.wait), loop)
      })
      return loop
    })

  if (dispatcher !== undefined) {
    return { json: fastJson(dispatcher), stream: fastStream, decodeStream: fastDecodeStream }
  }

  const json = (request: Request, context: CallContext): Effect.Effect<JsonResponse, LlmError> =>
    Effect.suspend(() => {
      const call: Call = { model: context.model, status: undefined, requestId: undefined }
      const effect = Effect.flatMap(open(request, call), ({ headers, response }) =>
        Effect.flatMap(readBody(response, headers, call), (text) =>
          Effect.zipRight(socketReturned, decodeJson(text, headers, call))))
      return total === undefined ? effect : Effect.timeoutFail(effect, {
        duration: total,
        onTimeout: () =>
          timeoutError("total", totalMessage!, call)
      })
    })

  /**
   * A 2xx body as text, up to `limits.body`. Past it (or when `content-length` says so) reading stops, which ends
   * the response's stream and so aborts its request: the connection is closed, not reused.
   */
  const readBody = (
    response: HttpClientResponse.HttpClientResponse,
    headers: Readonly<Record<string, string>>,
    call: Call
  ): Effect.Effect<string, LlmError> =>
    Effect.suspend(() => {
      const declared = headers["content-length"]
      if (maxBody !== undefined && declared !== undefined && Number(declared) > maxBody) {
        // started and stopped at once, without waiting for a first piece: ending the body's stream aborts the request
        return Effect.zipRight(
          Effect.ignore(Stream.runDrain(Stream.interruptWhen(response.stream, Effect.void))),
          Effect.fail(bodyTooLarge(call))
        )
      }
      let over = false
      const chunks: Array<Uint8Array> = []
      let size = 0
      return response.stream.pipe(
        Stream.runForEachWhile((chunk) =>
          Effect.sync(() => {
            size += chunk.length
            if (maxBody !== undefined && size > maxBody) {
              over = true
              chunks.length = 0
              return false
            }
            chunks.push(chunk)
            return true
          })
        ),
        Effect.mapError((error) => bodyFailure(error, call)),
        Effect.flatMap(() =>
          over ? Effect.fail(bodyTooLarge(call)) : Effect.try({
            try: () => decoder.decode(internal.concatBounded(chunks, size)),
            catch: (cause) =>
              new ResponseDecodeError(common(call, `the response body cannot be read: ${describeThrown(cause)}`))
          })
        )
      )
    })

  const stream = (request: Request, context: CallContext): Stream.Stream<Uint8Array, LlmError> =>
    Stream.suspend(() => streamOf(request, { model: context.model, status: undefined, requestId: undefined }))

  const streamOf = (request: Request, call: Call): Stream.Stream<Uint8Array, LlmError> =>
    Stream.suspend(() => {
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

  const decodeStream = <B>(
    request: Request,
    context: CallContext,
    decoder: (bounds: StreamDecoder.Bounds<LlmError>) => StreamDecoder.Decoder<Uint8Array, B, LlmError>
  ): Stream.Stream<B, LlmError> =>
    Stream.suspend(() => {
      const call: Call = { model: context.model, status: undefined, requestId: undefined }
      return StreamDecoder.decode(() => scrubbing(decoder(boundsOf(call))))(streamOf(request, call))
    })

  return { json, stream, decodeStream }
}
