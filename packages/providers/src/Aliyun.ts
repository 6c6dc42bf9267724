/**
 * Alibaba Cloud DashScope (Model Studio, Qwen) over its native protocol: text and multimodal generation (with
 * streaming and tool calls) and text embeddings.
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
import * as Stream from "effect/Stream"
import * as codec from "./internal/aliyun/codec.js"
import * as AliyunStream from "./internal/aliyun/stream.js"
import { unwrap } from "./internal/stream.js"
import * as OpenAiCompatible from "./OpenAiCompatible.js"

/**
 * Where the account lives: keys, models and endpoints do not cross regions. `"cn"` is mainland China
 * (Beijing), `"intl"` the international site (Singapore).
 *
 * @since 0.1.0
 * @category models
 */
export type Region = "cn" | "intl"

/**
 * The base URL of each region, version prefix included.
 *
 * @since 0.1.0
 * @category constants
 */
export const baseUrls: { readonly [R in Region]: string } = {
  cn: "https://dashscope.aliyuncs.com/api/v1",
  intl: "https://dashscope-intl.aliyuncs.com/api/v1"
}

/**
 * The mainland base URL, used when neither `region` nor `baseUrl` is given.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBaseUrl: string = baseUrls.cn

/**
 * The chat model used when neither the request nor the options name one.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultModel = "qwen-plus"

/**
 * The embedding model used when an embeddings request names no model.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultEmbeddingModel = "text-embedding-v4"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Sent as `Authorization: Bearer …`. */
  readonly apiKey: Redacted.Redacted<string>
  /** Picks the base URL (default `"cn"`); `baseUrl` overrides it. */
  readonly region?: Region | undefined
  /** Replaces the region's base URL (a proxy, a workspace host); include the `/api/v1` prefix. */
  readonly baseUrl?: string | undefined
  /** Default `"qwen-plus"`. */
  readonly defaultModel?: string | undefined
  /** For embeddings requests without a model; default `"text-embedding-v4"`. */
  readonly defaultEmbeddingModel?: string | undefined
  /** Sent as `X-DashScope-WorkSpace`, to bill a workspace other than the default one. */
  readonly workspace?: string | undefined
  /**
   * The most texts per embeddings call; longer inputs are split into batches and joined in order. Default: 25 for
   * `text-embedding-v1`/`v2`, 10 for the others.
   */
  readonly embeddingBatchSize?: number | undefined
  /** Extra headers on every request. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** A bare duration bounds the whole call; an object sets each phase. */
  readonly timeout?: Duration.DurationInput | HttpTransport.Timeouts | undefined
  /** Caps on a response body and on one stream event (`HttpTransport.Limits`; default `HttpTransport.defaultLimits`). */
  readonly limits?: HttpTransport.Limits | undefined
  /** A `Schedule`, a `RetryConfig`, or `false`; default `Retry.defaultPolicy`. */
  readonly retry?: Retry.RetryOption | undefined
}

const NAME = "aliyun"

const invalidOption = (param: string, message: string) =>
  new InvalidRequestError({ provider: NAME, source: "client", param, message: `${NAME}: ${param}: ${message}` })

