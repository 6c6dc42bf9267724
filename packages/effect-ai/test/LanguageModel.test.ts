/**
 * The bridge through `@effect/ai`'s own API, over core's MockProvider: what each call sends (MockProvider.calls) and
 * what `@effect/ai` makes of the answer.
 */
import * as Chat from "@effect/ai/Chat"
import * as LanguageModel from "@effect/ai/LanguageModel"
import * as Prompt from "@effect/ai/Prompt"
import * as Tool from "@effect/ai/Tool"
import * as Toolkit from "@effect/ai/Toolkit"
import { assert, describe, it } from "@effect/vitest"
import { type ChatCompletionChunk, NetworkError, ProviderError, ResponseCache, Router } from "@llm-api-router/core"
import { MockProvider } from "@llm-api-router/core/testing"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { layerLanguageModel, layerLanguageModelWithDefaults, withConfigOverride } from "../src/index.js"

const mock = (script: MockProvider.Script, options?: MockProvider.Options) =>
  layerLanguageModel.pipe(Layer.provideMerge(MockProvider.layer(script, options)))

const requests = Effect.map(MockProvider.calls, (calls) => calls.map((call) => call.request as any))

const GetWeather = Tool.make("get_weather", {
  description: "The current weather in a city",
  parameters: { city: Schema.String },
  success: Schema.Struct({ celsius: Schema.Number })
})
const Weather = Toolkit.make(GetWeather)
const WeatherHandlers = Weather.toLayer({ get_weather: ({ city }) => Effect.succeed({ celsius: city.length }) })

const networkError = new NetworkError({ provider: "mock", message: "mock: the connection was reset" })

const call = (id: string, name: string, args: string) => ({
  id,
  type: "function" as const,
  function: { name, arguments: args }
})

