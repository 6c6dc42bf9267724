/**
 * `@effect/ai`'s own API over real providers and a real loopback socket: OpenAI's and Anthropic's protocols against
 * their fake servers, asserting on what went over the wire.
 */
import * as Chat from "@effect/ai/Chat"
import * as EmbeddingModel from "@effect/ai/EmbeddingModel"
import * as LanguageModel from "@effect/ai/LanguageModel"
import * as Prompt from "@effect/ai/Prompt"
import * as Tool from "@effect/ai/Tool"
import * as Toolkit from "@effect/ai/Toolkit"
import { assert, describe, it } from "@effect/vitest"
import { Http, type LlmProvider } from "@llm-api-router/core"
import { Anthropic, DeepSeek, OpenAi, Zhipu } from "@llm-api-router/providers"
import { FakeAnthropic, FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { layerEmbeddingModel, layerLanguageModel } from "../src/index.js"

const apiKey = Redacted.make("sk-test-key")

const GetWeather = Tool.make("get_weather", {
  description: "The current weather in a city",
  parameters: { city: Schema.String },
  success: Schema.Struct({ celsius: Schema.Number })
})
const Weather = Toolkit.make(GetWeather)
const WeatherHandlers = Weather.toLayer({ get_weather: ({ city }) => Effect.succeed({ celsius: city.length }) })

const City = Schema.Struct({ city: Schema.String })

/** The model layer over a provider layer that needs an HttpClient, with our pooled one. */
const over = <E, R>(provider: Layer.Layer<LlmProvider.LlmProvider, E, R>) =>
  Layer.mergeAll(layerLanguageModel, layerEmbeddingModel({ maxBatchSize: 2 })).pipe(
    Layer.provide(provider),
    Layer.provide(Http.layer())
  )

const sent = (server: FakeServer.FakeServer, n: number): any => server.requests[n]!.json

/** Runs the tool loop with `Chat` until the model answers without tools; returns the steps and the last answer. */
const toolLoop = (prompt: string) =>
  Effect.gen(function*() {
    const chat = yield* Chat.fromPrompt(prompt)
    let response = yield* chat.generateText({ prompt: Prompt.empty, toolkit: Weather })
    const calls = [...response.toolCalls]
    let steps = 1
    while (response.finishReason === "tool-calls" && steps < 4) {
      response = yield* chat.generateText({ prompt: Prompt.empty, toolkit: Weather })
      steps++
    }
    return { steps, calls, response }
  })

const textOf = (parts: ReadonlyArray<{ readonly type: string }>) =>
  parts.map((part) => part.type === "text-delta" ? (part as any).delta : "").join("")

describe("over OpenAI's protocol (FakeOpenAi)", () => {
  const layerFor = (server: FakeServer.FakeServer) =>
    over(OpenAi.layer({ apiKey, baseUrl: `${server.url}/v1`, defaultModel: "gpt-test", retry: false }))

  it.scoped("generateText and streamText: the text, the finish reason, the usage", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make({ handler: FakeOpenAi.responder() })
      yield* Effect.gen(function*() {
        const response = yield* LanguageModel.generateText({ prompt: "hello there" })
        assert.strictEqual(response.text, "Echo: hello there")
        assert.strictEqual(response.finishReason, "stop")
        assert.isAbove(response.usage.totalTokens!, 0)
        const parts = Chunk.toArray(yield* Stream.runCollect(LanguageModel.streamText({ prompt: "count to three" })))
        assert.strictEqual(textOf(parts), "Echo: count to three")
        const finish = parts.at(-1)!
        assert.strictEqual(finish.type, "finish")
        assert.strictEqual(finish.type === "finish" && finish.reason, "stop")
        assert.isAbove(finish.type === "finish" ? finish.usage.totalTokens! : 0, 0)
        assert.strictEqual(sent(server, 1).stream, true)
      }).pipe(Effect.provide(layerFor(server)))
    }))

  it.scoped("a Toolkit in a tool loop with Chat: the call, its result on the wire, the answer", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make({ handler: FakeOpenAi.responder() })
      const { calls, response, steps } = yield* toolLoop("Lyon").pipe(
        Effect.provide(layerFor(server)),
        Effect.provide(WeatherHandlers)
      )
      assert.strictEqual(steps, 2)
      assert.deepStrictEqual(calls.map((call) => [call.name, call.params]), [["get_weather", { city: "Lyon" }]])
      assert.strictEqual(response.finishReason, "stop")
      const first = sent(server, 0)
      assert.deepStrictEqual(first.tools[0].function.name, "get_weather")
      assert.strictEqual(first.tool_choice, "auto")
      const second = sent(server, 1)
      const tool = second.messages.find((message: any) => message.role === "tool")
      assert.strictEqual(tool.tool_call_id, calls[0]!.id)
      assert.strictEqual(tool.content, "{\"celsius\":4}")
      const assistant = second.messages.find((message: any) => message.role === "assistant")
      assert.strictEqual(assistant.tool_calls[0].id, calls[0]!.id)
    }))

  it.scoped("generateObject: response_format json_schema on the wire, the answer decoded", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.jsonReply({
        id: "chatcmpl-1",
        object: "chat.completion",
        created: 1_700_000_000,
        model: "gpt-test",
        choices: [{ index: 0, message: { role: "assistant", content: "{\"city\":\"Lyon\"}" }, finish_reason: "stop" }],
        usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9, prompt_tokens_details: { cached_tokens: 2 } }
      }))
      const response = yield* LanguageModel.generateObject({ prompt: "Where?", schema: City, objectName: "place" })
        .pipe(
          Effect.provide(layerFor(server))
        )
      assert.deepStrictEqual(response.value, { city: "Lyon" })
      assert.strictEqual(response.usage.cachedInputTokens, 2)
      assert.deepStrictEqual(sent(server, 0).response_format.type, "json_schema")
      assert.deepStrictEqual(sent(server, 0).response_format.json_schema.name, "place")
      assert.deepStrictEqual(sent(server, 0).response_format.json_schema.schema.required, ["city"])
    }))

  it.scoped("EmbeddingModel: one vector per input, batched by maxBatchSize", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make({ handler: FakeOpenAi.responder() })
      const vectors = yield* Effect.flatMap(EmbeddingModel.EmbeddingModel, (model) => model.embedMany(["a", "b", "c"]))
        .pipe(Effect.provide(layerFor(server)))
      assert.lengthOf(vectors, 3)
      assert.lengthOf(vectors[0]!, 8)
      assert.notDeepEqual(vectors[0], vectors[1])
      assert.deepStrictEqual(server.requests.map((request) => (request.json as any).input), [["a", "b"], ["c"]])
    }))

  it.scoped("errors: a 401 is HttpResponseError, a cut connection HttpRequestError, each with our error as cause", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.errorReply(401, { message: "Incorrect API key provided", code: "invalid_api_key" }))
      server.enqueue({
        status: 200,
        headers: { "content-type": "text/event-stream" },
        chunks: ["data: {"],
        disconnectAfter: 1
      })
      yield* Effect.gen(function*() {
        const denied = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(Effect.flip)
        assert.strictEqual(denied._tag, "HttpResponseError")
        assert.strictEqual(denied._tag === "HttpResponseError" && denied.response.status, 401)
        assert.strictEqual((denied as any).cause._tag, "AuthenticationError")
        assert.notInclude(JSON.stringify(denied), "sk-test-key")
        const cut = yield* LanguageModel.streamText({ prompt: "hi" }).pipe(Stream.runDrain, Effect.flip)
        assert.strictEqual(cut._tag, "HttpRequestError")
        assert.strictEqual((cut as any).cause._tag, "NetworkError")
      }).pipe(Effect.provide(layerFor(server)))
    }))
})

