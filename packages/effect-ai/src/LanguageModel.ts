/**
 * `@effect/ai`'s `LanguageModel` over the `LlmProvider` in context: any provider, router or cache becomes a model for
 * `LanguageModel.generateText`, `generateObject`, `streamText`, `Toolkit` and `Chat`.
 *
 * What travels: system, user (text, images, audio, PDF and text files), assistant (text, reasoning, tool calls) and
 * tool messages; tools from each `Tool`'s JSON Schema and the tool choice; `generateObject`'s schema in the
 * provider's structured-output mode (`LlmProvider.structuredOutputMode`); reasoning, usage (cached and reasoning
 * tokens included) and finish reasons back. Failures are `AiError`s whose `cause` is our error (see `ErrorMapping`).
 *
 * Signed reasoning survives a `Chat` loop: `@effect/ai` keeps only a reasoning part's text when an answer becomes the
 * next prompt, so the model remembers the signed thinking blocks (Anthropic) and `reasoning_details` (OpenRouter) of
 * its last 512 answers by their reasoning text, and sends them back with a turn whose reasoning is that text. They are
 * also on the answer's reasoning part (a stream: its `finish` part) as `metadata["llm-api-router"]`, and a prompt's
 * reasoning part that carries them in `options["llm-api-router"]` sends those.
 *
 * @example
 * ```ts
 * import { LanguageModel } from "@effect/ai"
 * import { layerLanguageModel } from "@llm-api-router/effect-ai"
 * import { OpenAi } from "@llm-api-router/providers"
 * import { Http } from "@llm-api-router/core"
 * import { Effect, Layer, Redacted } from "effect"
 *
 * const program = LanguageModel.generateText({ prompt: "Say hello" })
 * const ModelLive = layerLanguageModel.pipe(
 *   Layer.provide(OpenAi.layer({ apiKey: Redacted.make("sk-..."), defaultModel: "gpt-4o-mini" })),
 *   Layer.provide(Http.layerDefault)
 * )
 * Effect.runPromise(program.pipe(Effect.provide(ModelLive))).then((response) => response.text)
 * ```
 *
 * @since 0.1.0
 */
import type * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Response from "@effect/ai/Response"
import { LlmProvider } from "@llm-api-router/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { toAiError } from "./ErrorMapping.js"
import * as Replay from "./internal/replay.js"
import * as Request from "./internal/request.js"
import * as Parts from "./internal/response.js"
import * as StreamParts from "./internal/stream.js"

/**
 * The request fields sent with every call (`model`, `temperature`, `max_tokens`, `reasoning_effort`, any
 * provider-specific field…): everything but the messages, tools, tool choice and response format, which the
 * `@effect/ai` call decides.
 *
 * @since 0.1.0
 * @category models
 */
export type RequestDefaults = Request.Defaults

/**
 * Request fields for the calls made inside an effect, over those the model was made with (see
 * `withConfigOverride`).
 *
 * @since 0.1.0
 * @category context
 */
export class Config extends Context.Tag("@llm-api-router/effect-ai/LanguageModel/Config")<Config, RequestDefaults>() {}

/**
 * Runs an effect with these request fields for its model calls, over the model's own and any outer override.
 *
 * @example
 * ```ts
 * import { LanguageModel } from "@effect/ai"
 * import { withConfigOverride } from "@llm-api-router/effect-ai"
 *
 * LanguageModel.generateText({ prompt: "Be brief" }).pipe(withConfigOverride({ model: "gpt-4o", temperature: 0 }))
 * ```
 *
 * @since 0.1.0
 * @category context
 */
export const withConfigOverride: {
  (config: RequestDefaults): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, config: RequestDefaults): Effect.Effect<A, E, R>
} = dual(2, <A, E, R>(self: Effect.Effect<A, E, R>, config: RequestDefaults): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Effect.serviceOption(Config),
    (outer) => Effect.provideService(self, Config, Option.isSome(outer) ? { ...outer.value, ...config } : config)
  ))

/**
 * Makes the `LanguageModel` service over the `LlmProvider` in context, `defaults` going with every request (under
 * any `withConfigOverride`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  defaults?: RequestDefaults
): Effect.Effect<LanguageModel.Service, never, LlmProvider.LlmProvider> =>
  Effect.gen(function*() {
    const provider = yield* LlmProvider.LlmProvider
    const info = provider.info
    const memo = Replay.makeMemo()
    const origin = (method: string) => ({ method, url: info.baseUrl })

    const requestDefaults = Effect.map(
      Effect.serviceOption(Config),
      (config) => Option.isSome(config) ? { ...defaults, ...config.value } : defaults
    )

    const planned = (method: string, options: LanguageModel.ProviderOptions) =>
      Effect.flatMap(requestDefaults, (config) => Request.plan(method, options, info, config, memo))

    const generateText = (
      options: LanguageModel.ProviderOptions
    ): Effect.Effect<Array<Response.PartEncoded>, AiError.AiError> =>
      Effect.flatMap(planned("generateText", options), ({ request, structured }) =>
        provider.chat(request).pipe(
          Effect.mapError((error) => toAiError(error, origin("generateText"))),
          Effect.flatMap((completion) => Parts.partsOf("generateText", completion, structured, memo))
        ))

    const streamText = (
      options: LanguageModel.ProviderOptions
    ): Stream.Stream<Response.StreamPartEncoded, AiError.AiError> =>
      Stream.unwrap(Effect.map(planned("streamText", options), ({ request }) =>
        Stream.suspend(() => {
          const translator = StreamParts.makeTranslator("streamText", memo)
          return provider.stream(request).pipe(
            Stream.mapError((error): AiError.AiError => toAiError(error, origin("streamText"))),
            Stream.mapConcatEffect((chunk) => translator.chunk(chunk)),
            Stream.concat(Stream.fromIterableEffect(Effect.suspend(() => translator.end())))
          )
        })))

    return yield* LanguageModel.make({ generateText, streamText })
  })

/**
 * `@effect/ai`'s `LanguageModel` over the `LlmProvider` in context (decorated or not: a router, a cache).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<LanguageModel.LanguageModel, never, LlmProvider.LlmProvider> = Layer.effect(
  LanguageModel.LanguageModel,
  make()
)

/**
 * `layer`, with request fields sent on every call (a model, a temperature…).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWithDefaults = (
  defaults: RequestDefaults
): Layer.Layer<LanguageModel.LanguageModel, never, LlmProvider.LlmProvider> =>
  Layer.effect(LanguageModel.LanguageModel, make(defaults))