describe("generateText", () => {
  it.effect("text, reasoning, finish reason, usage with cached and reasoning tokens, response metadata", () =>
    Effect.gen(function*() {
      const response = yield* LanguageModel.generateText({ prompt: "hello" })
      assert.strictEqual(response.text, "Hi there")
      assert.strictEqual(response.reasoningText, "they greet me")
      assert.strictEqual(response.finishReason, "stop")
      assert.deepStrictEqual(
        { ...response.usage },
        { inputTokens: 12, outputTokens: 7, totalTokens: 19, reasoningTokens: 3, cachedInputTokens: 8 }
      )
      const metadata = response.content.find((part) => part.type === "response-metadata")!
      assert.strictEqual(metadata.modelId._tag === "Some" && metadata.modelId.value, "mock-model")
      assert.strictEqual(metadata.id._tag === "Some" && metadata.id.value, "mock-1")
      const [request] = yield* requests
      assert.deepStrictEqual(request.messages, [{ role: "user", content: "hello" }])
      assert.isUndefined(request.tools)
      assert.isUndefined(request.tool_choice)
      assert.isUndefined(request.response_format)
    }).pipe(Effect.provide(mock([
      MockProvider.reply({
        content: "Hi there",
        reasoning_content: "they greet me",
        usage: {
          prompt_tokens: 12,
          completion_tokens: 7,
          total_tokens: 19,
          prompt_tokens_details: { cached_tokens: 8 },
          completion_tokens_details: { reasoning_tokens: 3 }
        }
      })
    ]))))

  it.effect("a whole prompt: system, user text and files, assistant reasoning and tool calls, tool results", () =>
    Effect.gen(function*() {
      const prompt = Prompt.make([
        { role: "system", content: "Be brief." },
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "file", mediaType: "image/png", data: new Uint8Array([1, 2, 3]) },
            { type: "file", mediaType: "image/jpeg", data: new URL("https://example.com/cat.jpg") },
            { type: "file", mediaType: "application/pdf", fileName: "a.pdf", data: "JVBERg==" },
            { type: "file", mediaType: "audio/wav", data: "UklGRg==" }
          ]
        },
        {
          role: "assistant",
          content: [
            { type: "reasoning", text: "look it up" },
            { type: "text", text: "Let me check." },
            { type: "tool-call", id: "call_1", name: "get_weather", params: { city: "Lyon" } }
          ]
        },
        {
          role: "tool",
          content: [
            {
              type: "tool-result",
              id: "call_1",
              name: "get_weather",
              isFailure: false,
              result: { celsius: 18 },
              providerExecuted: false
            },
            {
              type: "tool-result",
              id: "call_2",
              name: "get_weather",
              isFailure: true,
              result: "no such city",
              providerExecuted: false
            }
          ]
        },
        { role: "assistant", content: [{ type: "tool-call", id: "call_3", name: "noop", params: {} }] }
      ])
      yield* LanguageModel.generateText({ prompt })
      const [request] = yield* requests
      assert.deepStrictEqual(request.messages, [
        { role: "system", content: "Be brief." },
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", image_url: { url: "data:image/png;base64,AQID" } },
            { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
            { type: "file", file: { file_data: "data:application/pdf;base64,JVBERg==", filename: "a.pdf" } },
            { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } }
          ]
        },
        {
          role: "assistant",
          content: "Let me check.",
          reasoning_content: "look it up",
          tool_calls: [call("call_1", "get_weather", "{\"city\":\"Lyon\"}")]
        },
        { role: "tool", tool_call_id: "call_1", content: "{\"celsius\":18}" },
        { role: "tool", tool_call_id: "call_2", content: "{\"error\":\"no such city\"}" },
        { role: "assistant", content: null, tool_calls: [call("call_3", "noop", "{}")] }
      ])
    }).pipe(Effect.provide(mock([MockProvider.reply("ok")]))))

  it.effect("prompt caching: cacheControl in a message's or part's options (ours or @effect/ai-anthropic's)", () =>
    Effect.gen(function*() {
      const ephemeral = { cacheControl: { type: "ephemeral" } }
      yield* LanguageModel.generateText({
        prompt: [
          { role: "system", content: "A long system prompt.", options: { anthropic: ephemeral } },
          {
            role: "user",
            content: [
              {
                type: "text",
                text: "A long document.",
                options: { "llm-api-router": { cacheControl: { type: "ephemeral", ttl: "1h" } } }
              },
              { type: "text", text: "The question." }
            ]
          },
          { role: "user", content: [{ type: "text", text: "Marked alone.", options: { anthropic: ephemeral } }] }
        ]
      })
      const [request] = yield* requests
      assert.deepStrictEqual(request.messages, [
        { role: "system", content: "A long system prompt.", cache_control: { type: "ephemeral" } },
        {
          role: "user",
          content: [
            { type: "text", text: "A long document.", cache_control: { type: "ephemeral", ttl: "1h" } },
            { type: "text", text: "The question." }
          ]
        },
        { role: "user", content: [{ type: "text", text: "Marked alone.", cache_control: { type: "ephemeral" } }] }
      ])
    }).pipe(Effect.provide(mock([MockProvider.reply("ok")]))))

  it.effect("a malformed cacheControl is MalformedInput naming the field, and nothing is sent", () =>
    Effect.gen(function*() {
      const error = yield* LanguageModel.generateText({
        prompt: [{ role: "system", content: "x", options: { anthropic: { cacheControl: { type: "forever" } } } }]
      }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "MalformedInput")
      assert.include(error.description, "messages[0].cache_control")
      assert.lengthOf(yield* MockProvider.calls, 0)
    }).pipe(Effect.provide(mock([]))))

  it.effect("a file type no Chat Completions part carries is MalformedInput, and nothing is sent", () =>
    Effect.gen(function*() {
      const error = yield* LanguageModel.generateText({
        prompt: [{ role: "user", content: [{ type: "file", mediaType: "video/mp4", data: "AAAA" }] }]
      }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "MalformedInput")
      assert.include(error.description, "video/mp4")
      assert.lengthOf(yield* MockProvider.calls, 0)
    }).pipe(Effect.provide(mock([]))))

  it.effect("tools from the toolkit's JSON Schemas; the handler runs on the model's call", () =>
    Effect.gen(function*() {
      const response = yield* LanguageModel.generateText({ prompt: "Weather in Lyon?", toolkit: Weather })
      assert.strictEqual(response.finishReason, "tool-calls")
      assert.deepStrictEqual(response.toolCalls.map((part) => [part.id, part.name, part.params]), [
        ["call_1", "get_weather", { city: "Lyon" }]
      ])
      assert.deepStrictEqual(response.toolResults.map((part) => [part.id, part.result, part.isFailure]), [
        ["call_1", { celsius: 4 }, false]
      ])
      const [request] = yield* requests
      assert.deepStrictEqual(request.tools, [{
        type: "function",
        function: {
          name: "get_weather",
          description: "The current weather in a city",
          parameters: {
            type: "object",
            required: ["city"],
            properties: { city: { type: "string" } },
            additionalProperties: false
          }
        }
      }])
      assert.strictEqual(request.tool_choice, "auto")
    }).pipe(
      Effect.provide(
        mock([MockProvider.reply({ tool_calls: [call("call_1", "get_weather", "{\"city\":\"Lyon\"}")] })])
      ),
      Effect.provide(WeatherHandlers)
    ))

  it.effect("tool choice: a named tool, and oneOf with mode required", () =>
    Effect.gen(function*() {
      const Other = Tool.make("other", { parameters: { x: Schema.Number } })
      const Both = Toolkit.make(GetWeather, Other)
      const handlers = Both.toLayer({
        get_weather: () => Effect.succeed({ celsius: 1 }),
        other: () => Effect.void
      })
      yield* LanguageModel.generateText({ prompt: "a", toolkit: Both, toolChoice: { tool: "other" } }).pipe(
        Effect.provide(handlers)
      )
      yield* LanguageModel.generateText({
        prompt: "b",
        toolkit: Both,
        toolChoice: { oneOf: ["get_weather"], mode: "required" }
      }).pipe(Effect.provide(handlers))
      yield* LanguageModel.generateText({ prompt: "c", toolkit: Both, toolChoice: "none" }).pipe(
        Effect.provide(handlers)
      )
      const [named, oneOf, none] = yield* requests
      assert.deepStrictEqual(named.tool_choice, { type: "function", function: { name: "other" } })
      assert.deepStrictEqual(named.tools.map((tool: any) => tool.function.name), ["get_weather", "other"])
      assert.strictEqual(oneOf.tool_choice, "required")
      assert.deepStrictEqual(oneOf.tools.map((tool: any) => tool.function.name), ["get_weather"])
      assert.strictEqual(none.tool_choice, "none")
    }).pipe(Effect.provide(mock([MockProvider.reply("1"), MockProvider.reply("2"), MockProvider.reply("3")]))))

  it.effect("a tool loop with Chat: the call, the handler's result sent back, the answer", () =>
    Effect.gen(function*() {
      const chat = yield* Chat.empty
      let response = yield* chat.generateText({ prompt: "Weather in Lyon and Paris?", toolkit: Weather })
      let steps = 1
      while (response.finishReason === "tool-calls" && steps < 5) {
        response = yield* chat.generateText({ prompt: Prompt.empty, toolkit: Weather })
        steps++
      }
      assert.strictEqual(steps, 2)
      assert.strictEqual(response.text, "Lyon 4, Paris 5")
      const [, second] = yield* requests
      assert.deepStrictEqual(second.messages, [
        { role: "user", content: "Weather in Lyon and Paris?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            call("call_a", "get_weather", "{\"city\":\"Lyon\"}"),
            call("call_b", "get_weather", "{\"city\":\"Paris\"}")
          ]
        },
        { role: "tool", tool_call_id: "call_a", content: "{\"celsius\":4}" },
        { role: "tool", tool_call_id: "call_b", content: "{\"celsius\":5}" }
      ])
    }).pipe(
      Effect.provide(mock([
        MockProvider.reply({
          tool_calls: [
            call("call_a", "get_weather", "{\"city\":\"Lyon\"}"),
            call("call_b", "get_weather", "{\"city\":\"Paris\"}")
          ]
        }),
        MockProvider.reply("Lyon 4, Paris 5")
      ])),
      Effect.provide(WeatherHandlers)
    ))

  it.effect("arguments that are not JSON are MalformedOutput, with the text in the description", () =>
    Effect.gen(function*() {
      const error = yield* LanguageModel.generateText({ prompt: "a", toolkit: Weather }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "MalformedOutput")
      assert.include(error.description, "{\"city\":")
    }).pipe(
      Effect.provide(mock([MockProvider.reply({ tool_calls: [call("c", "get_weather", "{\"city\":")] })])),
      Effect.provide(WeatherHandlers)
    ))

  it.effect("request defaults from the layer, and withConfigOverride over them", () =>
    Effect.gen(function*() {
      yield* LanguageModel.generateText({ prompt: "a" })
      yield* LanguageModel.generateText({ prompt: "b" }).pipe(withConfigOverride({ model: "big", max_tokens: 5 }))
      const [plain, overridden] = yield* requests
      assert.strictEqual(plain.model, "small")
      assert.strictEqual(plain.temperature, 0)
      assert.strictEqual(overridden.model, "big")
      assert.strictEqual(overridden.temperature, 0)
      assert.strictEqual(overridden.max_tokens, 5)
    }).pipe(Effect.provide(
      layerLanguageModelWithDefaults({ model: "small", temperature: 0 }).pipe(
        Layer.provideMerge(MockProvider.layer([MockProvider.reply("1"), MockProvider.reply("2")]))
      )
    )))
})

