/**
 * Ollama over its native API: `/api/chat` (NDJSON streaming, tools, thinking, images, JSON and
 * JSON Schema output) and `/api/embed`. No API key is needed; one given (a proxied or cloud
 * deployment) is sent as `Authorization: Bearer …`.
 *
 * Images must be data URLs (`data:image/png;base64,…`): Ollama takes raw base64 only, and an
 * `http(s)` image URL fails with `UnsupportedFeatureError` before any I/O (the library does not fetch
 * it for you).
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
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as codec from "./internal/ollama/codec.js"
import * as OllamaStream from "./internal/ollama/stream.js"
import { unwrap } from "./internal/stream.js"
import * as OpenAiCompatible from "./OpenAiCompatible.js"

/**
 * A local Ollama server. Ollama's API has no version prefix.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBaseUrl = "http://localhost:11434"

/**
 * Ollama's `think`: on, off, or an effort level (gpt-oss models).
 *
 * @since 0.1.0
 * @category models
 */
export type Think = codec.Think

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Replaces `http://localhost:11434` (the server's root: the provider appends `/api/chat`, `/api/embed`). */
  readonly baseUrl?: string | undefined
  /** Only for deployments behind an authenticating proxy (or ollama.com); sent as `Authorization: Bearer …`. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  readonly defaultModel?: string | undefined
  /** Extra headers on every request. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** A bare duration bounds the whole call; an object sets each phase. */
  readonly timeout?: OpenAiCompatible.Options["timeout"]
  /** Caps on a response body and on one stream event (`HttpTransport.Limits`; default `HttpTransport.defaultLimits`). */
  readonly limits?: OpenAiCompatible.Options["limits"]
  /** A `Schedule`, a `RetryConfig`, or `false`; default `Retry.defaultPolicy`. */
  readonly retry?: Retry.RetryOption | undefined
  /**
   * How long the model stays loaded after a call (Ollama's `keep_alive`): a Go duration string (`"10m"`,
   * `"1h30m"`) or a number of seconds; `0` unloads at once, a negative value keeps it loaded. A request's
   * own `keep_alive` field wins.
   */
  readonly keepAlive?: string | number | undefined
  /**
   * Ollama's `think` for every chat. A request's own `think` field wins, then its `reasoning_effort`
   * (`"low" | "medium" | "high"`, or `"none"` for off).
   */
  readonly think?: Think | undefined
  /** What the server can do; all on by default. */
  readonly capabilities?: Partial<LlmProvider.Capabilities> | undefined
}

const allCapabilities: LlmProvider.Capabilities = {
  streaming: true,
  tools: true,
  embeddings: true,
  vision: true,
  jsonSchema: true
}

const invalidBaseUrl = (baseUrl: string, why: string) =>
  new InvalidRequestError({
    provider: "ollama",
    source: "client",
    param: "baseUrl",
    message: `ollama: baseUrl ${why}: ${JSON.stringify(baseUrl)}`
  })

const checkBaseUrl = (baseUrl: string): Either.Either<string, InvalidRequestError> => {
  let parsed: URL
  try {
    parsed = new URL(baseUrl)
  } catch {
    return Either.left(invalidBaseUrl(baseUrl, "is not a URL"))
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return Either.left(invalidBaseUrl(baseUrl, "must be http or https"))
  }
  return Either.right(baseUrl.endsWith("/") ? baseUrl.slice(0, -1) : baseUrl)
}

