/**
 * Google Gemini through the Generative Language API (AI Studio keys): `generateContent`,
 * `streamGenerateContent?alt=sse` and `batchEmbedContents`, translated to and from the OpenAI shapes.
 *
 * What the translation does that a caller may want to know:
 * - system and developer messages become `systemInstruction`; assistant turns become role `model`; tool results
 *   become `functionResponse` parts (`{"output": <text>}`), those answering one turn gathered in one user content,
 *   each named after the assistant tool call it answers;
 * - Gemini's function calls carry no ids: ids are generated (`call_…`), or Gemini's own `id` kept when it sends one;
 * - a call's `thoughtSignature`, which Gemini 3 requires back when the conversation continues, is carried inside
 *   the tool call id (`<id>__gem_s<signature as base64url>`), the one field every caller passes back unchanged.
 *   Replay the assistant message with the ids it came with and the signature goes back on its call. Google's
 *   OpenAI-compatibility field `tool_calls[].extra_content.google.thought_signature` is read too. A replayed call
 *   turn without any signature gets `thoughtSignatureFallback` on its first call;
 * - thought summaries (`thought: true` parts, sent with `includeThoughts`) become `reasoning_content`;
 * - function parameters and `response_format` schemas are lowered to the OpenAPI subset Gemini accepts (or, with
 *   `schemaMode: "json-schema"`, sent as JSON Schema in `parametersJsonSchema` / `responseJsonSchema`);
 * - the key goes in the `x-goog-api-key` header, never in the URL;
 * - embeddings go out in batches of at most 100 inputs, a few at a time, and come back in input order.
 *
 * Gemini's own knobs pass through when added to a chat request: `safetySettings`, `cachedContent`,
 * `thinkingConfig`, and `generationConfig` (merged over the mapped one); `taskType` and `title` on an embeddings
 * request.
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
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Stream from "effect/Stream"
import * as codec from "./internal/gemini/codec.js"
import * as GeminiStream from "./internal/gemini/stream.js"
import { unwrap } from "./internal/stream.js"
import { timeouts } from "./OpenAiCompatible.js"

/**
 * The Generative Language API, version prefix included.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBaseUrl = "https://generativelanguage.googleapis.com/v1beta"

/**
 * The placeholder signature Google documents for replaying function calls whose signature is unknown.
 *
 * @since 0.1.0
 * @category constants
 */
export const skipThoughtSignature = "skip_thought_signature_validator"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Sent as `x-goog-api-key`. */
  readonly apiKey: Redacted.Redacted<string>
  /** Replaces `https://generativelanguage.googleapis.com/v1beta`. */
  readonly baseUrl?: string | undefined
  readonly defaultModel?: string | undefined
  /** Extra headers on every request. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** A bare duration bounds the whole call; an object sets each phase. */
  readonly timeout?: Duration.DurationInput | HttpTransport.Timeouts | undefined
  /** Caps on a response body and on one stream event (`HttpTransport.Limits`; default `HttpTransport.defaultLimits`). */
  readonly limits?: HttpTransport.Limits | undefined
  /** A `Schedule`, a `RetryConfig`, or `false`; default `Retry.defaultPolicy`. */
  readonly retry?: Retry.RetryOption | undefined
  /**
   * How JSON Schemas are sent: `"openapi"` (default) lowers them to the subset every Gemini model accepts, in
   * `parameters` / `responseSchema`; `"json-schema"` sends them whole in `parametersJsonSchema` /
   * `responseJsonSchema` (newer models only).
   */
  readonly schemaMode?: "openapi" | "json-schema" | undefined
  /**
   * Ask for thought summaries (`thinkingConfig.includeThoughts`) on every request, to receive them as
   * `reasoning_content`. Off by default: models without thinking reject the field. `reasoning_effort` on a request
   * turns it on for that request.
   */
  readonly includeThoughts?: boolean | undefined
  /**
   * The signature put on a replayed function-call turn that has none (default `skipThoughtSignature`); `false`
   * sends none.
   */
  readonly thoughtSignatureFallback?: string | false | undefined
  /** How many `batchEmbedContents` calls run at once for a large input (default 4). */
  readonly embeddingConcurrency?: number | undefined
  /** What the models can do; all on by default. */
  readonly capabilities?: Partial<LlmProvider.Capabilities> | undefined
}

const name = "gemini"

const allCapabilities: LlmProvider.Capabilities = {
  streaming: true,
  tools: true,
  embeddings: true,
  vision: true,
  jsonSchema: true
}