describe("over a decorated provider", () => {
  it.effect("a response cache under the model: the same call twice reaches the provider once", () =>
    Effect.gen(function*() {
      const first = yield* LanguageModel.generateText({ prompt: "hello" })
      const second = yield* LanguageModel.generateText({ prompt: "hello" })
      assert.strictEqual(first.text, "cached answer")
      assert.strictEqual(second.text, "cached answer")
      assert.lengthOf(yield* MockProvider.calls, 1)
    }).pipe(Effect.provide(Layer.suspend(() => {
      const provider = MockProvider.layer([MockProvider.reply("cached answer")])
      return layerLanguageModel.pipe(
        Layer.provide(ResponseCache.layer.pipe(Layer.provide(Layer.merge(provider, ResponseCache.layerMemory())))),
        Layer.provideMerge(provider)
      )
    }))))
})

describe("over a router", () => {
  it.effect("the first member fails with a 503, the second answers: @effect/ai sees one answer", () =>
    Effect.gen(function*() {
      const response = yield* LanguageModel.generateText({ prompt: "hello" })
      assert.strictEqual(response.text, "from the fallback")
      const metadata = response.content.find((part) => part.type === "response-metadata")!
      assert.deepStrictEqual(metadata.metadata, { "llm-api-router": { provider: "second" } })
    }).pipe(Effect.provide(layerLanguageModel.pipe(Layer.provide(Router.layer([
      Router.member(
        "first",
        MockProvider.layer(
          [MockProvider.fail(new ProviderError({ provider: "first", status: 503, message: "down" }))],
          {
            name: "first"
          }
        )
      ),
      Router.member("second", MockProvider.layer([MockProvider.reply("from the fallback")], { name: "second" }))
    ]))))))
})