describe("over Anthropic's protocol (FakeAnthropic)", () => {
  const layerFor = (server: FakeServer.FakeServer) =>
    over(Anthropic.layer({ apiKey, baseUrl: `${server.url}/v1`, defaultModel: "claude-test", retry: false }))

  it.scoped("generateText and streamText: the text and the finish", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make({ handler: FakeAnthropic.responder() })
      yield* Effect.gen(function*() {
        const response = yield* LanguageModel.generateText({
          prompt: [{ role: "system", content: "Be brief." }, { role: "user", content: "hello there" }]
        })
        assert.strictEqual(response.text, "Echo: hello there")
        assert.strictEqual(response.finishReason, "stop")
        assert.strictEqual(sent(server, 0).system, "Be brief.")
        const parts = Chunk.toArray(yield* Stream.runCollect(LanguageModel.streamText({ prompt: "count to three" })))
        assert.strictEqual(textOf(parts), "Echo: count to three")
        assert.deepStrictEqual(parts.map((part) => part.type).filter((type) => !type.endsWith("delta")), [
          "response-metadata",
          "text-start",
          "text-end",
          "finish"
        ])
      }).pipe(Effect.provide(layerFor(server)))
    }))

  it.scoped("a Toolkit in a tool loop with Chat: tool_use, then tool_result with its id on the wire", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make({ handler: FakeAnthropic.responder() })
      const { calls, response, steps } = yield* toolLoop("Paris").pipe(
        Effect.provide(layerFor(server)),
        Effect.provide(WeatherHandlers)
      )
      assert.strictEqual(steps, 2)
      assert.deepStrictEqual(calls.map((call) => [call.name, call.params]), [["get_weather", { city: "Paris" }]])
      assert.strictEqual(response.finishReason, "stop")
      assert.strictEqual(sent(server, 0).tools[0].name, "get_weather")
      const turns = sent(server, 1).messages
      const use = turns[1].content.find((block: any) => block.type === "tool_use")
      assert.deepStrictEqual([use.id, use.name, use.input], [calls[0]!.id, "get_weather", { city: "Paris" }])
      const result = turns[2].content.find((block: any) => block.type === "tool_result")
      assert.strictEqual(result.tool_use_id, calls[0]!.id)
      assert.include(JSON.stringify(result.content), "celsius")
    }))

  const thinkingAnswer = {
    id: "msg_1",
    type: "message",
    role: "assistant",
    model: "claude-test",
    content: [
      { type: "thinking", thinking: "The user wants Paris's weather.", signature: "sig-paris-1" },
      { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } }
    ],
    stop_reason: "tool_use",
    usage: { input_tokens: 10, output_tokens: 5 }
  }
  const finalAnswer = {
    id: "msg_2",
    type: "message",
    role: "assistant",
    model: "claude-test",
    content: [{ type: "text", text: "It is 5 degrees." }],
    stop_reason: "end_turn",
    usage: { input_tokens: 20, output_tokens: 5 }
  }
  /** The assistant turn replayed in the loop's second request. */
  const replayedTurn = (server: FakeServer.FakeServer) =>
    sent(server, 1).messages.find((message: any) => message.role === "assistant").content

  it.scoped("a Chat tool loop with thinking: the signed thinking block goes back, signature and all", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.jsonReply(thinkingAnswer))
      server.enqueue(FakeAnthropic.jsonReply(finalAnswer))
      const { response, steps } = yield* toolLoop("Paris").pipe(
        Effect.provide(layerFor(server)),
        Effect.provide(WeatherHandlers)
      )
      assert.strictEqual(steps, 2)
      assert.strictEqual(response.text, "It is 5 degrees.")
      const turn = replayedTurn(server)
      assert.deepStrictEqual(turn[0], {
        type: "thinking",
        thinking: "The user wants Paris's weather.",
        signature: "sig-paris-1"
      })
      assert.strictEqual(turn[1].type, "tool_use")
    }))

  it.scoped("a streamed Chat tool loop with thinking: the block assembled from the stream goes back signed", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.streamReply([
        { type: "message_start", message: { ...thinkingAnswer, content: [], stop_reason: null } },
        { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "", signature: "" } },
        { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "Oslo, " } },
        { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "then the tool." } },
        { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "sig-oslo" } },
        { type: "content_block_stop", index: 0 },
        {
          type: "content_block_start",
          index: 1,
          content_block: { type: "tool_use", id: "toolu_9", name: "get_weather", input: {} }
        },
        {
          type: "content_block_delta",
          index: 1,
          delta: { type: "input_json_delta", partial_json: "{\"city\":\"Oslo\"}" }
        },
        { type: "content_block_stop", index: 1 },
        { type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 7 } },
        { type: "message_stop" }
      ]))
      server.enqueue(FakeAnthropic.jsonReply(finalAnswer))
      const turn = yield* Effect.gen(function*() {
        const chat = yield* Chat.fromPrompt("Oslo")
        const parts = Chunk.toArray(
          yield* Stream.runCollect(chat.streamText({ prompt: Prompt.empty, toolkit: Weather }))
        )
        const finish = parts.find((part) => part.type === "finish")!
        assert.deepStrictEqual((finish.metadata as any)["llm-api-router"].thinking_blocks, [
          { type: "thinking", thinking: "Oslo, then the tool.", signature: "sig-oslo" }
        ])
        yield* chat.generateText({ prompt: Prompt.empty, toolkit: Weather })
        return replayedTurn(server)
      }).pipe(Effect.provide(layerFor(server)), Effect.provide(WeatherHandlers))
      assert.deepStrictEqual(turn[0], { type: "thinking", thinking: "Oslo, then the tool.", signature: "sig-oslo" })
      assert.deepStrictEqual([turn[1].type, turn[1].id], ["tool_use", "toolu_9"])
    }))

  it.scoped("a prompt's reasoning part that carries thinking blocks in its options sends them", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.jsonReply(finalAnswer))
      const block = { type: "thinking", thinking: "Earlier thought.", signature: "sig-given" }
      yield* LanguageModel.generateText({
        prompt: Prompt.make([
          { role: "user", content: "Rome" },
          {
            role: "assistant",
            content: [
              {
                type: "reasoning",
                text: "Earlier thought.",
                options: { "llm-api-router": { thinking_blocks: [block] } }
              },
              { type: "text", text: "Sunny." }
            ]
          },
          { role: "user", content: "And tomorrow?" }
        ])
      }).pipe(Effect.provide(layerFor(server)))
      const assistant = sent(server, 0).messages.find((message: any) => message.role === "assistant")
      assert.deepStrictEqual(assistant.content[0], block)
    }))

  it.scoped("streamText with a toolkit: tool-params parts, the call, the handler's result", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make({ handler: FakeAnthropic.responder() })
      const parts = Chunk.toArray(
        yield* Stream.runCollect(LanguageModel.streamText({ prompt: "Oslo", toolkit: Weather })).pipe(
          Effect.provide(layerFor(server)),
          Effect.provide(WeatherHandlers)
        )
      )
      const types = parts.map((part) => part.type)
      assert.includeMembers(types, ["tool-params-start", "tool-params-delta", "tool-params-end", "tool-call"])
      const call = parts.find((part) => part.type === "tool-call")!
      assert.deepStrictEqual(call.type === "tool-call" && call.params, { city: "Oslo" })
      const result = parts.find((part) => part.type === "tool-result")!
      assert.deepStrictEqual(result.type === "tool-result" && result.result, { celsius: 4 })
      const finish = parts.find((part) => part.type === "finish")!
      assert.strictEqual(finish.type === "finish" && finish.reason, "tool-calls")
    }))

  it.scoped("generateObject: Anthropic answers through its forced tool, decoded by the schema", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make({ handler: FakeAnthropic.responder() })
      const response = yield* LanguageModel.generateObject({ prompt: "Rome", schema: City }).pipe(
        Effect.provide(layerFor(server))
      )
      assert.deepStrictEqual(response.value, { city: "Rome" })
      const body = sent(server, 0)
      assert.strictEqual(body.tools.length, 1)
      assert.deepStrictEqual(body.tools[0].input_schema.required, ["city"])
      assert.deepStrictEqual(body.tool_choice, { type: "tool", name: body.tools[0].name })
    }))

  it.scoped("errors: a 429 is HttpResponseError with the status, our RateLimitError as cause", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.errorReply(429, { message: "Number of requests has exceeded your rate limit" }, {
        "retry-after": "3"
      }))
      const error = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(
        Effect.flip,
        Effect.provide(layerFor(server))
      )
      assert.strictEqual(error._tag, "HttpResponseError")
      assert.strictEqual(error._tag === "HttpResponseError" && error.response.status, 429)
      const cause = (error as any).cause
      assert.strictEqual(cause._tag, "RateLimitError")
      assert.strictEqual(cause.retryAfter._tag, "Some")
    }))
})

