/**
 * Anthropic Messages replies for the {@link FakeServer}: SSE framing with `event:` lines, JSON bodies,
 * errors in Anthropic's `{"type":"error","error":{type,message}}` shape, and an auto-responder that
 * answers `POST …/messages` plausibly, so that an offline program or a benchmark can run the
 * `Anthropic` provider against a real socket.
 *
 * @since 0.1.0
 */
import type { Handler, Reply } from "./FakeServer.js"
import * as internal from "./internal/fake/anthropic.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface SseOptions {
  /** The line terminator; all three are valid SSE (default `"\n"`). */
  readonly lineEnding?: "\n" | "\r\n" | "\r" | undefined
  /** Precede each event's `data:` line with `event: <payload.type>` (default `true`, as Anthropic does). */
  readonly eventLines?: boolean | undefined
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
 * The fields of Anthropic's error: `type` defaults to the one Anthropic sends with the status
 * (`authentication_error` for 401, `rate_limit_error` for 429, `overloaded_error` for 529, …).
 *
 * @since 0.1.0
 * @category models
 */
export interface ErrorBody {
  readonly message: string
  readonly type?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ResponderOptions {
  /** The `model` reported in every answer; by default the request's own `model`. */
  readonly model?: string | undefined
  /** The number of words (text deltas) in every text answer: the echo is cut or padded to this length. */
  readonly words?: number | undefined
  /** Milliseconds between streamed events (default none). */
  readonly chunkDelay?: number | undefined
}

/**
 * Frames events as Anthropic does: each JSON value becomes `event: <value.type>` + `data: <json>` + a
 * blank line; a string is sent verbatim as a `data:` line with no `event:` (malformed JSON, say).
 *
 * @example
 * ```ts
 * FakeAnthropic.sse([{ type: "ping" }])
 * // "event: ping\ndata: {\"type\":\"ping\"}\n\n"
 * ```
 *
 * @since 0.1.0
 * @category framing
 */
export const sse: (events: ReadonlyArray<unknown>, options?: SseOptions) => string = internal.sse

/**
 * An SSE reply, written one piece per event unless `split` re-cuts the bytes.
 *
 * @since 0.1.0
 * @category replies
 */
export const streamReply: (events: ReadonlyArray<unknown>, options?: StreamReplyOptions) => Reply = internal.streamReply

/**
 * A JSON reply (a `message` body, or anything else).
 *
 * @since 0.1.0
 * @category replies
 */
export const jsonReply: (body: unknown, status?: number, headers?: Readonly<Record<string, string>>) => Reply =
  internal.jsonReply

/**
 * The error envelope `{"type":"error","error":{"type","message"},"request_id"}`, as it appears in an
 * error body and in an `event: error` inside a stream.
 *
 * @since 0.1.0
 * @category replies
 */
export const errorBody: (status: number, error: ErrorBody) => Record<string, unknown> = internal.errorBody

/**
 * An error reply in Anthropic's envelope.
 *
 * @example
 * ```ts
 * server.enqueue(FakeAnthropic.errorReply(429, { message: "Number of requests has exceeded your rate limit" }, {
 *   "retry-after": "3"
 * }))
 * ```
 *
 * @since 0.1.0
 * @category replies
 */
export const errorReply: (status: number, error: ErrorBody, headers?: Readonly<Record<string, string>>) => Reply =
  internal.errorReply

/**
 * A handler that answers Messages requests by itself:
 *
 * - `POST …/messages` (with an `x-api-key`, else `401`): the assistant echoes the last user turn
 *   (`"Echo: <text>"`, tool results' text included), or, when the request has `tools` (and `tool_choice` is not
 *   `none`) and the last user turn holds no tool results, calls the first tool (or the one `tool_choice` names)
 *   with a value of its input schema (each required property filled, every string the user's text). `max_tokens` (required, else `400`) cuts the answer
 *   with `stop_reason: "max_tokens"`. With `stream: true` it answers with the full event sequence
 *   (`message_start`, blocks, `ping`, `message_delta`, `message_stop`), tool input in fragments.
 * - anything else: `404` in Anthropic's error envelope.
 *
 * @since 0.1.0
 * @category handlers
 */
export const responder: (options?: ResponderOptions) => Handler = internal.responder
