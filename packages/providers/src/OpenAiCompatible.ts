/**
 * Any server that speaks OpenAI's Chat Completions and Embeddings protocol: vLLM, LM Studio,
 * llama.cpp, Groq, xAI, Together, a corporate gateway. `OpenAi` is this with OpenAI's defaults, and
 * the OpenAI dialects (DeepSeek, OpenRouter, Zhipu) are this with their differences.
 *
 * @since 0.1.0
 */
import type { ChatCompletion, ChatCompletionChunk, EmbeddingResponse, LlmError } from "@llm-api-router/core"
import {
  type Http,
  HttpTransport,
  Identity,
  InvalidRequestError,
  LlmProvider,
  type Retry,
  Secrets
} from "@llm-api-router/core"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Stream from "effect/Stream"
import * as CacheControl from "./internal/cacheControl.js"
import * as codec from "./internal/openai/codec.js"
import * as OpenAiStream from "./internal/openai/stream.js"
import { unwrap } from "./internal/stream.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The provider's name in errors, spans and `info`; default `"openai-compatible"`. */
  readonly name?: string | undefined
  /** The API's base URL including its version prefix, e.g. `http://localhost:8000/v1`. */
  readonly baseUrl: string
  /** Sent as `Authorization: Bearer …`; leave out for servers without keys. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  readonly defaultModel?: string | undefined
  /** Extra headers on every request. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** A bare duration bounds the whole call; an object sets each phase. */
  readonly timeout?: Duration.DurationInput | HttpTransport.Timeouts | undefined
  /** Caps on a response body and on one stream event (`HttpTransport.Limits`; default `HttpTransport.defaultLimits`). */
  readonly limits?: HttpTransport.Limits | undefined
  /** A `Schedule`, a `RetryConfig`, or `false`; default `Retry.defaultPolicy`. */
  readonly retry?: Retry.RetryOption | undefined
  /** What the server can do; all on by default. */
  readonly capabilities?: Partial<LlmProvider.Capabilities> | undefined
}

/**
 * The differences of an OpenAI dialect from the plain protocol. Every hook is optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface Dialect {
  /** Maps an error before OpenAI's table; `undefined` falls through to it. */
  readonly classifyError?: ((info: codec.ErrorInfo) => LlmError | undefined) | undefined
  /**
   * Whether Anthropic's `cache_control` markers stay in the body (OpenRouter passes them on to Anthropic and
   * Gemini); by default they are taken out, since OpenAI refuses them inside messages and tools.
   */
  readonly keepCacheControl?: boolean | undefined
  /** Adjusts the wire body of a chat request. */
  readonly chatBody?:
    | ((body: Record<string, unknown>, request: LlmProvider.ResolvedChatRequest) => Record<string, unknown>)
    | undefined
  /** Extra headers computed once, when the layer is built. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /**
   * Headers computed for each request, over every other header (a short-lived token such as Zhipu's
   * JWT). Leave out when the headers are fixed: `headers` costs nothing per request. Return the same object
   * for as long as its values hold: each new one has its credentials (see `Secrets.isSensitiveHeader`) added to
   * the provider's secrets.
   */
  readonly requestHeaders?: Effect.Effect<Readonly<Record<string, string>>> | undefined
  /**
   * Maps a wire `finish_reason` the plain table does not know: a finish reason, an error when the
   * reason means the answer failed, or `undefined` to use the plain table.
   */
  readonly finishReason?: codec.FinishHook | undefined
  /**
   * Reads an error body in the dialect's shape (a nested type, a status inside the body); used for
   * error responses, errors inside a 200 body and error events in a stream.
   */
  readonly readError?: codec.ErrorReader | undefined
  /** Adjusts the wire body of an embeddings request. */
  readonly embeddingBody?:
    | ((body: Record<string, unknown>, request: LlmProvider.ResolvedEmbeddingRequest) => Record<string, unknown>)
    | undefined
  /**
   * The endpoint's documented limit on embeddings inputs per call, by the request's model (default: OpenAI's,
   * 2,048): `LlmProvider.make` splits a larger input.
   */
  readonly embeddingInputsPerCall?: ((model: string) => number) | undefined
}

const allCapabilities: LlmProvider.Capabilities = {
  streaming: true,
  tools: true,
  embeddings: true,
  vision: true,
  jsonSchema: true
}

