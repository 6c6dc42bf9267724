/**
 * OpenAI: Chat Completions (with streaming and tool calls) and Embeddings.
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
import * as OpenAiCompatible from "./OpenAiCompatible.js"

/**
 * OpenAI's API, version prefix included.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBaseUrl = "https://api.openai.com/v1"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends Omit<OpenAiCompatible.Options, "name" | "baseUrl" | "apiKey"> {
  readonly apiKey: Redacted.Redacted<string>
  /** Replaces `https://api.openai.com/v1` (an Azure or proxy endpoint of the same protocol). */
  readonly baseUrl?: string | undefined
  /** Sent as `OpenAI-Organization`. */
  readonly organization?: string | undefined
  /** Sent as `OpenAI-Project`. */
  readonly project?: string | undefined
}

const headers = (options: Options): Record<string, string> => ({
  ...(options.organization !== undefined ? { "openai-organization": options.organization } : {}),
  ...(options.project !== undefined ? { "openai-project": options.project } : {})
})

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<LlmProvider.Service, InvalidRequestError, Http.HttpClient> =>
  OpenAiCompatible.makeDialect(
    { ...options, name: "openai", baseUrl: options.baseUrl ?? defaultBaseUrl },
    { headers: headers(options) }
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
 * Reads `OPENAI_API_KEY`, and when set `OPENAI_BASE_URL`, `OPENAI_MODEL`, `OPENAI_ORG_ID` and
 * `OPENAI_PROJECT_ID`; `options` take precedence.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Partial<Options> = {}
): Layer.Layer<LlmProvider.LlmProvider, ConfigError.ConfigError | InvalidRequestError, Http.HttpClient> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const optional = (name: string) => Effect.map(Config.option(Config.string(name)), Option.getOrUndefined)
    const apiKey = options.apiKey ?? (yield* Config.redacted("OPENAI_API_KEY"))
    return layer({
      ...options,
      apiKey,
      baseUrl: options.baseUrl ?? (yield* optional("OPENAI_BASE_URL")),
      defaultModel: options.defaultModel ?? (yield* optional("OPENAI_MODEL")),
      organization: options.organization ?? (yield* optional("OPENAI_ORG_ID")),
      project: options.project ?? (yield* optional("OPENAI_PROJECT_ID"))
    })
  }))
