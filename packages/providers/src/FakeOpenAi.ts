/**
 * OpenAI-compatible replies for the {@link FakeServer}: SSE framing, JSON and error bodies in OpenAI's shapes,
 * and an auto-responder that answers any chat or embeddings request plausibly, so that an offline program or a
 * benchmark can run a full client against a real socket.
 *
 * @since 0.1.0
 */
import type { Handler, Reply } from "./FakeServer.js"
import * as internal from "./internal/fake/openai.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface SseOptions {
  /** Append `data: [DONE]` (default `true`); `false` models a stream that ends without it. */
  readonly done?: boolean | undefined
  /** The line terminator; all three are valid SSE (default `"\n"`). */
  readonly lineEnding?: "\n" | "\r\n" | "\r" | undefined
  /**
   * Comment lines sent before the events, each as its own block (such as DeepSeek's `": keep-alive"`); a leading
   * `": "` is added when the text has no leading `:`.
   */
  readonly comments?: ReadonlyArray<string> | undefined
  /** Blank lines sent first, before the comments and events, each as its own write (DeepSeek under load). */
  readonly leadingBlankLines?: number | undefined
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
 * The fields of OpenAI's error envelope `{"error":{message,type,param,code}}`. `type` defaults to
 * `"server_error"` for a status of 500 and above and to `"invalid_request_error"` below; `param` and `code` to
 * `null`. Some compatible servers send a numeric `code`, hence `number`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ErrorBody {
  readonly message: string
  readonly type?: string | undefined
  readonly code?: string | number | null | undefined
  readonly param?: string | null | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ResponderOptions {
  /** The `model` reported in every answer; by default the request's own `model`. */
  readonly model?: string | undefined
  /**
   * The number of words (stream content chunks) in every text answer: the echo is cut, or padded with filler
   * words, to this length. By default the echo is sent as it is.
   */
  readonly words?: number | undefined
  /** Milliseconds between streamed chunks (default none). */
  readonly chunkDelay?: number | undefined
}

/**
 * Frames events as an SSE body: each JSON value (or raw string, sent verbatim, e.g. malformed JSON) becomes
 * `data: <payload>` followed by a blank line, after the optional comments and before `data: [DONE]`.
 *
 * @example
 * ```ts
 * FakeOpenAi.sse([{ a: 1 }], { comments: [": keep-alive"] })
 * // ": keep-alive\n\ndata: {\"a\":1}\n\ndata: [DONE]\n\n"
 * ```
 *
 * @since 0.1.0
 * @category framing
 */
export const sse: (events: ReadonlyArray<unknown>, options?: SseOptions) => string = internal.sse

/**
 * An SSE reply (`content-type: text/event-stream`, chunked), written one piece per comment and event (and one for
 * `[DONE]`) unless `split` re-cuts the bytes.
 *
 * @since 0.1.0
 * @category replies
 */
export const streamReply: (events: ReadonlyArray<unknown>, options?: StreamReplyOptions) => Reply = internal.streamReply

/**
 * A JSON reply; the body is always serialised as JSON, a string included.
 *
 * @since 0.1.0
 * @category replies
 */
export const jsonReply: (body: unknown, status?: number, headers?: Readonly<Record<string, string>>) => Reply =
  internal.jsonReply

/**
 * An error reply in OpenAI's envelope.
 *
 * @example
 * ```ts
 * server.enqueue(FakeOpenAi.errorReply(429, { message: "Rate limit reached", code: "rate_limit_exceeded" }, {
 *   "retry-after-ms": "120"
 * }))
 * ```
 *
 * @since 0.1.0
 * @category replies
 */
export const errorReply: (status: number, error: ErrorBody, headers?: Readonly<Record<string, string>>) => Reply =
  internal.errorReply

/**
 * A handler that answers OpenAI-style requests by itself:
 *
 * - `POST …/chat/completions`: the assistant echoes the last user message (`"Echo: <text>"`), or, when the
 *   request has `tools` (and `tool_choice` is not `"none"`) and the last message is the user's, calls the first
 *   tool (or the one `tool_choice` names) with a value of its schema (required properties filled, every string the
 *   user's text); a `json_schema` `response_format` is answered with such a value as JSON text. `max_tokens` / `max_completion_tokens` cut the answer with `finish_reason: "length"`. With
 *   `stream: true` it answers with `chat.completion.chunk`s: a role chunk, one chunk per word (tool arguments in
 *   two fragments), a finish chunk, a `choices: []` usage chunk when `stream_options.include_usage` is set, and
 *   `[DONE]`.
 * - `POST …/embeddings`: deterministic unit vectors derived from a hash of each input, `dimensions` long (default
 *   8), as floats or, with `encoding_format: "base64"`, as base64 little-endian float32; with `usage`.
 * - anything else: `404` in OpenAI's error envelope; a malformed body: `400`.
 *
 * @example
 * ```ts
 * const server = await FakeServer.start({ handler: FakeOpenAi.responder() })
 * ```
 *
 * @since 0.1.0
 * @category handlers
 */
export const responder: (options?: ResponderOptions) => Handler = internal.responder

/**
 * A JSON reply preceded by `blankLines` empty lines, each written on its own (`chunkDelay` milliseconds apart):
 * how DeepSeek keeps a non-streaming request alive while it waits for capacity.
 *
 * @since 0.1.0
 * @category replies
 */
export const blankLinesJsonReply: (
  body: unknown,
  blankLines: number,
  options?: { readonly status?: number | undefined; readonly chunkDelay?: number | undefined }
) => Reply = internal.blankLinesJsonReply

/**
 * The fields of OpenRouter's error object: `code` (a number, the HTTP status it stands for, or a string such as
 * `"server_error"`), `message`, and the optional `metadata` (`error_type`, `provider_name`, `raw`, …).
 *
 * @since 0.1.0
 * @category models
 */
export interface OpenRouterError {
  readonly code?: number | string | undefined
  readonly message: string
  readonly metadata?: Readonly<Record<string, unknown>> | undefined
}

/**
 * OpenRouter's mid-stream error chunk: the chunk fields plus a top-level `error`, and a choice whose
 * `finish_reason` is `"error"`. Put it in the events of {@link streamReply}.
 *
 * @since 0.1.0
 * @category framing
 */
export const openRouterErrorChunk: (
  error: OpenRouterError,
  options?: { readonly id?: string | undefined; readonly model?: string | undefined }
) => Record<string, unknown> = internal.openRouterErrorChunk
