/**
 * Reproducible faults for an OpenAI-compatible {@link FakeServer}: the ten kinds of trouble a real provider gives
 * (throttling with and without `Retry-After`, 5xx and 529, a reset, a slow first byte, a cut body, malformed
 * JSON), drawn per call and per server from a seeded generator.
 *
 * A fault is keyed by the call's index (carried in the request's text, see {@link numbered}) and the server's,
 * never by the order in which requests arrive, so that the same calls meet the same faults on every run, however
 * the machine schedules them; a test can then compute from the draws alone which calls could be saved.
 *
 * @example
 * ```ts
 * import { FakeFaults, FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
 *
 * const responder = FakeOpenAi.responder({ words: 6 })
 * const server = await FakeServer.start({
 *   handler: FakeFaults.handler({ server: 0, rate: 0.2, seed: 1, ok: (request) => responder(request)! })
 * })
 * // then send FakeFaults.numbered(i) as the i-th call's request
 * ```
 *
 * @since 0.2.0
 */
import type { ChatCompletionRequest } from "@llm-api-router/core"
import * as FakeOpenAi from "./FakeOpenAi.js"
import type { Handler, RecordedRequest, Reply } from "./FakeServer.js"

/**
 * @since 0.2.0
 * @category models
 */
export type Fault =
  | "429-retry-after"
  | "429"
  | "500"
  | "502"
  | "503"
  | "529"
  | "reset"
  | "slow-first-byte"
  | "cut-mid-stream"
  | "malformed-json"

/**
 * Every kind, each drawn with the same probability.
 *
 * @since 0.2.0
 * @category constants
 */
export const kinds: ReadonlyArray<Fault> = [
  "429-retry-after",
  "429",
  "500",
  "502",
  "503",
  "529",
  "reset",
  "slow-first-byte",
  "cut-mid-stream",
  "malformed-json"
]

/**
 * How long a `"slow-first-byte"` answer waits before its headers, and the `retry-after-ms` of a
 * `"429-retry-after"`, in milliseconds.
 *
 * @since 0.2.0
 * @category constants
 */
export const delays = { slowFirstByte: 400, retryAfter: 150 } as const

// mulberry32: small, fast, and good enough to spread faults evenly.
const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6D2B79F5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/**
 * The fault that server `server` answers call `call` with when faults occur at `rate` (0–1); `undefined`: a
 * healthy answer. A pure function of its arguments.
 *
 * @since 0.2.0
 * @category faults
 */
export const draw = (seed: number, call: number, server: number, rate: number): Fault | undefined => {
  const random = mulberry32(Math.imul(call + 1, 0x9E3779B1) ^ Math.imul(server + 1, 0x85EBCA77) ^ seed)
  random() // the first output of nearby seeds is correlated: skip it
  return random() < rate ? kinds[Math.floor(random() * kinds.length)] : undefined
}

/**
 * Whether the fault ends the attempt with an error (every kind but a slow first byte, which is only slow).
 *
 * @since 0.2.0
 * @category faults
 */
export const failsAttempt = (fault: Fault | undefined): boolean => fault !== undefined && fault !== "slow-first-byte"

/**
 * Whether the fault, on a stream, strikes after the first chunk has been sent: the caller has it, so a router
 * cannot fall back. Every other failing fault strikes before the first chunk.
 *
 * @since 0.2.0
 * @category faults
 */
export const failsAfterFirstChunk = (fault: Fault | undefined, streaming: boolean): boolean =>
  streaming && fault === "cut-mid-stream"

/**
 * The reply of `fault` to `request`, given the healthy reply `ok`.
 *
 * @since 0.2.0
 * @category faults
 */
export const reply = (fault: Fault, request: RecordedRequest, ok: Reply): Reply => {
  const streaming = (request.json as { stream?: boolean } | undefined)?.stream === true
  switch (fault) {
    case "429-retry-after":
      return FakeOpenAi.errorReply(429, { message: "Rate limit reached", code: "rate_limit_exceeded" }, {
        "retry-after-ms": String(delays.retryAfter)
      })
    case "429":
      return FakeOpenAi.errorReply(429, { message: "Rate limit reached", code: "rate_limit_exceeded" })
    case "500":
    case "502":
    case "503":
    case "529":
      return FakeOpenAi.errorReply(Number(fault), { message: `upstream ${fault}` })
    case "reset":
      // Cut right after the status line and headers, before any byte of the body.
      return { ...ok, disconnectAfter: 0 }
    case "slow-first-byte":
      return { ...ok, headersDelay: delays.slowFirstByte }
    case "cut-mid-stream":
      // A stream is cut after its first events (the caller has a chunk); a JSON body half-way.
      return streaming ? { ...ok, disconnectAfter: 3 } : { ...ok, split: 16, disconnectAfter: 2 }
    case "malformed-json":
      return streaming
        ? FakeOpenAi.streamReply(["{\"id\":\"x\",\"choices\":[{\"delta\":"])
        : { status: 200, headers: { "content-type": "application/json" }, body: "{\"id\": oops" }
  }
}

const callPattern = /\(call (\d+)\)/

/**
 * A chat request that carries its call's index, for {@link callOf}.
 *
 * @since 0.2.0
 * @category constructors
 */
export const numbered = (call: number, text = "tell me three words"): ChatCompletionRequest => ({
  messages: [{ role: "user", content: `${text} (call ${call})` }]
})

/**
 * The call index a {@link numbered} request carries, or `undefined`.
 *
 * @since 0.2.0
 * @category faults
 */
export const callOf = (request: RecordedRequest): number | undefined => {
  const messages = (request.json as { messages?: ReadonlyArray<{ content?: unknown }> } | undefined)?.messages
  const content = messages?.[0]?.content
  const match = typeof content === "string" ? callPattern.exec(content) : null
  return match === null ? undefined : Number(match[1])
}

/**
 * @since 0.2.0
 * @category models
 */
export interface HandlerOptions {
  /** This server's index among the servers that share the draws. */
  readonly server: number
  /** The fault rate (0–1), read on every request, so that it can change between phases. */
  readonly rate: number | (() => number)
  readonly seed?: number | undefined
  /** The healthy reply. */
  readonly ok: (request: RecordedRequest) => Reply
  /** Told of every fault served (for counting). */
  readonly onFault?: ((fault: Fault, call: number) => void) | undefined
  /**
   * Told of every numbered request, with how many times this server has seen its call (1 the first time): how
   * many attempts of one call reached one server. A call's fault is drawn again on each of them, so a retried
   * call meets a fresh draw.
   */
  readonly onCall?: ((call: number, times: number) => void) | undefined
}

/**
 * A {@link Handler} that answers a {@link numbered} request with its drawn fault (a fresh draw for each attempt of
 * the same call at this server), and any other request healthily.
 *
 * @since 0.2.0
 * @category constructors
 */
export const handler = (options: HandlerOptions): Handler => {
  const seen = new Map<number, number>()
  const seed = options.seed ?? 0
  return (request) => {
    const ok = options.ok(request)
    const call = callOf(request)
    if (call === undefined) return ok
    const times = (seen.get(call) ?? 0) + 1
    seen.set(call, times)
    options.onCall?.(call, times)
    const rate = typeof options.rate === "number" ? options.rate : options.rate()
    // The first attempt draws by (call, server); a retry of the same call by (call, server, attempt).
    const fault = draw(seed + (times - 1) * 0x27D4EB2F, call, options.server, rate)
    if (fault === undefined) return ok
    options.onFault?.(fault, call)
    return reply(fault, request, ok)
  }
}