describe("generateObject in the other structured-output modes, over the OpenAI-compatible fake", () => {
  it.scoped("DeepSeek (tools only): a forced tool on the wire, its arguments decoded as the object", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make({ handler: FakeOpenAi.responder() })
      const response = yield* LanguageModel.generateObject({ prompt: "Rome", schema: City, objectName: "place" }).pipe(
        Effect.provide(
          over(DeepSeek.layer({ apiKey, baseUrl: server.url, defaultModel: "deepseek-chat", retry: false }))
        )
      )
      assert.deepStrictEqual(response.value, { city: "Rome" })
      assert.strictEqual(response.finishReason, "stop")
      const body = sent(server, 0)
      assert.isUndefined(body.response_format)
      assert.deepStrictEqual(body.tool_choice, { type: "function", function: { name: "place" } })
      assert.deepStrictEqual(body.tools[0].function.parameters.required, ["city"])
    }))

  it.scoped("Zhipu (JSON mode only): json_object and the schema in the system message on the wire", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.jsonReply({
        id: "c1",
        object: "chat.completion",
        created: 1_700_000_000,
        model: "glm-4-flash",
        choices: [{ index: 0, message: { role: "assistant", content: "{\"city\": \"Rome\"}" }, finish_reason: "stop" }],
        usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 }
      }))
      const response = yield* LanguageModel.generateObject({ prompt: "Rome", schema: City }).pipe(
        Effect.provide(over(Zhipu.layer({
          apiKey: Redacted.make("0123456789abcdef.0123456789abcdef"),
          baseUrl: server.url,
          defaultModel: "glm-4-flash",
          retry: false
        })))
      )
      assert.deepStrictEqual(response.value, { city: "Rome" })
      const body = sent(server, 0)
      assert.deepStrictEqual(body.response_format, { type: "json_object" })
      assert.strictEqual(body.messages[0].role, "system")
      assert.include(body.messages[0].content, "\"required\":[\"city\"]")
      assert.isUndefined(body.tools)
    }))
})