describe("generateObject", () => {
  const City = Schema.Struct({ city: Schema.String, celsius: Schema.Number }).annotations({
    description: "A city's weather"
  })

  it.effect("a provider with JSON Schema response formats: response_format json_schema, the text decoded", () =>
    Effect.gen(function*() {
      const response = yield* LanguageModel.generateObject({ prompt: "Lyon?", schema: City, objectName: "weather" })
      assert.deepStrictEqual(response.value, { city: "Lyon", celsius: 18 })
      const [request] = yield* requests
      assert.deepStrictEqual(request.response_format, {
        type: "json_schema",
        json_schema: {
          name: "weather",
          description: "A city's weather",
          schema: {
            type: "object",
            required: ["city", "celsius"],
            properties: { city: { type: "string" }, celsius: { type: "number" } },
            additionalProperties: false,
            description: "A city's weather"
          }
        }
      })
    }).pipe(Effect.provide(mock([MockProvider.reply("{\"city\":\"Lyon\",\"celsius\":18}")]))))

  it.effect("a provider with tools only: a forced tool, whose arguments are the answer", () =>
    Effect.gen(function*() {
      const response = yield* LanguageModel.generateObject({ prompt: "Lyon?", schema: City, objectName: "weather" })
      assert.deepStrictEqual(response.value, { city: "Lyon", celsius: 18 })
      assert.strictEqual(response.finishReason, "stop")
      assert.lengthOf(response.toolCalls, 0)
      const [request] = yield* requests
      assert.isUndefined(request.response_format)
      assert.deepStrictEqual(request.tool_choice, { type: "function", function: { name: "weather" } })
      assert.strictEqual(request.tools[0].function.name, "weather")
      assert.strictEqual(request.tools[0].function.parameters.type, "object")
    }).pipe(Effect.provide(mock(
      [MockProvider.reply({ tool_calls: [call("c1", "weather", "{\"city\":\"Lyon\",\"celsius\":18}")] })],
      { capabilities: { jsonSchema: false, structuredOutput: "tool" } }
    ))))

  it.effect("a provider with JSON mode only: json_object, the schema in the system message", () =>
    Effect.gen(function*() {
      const response = yield* LanguageModel.generateObject({
        prompt: [{ role: "system", content: "Be exact." }, { role: "user", content: "Lyon?" }],
        schema: City
      })
      assert.deepStrictEqual(response.value, { city: "Lyon", celsius: 18 })
      const [request] = yield* requests
      assert.deepStrictEqual(request.response_format, { type: "json_object" })
      assert.lengthOf(request.messages, 2)
      assert.strictEqual(request.messages[0].role, "system")
      assert.match(request.messages[0].content, /^Be exact\.\n\nA city's weather\n\nAnswer with a single JSON value/)
      assert.include(request.messages[0].content, "\"celsius\":{\"type\":\"number\"}")
    }).pipe(Effect.provide(mock(
      [MockProvider.reply("{\"city\":\"Lyon\",\"celsius\":18}")],
      { capabilities: { jsonSchema: false, structuredOutput: "json-object" } }
    ))))

  it.effect("an answer that does not match the schema is MalformedOutput (from @effect/ai's decoding)", () =>
    Effect.gen(function*() {
      const error = yield* LanguageModel.generateObject({ prompt: "Lyon?", schema: City }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "MalformedOutput")
    }).pipe(Effect.provide(mock([MockProvider.reply("{\"city\":\"Lyon\"}")]))))
})

const chunk = (delta: ChatCompletionChunk["choices"][number]["delta"], finish: any = null): ChatCompletionChunk => ({
  id: "s1",
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: "mock-model",
  choices: [{ index: 0, delta, finish_reason: finish }]
})

const usageChunk: ChatCompletionChunk = {
  id: "s1",
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: "mock-model",
  choices: [],
  usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, completion_tokens_details: { reasoning_tokens: 2 } }
}

