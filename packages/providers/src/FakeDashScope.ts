/**
 * DashScope native-protocol replies for the {@link FakeServer}: the SSE framing DashScope uses (`id:N`,
 * `event:result`, a `:HTTP_STATUS/200` comment line, `data:` without a space, no end marker), JSON and flat error
 * bodies (`{code, message, request_id}`), error events inside a 200 stream, and an auto-responder that answers
 * generation and embeddings requests plausibly, so that an offline program or a benchmark can run the `Aliyun`
 * provider against a real socket.
 *
 * @since 0.1.0
 */
import type { Handler, Reply } from "./FakeServer.js"
import * as internal from "./internal/fake/dashscope.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface SseOptions {
  /** The line terminator; all three are valid SSE (default `"\n"`). */
  readonly lineEnding?: "\n" | "\r\n" | "\r" | undefined
  /** The `id:` of the first event (default 1); each next event counts up. */
  readonly firstId?: number | undefined
}

/**
 * {@link SseOptions} plus the transport options of {@link Reply}; `headers` are merged over
 * `content-type: text/event-stream;charset=UTF-8`.
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
 * DashScope's flat error body. `request_id` defaults to a generated one.
 *
 * @since 0.1.0
 * @category models
 */
export interface ErrorBody {
  readonly code: string
  readonly message: string
  readonly request_id?: string | undefined
}

/**
 * One event of a stream: a result payload (a JSON value, or a string sent verbatim, e.g. malformed JSON), or an
 * error event made by {@link errorEvent}.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamEvent = unknown

/**
 * @since 0.1.0
 * @category models
 */
export interface ResponderOptions {
  /**
   * The number of words (stream events) in every text answer: the echo is cut, or padded with filler words, to
   * this length. By default the echo is sent as it is.
   */
  readonly words?: number | undefined
  /** Milliseconds between streamed events (default none). */
  readonly chunkDelay?: number | undefined
}

/**
 * An error event for a stream: framed as `event:error`, `:HTTP_STATUS/<status>` and the flat error body, as
 * DashScope sends a failure that happens after the 200 (e.g. `DataInspectionFailed` on the output).
 *
 * @since 0.1.0
 * @category framing
 */
export const errorEvent: (status: number, body: ErrorBody) => StreamEvent = internal.errorEvent

/**
 * Frames events as DashScope's SSE body.
 *
 * @example
 * ```ts
 * FakeDashScope.sse([{ output: { choices: [] } }])
 * // "id:1\nevent:result\n:HTTP_STATUS/200\ndata:{\"output\":{\"choices\":[]}}\n\n"
 * ```
 *
 * @since 0.1.0
 * @category framing
 */
export const sse: (events: ReadonlyArray<StreamEvent>, options?: SseOptions) => string = internal.sse

/**
 * An SSE reply, written one piece per event unless `split` re-cuts the bytes. There is no end marker: the body
 * ends after the last event.
 *
 * @since 0.1.0
 * @category replies
 */
export const streamReply: (events: ReadonlyArray<StreamEvent>, options?: StreamReplyOptions) => Reply =
  internal.streamReply

/**
 * A JSON reply; the body is always serialised as JSON.
 *
 * @since 0.1.0
 * @category replies
 */
export const jsonReply: (body: unknown, status?: number, headers?: Readonly<Record<string, string>>) => Reply =
  internal.jsonReply

/**
 * An error reply in DashScope's flat shape.
 *
 * @example
 * ```ts
 * server.enqueue(FakeDashScope.errorReply(429, { code: "Throttling.RateQuota", message: "Requests rate limit exceeded" }))
 * ```
 *
 * @since 0.1.0
 * @category replies
 */
export const errorReply: (status: number, error: ErrorBody, headers?: Readonly<Record<string, string>>) => Reply =
  internal.errorReply

/**
 * A handler that answers DashScope native requests by itself:
 *
 * - `POST …/services/aigc/text-generation/generation` and `…/multimodal-generation/generation` (content as
 *   `[{text}]` parts there): the assistant echoes the last user message (`"Echo: <text>"`), or, when
 *   `parameters.tools` is set (and `tool_choice` is not `"none"`) and the user spoke last, calls the first tool
 *   (or the named one) with a value of its schema (required properties filled, strings the user's text); a
 *   `parameters.response_format` JSON Schema is answered with such a value as JSON text. `parameters.max_tokens` cuts the
 *   answer with `finish_reason: "length"`; `result_format: "text"` answers with `output.text`. With
 *   `X-DashScope-SSE: enable` (or `Accept: text/event-stream`) it streams one event per word, `finish_reason:
 *   "null"` until the last, cumulative usage on each: deltas when `parameters.incremental_output` is `true`, the
 *   whole text so far otherwise (as the real service does). Tool arguments come in two fragments.
 * - `POST …/services/embeddings/text-embedding/text-embedding`: deterministic unit vectors per text,
 *   `parameters.dimension` long (default 8), keyed by `text_index`; more than 10 texts (25 for v1/v2) is a 400
 *   `InvalidParameter`, like the real service.
 * - anything else: `404 InvalidURL`; a body without messages: `400 InvalidParameter`.
 *
 * @since 0.1.0
 * @category handlers
 */
export const responder: (options?: ResponderOptions) => Handler = internal.responder
