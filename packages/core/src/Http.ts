/**
 * The HTTP connection pool: one undici `Agent` per layer, shared by every provider built on top of it, and
 * destroyed (sockets closed, in-flight requests aborted) when the layer is released.
 *
 * Providers require `Http.HttpClient`, which is `@effect/platform`'s `HttpClient` tag; any layer providing that tag
 * works (`NodeHttpClient.layerUndici`, a test fake), and this one is the tuned default.
 *
 * @since 0.1.0
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as PlatformHttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Undici from "undici"

/**
 * The HTTP client service that providers require (the `@effect/platform` `HttpClient`, re-exported so that
 * providers never import `@effect/platform` themselves).
 *
 * @since 0.1.0
 * @category models
 */
export type HttpClient = PlatformHttpClient.HttpClient

/**
 * The tag of the HTTP client service.
 *
 * @since 0.1.0
 * @category tags
 */
export const HttpClient: Context.Tag<HttpClient, HttpClient> = PlatformHttpClient.HttpClient

/**
 * The pool behind `Http.layer`: its undici `Agent`, and the `HttpClient` the layer provides over it. When the
 * `HttpClient` in context is this very client, `HttpTransport.make` sends through the agent directly, without the
 * per-request objects of the `HttpClient` interface; a client derived from it goes through its interface, so that
 * what it adds to a request runs.
 *
 * @since 0.1.0
 * @category tags
 */
export class Pool extends Context.Tag("@llm-api-router/core/Http/Pool")<Pool, {
  readonly agent: Undici.Dispatcher
  readonly client: HttpClient
}>() {}

/**
 * Options of the connection pool.
 *
 * - `connections`: the most sockets open at once to one origin (default 64). Requests beyond it queue.
 * - `keepAliveTimeout`: how long an idle socket stays open for reuse when the server does not say (default 10
 *   seconds; a server's `keep-alive: timeout=…` hint wins).
 * - `pipelining`: requests sent on one socket before the previous response ended (default 1, no pipelining: LLM
 *   calls are long, and one slow response would hold up the ones behind it).
 * - `connectTimeout`: TCP connect plus TLS handshake (default 10 seconds). Exceeding it fails the call with
 *   `TimeoutError { phase: "connect" }`, on time: undici's own connect timer runs on a coarse clock that fires up to
 *   a second late, so the pool keeps a timer of its own.
 *
 * @since 0.1.0
 * @category models
 */
export interface PoolOptions {
  readonly connections?: number | undefined
  readonly keepAliveTimeout?: Duration.DurationInput | undefined
  readonly pipelining?: number | undefined
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/**
 * The pool settings used when an option is absent.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPoolOptions: {
  readonly connections: number
  readonly keepAliveTimeout: Duration.Duration
  readonly pipelining: number
  readonly connectTimeout: Duration.Duration
} = {
  connections: 64,
  keepAliveTimeout: Duration.seconds(10),
  pipelining: 1,
  connectTimeout: Duration.seconds(10)
}

// Node's timers fire at once (after 1 ms) for more than 2^31 - 1 ms: a longer duration counts as forever.
const maxTimerMillis = 2 ** 31 - 1

// undici takes milliseconds and reads a connect timeout of 0 as "none"
const connectMillis = (input: Duration.DurationInput): number => {
  const millis = Duration.toMillis(Duration.decode(input))
  return millis <= maxTimerMillis ? Math.max(1, Math.round(millis)) : 0
}

// undici has no "forever" for keep-alive; its own ceiling for a server's keep-alive hint (10 minutes) stands in
const keepAliveMillis = (input: Duration.DurationInput): number => {
  const millis = Duration.toMillis(Duration.decode(input))
  return millis <= maxTimerMillis ? Math.max(1, Math.round(millis)) : 600_000
}

/**
 * undici's connector without its connect timeout, under a plain timer. undici times connecting with its "fast
 * timers", which tick every 499 ms and so fire between one and two ticks after they are due (a 500 ms timeout fires
 * after about 1 s); this one fires when due, failing the connection with the error undici would have used.
 */
const makeConnector = (timeoutMillis: number): Undici.buildConnector.connector => {
  const connect = Undici.buildConnector({ timeout: 0 })
  return (options, callback) => {
    let timer: ReturnType<typeof setTimeout> | undefined = undefined
    let settled = false
    // undici's connector returns the socket it opens (its type says void)
    const socket = (connect as unknown as (
      options: Undici.buildConnector.Options,
      callback: Undici.buildConnector.Callback
    ) => { destroy: (error: Error) => void } | undefined)(options, (...args) => {
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      callback(...args)
    })
    if (socket === undefined || settled) return
    timer = setTimeout(() => {
      timer = undefined
      socket.destroy(
        new Undici.errors.ConnectTimeoutError(
          `Connect Timeout Error (attempted address: ${options.hostname}:${options.port}, timeout: ${timeoutMillis}ms)`
        )
      )
    }, timeoutMillis)
  }
}

const makeAgent = (options: PoolOptions): Undici.Agent => {
  const connectTimeout = connectMillis(options.connectTimeout ?? defaultPoolOptions.connectTimeout)
  return new Undici.Agent({
    connections: options.connections ?? defaultPoolOptions.connections,
    pipelining: options.pipelining ?? defaultPoolOptions.pipelining,
    keepAliveTimeout: keepAliveMillis(options.keepAliveTimeout ?? defaultPoolOptions.keepAliveTimeout),
    ...(connectTimeout === 0 ? { connectTimeout: 0 } : { connect: makeConnector(connectTimeout) })
  })
}

/**
 * An `HttpClient` over one undici `Agent` built from `options`, destroyed when the layer is released.
 *
 * Each call builds a new pool: build the layer once and share it (as a value) between the providers that should
 * share connections.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: PoolOptions = {}): Layer.Layer<HttpClient | Pool> =>
  Layer.scopedContext(
    Effect.flatMap(
      Effect.acquireRelease(
        Effect.sync(() => makeAgent(options)),
        (agent) => Effect.promise(() => agent.destroy())
      ),
      // An ordinary `HttpClient` (undici's `fetch` over the agent) for anything written against that interface, and
      // the agent beside it, which our transport sends through directly (see `Pool`). Redirects are not followed, as
      // with undici's `request`; `HttpClient.followRedirects` adds that.
      (agent) =>
        PlatformHttpClient.HttpClient.pipe(
          Effect.provide(FetchHttpClient.layer),
          Effect.provideService(FetchHttpClient.Fetch, fetchThrough(agent)),
          Effect.provideService(FetchHttpClient.RequestInit, { redirect: "manual" }),
          Effect.map((client) => Context.make(HttpClient, client).pipe(Context.add(Pool, { agent, client })))
        )
    )
  )

// undici's own `fetch` (not Node's bundled copy, which may be another undici version) sending through `agent`
const fetchThrough = (agent: Undici.Agent): typeof globalThis.fetch => (input, init) =>
  Undici.fetch(
    input as Parameters<typeof Undici.fetch>[0],
    { ...init, dispatcher: agent } as Parameters<typeof Undici.fetch>[1]
  ) as unknown as Promise<Response>

/**
 * `layer()` with the default settings, built once: layers are memoised by reference, so every provider given this
 * value within one `Effect.provide` shares a single pool.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault: Layer.Layer<HttpClient | Pool> = layer()