describe("streamText", () => {
  it.effect("reasoning, text and a tool call as start/delta/end runs, the call whole, finish with the usage", () =>
    Effect.gen(function*() {
      const parts = Chunk.toArray(
        yield* Stream.runCollect(LanguageModel.streamText({ prompt: "hi", toolkit: Weather }))
      )
      const summary = parts.map((part) => {
        switch (part.type) {
          case "text-delta":
          case "reasoning-delta":
          case "tool-params-delta":
            return `${part.type}:${part.delta}`
          case "tool-call":
            return `tool-call:${part.name}:${JSON.stringify(part.params)}`
          case "tool-result":
            return `tool-result:${JSON.stringify(part.result)}`
          case "finish":
            return `finish:${part.reason}:${part.usage.totalTokens}:${part.usage.reasoningTokens}`
          default:
            return part.type
        }
      })
      assert.deepStrictEqual(summary, [
        "response-metadata",
        "reasoning-start",
        "reasoning-delta:thinking ",
        "reasoning-delta:hard",
        "reasoning-end",
        "text-start",
        "text-delta:Let me ",
        "text-delta:see.",
        "text-end",
        "tool-params-start",
        "tool-params-delta:{\"city\":",
        "tool-params-delta:\"Lyon\"}",
        "tool-params-end",
        "tool-call:get_weather:{\"city\":\"Lyon\"}",
        "tool-result:{\"celsius\":4}",
        "finish:tool-calls:7:2"
      ])
      const start = parts.find((part) => part.type === "tool-params-start")!
      assert.strictEqual(start.type === "tool-params-start" && start.id, "call_9")
    }).pipe(
      Effect.provide(mock([
        MockProvider.stream([
          chunk({ role: "assistant", reasoning_content: "thinking " }),
          chunk({ reasoning_content: "hard" }),
          chunk({ content: "Let me " }),
          chunk({ content: "see." }),
          chunk({ tool_calls: [{ index: 0, id: "call_9", type: "function", function: { name: "get_weather" } }] }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: "{\"city\":" } }] }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: "\"Lyon\"}" } }] }),
          chunk({}, "tool_calls"),
          usageChunk
        ])
      ])),
      Effect.provide(WeatherHandlers)
    ))

  it.effect("a stream cut mid-way ends with the AiError of our error, after the parts that came", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const error = yield* LanguageModel.streamText({ prompt: "hi" }).pipe(
        Stream.runForEach((part) => Effect.sync(() => seen.push(part.type))),
        Effect.flip
      )
      assert.deepStrictEqual(seen, ["response-metadata", "text-start", "text-delta", "text-delta"])
      assert.strictEqual(error._tag, "HttpRequestError")
      assert.strictEqual((error as any).cause._tag, "NetworkError")
    }).pipe(Effect.provide(mock([MockProvider.stream(["Hello", " world"], { failWith: networkError })]))))
})
