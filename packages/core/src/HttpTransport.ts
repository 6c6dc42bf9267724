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
import * as PlatformHttpClient from "@effect/platform/HttpClient"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as Stream from "effect/Stream"
import type * as Undici from "undici"
import * as Http from "./Http.js"
import * as Errors from "./internal/transport/errors.js"
import * as platform from "./internal/transport/platform.js"
import * as undici from "./internal/transport/undici.js"
import type { LlmError } from "./LlmError.js"
import type * as Secrets from "./Secrets.js"
import type * as StreamDecoder from "./StreamDecoder.js"

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
} = Errors.defaultTimeouts

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
} = Errors.defaultLimits

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
export const defaultRequestIdHeaders: ReadonlyArray<string> = Errors.defaultRequestIdHeaders

/**
 * Builds the transport over what is in context: over the pool's undici `Agent` when the `HttpClient` is the one
 * `Http.layer` made (the `Http.Pool` beside it names it), else over the `HttpClient` interface (a user's
 * `NodeHttpClient.layerUndici` or `FetchHttpClient.layer`, a client derived from `Http.layer`'s, a test fake). The
 * two behave alike (the transport conformance suite runs on both); the first only costs less per call.
 *
 * Everything that does not depend on the call (timeouts, messages, the secret scrubber) is prepared here once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Transport, never, PlatformHttpClient.HttpClient> =>
  Effect.flatMap(PlatformHttpClient.HttpClient, (client) =>
    Effect.map(Effect.serviceOption(Http.Pool), (pool) =>
      // A client derived from the pool's (`HttpClient.mapRequest`, a tracer) is not the pool's: what it adds to a
      // request must run, so it goes through its interface.
      Option.isSome(pool) && pool.value.client === client
        ? makeUndici(pool.value.agent, options)
        : makeWith(client, options)))

/**
 * Builds the transport over the given client's `HttpClient` interface.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWith = (httpClient: PlatformHttpClient.HttpClient, options: Options): Transport =>
  platform.make(httpClient, Errors.make(options))

/**
 * Builds the transport over an undici `Dispatcher` (an `Agent`, a `Pool`), sending to it directly with timers of
 * its own: what `make` picks over `Http.layer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeUndici = (dispatcher: Undici.Dispatcher, options: Options): Transport =>
  undici.make(dispatcher, Errors.make(options))
