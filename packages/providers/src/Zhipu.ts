/**
 * Zhipu AI (BigModel, GLM): OpenAI-compatible chat with GLM's differences (business error codes, its finish
 * reasons, whole tool calls in one delta), embeddings (`embedding-3`, `dimensions`), and authentication with the
 * raw `id.secret` key or with the HS256 JWT signed from it.
 *
 * @since 0.1.0
 */
import type { Http } from "@llm-api-router/core"
import { InvalidRequestError, LlmProvider } from "@llm-api-router/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as dialect from "./internal/chat-completions/dialects/zhipu.js"
import * as Jwt from "./internal/chat-completions/dialects/zhipuJwt.js"
import * as codec from "./internal/openai/codec.js"
import * as OpenAiCompatible from "./OpenAiCompatible.js"

/**
 * BigModel's API, version prefix included. Z.ai's international endpoint is `https://api.z.ai/api/paas/v4`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBaseUrl = "https://open.bigmodel.cn/api/paas/v4"

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultModel = "glm-4-flash"

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultEmbeddingModel = "embedding-3"

/**
 * The most inputs one embeddings call takes (`embedding-3`: 64): a larger input is sent in several calls, one after
 * another, and comes back as one response in input order.
 *
 * @since 0.2.0
 * @category constants
 */
export const maxEmbeddingInputs = 64

/**
 * How requests are authenticated:
 *
 * - `"apiKey"` (default): `Authorization: Bearer <id.secret>`, the key as it is. What BigModel's docs show and
 *   the official SDK sends by default.
 * - `"jwt"`: `Authorization: Bearer <JWT>`, an HS256 token signed from the key (`{"alg":"HS256","sign_type":
 *   "SIGN"}`, payload `{api_key: id, exp, timestamp}` in milliseconds), signed once and reused until shortly
 *   before it expires. For accounts and gateways that still require the older scheme.
 *
 * @since 0.1.0
 * @category models
 */
export type Auth = "apiKey" | "jwt"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends Omit<OpenAiCompatible.Options, "name" | "baseUrl" | "apiKey"> {
  /** The `<id>.<secret>` key from the BigModel console. */
  readonly apiKey: Redacted.Redacted<string>
  /** Replaces `https://open.bigmodel.cn/api/paas/v4`. */
  readonly baseUrl?: string | undefined
  /** Default `"apiKey"`; see {@link Auth}. */
  readonly auth?: Auth | undefined
  /** How long a JWT is valid (default 210 seconds, as the official SDK); it is renewed 30 seconds before. */
  readonly jwtTtl?: Duration.DurationInput | undefined
  /**
   * The model of embeddings requests that name none (default `"embedding-3"`): the default chat model is never
   * an embeddings model.
   */
  readonly defaultEmbeddingModel?: string | undefined
}

const invalidOption = (param: string, message: string) =>
  new InvalidRequestError({ provider: "zhipu", source: "client", param, message: `zhipu: ${message}` })

const jwtHeaders = (
  options: Options
): Effect.Effect<Effect.Effect<Readonly<Record<string, string>>>, InvalidRequestError> =>
  Effect.suspend(() => {
    const key = Jwt.splitKey(Redacted.value(options.apiKey))
    // Never echo the key: the message only says what shape it should have.
    if (key === undefined) {
      return Effect.fail(invalidOption("apiKey", "the JWT auth needs an API key of the form <id>.<secret>"))
    }
    const ttl = Duration.toMillis(Duration.decode(options.jwtTtl ?? "210 seconds"))
    if (!(ttl >= 1000)) return Effect.fail(invalidOption("jwtTtl", "jwtTtl must be at least 1 second"))
    return Effect.succeed(Jwt.headerCache(key.id, key.secret, ttl, Math.min(30_000, ttl / 2)))
  })

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<LlmProvider.Service, InvalidRequestError, Http.HttpClient> =>
  Effect.gen(function*() {
    const auth = options.auth ?? "apiKey"
    const requestHeaders = auth === "jwt" ? yield* jwtHeaders(options) : undefined
    const chatModel = options.defaultModel ?? defaultModel
    const embeddingModel = options.defaultEmbeddingModel ?? defaultEmbeddingModel
    return yield* OpenAiCompatible.makeDialect(
      {
        ...options,
        name: "zhipu",
        baseUrl: options.baseUrl ?? defaultBaseUrl,
        defaultModel: chatModel,
        // JSON Schema output is not part of GLM's API (`response_format` takes text and json_object), and a tool
        // cannot be forced (`tool_choice` is "auto" only): structured output goes through JSON mode.
        capabilities: { jsonSchema: false, structuredOutput: "json-object", ...options.capabilities }
      },
      {
        // The key still goes in as `apiKey` (so error texts are scrubbed of it); with JWT auth the per-request
        // header replaces its `Bearer <key>`, which is then never sent.
        requestHeaders,
        chatBody: dialect.chatBody,
        classifyError: dialect.classifyError,
        finishReason: dialect.finishReason,
        embeddingBody: (body, request) => {
          if (request.model === chatModel && chatModel !== embeddingModel) body.model = embeddingModel
          return codec.withoutDefaultEncoding(body, request)
        },
        embeddingInputsPerCall: () => maxEmbeddingInputs
      }
    )
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
 * Reads `ZHIPUAI_API_KEY`, and when set `ZHIPUAI_BASE_URL` and `ZHIPUAI_MODEL`; `options` take precedence.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Partial<Options> = {}
): Layer.Layer<LlmProvider.LlmProvider, ConfigError.ConfigError | InvalidRequestError, Http.HttpClient> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const optional = (name: string) => Effect.map(Config.option(Config.string(name)), Option.getOrUndefined)
    const apiKey = options.apiKey ?? (yield* Config.redacted("ZHIPUAI_API_KEY"))
    return layer({
      ...options,
      apiKey,
      baseUrl: options.baseUrl ?? (yield* optional("ZHIPUAI_BASE_URL")),
      defaultModel: options.defaultModel ?? (yield* optional("ZHIPUAI_MODEL"))
    })
  }))
