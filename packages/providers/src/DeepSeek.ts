/**
 * DeepSeek: OpenAI-compatible chat with `reasoning_content` (deepseek-reasoner, thinking mode), tool calls
 * and the reasoning replay thinking-mode tool loops require.
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
import * as dialect from "./internal/chat-completions/dialects/deepseek.js"
import * as OpenAiCompatible from "./OpenAiCompatible.js"

/**
 * DeepSeek's API. `https://api.deepseek.com/v1` works as well; its `v1` is not a model version.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBaseUrl = "https://api.deepseek.com"

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultModel = "deepseek-chat"

/**
 * How the `reasoning_content` of assistant turns being replayed is sent:
 *
 * - `"toolCalls"` (default): kept on assistant turns that called tools (sent as `""` when such a turn has
 *   none), dropped from the others. DeepSeek's thinking mode (V3.2 and later, which `deepseek-reasoner`
 *   serves) answers 400 when a tool-calling turn comes back without it, and ignores it elsewhere.
 * - `"strip"`: dropped everywhere, for the original R1 `deepseek-reasoner`, which answers 400 when any input
 *   message carries it (and for gateways still serving R1).
 * - `"keep"`: sent exactly as given.
 *
 * @since 0.1.0
 * @category models
 */
export type ReasoningReplay = dialect.ReasoningReplay

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends Omit<OpenAiCompatible.Options, "name" | "baseUrl" | "apiKey"> {
  readonly apiKey: Redacted.Redacted<string>
  /** Replaces `https://api.deepseek.com`. */
  readonly baseUrl?: string | undefined
  /** Default `"toolCalls"`; see {@link ReasoningReplay}. */
  readonly reasoningReplay?: ReasoningReplay | undefined
}

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
      name: "deepseek",
      baseUrl: options.baseUrl ?? defaultBaseUrl,
      defaultModel: options.defaultModel ?? defaultModel,
      // No embeddings endpoint, text-only input on the chat models, `json_object` but no JSON Schema format: structured
      // output goes through a forced tool.
      capabilities: {
        embeddings: false,
        vision: false,
        jsonSchema: false,
        structuredOutput: "tool",
        ...options.capabilities
      }
    },
    {
      chatBody: dialect.chatBody(options.reasoningReplay ?? "toolCalls"),
      finishReason: dialect.finishReason,
      classifyError: dialect.classifyError
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
 * Reads `DEEPSEEK_API_KEY`, and when set `DEEPSEEK_BASE_URL` and `DEEPSEEK_MODEL`; `options` take precedence.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Partial<Options> = {}
): Layer.Layer<LlmProvider.LlmProvider, ConfigError.ConfigError | InvalidRequestError, Http.HttpClient> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const optional = (name: string) => Effect.map(Config.option(Config.string(name)), Option.getOrUndefined)
    const apiKey = options.apiKey ?? (yield* Config.redacted("DEEPSEEK_API_KEY"))
    return layer({
      ...options,
      apiKey,
      baseUrl: options.baseUrl ?? (yield* optional("DEEPSEEK_BASE_URL")),
      defaultModel: options.defaultModel ?? (yield* optional("DEEPSEEK_MODEL"))
    })
  }))