/**
 * Reads `OLLAMA_HOST` the way the `ollama` CLI does: `host`, `host:port`, or a full URL; without a
 * scheme it is `http` on port 11434, with one the scheme's default port.
 *
 * @example
 * ```ts
 * Ollama.hostUrl("0.0.0.0:11434")       // "http://0.0.0.0:11434"
 * Ollama.hostUrl("gpu-box")             // "http://gpu-box:11434"
 * Ollama.hostUrl("https://ollama.corp") // "https://ollama.corp"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const hostUrl = (host: string): string => {
  const trimmed = host.trim()
  if (trimmed.includes("://")) return trimmed.endsWith("/") ? trimmed.slice(0, -1) : trimmed
  const slash = trimmed.indexOf("/")
  const hostPort = slash < 0 ? trimmed : trimmed.slice(0, slash)
  const path = slash < 0 ? "" : trimmed.slice(slash).replace(/\/$/, "")
  // A port is a trailing `:digits` outside an IPv6 literal's brackets.
  const hasPort = /:\d+$/.test(hostPort) && (!hostPort.startsWith("[") || hostPort.includes("]:"))
  const bare = hostPort === "" ? "127.0.0.1" : hostPort
  return `http://${hasPort ? bare : `${bare}:11434`}${path}`
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<LlmProvider.Service, InvalidRequestError, Http.HttpClient> =>
  Effect.gen(function*() {
    const name = "ollama"
    const baseUrl = yield* checkBaseUrl(options.baseUrl ?? defaultBaseUrl)
    const secrets = Secrets.make([options.apiKey], { headers: options.headers, urls: [baseUrl] })
    const transport = yield* HttpTransport.make({
      provider: name,
      timeouts: OpenAiCompatible.timeouts(options.timeout),
      limits: options.limits,
      secrets,
      mapError: (response, context) => codec.errorFromResponse(name, response, context.model)
    })
    const knobs: codec.Knobs = { keepAlive: options.keepAlive, think: options.think }

    // Built once: every request shares these.
    const baseHeaders: Record<string, string> = {
      ...options.headers,
      ...(options.apiKey ? { authorization: `Bearer ${Redacted.value(options.apiKey)}` } : {})
    }
    const jsonHeaders = { accept: "application/json", ...baseHeaders }
    const streamHeaders = { accept: "application/x-ndjson", ...baseHeaders }
    const chatUrl = `${baseUrl}/api/chat`
    const embedUrl = `${baseUrl}/api/embed`

    const chat = (request: LlmProvider.ResolvedChatRequest): Effect.Effect<ChatCompletion, LlmError> =>
      Effect.suspend(() => {
        const body = codec.chatBody(name, request, false, knobs)
        if (Either.isLeft(body)) return Effect.fail(body.left)
        return Effect.flatMap(
          transport.json({ method: "POST", url: chatUrl, headers: jsonHeaders, body: body.right }, {
            model: request.model
          }),
          (response) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) =>
              codec.isError(response.json)
                ? Effect.fail(
                  codec.errorFromEmbedded(name, request.model, response.json, JSON.stringify(response.json))
                )
                : codec.completion(name, request.model, response.json, Math.floor(now / 1000)))
        )
      })

    const stream = (request: LlmProvider.ResolvedChatRequest): Stream.Stream<ChatCompletionChunk, LlmError> =>
      unwrap(Effect.map(Clock.currentTimeMillis, (now) => {
        const body = codec.chatBody(name, request, true, knobs)
        if (Either.isLeft(body)) return Stream.fail(body.left)
        return transport.decodeStream(
          { method: "POST", url: chatUrl, headers: streamHeaders, body: body.right },
          { model: request.model },
          OllamaStream.decoder(name, request.model, Math.floor(now / 1000))
        )
      }))

    const embed = (request: LlmProvider.ResolvedEmbeddingRequest): Effect.Effect<EmbeddingResponse, LlmError> =>
      Effect.flatMap(
        transport.json(
          { method: "POST", url: embedUrl, headers: jsonHeaders, body: codec.embedBody(request, knobs) },
          { model: request.model }
        ),
        (response) =>
          codec.isError(response.json)
            ? Effect.fail(codec.errorFromEmbedded(name, request.model, response.json, JSON.stringify(response.json)))
            : codec.embeddings(name, request.model, response.json)
      )

    return LlmProvider.make({
      info: {
        name,
        baseUrl,
        identity: Identity.make({ credential: options.apiKey, headers: options.headers }),
        defaultModel: options.defaultModel,
        capabilities: { ...allCapabilities, ...options.capabilities }
      },
      retry: options.retry,
      secrets,
      chat,
      stream,
      embed
    })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<LlmProvider.LlmProvider, InvalidRequestError, Http.HttpClient> =>
  Layer.effect(LlmProvider.LlmProvider, make(options))

/**
 * Reads, when set, `OLLAMA_BASE_URL` (a URL) or else `OLLAMA_HOST` (as the `ollama` CLI reads it, see
 * {@link hostUrl}), `OLLAMA_API_KEY` and `OLLAMA_MODEL`; `options` take precedence.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Options = {}
): Layer.Layer<LlmProvider.LlmProvider, ConfigError.ConfigError | InvalidRequestError, Http.HttpClient> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const optional = (name: string) => Effect.map(Config.option(Config.string(name)), Option.getOrUndefined)
    const nonEmpty = (s: string | undefined) => s === undefined || s.trim() === "" ? undefined : s.trim()
    const baseUrl = options.baseUrl ?? nonEmpty(yield* optional("OLLAMA_BASE_URL")) ??
      Option.getOrUndefined(Option.map(Option.fromNullable(nonEmpty(yield* optional("OLLAMA_HOST"))), hostUrl))
    const apiKey = options.apiKey ??
      Option.getOrUndefined(yield* Config.option(Config.redacted("OLLAMA_API_KEY")))
    const defaultModel = options.defaultModel ?? (yield* optional("OLLAMA_MODEL"))
    return layer({ ...options, baseUrl, apiKey, defaultModel })
  }))
