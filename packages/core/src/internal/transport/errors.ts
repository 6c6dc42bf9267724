/**
 * What both transports share: the one place where a call's bounds (timeouts, caps) are resolved, where error bodies
 * are collected, cut and scrubbed, where timeout and cap messages are worded, and where every error a transport
 * makes is built. `platform.ts` (over any `HttpClient`) and `undici.ts` (over the pool's `Agent`) only move bytes
 * and call in here, so that a user's own `HttpClient` gets the same errors, word for word, as `Http.layer`.
 *
 * Everything that does not depend on the call is prepared once per transport, in `make`.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as HttpTransport from "../../HttpTransport.js"
import * as Json from "../../Json.js"
import type { LlmError } from "../../LlmError.js"
import { InvalidRequestError, NetworkError, ResponseDecodeError, TimeoutError } from "../../LlmError.js"
import * as Secrets from "../../Secrets.js"
import type * as StreamDecoder from "../../StreamDecoder.js"
import * as internal from "./failures.js"

/** @internal */
export const defaultTimeouts: {
  readonly firstByte: Duration.Duration
  readonly idle: Duration.Duration
  readonly total: Duration.Duration
} = {
  firstByte: Duration.minutes(10),
  idle: Duration.minutes(2),
  total: Duration.minutes(15)
}

/** @internal */
export const defaultLimits: {
  readonly body: number
  readonly event: number
} = {
  body: 64 * 1024 * 1024,
  event: 8 * 1024 * 1024
}

/** @internal */
export const defaultRequestIdHeaders: ReadonlyArray<string> = [
  "x-request-id",
  "request-id",
  "x-amzn-requestid",
  "x-amz-request-id",
  "x-ms-request-id",
  "apim-request-id"
]

/** Error bodies (non-2xx) are read up to this many bytes, and never fail for their size. @internal */
export const errorBodyLimit = 64 * 1024
/** The `body` an error keeps. @internal */
export const keptBodyLimit = 2 * 1024

const utf8 = new TextDecoder()

// `Buffer` is Node's; the platform transport may run where there is none
const isBuffer = (bytes: Uint8Array): bytes is Buffer => typeof Buffer !== "undefined" && Buffer.isBuffer(bytes)

/** What one call has learnt so far, for its errors. @internal */
export interface Call {
  readonly model: string | undefined
  status: number | undefined
  requestId: string | undefined
}

/** @internal */
export const newCall = (context: HttpTransport.CallContext): Call => ({
  model: context.model,
  status: undefined,
  requestId: undefined
})

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

/** @internal */
export const describeThrown = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

const parseJson = (text: string): unknown => {
  if (text === "") return undefined
  const parsed = Json.parse(text)
  return Either.isRight(parsed) ? parsed.right : undefined
}

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

/** `METHOD url` as errors quote a request. @internal */
export const where = (method: string, url: string): string => `${method} ${withoutQuery(url)}`

/** Where a failure after the headers happened, in every error that reports one. @internal */
export const bodyBrokeOff = "the response body broke off"

/**
 * Waits one event-loop turn. With pipelining 1, undici hands a socket back to its pool one turn after a response
 * ends (`setImmediate(client[kResume])` in its `client-h1.js`); a request dispatched sooner opens a second socket, so
 * back-to-back calls would alternate between two. Finishing a call after that turn keeps them on one socket. Both
 * transports wait for it: a user's `NodeHttpClient.layerUndici` is the same pool underneath.
 *
 * @internal
 */
export const socketReturned: Effect.Effect<void> = typeof setImmediate === "function"
  ? Effect.async<void>((resume) => {
    const handle = setImmediate(() => resume(Effect.void))
    return Effect.sync(() => clearImmediate(handle))
  })
  : Effect.void

/**
 * Collects a body: a 2xx body up to `limits.body` (`add` returns false past it, and nothing is kept), or an error
 * body up to `errorBodyLimit` (`add` returns false once it is full, and what came so far is kept).
 *
 * @internal
 */
export class Collector {
  chunks: Array<Uint8Array> = []
  size = 0
  constructor(readonly limit: number | undefined, readonly keepOnFull: boolean) {}
  add(chunk: Uint8Array): boolean {
    this.size += chunk.length
    if (this.limit !== undefined && this.size > this.limit && !this.keepOnFull) {
      this.chunks = []
      return false
    }
    this.chunks.push(chunk)
    return this.limit === undefined || (this.keepOnFull ? this.size < this.limit : true)
  }
  /** The body as UTF-8 text; throws for a body beyond what a string can hold (about 512 MiB). */
  text(): string {
    const chunks = this.chunks
    this.chunks = []
    const max = this.limit ?? this.size
    // one piece (most bodies): no copy; Node's own decoding where the piece is a Buffer (from undici)
    if (chunks.length === 1 && chunks[0]!.length <= max) {
      const only = chunks[0]!
      return isBuffer(only) ? only.toString("utf8") : utf8.decode(only)
    }
    return utf8.decode(internal.concatBounded(chunks, max))
  }
}

