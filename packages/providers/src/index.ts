/**
 * @llm-api-router/providers: one layer per provider, the `ProviderFactory`, and the Promise facade
 * `Client`.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Aliyun from "./Aliyun.js"

/**
 * @since 0.1.0
 */
export * as Anthropic from "./Anthropic.js"

/**
 * @since 0.1.0
 */
export * as DeepSeek from "./DeepSeek.js"

/**
 * @since 0.1.0
 */
export * as Gemini from "./Gemini.js"

/**
 * @since 0.1.0
 */
export * as Ollama from "./Ollama.js"

/**
 * @since 0.1.0
 */
export * as OpenAi from "./OpenAi.js"

/**
 * @since 0.1.0
 */
export * as OpenAiCompatible from "./OpenAiCompatible.js"

/**
 * @since 0.1.0
 */
export * as OpenRouter from "./OpenRouter.js"

/**
 * @since 0.1.0
 */
export * as Zhipu from "./Zhipu.js"

/**
 * @since 0.1.0
 */
export * as ProviderConfig from "./ProviderConfig.js"

/**
 * @since 0.1.0
 */
export * as ProviderFactory from "./ProviderFactory.js"

/**
 * The Promise facade for plain async code.
 *
 * @since 0.1.0
 */
export {
  type CacheStats,
  type ChatCompletionCreateParams,
  type ChatCompletionCreateParamsNonStreaming,
  type ChatCompletionCreateParamsStreaming,
  type ChatCompletionStream,
  Client,
  type RequestOptions
} from "./Client.js"
