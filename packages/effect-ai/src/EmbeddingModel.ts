/**
 * `@effect/ai`'s `EmbeddingModel` over the `LlmProvider` in context: `embed` calls are batched into one embeddings
 * request (up to `maxBatchSize` inputs), and a provider that splits by its own per-call limit still answers one
 * vector per input, in order.
 *
 * @since 0.1.0
 */
import * as EmbeddingModel from "@effect/ai/EmbeddingModel"
import { LlmProvider } from "@llm-api-router/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { toAiError } from "./ErrorMapping.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The most inputs sent in one request; by default all the inputs batched together. */
  readonly maxBatchSize?: number | undefined
  /** The embedding model; by default the provider's default model. */
  readonly model?: string | undefined
  /** The vectors' length, for models that can shorten them. */
  readonly dimensions?: number | undefined
  /** `@effect/ai`'s request cache for `embed`: the same input within `timeToLive` is not asked again. */
  readonly cache?: { readonly capacity: number; readonly timeToLive: Duration.DurationInput } | undefined
}

/**
 * Makes the `EmbeddingModel` service over the `LlmProvider` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Effect.Effect<EmbeddingModel.Service, never, LlmProvider.LlmProvider> =>
  Effect.gen(function*() {
    const provider = yield* LlmProvider.LlmProvider
    const origin = { method: "embedMany", url: provider.info.baseUrl }
    const embedMany = (input: ReadonlyArray<string>) =>
      provider.embed({
        input,
        ...(options?.model !== undefined ? { model: options.model } : {}),
        ...(options?.dimensions !== undefined ? { dimensions: options.dimensions } : {})
      }).pipe(
        Effect.map((response) => response.data.map((item) => ({ index: item.index, embeddings: [...item.embedding] }))),
        Effect.mapError((error) => toAiError(error, origin))
      )
    return yield* EmbeddingModel.make({
      embedMany,
      ...(options?.maxBatchSize !== undefined ? { maxBatchSize: options.maxBatchSize } : {}),
      ...(options?.cache !== undefined ? { cache: options.cache } : {})
    })
  })

/**
 * `@effect/ai`'s `EmbeddingModel` over the `LlmProvider` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<EmbeddingModel.EmbeddingModel, never, LlmProvider.LlmProvider> =>
  Layer.effect(EmbeddingModel.EmbeddingModel, make(options))