/** @internal */
export const errorBody = (): Collector => new Collector(errorBodyLimit, true)

const secretsOf = (secrets: HttpTransport.Options["secrets"]): Secrets.Secrets =>
  secrets === undefined || Array.isArray(secrets)
    ? Secrets.make(secrets ?? [])
    : secrets as Secrets.Secrets

type Phase = "first-byte" | "idle" | "total"

/**
 * The bounds, messages and error constructors of one transport, made once by `make`.
 *
 * @internal
 */
export class Errors {
  readonly provider: string
  readonly requestIdHeaders: ReadonlyArray<string>
  readonly scrub: (text: string) => string
  readonly scrubError: <E>(error: E) => E
  readonly mapError: HttpTransport.Options["mapError"]
  /** `total`, `firstByte` and `idle` bounds (`undefined`: none), and the same in milliseconds for timers */
  readonly total: Duration.Duration | undefined
  readonly firstByte: Duration.Duration | undefined
  readonly idle: Duration.Duration | undefined
  readonly totalMillis: number | undefined
  readonly firstByteMillis: number | undefined
  readonly idleMillis: number | undefined
  /** `limits.body`, `undefined` for none */
  readonly maxBody: number | undefined
  readonly maxEventLength: number
  readonly messages: Record<Phase, string | undefined>
  readonly bodyTooLargeMessage: string
  readonly eventTooLongMessage: string

  constructor(options: HttpTransport.Options) {
    const secrets = secretsOf(options.secrets)
    this.provider = options.provider
    this.mapError = options.mapError
    this.requestIdHeaders = options.requestIdHeaders ?? defaultRequestIdHeaders
    this.scrub = secrets.scrub
    this.scrubError = secrets.scrubError
    const total = finite(options.timeouts?.total ?? defaultTimeouts.total)
    // A phase that cannot end before the call does is the call's: with a first-byte bound equal to the total (a
    // bare `timeout: "30 seconds"` sets both), it is the total that fires, and says so.
    const firstByte = within(finite(options.timeouts?.firstByte ?? defaultTimeouts.firstByte), total)
    const idle = within(finite(options.timeouts?.idle ?? defaultTimeouts.idle), total)
    this.total = total
    this.firstByte = firstByte
    this.idle = idle
    this.totalMillis = total && Duration.toMillis(total)
    this.firstByteMillis = firstByte && Duration.toMillis(firstByte)
    this.idleMillis = idle && Duration.toMillis(idle)
    this.messages = {
      "first-byte": firstByte && `no response headers within ${Duration.format(firstByte)}`,
      idle: idle && `no data for ${Duration.format(idle)} while streaming the response body`,
      total: total && `the call did not complete within ${Duration.format(total)}`
    }
    const maxBody = cap(options.limits?.body ?? defaultLimits.body)
    const maxEvent = cap(options.limits?.event ?? defaultLimits.event)
    this.maxBody = maxBody
    this.maxEventLength = maxEvent ?? Infinity
    this.bodyTooLargeMessage = maxBody === undefined
      ? ""
      : `the response body is larger than ${bytes(maxBody)} (limits.body); the connection was closed`
    this.eventTooLongMessage = `a stream event is longer than ${
      maxEvent === undefined ? "" : maxEvent.toLocaleString("en-US")
    } characters (limits.event); the connection was closed`
  }

  common(call: Call, message: string): CommonFields {
    const fields: CommonFields = { provider: this.provider, message: this.scrub(message) }
    if (call.model !== undefined) fields.model = call.model
    if (call.status !== undefined) fields.status = call.status
    if (call.requestId !== undefined) fields.requestId = this.scrub(call.requestId)
    return fields
  }

  timeoutError(phase: TimeoutError["phase"], message: string, call: Call): TimeoutError {
    return new TimeoutError({ ...this.common(call, message), phase })
  }

  /** The timeout of a phase, in the words every transport uses. */
  timeout(phase: Phase, call: Call): TimeoutError {
    return this.timeoutError(phase, this.messages[phase]!, call)
  }

  bodyTooLarge(call: Call): ResponseDecodeError {
    return new ResponseDecodeError(this.common(call, this.bodyTooLargeMessage))
  }

  /** Whether a declared `content-length` is past `limits.body`. */
  declaredTooLarge(headers: Readonly<Record<string, string>>): boolean {
    const declared = headers["content-length"]
    return this.maxBody !== undefined && declared !== undefined && Number(declared) > this.maxBody
  }

