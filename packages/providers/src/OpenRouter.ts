/**
 * OpenRouter: one OpenAI-compatible endpoint in front of many models and upstream providers, with app
 * attribution headers, routing fields passed through (`provider`, `models`, `route`, `transforms`, `plugins`,
 * `reasoning`: put them on the request as they are), and errors inside a 200 failing typed.
 *
 * @since 0.1.0
 */
import type { Http, InvalidRequestError } from "@llm-api-router/core"
import { LlmProvider } from "@llm-api-router/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as dialect from "./internal/chat-completions/dialects/openrouter.js"
import * as codec from "./internal/openai/codec.js"
import * as OpenAiCompatible from "./OpenAiCompatible.js"

/**
 * OpenRouter's API, version prefix included.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBaseUrl = "https://openrouter.ai/api/v1"

/**
 * OpenRouter's auto router, which picks a model per prompt; used when neither the request nor the options name a
 * model.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultModel = "openrouter/auto"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends Omit<OpenAiCompatible.Options, "name" | "baseUrl" | "apiKey"> {
  readonly apiKey: Redacted.Redacted<string>
  /** Replaces `https://openrouter.ai/api/v1`. */
  readonly baseUrl?: string | undefined
  /** The app's display name on openrouter.ai: sent as `X-Title` and `X-OpenRouter-Title`. */
  readonly appName?: string | undefined
  /** The app's URL, its identifier for attribution (no app page without it): sent as `HTTP-Referer`. */
  readonly appUrl?: string | undefined
  /** App categories such as `"cli-agent"`: sent as `X-OpenRouter-Categories`, comma-separated. */
  readonly appCategories?: ReadonlyArray<string> | undefined
}

const headers = (options: Options): Record<string, string> => ({
  ...(options.appUrl !== undefined ? { "http-referer": options.appUrl } : {}),
  // `X-Title` is the name every OpenRouter client sends; `X-OpenRouter-Title` is the one its docs now prefer.
  ...(options.appName !== undefined ? { "x-title": options.appName, "x-openrouter-title": options.appName } : {}),
  ...(options.appCategories !== undefined && options.appCategories.length > 0
    ? { "x-openrouter-categories": options.appCategories.join(",") }
    : {})
})

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<LlmProvider.Service, InvalidRequestError, Http.HttpClient> =>
  OpenAiCompatible.makeDialect(
    {
      ...options,
      name: "openrouter",
      baseUrl: options.baseUrl ?? defaultBaseUrl,
      defaultModel: options.defaultModel ?? defaultModel
    },
    {
      headers: headers(options),
      // OpenRouter hands prompt-caching markers on to the Anthropic and Gemini models it routes to.
      keepCacheControl: true,
      readError: dialect.readError,
      classifyError: dialect.classifyError,
      finishReason: dialect.finishReason,
      embeddingBody: codec.withoutDefaultEncoding
    }
  )

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<LlmProvider.LlmProvider, InvalidRequestError, Http.HttpClient> =>
  Layer.effect(LlmProvider.LlmProvider, make(options))

/**
 * Reads `OPENROUTER_API_KEY`, and when set `OPENROUTER_BASE_URL`, `OPENROUTER_MODEL`, `OPENROUTER_APP_NAME` and
 * `OPENROUTER_APP_URL`; `options` take precedence.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Partial<Options> = {}
): Layer.Layer<LlmProvider.LlmProvider, ConfigError.ConfigError | InvalidRequestError, Http.HttpClient> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const optional = (name: string) => Effect.map(Config.option(Config.string(name)), Option.getOrUndefined)
    const apiKey = options.apiKey ?? (yield* Config.redacted("OPENROUTER_API_KEY"))
    return layer({
      ...options,
      apiKey,
      baseUrl: options.baseUrl ?? (yield* optional("OPENROUTER_BASE_URL")),
      defaultModel: options.defaultModel ?? (yield* optional("OPENROUTER_MODEL")),
      appName: options.appName ?? (yield* optional("OPENROUTER_APP_NAME")),
      appUrl: options.appUrl ?? (yield* optional("OPENROUTER_APP_URL"))
    })
  }))
