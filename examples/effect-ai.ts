/**
 * `@effect/ai`'s own API over our providers: `LanguageModel.generateText`, `streamText`, `generateObject`, a
 * `Toolkit` in a tool loop with `Chat`, and `EmbeddingModel`, with `@llm-api-router/effect-ai`'s layers over an
 * `LlmProvider` (here OpenAI's, behind a response cache: a decorated provider is still a provider).
 *
 * Offline by default (a fake OpenAI-compatible server); OPENAI_API_KEY set: OpenAI.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/effect-ai.ts
 */
import { Chat, EmbeddingModel, LanguageModel, Tool, Toolkit } from "@effect/ai"
import { Http, ResponseCache } from "@llm-api-router/core"
import { layerEmbeddingModel, layerLanguageModel } from "@llm-api-router/effect-ai"
import { OpenAi } from "@llm-api-router/providers"
import { Console, Effect, Layer, Redacted, Schema, Stream } from "effect"
import * as Backend from "./src/backend.js"

await using backend = await Backend.start()

const GetWeather = Tool.make("get_weather", {
  description: "The current weather in a city",
  parameters: { city: Schema.String },
  success: Schema.Struct({ city: Schema.String, temperature_c: Schema.Number, conditions: Schema.String })
})
const Weather = Toolkit.make(GetWeather)
// A real program would call a weather service here.
const WeatherLive = Weather.toLayer({
  get_weather: ({ city }) => Effect.succeed({ city, temperature_c: 18, conditions: "sunny" })
})

const Forecast = Schema.Struct({ city: Schema.String, summary: Schema.String })

const program = Effect.gen(function*() {
  yield* Console.log("== generateText")
  const hello = yield* LanguageModel.generateText({ prompt: "Say hello in five words." })
  yield* Console.log(`${hello.text} [${hello.finishReason}; ${hello.usage.totalTokens} tokens]`)

  yield* Console.log("\n== streamText")
  yield* LanguageModel.streamText({ prompt: "Count from one to five." }).pipe(
    Stream.runForEach((part) =>
      part.type === "text-delta" ? Effect.sync(() => process.stdout.write(part.delta)) : Effect.void
    )
  )
  yield* Console.log("")

  yield* Console.log("\n== a tool loop with Chat")
  const chat = yield* Chat.fromPrompt("What is the weather in Paris?")
  let step = yield* chat.generateText({ prompt: [], toolkit: Weather })
  for (let steps = 1; step.finishReason === "tool-calls" && steps < 5; steps++) {
    for (const call of step.toolCalls) yield* Console.log(`tool call: ${call.name}(${JSON.stringify(call.params)})`)
    step = yield* chat.generateText({ prompt: [], toolkit: Weather })
  }
  yield* Console.log(`answer: ${step.text}`)

  yield* Console.log("\n== generateObject")
  const forecast = yield* LanguageModel.generateObject({ prompt: "Tomorrow in Lyon?", schema: Forecast })
  yield* Console.log(`value: ${JSON.stringify(forecast.value)}`)

  yield* Console.log("\n== EmbeddingModel")
  const embedder = yield* EmbeddingModel.EmbeddingModel
  const vectors = yield* embedder.embedMany(["a cat", "a dog", "a car"])
  yield* Console.log(`${vectors.length} vectors of ${vectors[0]?.length} dimensions`)

  yield* Console.log("\n== errors are AiErrors, our error kept as the cause")
  backend.server?.enqueue({ status: 401, body: { error: { message: "Incorrect API key", code: "invalid_api_key" } } })
  yield* LanguageModel.generateText({ prompt: "Is the key right?" }).pipe(
    Effect.catchTag(
      "HttpResponseError",
      (error) =>
        Console.log(`HttpResponseError ${error.response.status}, cause: ${(error.cause as { _tag: string })._tag}`)
    )
  )

  yield* Console.log("\n== the same prompt again comes from the cache")
  const before = backend.server?.requests.length ?? 0
  const again = yield* LanguageModel.generateText({ prompt: "Say hello in five words." })
  yield* Console.log(`${again.text} (requests sent: ${(backend.server?.requests.length ?? 0) - before})`)
})

// The provider, decorated by the in-memory response cache; the bridge's layers over it.
const ProviderLive = ResponseCache.layer.pipe(
  Layer.provide(OpenAi.layer({
    apiKey: Redacted.make(backend.apiKey),
    baseUrl: backend.baseUrl,
    defaultModel: backend.model,
    retry: false
  })),
  Layer.provide(Layer.merge(ResponseCache.layerMemory({ ttl: "5 minutes" }), Http.layer()))
)
const ModelsLive = Layer.merge(layerLanguageModel, layerEmbeddingModel({ model: backend.embeddingModel })).pipe(
  Layer.provide(ProviderLive)
)

await program.pipe(Effect.provide(WeatherLive), Effect.provide(ModelsLive), Effect.runPromise)