  unreadableBody(cause: unknown, call: Call): ResponseDecodeError {
    return new ResponseDecodeError(this.common(call, `the response body cannot be read: ${describeThrown(cause)}`))
  }

  boundsOf(call: Call): StreamDecoder.Bounds<LlmError> {
    return {
      maxEventLength: this.maxEventLength,
      eventTooLong: () => new ResponseDecodeError(this.common(call, this.eventTooLongMessage))
    }
  }

  invalidRequest(message: string, call: Call): InvalidRequestError {
    return new InvalidRequestError({ ...this.common(call, message), source: "client" })
  }

  /** A failure of the connection or of the request, from the error its client threw. */
  transportFailure(cause: unknown, where: string, call: Call): LlmError {
    const failure = internal.classifyTransportFailure(cause)
    switch (failure._tag) {
      case "ConnectTimeout":
        return this.timeoutError("connect", failure.message, call)
      case "HeadersTimeout":
        return this.timeoutError("first-byte", failure.message, call)
      case "BodyTimeout":
        return this.timeoutError("idle", failure.message, call)
      case "InvalidRequest":
        return this.invalidRequest(`${where}: ${failure.message}`, call)
      case "Network":
        return new NetworkError(this.common(call, `${where}: ${failure.message}`))
    }
  }

  /** A defect of ours in a callback, reported as the call's failure. */
  unhandled(cause: unknown, call: Call): NetworkError {
    return new NetworkError(this.common(call, `the response could not be handled: ${describeThrown(cause)}`))
  }

  /** Records the status and request id of a response on its call; `true` for a 2xx. */
  received(status: number, headers: Readonly<Record<string, string>>, call: Call): boolean {
    call.status = status
    call.requestId = internal.requestIdOf(headers, this.requestIdHeaders)
    return status >= 200 && status < 300
  }

  /** Fills in what the provider's error left out, and keeps its body short and its texts free of secrets. */
  completeError(error: LlmError, call: Call, text: string): LlmError {
    const scrub = this.scrub
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
    if (!patched || fields === undefined) return this.scrubError(error)
    const props: Record<string, unknown> = {}
    for (const key in fields) {
      if (key !== "_tag" && current[key] !== undefined) props[key] = current[key]
    }
    return this.scrubError(new (error.constructor as ErrorConstructor)({ ...props, ...patch }))
  }

  /** The error of a non-2xx response, from its (raw, unscrubbed) body through the provider's `mapError`. */
  statusError(status: number, headers: Readonly<Record<string, string>>, raw: string, call: Call): LlmError {
    const text = this.scrub(raw)
    const errorResponse: HttpTransport.ErrorResponse = {
      status,
      headers: { ...headers },
      body: text,
      json: parseJson(text),
      requestId: call.requestId
    }
    return this.completeError(this.mapError(errorResponse, { model: call.model }), call, text)
  }

  /** A 2xx body as `JsonResponse`, or `ResponseDecodeError`. */
  decodeJson(
    text: string,
    headers: Readonly<Record<string, string>>,
    call: Call
  ): Effect.Effect<HttpTransport.JsonResponse, LlmError> {
    const parsed = Json.parse(text)
    if (Either.isRight(parsed)) return Effect.succeed({ json: parsed.right, headers, requestId: call.requestId })
    const got = text === ""
      ? "an empty body"
      : parsed.left === "nested too deeply"
      ? `a body of ${Json.describe(parsed.left)}`
      : `a body that is not JSON (content-type: ${headers["content-type"] ?? "none"})`
    return Effect.fail(
      new ResponseDecodeError({
        ...this.common(call, `expected a JSON response, got ${got}`),
        ...(text === "" ? {} : { body: internal.truncate(this.scrub(text), keptBodyLimit) })
      })
    )
  }

  /** `JSON.stringify` of the body, or the error of a body that cannot be serialised. */
  serialise(request: HttpTransport.Request, call: Call): string | undefined | LlmError {
    if (request.body === undefined) return undefined
    let json: string | undefined
    try {
      json = JSON.stringify(request.body)
    } catch (cause) {
      return this.invalidRequest(`the request body cannot be serialised as JSON: ${describeThrown(cause)}`, call)
    }
    return typeof json === "string" ? json : this.invalidRequest("the request body cannot be serialised as JSON", call)
  }

  /** The decoder with every error it returns scrubbed; its successful steps cost one more call per batch. */
  scrubbing<A, B>(decoder: StreamDecoder.Decoder<A, B, LlmError>): StreamDecoder.Decoder<A, B, LlmError> {
    const { done, end, step } = decoder
    const scrubError = this.scrubError
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
}

/** @internal */
export const make = (options: HttpTransport.Options): Errors => new Errors(options)
