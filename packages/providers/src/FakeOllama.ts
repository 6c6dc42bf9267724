/**
 * Ollama native-API replies for the {@link FakeServer}: NDJSON framing, JSON bodies, errors in Ollama's
 * `{"error": "…"}` shape, and an auto-responder for `/api/chat` (streaming or not), `/api/embed` and
 * `/api/tags`, so that an offline program, a test or a benchmark can run a client against a real socket.
 *
 * @since 0.1.0
 */
import type { Handler, Reply } from "./FakeServer.js"
import * as internal from "./internal/fake/ollama.js"

/**
 * The transport options of {@link Reply}; `headers` are merged over `content-type: application/x-ndjson`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamReplyOptions {
  readonly status?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly split?: number | ReadonlyArray<number> | undefined
  readonly headersDelay?: number | undefined
  readonly chunkDelay?: number | undefined
  readonly disconnectAfter?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ResponderOptions {
  /** The `model` reported in every answer; by default the request's own `model`. */
  readonly model?: string | undefined
  /**
   * The models that are "pulled": a request for any other gets Ollama's 404 (`model "x" not found, try pulling
   * it first`), and `/api/tags` lists these. By default every model is there.
   */
  readonly models?: ReadonlyArray<string> | undefined
  /** The number of words (stream lines) in every text answer: the echo is cut, or padded, to this length. */
  readonly words?: number | undefined
  /** Milliseconds between streamed lines (default none). */
  readonly chunkDelay?: number | undefined
}

/**
 * Frames values as NDJSON: each JSON value (or raw string, sent verbatim, e.g. malformed JSON) on its own line,
 * each line ended by `\n`.
 *
 * @example
 * ```ts
 * FakeOllama.ndjson([{ done: false }, { done: true }]) // "{\"done\":false}\n{\"done\":true}\n"
 * ```
 *
 * @since 0.1.0
 * @category framing
 */
export const ndjson: (lines: ReadonlyArray<unknown>) => string = internal.ndjson

/**
 * An NDJSON reply (`content-type: application/x-ndjson`, chunked), written one piece per line unless `split`
 * re-cuts the bytes. Without a `done: true` line it models a stream that was cut.
 *
 * @since 0.1.0
 * @category replies
 */
export const streamReply: (lines: ReadonlyArray<unknown>, options?: StreamReplyOptions) => Reply = internal.streamReply

/**
 * A JSON reply (a non-streaming chat, an embed); the body is always serialised as JSON.
 *
 * @since 0.1.0
 * @category replies
 */
export const jsonReply: (body: unknown, status?: number, headers?: Readonly<Record<string, string>>) => Reply =
  internal.jsonReply

/**
 * An error reply in Ollama's shape: `{"error": "<message>"}` with the given status.
 *
 * @example
 * ```ts
 * server.enqueue(FakeOllama.errorReply(404, FakeOllama.notFoundMessage("llama9")))
 * ```
 *
 * @since 0.1.0
 * @category replies
 */
export const errorReply: (status: number, message: string, headers?: Readonly<Record<string, string>>) => Reply =
  internal.errorReply

/**
 * The line Ollama writes into a 200 stream when the model fails after streaming started; no `done: true`
 * follows it.
 *
 * @since 0.1.0
 * @category replies
 */
export const errorLine: (message: string) => { readonly error: string } = internal.errorLine

/**
 * Ollama's message for a model that is not pulled: `model "<model>" not found, try pulling it first`.
 *
 * @since 0.1.0
 * @category replies
 */
export const notFoundMessage: (model: string) => string = internal.notFoundMessage

/**
 * A handler that answers Ollama native requests by itself:
 *
 * - `POST /api/chat`: the assistant echoes the last user message (`"Echo: <text>"`), or, when the request has
 *   `tools` and the last message is the user's, calls the first tool, whole, with an arguments object holding the
 *   value of its schema (required properties filled, strings the user's text; a `format` schema is answered
 *   with such a value as JSON text) and `done_reason: "stop"` (as Ollama does).
 *   `options.num_predict` cuts the answer with `done_reason: "length"`. Streams (the default, unless
 *   `stream: false`) are one NDJSON line per word, then a `done: true` line with the metrics.
 * - `POST /api/embed`: deterministic unit vectors from a hash of each input, `dimensions` long (default 8), with
 *   `prompt_eval_count`.
 * - `GET /api/tags`: the pulled models.
 * - a model that is not among `models`: `404` with Ollama's pull message; anything else: `404 page not found`.
 *
 * @since 0.1.0
 * @category handlers
 */
export const responder: (options?: ResponderOptions) => Handler = internal.responder