const isTimeouts = (u: Options["timeout"]): u is HttpTransport.Timeouts =>
  typeof u === "object" && u !== null && !Duration.isDuration(u) && !Array.isArray(u) &&
  ("firstByte" in u || "idle" in u || "total" in u || Object.keys(u).length === 0)

/**
 * Per-phase timeouts from the `timeout` option: a bare duration bounds the whole call (and, as no
 * phase can outlast the call, every phase).
 *
 * @since 0.1.0
 * @category utils
 */
export const timeouts = (timeout: Options["timeout"]): HttpTransport.Timeouts | undefined => {
  if (timeout === undefined) return undefined
  if (isTimeouts(timeout)) return timeout
  const total = Duration.decode(timeout)
  const cap = (d: Duration.DurationInput) => Duration.min(Duration.decode(d), total)
  return {
    total,
    firstByte: cap(HttpTransport.defaultTimeouts.firstByte),
    idle: cap(HttpTransport.defaultTimeouts.idle)
  }
}

const trimSlash = (url: string) => url.endsWith("/") ? url.slice(0, -1) : url

const checkBaseUrl = (name: string, baseUrl: string): string => {
  let parsed: URL
  try {
    parsed = new URL(baseUrl)
  } catch {
    throw new InvalidRequestError({
      provider: name,
      source: "client",
      param: "baseUrl",
      message: `${name}: baseUrl is not a URL: ${JSON.stringify(baseUrl)}`
    })
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new InvalidRequestError({
      provider: name,
      source: "client",
      param: "baseUrl",
      message: `${name}: baseUrl must be http or https: ${JSON.stringify(baseUrl)}`
    })
  }
  return trimSlash(baseUrl)
}

