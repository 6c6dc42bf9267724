/**
 * Gemini replies for the {@link FakeServer}: the CRLF-framed SSE of `streamGenerateContent?alt=sse`, JSON bodies,
 * errors in Google's `{"error":{code,message,status,details}}` envelope, and an auto-responder that answers
 * `generateContent`, `streamGenerateContent` and `batchEmbedContents` plausibly, so that an offline program or a
 * benchmark can run the `Gemini` provider against a real socket.
 *
 * @since 0.1.0
 */
import type { Handler, Reply } from "./FakeServer.js"
import * as internal from "./internal/fake/gemini.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface SseOptions {
  /** The line terminator (default `"\r\n"`, what Google sends; events end with a blank line of it). */
  readonly lineEnding?: "\n" | "\r\n" | "\r" | undefined
}

/**
 * {@link SseOptions} plus the transport options of {@link Reply}; `headers` are merged over
 * `content-type: text/event-stream`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamReplyOptions extends SseOptions {
  readonly status?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly split?: number | ReadonlyArray<number> | undefined
  readonly headersDelay?: number | undefined
  readonly chunkDelay?: number | undefined
  readonly disconnectAfter?: number | undefined
}

/**
 * The fields of Google's error envelope. `status` (the canonical code) defaults from the HTTP status: 400
 * `INVALID_ARGUMENT`, 401 `UNAUTHENTICATED`, 403 `PERMISSION_DENIED`, 404 `NOT_FOUND`, 429 `RESOURCE_EXHAUSTED`,
 * 500 `INTERNAL`, 503 `UNAVAILABLE`, 504 `DEADLINE_EXCEEDED`. `details` are `google.rpc` messages (see
 * {@link retryInfo}, {@link errorInfo}).
 *
 * @since 0.1.0
 * @category models
 */
export interface ErrorBody {
  readonly message: string
  readonly status?: string | undefined
  readonly details?: ReadonlyArray<unknown> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ResponderOptions {
  /** The `modelVersion` reported in every answer; by default the model in the request's path. */
  readonly model?: string | undefined
  /** The number of words (stream chunks) in every text answer; by default the echo as it is. */
  readonly words?: number | undefined
  /** Milliseconds between streamed chunks (default none). */
  readonly chunkDelay?: number | undefined
  /** When set, a request with another `x-goog-api-key` gets Google's 400 `API_KEY_INVALID`. */
  readonly apiKey?: string | undefined
  /**
   * Whether function calls carry a `thoughtSignature` and a replayed call turn without one is refused with 400,
   * as Gemini 3 does (default `true`).
   */
  readonly thoughtSignatures?: boolean | undefined
}

/**
 * Frames response objects as Gemini's SSE body: `data: <json>` and a blank line per event, CRLF by default; no
 * `[DONE]` (the stream ends when the body does). A string is sent verbatim (e.g. malformed JSON).
 *
 * @since 0.1.0
 * @category framing
 */
export const sse: (events: ReadonlyArray<unknown>, options?: SseOptions) => string = internal.sse

/**
 * An SSE reply (`content-type: text/event-stream`, chunked), one piece per event unless `split` re-cuts the bytes.
 *
 * @since 0.1.0
 * @category replies
 */
export const streamReply: (events: ReadonlyArray<unknown>, options?: StreamReplyOptions) => Reply = internal.streamReply

/**
 * A JSON reply; the body is always serialised as JSON.
 *
 * @since 0.1.0
 * @category replies
 */
export const jsonReply: (body: unknown, status?: number, headers?: Readonly<Record<string, string>>) => Reply =
  internal.jsonReply

/**
 * An error reply in Google's envelope, pretty-printed as Google sends it.
 *
 * @example
 * ```ts
 * server.enqueue(FakeGemini.errorReply(429, {
 *   message: "You exceeded your current quota, please check your plan.",
 *   details: [FakeGemini.retryInfo("34.4s")]
 * }))
 * ```
 *
 * @since 0.1.0
 * @category replies
 */
export const errorReply: (status: number, error: ErrorBody, headers?: Readonly<Record<string, string>>) => Reply =
  internal.errorReply

/**
 * The error envelope itself (`{"error":{…}}`), for an error inside a 200 stream.
 *
 * @since 0.1.0
 * @category replies
 */
export const errorEnvelope: (status: number, error: ErrorBody) => unknown = internal.errorEnvelope

/**
 * A `google.rpc.RetryInfo` detail (`retryDelay` as a protobuf Duration, e.g. `"34.4s"`).
 *
 * @since 0.1.0
 * @category details
 */
export const retryInfo: (retryDelay: string) => unknown = internal.retryInfo

/**
 * A `google.rpc.ErrorInfo` detail with the given `reason` (e.g. `"API_KEY_INVALID"`).
 *
 * @since 0.1.0
 * @category details
 */
export const errorInfo: (reason: string) => unknown = internal.errorInfo

/**
 * A handler that answers Gemini requests by itself:
 *
 * - `POST …/models/{m}:generateContent`: the model echoes the last user text (`"Echo: <text>"`), or, when the
 *   request declares functions (and the mode is not `NONE`) and the user spoke last, calls the first allowed one
 *   with a value of its schema (required parameters filled, strings the user's text; with a `thoughtSignature`);
 *   a `responseJsonSchema` / `responseSchema` is answered with such a value as JSON text. After function responses
 *   it answers with their outputs. `maxOutputTokens` cuts the answer with `MAX_TOKENS`. It refuses, with the real
 *   API's messages, a call turn replayed without its signature and a response turn whose count of
 *   `functionResponse` parts differs from the call turn's.
 * - `POST …:streamGenerateContent`: the same as CRLF-framed SSE, one chunk per word, then an empty-text chunk with
 *   `finishReason` and the final `usageMetadata`.
 * - `POST …:batchEmbedContents`: deterministic unit vectors from a hash of each text, `outputDimensionality` long
 *   (default 8); more than 100 requests is a 400, as on the real API.
 * - no `x-goog-api-key`: 403; anything else: 404.
 *
 * @since 0.1.0
 * @category handlers
 */
export const responder: (options?: ResponderOptions) => Handler = internal.responder