const resolveBaseUrl = (options: Options): Either.Either<string, InvalidRequestError> => {
  if (options.baseUrl === undefined) {
    const region = options.region ?? "cn"
    const url = Object.hasOwn(baseUrls, region) ? baseUrls[region] : undefined
    return url === undefined
      ? Either.left(invalidOption("region", `expected "cn" or "intl", got ${JSON.stringify(region)}`))
      : Either.right(url)
  }
  let parsed: URL
  try {
    parsed = new URL(options.baseUrl)
  } catch {
    return Either.left(invalidOption("baseUrl", `not a URL: ${JSON.stringify(options.baseUrl)}`))
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return Either.left(invalidOption("baseUrl", `must be http or https: ${JSON.stringify(options.baseUrl)}`))
  }
  return Either.right(options.baseUrl.endsWith("/") ? options.baseUrl.slice(0, -1) : options.baseUrl)
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<LlmProvider.Service, InvalidRequestError, Http.HttpClient> =>
  Effect.gen(function*() {
    const baseUrl = yield* resolveBaseUrl(options)
    const batchSize = options.embeddingBatchSize
    if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) {
      return yield* Effect.fail(invalidOption("embeddingBatchSize", `expected a positive integer, got ${batchSize}`))
    }
    const chatModel = options.defaultModel ?? defaultModel
    const embeddingModel = options.defaultEmbeddingModel ?? defaultEmbeddingModel
    const classify = codec.classifyError
    const secrets = Secrets.make([options.apiKey], { headers: options.headers, urls: [baseUrl] })
    const transport = yield* HttpTransport.make({
      provider: NAME,
      timeouts: OpenAiCompatible.timeouts(options.timeout),
      limits: options.limits,
      secrets,
      mapError: (response, context) => codec.errorFromResponse(classify, NAME, response, context.model)
    })

    // Built once: every request shares these.
    const baseHeaders: Record<string, string> = {
      ...options.headers,
      ...(options.workspace !== undefined ? { "x-dashscope-workspace": options.workspace } : {}),
      authorization: `Bearer ${Redacted.value(options.apiKey)}`
    }
    const jsonHeaders = { accept: "application/json", ...baseHeaders }
    const streamHeaders = { accept: "text/event-stream", "x-dashscope-sse": "enable", ...baseHeaders }
    const textUrl = `${baseUrl}${codec.textGenerationPath}`
    const multimodalUrl = `${baseUrl}${codec.multimodalGenerationPath}`
    const embeddingUrl = `${baseUrl}${codec.textEmbeddingPath}`

    const chat = (request: LlmProvider.ResolvedChatRequest): Effect.Effect<ChatCompletion, LlmError> =>
      Effect.flatMap(codec.chatBody(NAME, request, false), ({ body, multimodal }) =>
        Effect.flatMap(
          transport.json(
            { method: "POST", url: multimodal ? multimodalUrl : textUrl, headers: jsonHeaders, body },
            { model: request.model }
          ),
          (response) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) =>
              codec.isErrorBody(response.json)
                ? Effect.fail(
                  codec.errorFromEmbedded(classify, NAME, request.model, response.json, JSON.stringify(response.json))
                )
                : codec.completion(NAME, request.model, response.json, Math.floor(now / 1000)))
        ))

    const stream = (request: LlmProvider.ResolvedChatRequest): Stream.Stream<ChatCompletionChunk, LlmError> =>
      unwrap(Effect.map(Clock.currentTimeMillis, (now) => {
        const built = codec.chatBody(NAME, request, true)
        if (Either.isLeft(built)) return Stream.fail(built.left)
        const { body, multimodal } = built.right
        return transport.decodeStream(
          { method: "POST", url: multimodal ? multimodalUrl : textUrl, headers: streamHeaders, body },
          { model: request.model },
          AliyunStream.decoder(classify, NAME, request.model, Math.floor(now / 1000))
        )
      }))

    // A request without a model gets the provider's default model, which is a chat model: use the embedding one.
    const embeddingModelFor = (model: string) =>
      model === chatModel && !chatModel.includes("embedding") ? embeddingModel : model

    // One batch (`LlmProvider.make` splits an input by `embeddingInputsPerCall`, one batch after another).
    const embed = (request: LlmProvider.ResolvedEmbeddingRequest): Effect.Effect<EmbeddingResponse, LlmError> => {
      const model = embeddingModelFor(request.model)
      const resolved = model === request.model ? request : { ...request, model }
      const texts = typeof request.input === "string" ? [request.input] : request.input
      return Effect.flatMap(
        transport.json(
          { method: "POST", url: embeddingUrl, headers: jsonHeaders, body: codec.embeddingBody(resolved, texts) },
          { model }
        ),
        (response) =>
          codec.isErrorBody(response.json)
            ? Effect.fail(codec.errorFromEmbedded(classify, NAME, model, response.json, JSON.stringify(response.json)))
            : Effect.map(codec.embeddingBatch(NAME, model, response.json, texts.length), (result) => ({
              object: "list" as const,
              data: result.vectors.map((embedding, index) => ({ object: "embedding" as const, index, embedding })),
              model,
              usage: { prompt_tokens: result.tokens, total_tokens: result.tokens },
              provider: NAME
            }))
      )
    }

    return LlmProvider.make({
      info: {
        name: NAME,
        baseUrl,
        identity: Identity.make({ credential: options.apiKey, headers: options.headers }),
        defaultModel: chatModel,
        capabilities: { streaming: true, tools: true, embeddings: true, vision: true, jsonSchema: true }
      },
      retry: options.retry,
      secrets,
      chat,
      stream,
      embeddingInputsPerCall: (model) => batchSize ?? codec.embeddingBatchSize(embeddingModelFor(model)),
      embed
    })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<LlmProvider.LlmProvider, InvalidRequestError, Http.HttpClient> =>
  Layer.effect(LlmProvider.LlmProvider, make(options))

/**
 * Reads `DASHSCOPE_API_KEY`, and when set `DASHSCOPE_REGION` (`cn` or `intl`), `DASHSCOPE_BASE_URL`,
 * `DASHSCOPE_MODEL` and `DASHSCOPE_WORKSPACE`; `options` take precedence.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Partial<Options> = {}
): Layer.Layer<LlmProvider.LlmProvider, ConfigError.ConfigError | InvalidRequestError, Http.HttpClient> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const optional = (name: string) => Effect.map(Config.option(Config.string(name)), Option.getOrUndefined)
    const apiKey = options.apiKey ?? (yield* Config.redacted("DASHSCOPE_API_KEY"))
    const region = options.region ??
      Option.getOrUndefined(yield* Config.option(Config.literal("cn", "intl")("DASHSCOPE_REGION")))
    return layer({
      ...options,
      apiKey,
      region,
      baseUrl: options.baseUrl ?? (yield* optional("DASHSCOPE_BASE_URL")),
      defaultModel: options.defaultModel ?? (yield* optional("DASHSCOPE_MODEL")),
      workspace: options.workspace ?? (yield* optional("DASHSCOPE_WORKSPACE"))
    })
  }))
