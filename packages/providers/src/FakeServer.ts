/**
 * A fake HTTP server on the loopback interface, for tests, offline demos and benchmarks that must cross a real
 * socket.
 *
 * It knows nothing about any provider's protocol: it replays scripted {@link Reply}s (or asks a {@link Handler}),
 * records every request it receives, and injects transport faults: any status, headers and body, delays before
 * the headers and between pieces of the body, re-cutting the body at arbitrary byte offsets (inside `\r\n`, inside
 * a multi-byte UTF-8 character), cutting the connection mid-body, and never answering. The protocol helpers (such
 * as `FakeOpenAi`) build replies on top of it.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/fake/server.js"

/**
 * A request as the server received it.
 *
 * - `path`: the request target, query string included (`"/v1/chat/completions?x=1"`).
 * - `headers`: names lower-cased; a repeated header is joined with `", "`.
 * - `body`: the raw body decoded as UTF-8 (`""` when there is none).
 * - `json`: the body parsed as JSON, `undefined` when it is empty or not JSON.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  readonly json: unknown
}

/**
 * What the server answers to one request. Every field is optional: `{}` is an empty `200`.
 *
 * The body is `chunks` when given (written piece by piece with chunked transfer encoding, as streaming servers
 * do), otherwise `body` (sent with a `content-length`): a string or bytes are sent as they are, any other value
 * as JSON with `content-type: application/json`. `headers` are applied last and so override these defaults,
 * `content-length` and `transfer-encoding` included.
 *
 * Fault injection:
 * - `split`: re-cuts the whole body's bytes into pieces, every N bytes (a number) or at the given byte offsets
 *   (offsets outside the body are ignored). It cuts bytes, not characters, so it can cut inside `\r\n` or inside
 *   a multi-byte UTF-8 character.
 * - `headersDelay`: milliseconds to wait before the status line and headers are sent.
 * - `chunkDelay`: milliseconds to wait between two pieces. Without it consecutive pieces are written at once and
 *   the kernel may coalesce them; with it each piece reaches the client as its own read.
 * - `disconnectAfter`: after writing this many pieces (0: just the headers), end the connection without
 *   finishing the response, so the client sees a truncated body. When it is at least the number of pieces, the
 *   whole body is written but a chunked response still lacks its terminating chunk.
 * - `hang`: never answer. The socket stays open until the client leaves or the server is closed.
 * - `echo`: a server that echoes credentials back: {@link echoCredential} and {@link echoAuthorization} are
 *   replaced, in the header values and in the body (`chunks`, a string, or the JSON of a value; before `split`), by
 *   what the request carried. For tests that no secret reaches an error, a log or a span.
 * - `generate`: the body made piece by piece as the client reads it (chunked, each piece written when the socket
 *   can take more), for bodies too large to hold: a 1 GiB line, or one without end (an iterator that never
 *   finishes). It replaces `body` and `chunks`; `split`, `chunkDelay` and `disconnectAfter` do not apply.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reply {
  readonly status?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly body?: string | Uint8Array | unknown
  readonly chunks?: ReadonlyArray<string | Uint8Array> | undefined
  readonly split?: number | ReadonlyArray<number> | undefined
  readonly headersDelay?: number | undefined
  readonly chunkDelay?: number | undefined
  readonly disconnectAfter?: number | undefined
  readonly hang?: boolean | undefined
  readonly echo?: boolean | undefined
  readonly generate?: (() => Iterator<string | Uint8Array>) | undefined
}

/**
 * In a reply with `echo`, replaced by the request's credential: the token of its `authorization` header (after the
 * scheme), else its `x-api-key`, `x-goog-api-key` or `api-key` header, else its `key` query parameter (`""` when
 * it has none).
 *
 * @since 0.1.0
 * @category constants
 */
export const echoCredential: string = internal.echoCredential

/**
 * In a reply with `echo`, replaced by the request's whole `authorization` header (`""` when it has none).
 *
 * @since 0.1.0
 * @category constants
 */
export const echoAuthorization: string = internal.echoAuthorization

/**
 * Computes a reply from a request, or declines with `undefined`. It runs when no scripted reply is queued. If it
 * throws, the server answers `500` with the error's message.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler = (request: RecordedRequest) => Reply | undefined

/**
 * A running fake server.
 *
 * Each request is answered by the next queued reply (FIFO), else by the handler; when neither gives a reply the
 * server answers `500` with an OpenAI-style error envelope whose message reads
 * `"fake server: no reply scripted for POST /path"`, so a missing script fails loudly instead of hanging.
 *
 * - `requests`: every request received since start or the last `reset`, in order. It is a live view: the same
 *   array grows as requests arrive.
 * - `reset`: clears the queue, the handler, the recorded requests and the count of client-side closes.
 * - `closedConnections`: how many requests the client abandoned (closed its connection) before the reply was
 *   finished, since start or the last `reset`. Connections the server cuts on purpose (`disconnectAfter`) or
 *   closes on `close` are not counted.
 * - `awaitClientClose(n = 1)`: resolves once `closedConnections()` reaches `n`.
 * - `openSockets` / `totalSockets`: sockets open now / ever accepted, to observe connection reuse.
 * - `close`: closes every connection, idle or busy, then the listener; idempotent.
 *
 * @since 0.1.0
 * @category models
 */
export interface FakeServer {
  readonly url: string
  readonly enqueue: (...replies: ReadonlyArray<Reply>) => void
  readonly setHandler: (handler: Handler | undefined) => void
  readonly requests: ReadonlyArray<RecordedRequest>
  readonly reset: () => void
  readonly closedConnections: () => number
  readonly awaitClientClose: (n?: number) => Promise<void>
  readonly openSockets: () => number
  readonly totalSockets: () => number
  readonly close: () => Promise<void>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StartOptions {
  /** The port to listen on; `0` (the default) picks a free one. */
  readonly port?: number | undefined
  /** The handler to start with (see {@link FakeServer}'s `setHandler`). */
  readonly handler?: Handler | undefined
}

/**
 * Starts a fake server on `127.0.0.1`. The caller must `close` it.
 *
 * @example
 * ```ts
 * import { FakeServer } from "@llm-api-router/providers/testing"
 *
 * const server = await FakeServer.start()
 * server.enqueue({ status: 429, headers: { "retry-after": "1" }, body: { error: { message: "slow down" } } })
 * await fetch(`${server.url}/v1/chat/completions`, { method: "POST", body: "{}" })
 * server.requests[0].json // {}
 * await server.close()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const start: (options?: StartOptions) => Promise<FakeServer> = internal.start

/**
 * Starts a fake server for the lifetime of the enclosing `Scope`, closing it (and every connection) when the
 * scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: StartOptions): Effect.Effect<FakeServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => start(options)),
    (server) => Effect.promise(() => server.close())
  )
