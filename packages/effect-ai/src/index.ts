/**
 * @llm-api-router/effect-ai: `@effect/ai`'s `LanguageModel` and `EmbeddingModel` over any `LlmProvider`, so that
 * `@effect/ai`'s own API (`LanguageModel.generateText`, `generateObject`, `streamText`, `Toolkit`, `Chat`,
 * `EmbeddingModel.embed`) runs over every provider of llm-api-router, its router and its cache.
 *
 * @since 0.1.0
 */
export {
  /**
   * `@effect/ai`'s `LanguageModel` over the `LlmProvider` in context (see `LanguageModel.layer`).
   *
   * @since 0.1.0
   * @category layers
   */
  layer as layerLanguageModel,
  /**
   * `layerLanguageModel` with request fields sent on every call (see `LanguageModel.layerWithDefaults`).
   *
   * @since 0.1.0
   * @category layers
   */
  layerWithDefaults as layerLanguageModelWithDefaults,
  /**
   * Makes the `LanguageModel` service (see `LanguageModel.make`).
   *
   * @since 0.1.0
   * @category constructors
   */
  make as makeLanguageModel
} from "./LanguageModel.js"
export { Config, type RequestDefaults, withConfigOverride } from "./LanguageModel.js"

export {
  /**
   * `@effect/ai`'s `EmbeddingModel` over the `LlmProvider` in context (see `EmbeddingModel.layer`).
   *
   * @since 0.1.0
   * @category layers
   */
  layer as layerEmbeddingModel,
  /**
   * Makes the `EmbeddingModel` service (see `EmbeddingModel.make`).
   *
   * @since 0.1.0
   * @category constructors
   */
  make as makeEmbeddingModel,
  type Options as EmbeddingModelOptions
} from "./EmbeddingModel.js"

export { module, type Origin, toAiError } from "./ErrorMapping.js"