const checkBaseUrl = (baseUrl: string): Either.Either<string, InvalidRequestError> => {
  let parsed: URL | undefined
  try {
    parsed = new URL(baseUrl)
  } catch {
    parsed = undefined
  }
  if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    return Either.left(
      new InvalidRequestError({
        provider: name,
        source: "client",
        param: "baseUrl",
        message: `${name}: baseUrl is not an http or https URL: ${JSON.stringify(baseUrl)}`
      })
    )
  }
  return Either.right(baseUrl.endsWith("/") ? baseUrl.slice(0, -1) : baseUrl)
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<LlmProvider.Service, InvalidRequestError, Http.HttpClient> =>
  Effect.gen(function*() {
    const baseUrl = yield* checkBaseUrl(options.baseUrl ?? defaultBaseUrl)
    const classify = codec.classifyError
    const secrets = Secrets.make([options.apiKey], { headers: options.headers, urls: [baseUrl] })
    const transport = yield* HttpTransport.make({
      provider: name,
      timeouts: timeouts(options.timeout),
      limits: options.limits,
      secrets,
      mapError: (response, context) =>
        classify(
          codec.errorInfo(
            name,
            context.model,
            response.status,
            response.json,
            response.body,
            response.requestId,
            response.headers
          )
        )
    })

    // Built once: every request shares these.
    const baseHeaders: Record<string, string> = {
      ...options.headers,
      "x-goog-api-key": Redacted.value(options.apiKey)
    }
    const jsonHeaders = { accept: "application/json", ...baseHeaders }
    const streamHeaders = { accept: "text/event-stream", ...baseHeaders }
    const fallback = options.thoughtSignatureFallback
    const requestOptions: codec.RequestOptions = {
      schemaMode: options.schemaMode ?? "openapi",
      includeThoughts: options.includeThoughts === true,
      signatureFallback: fallback === false ? undefined : fallback ?? skipThoughtSignature
    }
    const concurrency = Math.max(1, Math.floor(options.embeddingConcurrency ?? 4))
    const url = (model: string, method: string) => `${baseUrl}/models/${codec.modelPath(model)}:${method}`

    const chat = (request: LlmProvider.ResolvedChatRequest): Effect.Effect<ChatCompletion, LlmError> =>
      Effect.gen(function*() {
        const body = yield* codec.chatBody(name, request, requestOptions)
        const response = yield* transport.json(
          { method: "POST", url: url(request.model, "generateContent"), headers: jsonHeaders, body },
          { model: request.model }
        )
        if (codec.isErrorEnvelope(response.json)) {
          return yield* Effect.fail(classify(
            codec.errorInfo(
              name,
              request.model,
              undefined,
              response.json,
              JSON.stringify(response.json),
              response.requestId,
              response.headers
            )
          ))
        }
        const now = yield* Clock.currentTimeMillis
        return yield* codec.completion(name, request.model, response.json, Math.floor(now / 1000))
      })

    const stream = (request: LlmProvider.ResolvedChatRequest): Stream.Stream<ChatCompletionChunk, LlmError> =>
      unwrap(Effect.gen(function*() {
        const body = yield* codec.chatBody(name, request, requestOptions)
        const now = yield* Clock.currentTimeMillis
        return transport.decodeStream(
          {
            method: "POST",
            url: `${url(request.model, "streamGenerateContent")}?alt=sse`,
            headers: streamHeaders,
            body
          },
          { model: request.model },
          GeminiStream.decoder(classify, name, request.model, Math.floor(now / 1000))
        )
      }))

    const embed = (request: LlmProvider.ResolvedEmbeddingRequest): Effect.Effect<EmbeddingResponse, LlmError> =>
      Effect.suspend(() => {
        // One batch of at most MAX_BATCH inputs: `LlmProvider.make` splits larger ones.
        const inputs = typeof request.input === "string" ? [request.input] : request.input
        const target = url(request.model, "batchEmbedContents")
        return Effect.flatMap(
          transport.json(
            { method: "POST", url: target, headers: jsonHeaders, body: codec.embedBody(request, inputs) },
            { model: request.model }
          ),
          (response) => codec.embedVectors(name, request.model, response.json, inputs.length)
        ).pipe(Effect.map((vectors): EmbeddingResponse => {
          const data: Array<EmbeddingResponse["data"][number]> = []
          for (const embedding of vectors) data.push({ object: "embedding", index: data.length, embedding })
          // the Generative Language API reports no token counts for embeddings
          return {
            object: "list",
            data,
            model: request.model,
            usage: { prompt_tokens: 0, total_tokens: 0 },
            provider: name
          }
        }))
      })

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
      embed,
      embeddingInputsPerCall: () => codec.MAX_BATCH,
      embeddingConcurrency: concurrency
    })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<LlmProvider.LlmProvider, InvalidRequestError, Http.HttpClient> =>
  Layer.effect(LlmProvider.LlmProvider, make(options))

/**
 * Reads `GEMINI_API_KEY` (or, when unset, `GOOGLE_API_KEY`), and when set `GEMINI_BASE_URL` and `GEMINI_MODEL`;
 * `options` take precedence.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Partial<Options> = {}
): Layer.Layer<LlmProvider.LlmProvider, ConfigError.ConfigError | InvalidRequestError, Http.HttpClient> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const optional = (key: string) => Effect.map(Config.option(Config.string(key)), Option.getOrUndefined)
    const apiKey = options.apiKey ??
      (yield* Config.redacted("GEMINI_API_KEY").pipe(Config.orElse(() => Config.redacted("GOOGLE_API_KEY"))))
    return layer({
      ...options,
      apiKey,
      baseUrl: options.baseUrl ?? (yield* optional("GEMINI_BASE_URL")),
      defaultModel: options.defaultModel ?? (yield* optional("GEMINI_MODEL"))
    })
  }))