/**
 * Builds the service for an OpenAI dialect: the plain protocol when `dialect` is left out.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDialect = (
  options: Options,
  dialect: Dialect = {}
): Effect.Effect<LlmProvider.Service, InvalidRequestError, Http.HttpClient> =>
  Effect.gen(function*() {
    const name = options.name ?? "openai-compatible"
    const baseUrl = yield* Effect.try({
      try: () => checkBaseUrl(name, options.baseUrl),
      catch: (e) => e as InvalidRequestError
    })
    const dialectClassify = dialect.classifyError
    const classify = dialectClassify === undefined
      ? codec.classifyError
      : (info: codec.ErrorInfo) => dialectClassify(info) ?? codec.classifyError(info)
    // Built once: every request shares these.
    const baseHeaders: Record<string, string> = {
      ...dialect.headers,
      ...options.headers,
      ...(options.apiKey ? { authorization: `Bearer ${Redacted.value(options.apiKey)}` } : {})
    }
    const secrets = Secrets.make([options.apiKey], { headers: baseHeaders, urls: [baseUrl] })
    const transport = yield* HttpTransport.make({
      provider: name,
      timeouts: timeouts(options.timeout),
      limits: options.limits,
      secrets,
      mapError: (response, context) =>
        codec.errorFromResponse(classify, name, response, context.model, dialect.readError)
    })
    const jsonHeaders = { accept: "application/json", ...baseHeaders }
    const streamHeaders = { accept: "text/event-stream", ...baseHeaders }
    const chatUrl = `${baseUrl}/chat/completions`
    const embeddingsUrl = `${baseUrl}/embeddings`
    const plainBody = dialect.keepCacheControl === true
      ? codec.chatBody
      : (request: LlmProvider.ResolvedChatRequest, stream: boolean) =>
        codec.chatBody(CacheControl.strip(request), stream)
    const chatBody = dialect.chatBody
      ? (request: LlmProvider.ResolvedChatRequest, stream: boolean) =>
        dialect.chatBody!(plainBody(request, stream), request)
      : plainBody
    const embeddingBody = dialect.embeddingBody
      ? (request: LlmProvider.ResolvedEmbeddingRequest) => dialect.embeddingBody!(codec.embeddingBody(request), request)
      : codec.embeddingBody
    const streamHooks: OpenAiStream.StreamHooks = { finishReason: dialect.finishReason, readError: dialect.readError }
    const perRequest = registered(dialect.requestHeaders, secrets)
    // Without per-request headers the shared objects are used as they are: nothing is built per call.
    const withHeaders = <A, E>(
      headers: Readonly<Record<string, string>>,
      f: (headers: Readonly<Record<string, string>>) => Effect.Effect<A, E>
    ): Effect.Effect<A, E> =>
      perRequest === undefined ? f(headers) : Effect.flatMap(perRequest, (extra) => f({ ...headers, ...extra }))

    const chat = (request: LlmProvider.ResolvedChatRequest): Effect.Effect<ChatCompletion, LlmError> =>
      Effect.flatMap(
        withHeaders(jsonHeaders, (headers) =>
          transport.json(
            { method: "POST", url: chatUrl, headers, body: chatBody(request, false) },
            { model: request.model }
          )),
        (response) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            if (codec.embeddedError(response.json)) {
              return Effect.fail(codec.errorFromEmbedded(
                classify,
                name,
                request.model,
                response.json,
                JSON.stringify(response.json),
                response.requestId,
                response.headers,
                dialect.readError
              ))
            }
            return codec.completion(name, request.model, response.json, Math.floor(now / 1000), dialect.finishReason)
          })
      )

    const stream = (request: LlmProvider.ResolvedChatRequest): Stream.Stream<ChatCompletionChunk, LlmError> =>
      unwrap(Effect.map(Clock.currentTimeMillis, (now) => {
        const body = chatBody(request, true)
        const decoder = OpenAiStream.decoder(classify, name, request.model, Math.floor(now / 1000), streamHooks)
        const send = (headers: Readonly<Record<string, string>>) =>
          transport.decodeStream({ method: "POST", url: chatUrl, headers, body }, { model: request.model }, decoder)
        return perRequest === undefined
          ? send(streamHeaders)
          : unwrap(Effect.map(perRequest, (extra) => send({ ...streamHeaders, ...extra })))
      }))

    const embed = (request: LlmProvider.ResolvedEmbeddingRequest): Effect.Effect<EmbeddingResponse, LlmError> =>
      Effect.flatMap(
        withHeaders(jsonHeaders, (headers) =>
          transport.json(
            { method: "POST", url: embeddingsUrl, headers, body: embeddingBody(request) },
            { model: request.model }
          )),
        (response) => codec.embeddings(name, request.model, response.json)
      )

    return LlmProvider.make({
      info: {
        name,
        baseUrl,
        identity: Identity.make({ credential: options.apiKey, headers: { ...dialect.headers, ...options.headers } }),
        defaultModel: options.defaultModel,
        capabilities: { ...allCapabilities, ...options.capabilities }
      },
      retry: options.retry,
      secrets,
      chat,
      stream,
      embed,
      embeddingInputsPerCall: dialect.embeddingInputsPerCall ?? openAiInputsPerCall
    })
  })

// OpenAI's embeddings endpoint takes at most 2,048 inputs per request.
const openAiInputsPerCall = () => 2048

/** Per-request headers whose credentials join `secrets` each time a new set of headers comes (a token minted). */
const registered = (
  headers: Effect.Effect<Readonly<Record<string, string>>> | undefined,
  secrets: Secrets.Secrets
): Effect.Effect<Readonly<Record<string, string>>> | undefined => {
  if (headers === undefined) return undefined
  let last: Readonly<Record<string, string>> | undefined = undefined
  return Effect.map(headers, (extra) => {
    if (extra !== last) {
      last = extra
      for (const name in extra) {
        if (Secrets.isSensitiveHeader(name)) {
          for (const secret of Secrets.fromHeaderValue(extra[name]!)) secrets.add(secret)
        }
      }
    }
    return extra
  })
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<LlmProvider.Service, InvalidRequestError, Http.HttpClient> => makeDialect(options)

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<LlmProvider.LlmProvider, InvalidRequestError, Http.HttpClient> =>
  Layer.effect(LlmProvider.LlmProvider, make(options))

/**
 * Reads `OPENAI_COMPATIBLE_BASE_URL`, `OPENAI_COMPATIBLE_API_KEY` (optional) and
 * `OPENAI_COMPATIBLE_MODEL` (optional); `options` take precedence.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Partial<Options> = {}
): Layer.Layer<LlmProvider.LlmProvider, ConfigError.ConfigError | InvalidRequestError, Http.HttpClient> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const baseUrl = options.baseUrl ?? (yield* Config.string("OPENAI_COMPATIBLE_BASE_URL"))
    const apiKey = options.apiKey ??
      Option.getOrUndefined(yield* Config.option(Config.redacted("OPENAI_COMPATIBLE_API_KEY")))
    const defaultModel = options.defaultModel ??
      Option.getOrUndefined(yield* Config.option(Config.string("OPENAI_COMPATIBLE_MODEL")))
    return layer({ ...options, baseUrl, apiKey, defaultModel })
  }))
