/**
 * @llm-api-router/providers: one layer per provider, the `ProviderFactory`, and the Promise facade
 * `Client`.
 *
 * @since 0.1.0
 */

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
export * as Anthropic from "./Anthropic.js"
