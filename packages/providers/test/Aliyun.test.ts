/**
 * The Aliyun (DashScope native) provider over a real loopback socket.
 *
 * There are no public recordings of DashScope's native protocol: every transcript here is CONSTRUCTED from the
 * protocol reference (shared/protocols, DashScope §5.4: framing `id:N` / `event:result` / `:HTTP_STATUS/200` /
 * `data:` without a space, `finish_reason: "null"` while streaming, cumulative usage on every event, tool-call
 * fragments with `id: ""`), and marked "constructed" where defined.
 */
import * as PlatformHttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import { assert, describe, it } from "@effect/vitest"
import type { ChatCompletionChunk, ChatCompletionRequest, LlmError } from "@llm-api-router/core"
import { ChatStream, Http, LlmProvider } from "@llm-api-router/core"
import { Aliyun } from "@llm-api-router/providers"
import { Client } from "@llm-api-router/providers/Client"
import { FakeDashScope, FakeServer } from "@llm-api-router/providers/testing"
import * as Chunk from "effect/Chunk"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { awkwardCuts, failure } from "./helpers.js"

const SECRET = "sk-dashscope-test-0123456789-SECRET"
const apiKey = Redacted.make(SECRET)
const hello: ChatCompletionRequest = { model: "qwen-plus", messages: [{ role: "user", content: "杭州天气？" }] }
const GENERATION = "/api/v1/services/aigc/text-generation/generation"
const MULTIMODAL = "/api/v1/services/aigc/multimodal-generation/generation"
const EMBEDDING = "/api/v1/services/embeddings/text-embedding/text-embedding"

const withProvider = <A, E>(
  server: FakeServer.FakeServer,
  options: Partial<Aliyun.Options>,
  f: (llm: LlmProvider.Service) => Effect.Effect<A, E>
) =>
  Effect.flatMap(LlmProvider.LlmProvider, f).pipe(
    Effect.provide(Aliyun.layer({ apiKey, baseUrl: `${server.url}/api/v1`, retry: false, ...options })),
    Effect.provide(Http.layer())
  )

// ---------------------------------------------------------------------------------------------------------------
// constructed transcripts
// ---------------------------------------------------------------------------------------------------------------

interface WireMessage {
  readonly content?: unknown
  readonly reasoning_content?: string
  readonly tool_calls?: ReadonlyArray<unknown>
}

/** One constructed result event (result_format "message"); usage is cumulative, as DashScope sends it. */
const result = (message: WireMessage, finish: string, input: number, output: number, requestId = "5e7a3c4e-c0n5") => ({
  output: { choices: [{ message: { role: "assistant", content: "", ...message }, finish_reason: finish }] },
  usage: { input_tokens: input, output_tokens: output, total_tokens: input + output },
  request_id: requestId
})

const call = (id: string, name: string | undefined, args: string, index = 0) => ({
  index,
  id,
  type: "function",
  function: { ...(name !== undefined ? { name } : {}), arguments: args }
})

interface Expected {
  readonly content: string
  readonly reasoning: string
  readonly calls: ReadonlyArray<{ readonly id: string; readonly name: string; readonly arguments: string }>
  readonly finish: string
  readonly usage: { readonly prompt: number; readonly completion: number; readonly total: number }
}

const weather: Expected = {
  content: "杭州现在26°C，有小雨。",
  reasoning: "",
  calls: [],
  finish: "stop",
  usage: { prompt: 86, completion: 14, total: 100 }
}
const toolCall: Expected = {
  content: "",
  reasoning: "",
  calls: [{ id: "call_6596dafa2a6a46f7a217da", name: "get_weather", arguments: "{\"city\": \"Hangzhou\"}" }],
  finish: "tool_calls",
  usage: { prompt: 210, completion: 21, total: 231 }
}
const thinking: Expected = {
  content: "是的，会下雨。",
  reasoning: "用户问天气。查看预报：小雨。",
  calls: [],
  finish: "stop",
  usage: { prompt: 30, completion: 40, total: 70 }
}
const parallel: Expected = {
  content: "",
  reasoning: "",
  calls: [
    { id: "call_a1", name: "get_weather", arguments: "{\"city\": \"杭州\"}" },
    { id: "call_b2", name: "get_time", arguments: "{\"zone\": \"Asia/Shanghai\"}" }
  ],
  finish: "tool_calls",
  usage: { prompt: 300, completion: 30, total: 330 }
}

const transcripts: ReadonlyArray<
  { readonly name: string; readonly events: ReadonlyArray<unknown>; readonly expected: Expected }
> = [
  {
    name: "constructed text, incremental (doc §5.4)",
    events: [
      result({ content: "杭州" }, "null", 86, 1),
      result({ content: "现在26°C" }, "null", 86, 6),
      result({ content: "，有小雨。" }, "stop", 86, 14)
    ],
    expected: weather
  },
  {
    name: "constructed text, cumulative (incremental_output false)",
    events: [
      result({ content: "杭州" }, "null", 86, 1),
      result({ content: "杭州现在26°C" }, "null", 86, 6),
      result({ content: "杭州现在26°C，有小雨。" }, "stop", 86, 14)
    ],
    expected: weather
  },
  {
    name: "constructed tool call, incremental with id \"\" continuations (doc §5.4)",
    events: [
      result({ tool_calls: [call("call_6596dafa2a6a46f7a217da", "get_weather", "")] }, "null", 210, 8),
      result({ tool_calls: [call("", undefined, "{\"city\": \"Hang")] }, "null", 210, 14),
      result({ tool_calls: [call("", undefined, "zhou\"}")] }, "null", 210, 19),
      result({}, "tool_calls", 210, 21)
    ],
    expected: toolCall
  },
  {
    name: "constructed tool call, cumulative (the whole call repeated)",
    events: [
      result({ tool_calls: [call("call_6596dafa2a6a46f7a217da", "get_weather", "")] }, "null", 210, 8),
      result(
        { tool_calls: [call("call_6596dafa2a6a46f7a217da", "get_weather", "{\"city\": \"Hang")] },
        "null",
        210,
        14
      ),
      result(
        { tool_calls: [call("call_6596dafa2a6a46f7a217da", "get_weather", "{\"city\": \"Hangzhou\"}")] },
        "null",
        210,
        19
      ),
      result(
        { tool_calls: [call("call_6596dafa2a6a46f7a217da", "get_weather", "{\"city\": \"Hangzhou\"}")] },
        "tool_calls",
        210,
        21
      )
    ],
    expected: toolCall
  },
  {
    name: "constructed thinking model, incremental",
    events: [
      result({ reasoning_content: "用户问天气。" }, "null", 30, 10),
      result({ reasoning_content: "查看预报：小雨。" }, "null", 30, 25),
      result({ content: "是的，" }, "null", 30, 35),
      result({ content: "会下雨。" }, "stop", 30, 40)
    ].map((e, i) => i === 3 ? { ...e, usage: { ...e.usage, output_tokens_details: { reasoning_tokens: 25 } } } : e),
    expected: thinking
  },
  {
    name: "constructed thinking model, cumulative",
    events: [
      result({ reasoning_content: "用户问天气。" }, "null", 30, 10),
      result({ reasoning_content: "用户问天气。查看预报：小雨。" }, "null", 30, 25),
      result({ reasoning_content: "用户问天气。查看预报：小雨。", content: "是的，" }, "null", 30, 35),
      result({ reasoning_content: "用户问天气。查看预报：小雨。", content: "是的，会下雨。" }, "stop", 30, 40)
    ],
    expected: thinking
  },
  {
    name: "constructed parallel tool calls, incremental",
    events: [
      result({ tool_calls: [call("call_a1", "get_weather", "")] }, "null", 300, 5),
      result({ tool_calls: [call("", undefined, "{\"city\": \"杭州\"}")] }, "null", 300, 12),
      result({ tool_calls: [call("call_b2", "get_time", "{\"zone\": ", 1)] }, "null", 300, 20),
      result({ tool_calls: [call("", undefined, "\"Asia/Shanghai\"}", 1)] }, "null", 300, 28),
      result({}, "tool_calls", 300, 30)
    ],
    expected: parallel
  }
]

const chunkings: ReadonlyArray<{ readonly name: string; readonly options: FakeDashScope.StreamReplyOptions }> = [
  { name: "one event per write", options: {} },
  { name: "7-byte pieces", options: { split: 7 } },
  { name: "CRLF framing in 3-byte pieces", options: { lineEnding: "\r\n", split: 3 } },
  { name: "CR framing in 64-byte pieces", options: { lineEnding: "\r", split: 64 } },
  { name: "1-byte pieces", options: { split: 1 } }
]

const assertStream = (all: ReadonlyArray<ChatCompletionChunk>, expected: Expected) =>
  Effect.gen(function*() {
    const completion = yield* ChatStream.toCompletion(Stream.fromIterable(all))
    const message = completion.choices[0]!.message
    assert.strictEqual(message.content ?? "", expected.content)
    assert.strictEqual(message.reasoning_content ?? "", expected.reasoning)
    assert.deepStrictEqual(
      (message.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })),
      expected.calls
    )
    assert.strictEqual(completion.choices[0]!.finish_reason, expected.finish)
    assert.strictEqual(all[0]!.choices[0]!.delta.role, "assistant")
    assert.strictEqual(all.filter((c) => c.choices.some((ch) => ch.finish_reason !== null)).length, 1)
    const last = all[all.length - 1]!
    assert.deepStrictEqual(last.choices, [])
    assert.strictEqual(last.usage?.prompt_tokens, expected.usage.prompt)
    assert.strictEqual(last.usage?.completion_tokens, expected.usage.completion)
    assert.strictEqual(last.usage?.total_tokens, expected.usage.total)
    assert.isTrue(all.slice(0, -1).every((c) => c.usage === undefined))
    assert.isTrue(all.every((c) => c.provider === "aliyun" && c.model === "qwen-plus"))
  })

describe("Aliyun: constructed transcripts replay through the real HTTP path", () => {
  for (const { events, expected, name } of transcripts) {
    for (const { name: chunking, options } of chunkings) {
      it.scopedLive(`${name}: ${chunking}`, () =>
        Effect.gen(function*() {
          const server = yield* FakeServer.make()
          server.enqueue(FakeDashScope.streamReply(events, options))
          const chunks = yield* withProvider(server, {}, (llm) => Stream.runCollect(llm.stream(hello)))
          yield* assertStream(Chunk.toReadonlyArray(chunks), expected)
        }))
    }
    it.scopedLive(`${name}: cuts inside multi-byte characters and CRLF pairs`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        const body = FakeDashScope.sse(events, { lineEnding: "\r\n" })
        const cuts = awkwardCuts(body)
        assert.isAbove(cuts.length, 10)
        server.enqueue({ headers: { "content-type": "text/event-stream" }, chunks: [body], split: cuts })
        const chunks = yield* withProvider(server, {}, (llm) => Stream.runCollect(llm.stream(hello)))
        yield* assertStream(Chunk.toReadonlyArray(chunks), expected)
      }))
  }

  it.scopedLive("cumulative and incremental output of the same answer give the same chunks' content", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeDashScope.responder())
      const request = { ...hello, messages: [{ role: "user" as const, content: "一 二 三 四 五" }] }
      const [incremental, cumulative] = yield* withProvider(server, {}, (llm) =>
        Effect.all([
          Stream.runCollect(llm.stream(request)),
          Stream.runCollect(llm.stream({ ...request, incremental_output: false } as ChatCompletionRequest))
        ]))
      const pieces = (chunks: Chunk.Chunk<ChatCompletionChunk>) =>
        Chunk.toReadonlyArray(chunks).flatMap((c) => c.choices.map((ch) => ch.delta.content ?? ""))
      assert.strictEqual((server.requests[0]!.json as any).parameters.incremental_output, true)
      assert.strictEqual((server.requests[1]!.json as any).parameters.incremental_output, false)
      assert.deepStrictEqual(pieces(cumulative), pieces(incremental))
      assert.strictEqual(pieces(incremental).join(""), "Echo: 一 二 三 四 五")
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// non-streaming bodies
// ---------------------------------------------------------------------------------------------------------------

describe("Aliyun: non-streaming responses", () => {
  it.scopedLive("constructed text body (doc §5.3): content, usage, request_id as id", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeDashScope.jsonReply({
        output: {
          choices: [{ finish_reason: "stop", message: { role: "assistant", content: "杭州现在26°C，有小雨。" } }]
        },
        usage: { input_tokens: 86, output_tokens: 14, total_tokens: 100 },
        request_id: "5e7a3c4e-0a7b-9c1d-8e2f-1234567890ab"
      }))
      const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
      assert.strictEqual(res.id, "5e7a3c4e-0a7b-9c1d-8e2f-1234567890ab")
      assert.strictEqual(res.object, "chat.completion")
      assert.strictEqual(res.provider, "aliyun")
      assert.strictEqual(res.model, "qwen-plus")
      assert.deepStrictEqual(res.choices[0]!.message, { role: "assistant", content: "杭州现在26°C，有小雨。" })
      assert.strictEqual(res.choices[0]!.finish_reason, "stop")
      assert.deepStrictEqual(res.usage, { prompt_tokens: 86, completion_tokens: 14, total_tokens: 100 })
    }))

  it.scopedLive("constructed tool-call body: content \"\" becomes null, finish tool_calls", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeDashScope.jsonReply({
        output: {
          choices: [{
            finish_reason: "tool_calls",
            message: {
              role: "assistant",
              content: "",
              tool_calls: [call("call_1", "get_weather", "{\"city\": \"Hangzhou\"}")]
            }
          }]
        },
        usage: { input_tokens: 210, output_tokens: 21, total_tokens: 231 },
        request_id: "r-1"
      }))
      const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
      assert.deepStrictEqual(res.choices[0]!.message, {
        role: "assistant",
        content: null,
        tool_calls: [{
          id: "call_1",
          type: "function",
          function: { name: "get_weather", arguments: "{\"city\": \"Hangzhou\"}" }
        }]
      })
      assert.strictEqual(res.choices[0]!.finish_reason, "tool_calls")
    }))

  it.scopedLive("result_format \"text\" bodies (output.text) are read too", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeDashScope.jsonReply({
        output: { text: "你好", finish_reason: "length" },
        usage: { input_tokens: 3, output_tokens: 2 },
        request_id: "r-2"
      }))
      const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
      assert.strictEqual(res.choices[0]!.message.content, "你好")
      assert.strictEqual(res.choices[0]!.finish_reason, "length")
      // a missing total_tokens is computed
      assert.deepStrictEqual(res.usage, { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 })
    }))

  it.scopedLive("multimodal bodies answer with a list of text parts", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeDashScope.jsonReply({
        output: { choices: [{ finish_reason: "stop", message: { role: "assistant", content: [{ text: "一只猫" }] } }] },
        usage: {
          input_tokens: 1200,
          output_tokens: 4,
          total_tokens: 1204,
          prompt_tokens_details: { cached_tokens: 1000 }
        },
        request_id: "r-3"
      }))
      const res = yield* withProvider(server, {}, (llm) => llm.chat({ ...hello, model: "qwen-vl-max" }))
      assert.strictEqual(server.requests[0]!.path, MULTIMODAL)
      assert.strictEqual(res.choices[0]!.message.content, "一只猫")
      assert.deepStrictEqual(res.usage?.prompt_tokens_details, { cached_tokens: 1000 })
    }))

  it.scopedLive("a 200 whose JSON is not a generation is a ResponseDecodeError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeDashScope.jsonReply({ hello: "world" }))
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "ResponseDecodeError")
    }))

  it.scopedLive("a flat error body inside a 200 fails typed", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeDashScope.jsonReply({ code: "Throttling", message: "Requests throttling triggered.", request_id: "r-4" })
      )
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "RateLimitError")
      assert.strictEqual(error._tag !== "RetryExhausted" ? error.requestId : undefined, "r-4")
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// the wire request
// ---------------------------------------------------------------------------------------------------------------

describe("Aliyun: the wire request", () => {
  it.scopedLive("a conversation with a system prompt, a tool call and its result, and an image", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeDashScope.responder())
      yield* withProvider(server, { headers: { "x-team": "a" }, workspace: "ws-1" }, (llm) =>
        llm.chat({
          model: "qwen-vl-max",
          messages: [
            { role: "system", content: "You are a weather assistant." },
            { role: "user", content: "Weather in Hangzhou?" },
            {
              role: "assistant",
              content: null,
              tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }]
            },
            { role: "tool", tool_call_id: "call_1", content: "26°C, light rain" },
            {
              role: "user",
              content: [
                { type: "text", text: "And this photo?" },
                { type: "image_url", image_url: { url: "https://example.com/sky.png" } }
              ]
            }
          ],
          temperature: 0.7,
          max_completion_tokens: 100,
          stop: ["Observation:"],
          tools: [{
            type: "function",
            function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } }
          }],
          tool_choice: "auto",
          top_k: 20
        } as ChatCompletionRequest))
      const request = server.requests[0]!
      assert.strictEqual(request.method, "POST")
      assert.strictEqual(request.path, MULTIMODAL)
      assert.strictEqual(request.headers["authorization"], `Bearer ${SECRET}`)
      assert.strictEqual(request.headers["content-type"], "application/json")
      assert.strictEqual(request.headers["accept"], "application/json")
      assert.strictEqual(request.headers["x-team"], "a")
      assert.strictEqual(request.headers["x-dashscope-workspace"], "ws-1")
      assert.isUndefined(request.headers["x-dashscope-sse"])
      assert.deepStrictEqual(request.json, {
        model: "qwen-vl-max",
        input: {
          messages: [
            { role: "system", content: [{ text: "You are a weather assistant." }] },
            { role: "user", content: [{ text: "Weather in Hangzhou?" }] },
            {
              role: "assistant",
              content: [{ text: "" }],
              tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{}" } }]
            },
            { role: "tool", tool_call_id: "call_1", name: "get_weather", content: [{ text: "26°C, light rain" }] },
            { role: "user", content: [{ text: "And this photo?" }, { image: "https://example.com/sky.png" }] }
          ]
        },
        parameters: {
          temperature: 0.7,
          max_tokens: 100,
          stop: ["Observation:"],
          tools: [{
            type: "function",
            function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } }
          }],
          tool_choice: "auto",
          top_k: 20,
          result_format: "message"
        }
      })
    }))

  it.scopedLive("a text-only conversation goes to the text endpoint with string content", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeDashScope.responder())
      yield* withProvider(server, {}, (llm) =>
        llm.chat({
          messages: [
            { role: "developer", content: [{ type: "text", text: "be brief" }] },
            { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] },
            {
              role: "assistant",
              content: "calling",
              tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{\"x\":1}" } }]
            },
            { role: "tool", tool_call_id: "c1", content: "42" }
          ],
          tools: [{ type: "function", function: { name: "f" } }],
          tool_choice: "required"
        }))
      const request = server.requests[0]!
      assert.strictEqual(request.path, GENERATION)
      assert.deepStrictEqual(request.json, {
        model: "qwen-plus",
        input: {
          messages: [
            { role: "system", content: "be brief" },
            { role: "user", content: "a\nb" },
            {
              role: "assistant",
              content: "calling",
              tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{\"x\":1}" } }]
            },
            { role: "tool", tool_call_id: "c1", name: "f", content: "42" }
          ]
        },
        parameters: {
          tools: [{ type: "function", function: { name: "f" } }],
          // "required" with one tool is sent as that tool, which DashScope understands
          tool_choice: { type: "function", function: { name: "f" } },
          result_format: "message"
        }
      })
    }))

  it.scopedLive("stream: X-DashScope-SSE, an event-stream Accept, incremental_output and result_format", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeDashScope.responder())
      yield* withProvider(
        server,
        {},
        (llm) => Stream.runDrain(llm.stream({ messages: [{ role: "user", content: "hi" }] }))
      )
      const request = server.requests[0]!
      assert.strictEqual(request.path, GENERATION)
      assert.strictEqual(request.headers["x-dashscope-sse"], "enable")
      assert.strictEqual(request.headers["accept"], "text/event-stream")
      assert.deepStrictEqual(request.json, {
        model: "qwen-plus",
        input: { messages: [{ role: "user", content: "hi" }] },
        parameters: { result_format: "message", incremental_output: true }
      })
    }))

  it.scopedLive("a file part is rejected before any I/O, naming the field", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const error = yield* failure(withProvider(server, {}, (llm) =>
        llm.chat({
          messages: [{
            role: "user",
            content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }, {
              type: "file",
              file: { file_id: "f1" }
            }]
          }]
        })))
      assert.strictEqual(error._tag, "InvalidRequestError")
      if (error._tag === "InvalidRequestError") {
        assert.strictEqual(error.source, "client")
        assert.strictEqual(error.param, "messages[0].content[1]")
      }
      assert.strictEqual(server.requests.length, 0)
    }))

  it.scopedLive("invalid input is rejected with zero requests", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat({ messages: [] })))
      assert.strictEqual(error._tag, "InvalidRequestError")
      assert.strictEqual(server.requests.length, 0)
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------------------------

const errorRows: ReadonlyArray<{
  readonly status: number
  readonly code: string
  readonly message: string
  readonly tag: LlmError["_tag"]
}> = [
  { status: 401, code: "InvalidApiKey", message: "Invalid API-key provided.", tag: "AuthenticationError" },
  { status: 400, code: "InvalidApiKey", message: "Invalid API-key provided.", tag: "AuthenticationError" },
  { status: 429, code: "Throttling", message: "Requests throttling triggered.", tag: "RateLimitError" },
  { status: 429, code: "Throttling.RateQuota", message: "Requests rate limit exceeded.", tag: "RateLimitError" },
  { status: 429, code: "Throttling.AllocationQuota", message: "Free allocated quota exceeded.", tag: "RateLimitError" },
  {
    status: 400,
    code: "Arrearage",
    message: "Access denied, please make sure your account is in good standing.",
    tag: "QuotaExceededError"
  },
  {
    status: 403,
    code: "AllocationQuota.FreeTierOnly",
    message: "The free tier of the model has been exhausted.",
    tag: "QuotaExceededError"
  },
  {
    status: 400,
    code: "DataInspectionFailed",
    message: "Input data may contain inappropriate content.",
    tag: "ContentFilterError"
  },
  {
    status: 400,
    code: "InvalidParameter",
    message: "Either \"prompt\" or \"messages\" must exist",
    tag: "InvalidRequestError"
  },
  {
    status: 400,
    code: "InvalidParameter.DataInspection",
    message: "The media format is not supported",
    tag: "InvalidRequestError"
  },
  {
    status: 400,
    code: "InvalidParameter",
    message: "Range of input length should be [1, 129024]",
    tag: "ContextLengthError"
  },
  {
    status: 400,
    code: "InternalError.Algo.InvalidParameter",
    message: "Input length exceeds the model's maximum context length",
    tag: "ContextLengthError"
  },
  {
    status: 400,
    code: "BadRequest.EmptyModel",
    message: "Required parameter \"model\" missing.",
    tag: "InvalidRequestError"
  },
  { status: 404, code: "InvalidURL", message: "Invalid URL provided in your request.", tag: "InvalidRequestError" },
  { status: 400, code: "UnsupportedOperation", message: "The operation is unsupported.", tag: "InvalidRequestError" },
  { status: 404, code: "ModelNotFound", message: "Model not exist.", tag: "InvalidRequestError" },
  { status: 403, code: "AccessDenied.Unpurchased", message: "Access to model denied.", tag: "PermissionDeniedError" },
  { status: 403, code: "AccessDenied", message: "Access denied.", tag: "PermissionDeniedError" },
  { status: 408, code: "RequestTimeOut", message: "Request timed out, please try again later.", tag: "ProviderError" },
  { status: 413, code: "BadRequest.TooLarge", message: "Payload Too Large", tag: "InvalidRequestError" },
  {
    status: 500,
    code: "InternalError",
    message: "An internal error has occured, please try again later.",
    tag: "ProviderError"
  },
  { status: 500, code: "InternalError.Algo", message: "An error occurred in model serving.", tag: "ProviderError" },
  { status: 503, code: "ServiceUnavailable", message: "Service unavailable", tag: "ProviderError" },
  { status: 401, code: "invalid_api_key", message: "Incorrect API key provided.", tag: "AuthenticationError" },
  {
    status: 400,
    code: "data_inspection_failed",
    message: "Output data may contain inappropriate content.",
    tag: "ContentFilterError"
  },
  { status: 404, code: "model_not_found", message: "The model does not exist.", tag: "InvalidRequestError" },
  { status: 429, code: "SomethingNew", message: "slow down", tag: "RateLimitError" },
  { status: 418, code: "Teapot", message: "a teapot", tag: "InvalidRequestError" }
]

describe("Aliyun: the error-mapping table (HTTP error bodies)", () => {
  for (const row of errorRows) {
    it.scopedLive(`${row.status} ${row.code} → ${row.tag}`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(
          FakeDashScope.errorReply(row.status, { code: row.code, message: row.message, request_id: "req-123" })
        )
        const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
        assert.strictEqual(error._tag, row.tag)
        assert.strictEqual(error.provider, "aliyun")
        assert.strictEqual(error.model, "qwen-plus")
        if (error._tag !== "RetryExhausted") {
          assert.strictEqual(error.status, row.status)
          assert.strictEqual(error.requestId, "req-123")
          assert.strictEqual(error.code, row.code)
          assert.include(error.message, row.message)
        }
      }))
  }

  it.scopedLive("a 429 with retry-after carries it", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeDashScope.errorReply(429, { code: "Throttling.RateQuota", message: "slow" }, { "retry-after": "7" })
      )
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "RateLimitError")
      if (error._tag === "RateLimitError") assert.isTrue(error.retryAfter._tag === "Some")
    }))

  it.scopedLive("Arrearage (a 400) is not retried under the default policy", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(() => FakeDashScope.errorReply(400, { code: "Arrearage", message: "overdue" }))
      const error = yield* failure(withProvider(server, { retry: undefined }, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "QuotaExceededError")
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("a non-200 answer to a stream with an SSE body holding one data: error line", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue({
        status: 401,
        headers: { "content-type": "text/event-stream" },
        body:
          "id:1\nevent:error\n:HTTP_STATUS/401\ndata:{\"code\":\"InvalidApiKey\",\"message\":\"Invalid API-key provided.\",\"request_id\":\"r-9\"}\n\n"
      })
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "AuthenticationError")
      if (error._tag === "AuthenticationError") {
        assert.strictEqual(error.code, "InvalidApiKey")
        assert.strictEqual(error.requestId, "r-9")
      }
    }))

  it.scopedLive("the API key never appears in an error, even when the server echoes it", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeDashScope.errorReply(401, { code: "InvalidApiKey", message: `Invalid API-key provided: ${SECRET}` })
      )
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      for (
        const text of [
          error.message,
          String(error),
          JSON.stringify(error),
          error.body ?? "",
          Exit.fail(error).toString()
        ]
      ) {
        assert.notInclude(text, SECRET)
      }
    }))
})

describe("Aliyun: error events inside a 200 stream", () => {
  const streamRows = errorRows.filter((row) =>
    ["DataInspectionFailed", "Throttling.RateQuota", "Arrearage", "InvalidApiKey", "InternalError", "InvalidParameter"]
      .includes(row.code)
  )
  for (const row of streamRows) {
    it.scopedLive(`event:error ${row.code} (${row.message.slice(0, 24)}…) → ${row.tag}`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(FakeDashScope.streamReply([
          result({ content: "杭州" }, "null", 86, 1),
          FakeDashScope.errorEvent(row.status, { code: row.code, message: row.message, request_id: "43d18007" })
        ]))
        const seen: Array<ChatCompletionChunk> = []
        const error = yield* failure(
          withProvider(
            server,
            {},
            (llm) => Stream.runForEach(llm.stream(hello), (c) => Effect.sync(() => seen.push(c)))
          )
        )
        assert.strictEqual(error._tag, row.tag)
        if (error._tag !== "RetryExhausted") {
          assert.strictEqual(error.code, row.code)
          assert.strictEqual(error.requestId, "43d18007")
        }
        assert.strictEqual(seen.length, 1)
      }))
  }

  it.scopedLive("an unknown code in an error event is a ProviderError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeDashScope.streamReply([FakeDashScope.errorEvent(500, { code: "Whatever", message: "boom" })]))
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "ProviderError")
    }))

  it.scopedLive("a flat error body in an event:result data line fails typed too", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeDashScope.streamReply([{
          code: "DataInspectionFailed",
          message: "Output data may contain inappropriate content.",
          request_id: "r"
        }])
      )
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "ContentFilterError")
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// quirks, one test each
// ---------------------------------------------------------------------------------------------------------------

describe("Aliyun: protocol quirks", () => {
  const collect = (server: FakeServer.FakeServer) =>
    withProvider(server, {}, (llm) => Effect.map(Stream.runCollect(llm.stream(hello)), Chunk.toReadonlyArray))

  it.scopedLive("data: without a space, id:/event: fields and :HTTP_STATUS comments are read byte-exactly", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue({
        headers: { "content-type": "text/event-stream" },
        body:
          "id:1\nevent:result\n:HTTP_STATUS/200\ndata:{\"output\":{\"choices\":[{\"message\":{\"role\":\"assistant\"," +
          "\"content\":\" 前导空格\"},\"finish_reason\":\"stop\"}]},\"usage\":{\"input_tokens\":1,\"output_tokens\":2," +
          "\"total_tokens\":3},\"request_id\":\"r\"}\n\n"
      })
      const all = yield* collect(server)
      // the only space after "data:" belongs to the content, which must keep it
      assert.strictEqual(all[0]!.choices[0]!.delta.content, " 前导空格")
    }))

  it.scopedLive("finish_reason \"null\" (a string) means not finished", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeDashScope.streamReply([
        result({ content: "a" }, "null", 1, 1),
        result({ content: "b" }, "stop", 1, 2)
      ]))
      const all = yield* collect(server)
      assert.deepStrictEqual(all.map((c) => c.choices[0]?.finish_reason), [null, "stop", undefined])
    }))

  it.scopedLive("no end marker: the stream ends at close after a real finish reason", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeDashScope.streamReply([result({ content: "a" }, "length", 1, 1)]))
      const all = yield* collect(server)
      assert.strictEqual(all[0]!.choices[0]!.finish_reason, "length")
    }))

  it.scopedLive("a stream closed before any real finish reason fails with NetworkError, after what arrived", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeDashScope.streamReply([result({ content: "a" }, "null", 1, 1), result({ content: "b" }, "null", 1, 2)])
      )
      const seen: Array<ChatCompletionChunk> = []
      const error = yield* failure(
        withProvider(server, {}, (llm) => Stream.runForEach(llm.stream(hello), (c) => Effect.sync(() => seen.push(c))))
      )
      assert.strictEqual(error._tag, "NetworkError")
      assert.strictEqual(seen.length, 2)
    }))

  it.scopedLive("a connection cut mid-stream fails with NetworkError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeDashScope.streamReply(transcripts[0]!.events, { disconnectAfter: 1 }))
      const error = yield* failure(collect(server))
      assert.strictEqual(error._tag, "NetworkError")
    }))

  it.scopedLive("usage on every event is cumulative: the last wins, never a sum", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeDashScope.streamReply([
        result({ content: "a" }, "null", 10, 1),
        result({ content: "b" }, "null", 10, 2),
        result({ content: "c" }, "stop", 10, 3)
      ]))
      const all = yield* collect(server)
      assert.deepStrictEqual(all[all.length - 1]!.usage, { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 })
    }))

  it.scopedLive("tool-call continuations with id \"\" keep the first id and name", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeDashScope.streamReply(transcripts[2]!.events))
      const all = yield* collect(server)
      const deltas = all.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []))
      assert.deepStrictEqual(deltas[0], {
        index: 0,
        id: "call_6596dafa2a6a46f7a217da",
        type: "function",
        function: { name: "get_weather", arguments: "" }
      })
      assert.isTrue(deltas.slice(1).every((d) => d.id === undefined && d.function?.name === undefined))
    }))

  it.scopedLive("a cumulative stream whose last event repeats the whole text emits nothing twice", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeDashScope.streamReply([
        result({ content: "你好" }, "null", 1, 1),
        result({ content: "你好，世界" }, "null", 1, 2),
        result({ content: "你好，世界" }, "stop", 1, 2)
      ]))
      const completion = yield* ChatStream.toCompletion(Stream.fromIterable(yield* collect(server)))
      assert.strictEqual(completion.choices[0]!.message.content, "你好，世界")
    }))

  it.scopedLive("incremental pieces that do not repeat the text so far are never cut", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeDashScope.streamReply([
        result({ content: "ab" }, "null", 1, 1),
        result({ content: "c" }, "null", 1, 2),
        // once deltas are established, a piece that happens to start with the text so far is still a delta
        result({ content: "abc" }, "stop", 1, 3)
      ]))
      const completion = yield* ChatStream.toCompletion(Stream.fromIterable(yield* collect(server)))
      assert.strictEqual(completion.choices[0]!.message.content, "abcabc")
    }))

  it.scopedLive("result_format \"text\" streams (output.text) are read too", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeDashScope.streamReply([
        {
          output: { text: "你", finish_reason: "null" },
          usage: { input_tokens: 1, output_tokens: 1 },
          request_id: "t"
        },
        {
          output: { text: "你好", finish_reason: "stop" },
          usage: { input_tokens: 1, output_tokens: 2 },
          request_id: "t"
        }
      ]))
      const all = yield* collect(server)
      const completion = yield* ChatStream.toCompletion(Stream.fromIterable(all))
      assert.strictEqual(completion.choices[0]!.message.content, "你好")
      assert.strictEqual(all[0]!.id, "t")
    }))

  it.scopedLive("a malformed data line fails with ResponseDecodeError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeDashScope.streamReply(["{not json"]))
      const error = yield* failure(collect(server))
      assert.strictEqual(error._tag, "ResponseDecodeError")
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// embeddings
// ---------------------------------------------------------------------------------------------------------------

describe("Aliyun: embeddings", () => {
  /** Answers each batch with vectors that encode the text, in reverse text_index order. */
  const reversing = (request: FakeServer.RecordedRequest) => {
    const body = request.json as any
    const texts: ReadonlyArray<string> = body.input.texts
    const embeddings = texts.map((text, i) => ({ text_index: i, embedding: [Number(text.slice(1)), i] })).reverse()
    return FakeDashScope.jsonReply({ output: { embeddings }, usage: { total_tokens: texts.length }, request_id: "e" })
  }

  it.scopedLive("23 texts on text-embedding-v4: batches of 10, 10, 3, joined in order", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(reversing)
      const input = Array.from({ length: 23 }, (_, i) => `t${i}`)
      const res = yield* withProvider(server, {}, (llm) =>
        llm.embed({ model: "text-embedding-v4", input, dimensions: 256, text_type: "query" } as any))
      assert.deepStrictEqual(
        server.requests.map((r) =>
          (r.json as any).input.texts.length
        ),
        [10, 10, 3]
      )
      assert.isTrue(server.requests.every((r) => r.path === EMBEDDING))
      assert.deepStrictEqual(server.requests[0]!.json, {
        model: "text-embedding-v4",
        input: { texts: input.slice(0, 10) },
        parameters: { text_type: "query", dimension: 256 }
      })
      assert.deepStrictEqual(res.data.map((d) => d.index), input.map((_, i) => i))
      assert.deepStrictEqual(res.data.map((d) => d.embedding[0]), input.map((_, i) => i))
      assert.deepStrictEqual(res.usage, { prompt_tokens: 23, total_tokens: 23 })
      assert.strictEqual(res.model, "text-embedding-v4")
      assert.strictEqual(res.provider, "aliyun")
    }))

  it.scopedLive("text-embedding-v2 takes 25 per call; embeddingBatchSize overrides", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(reversing)
      const input = Array.from({ length: 30 }, (_, i) => `t${i}`)
      yield* withProvider(server, {}, (llm) => llm.embed({ model: "text-embedding-v2", input }))
      yield* withProvider(server, { embeddingBatchSize: 6 }, (llm) => llm.embed({ model: "text-embedding-v3", input }))
      assert.deepStrictEqual(server.requests.map((r) => (r.json as any).input.texts.length), [25, 5, 6, 6, 6, 6, 6])
    }))

  it.scopedLive("without a model: text-embedding-v4, not the chat default; one string is one text", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeDashScope.responder())
      const res = yield* withProvider(server, {}, (llm) => llm.embed({ input: "风急天高猿啸哀" }))
      assert.deepStrictEqual(server.requests[0]!.json, {
        model: "text-embedding-v4",
        input: { texts: ["风急天高猿啸哀"] },
        parameters: {}
      })
      assert.strictEqual(res.data.length, 1)
      assert.strictEqual(res.data[0]!.embedding.length, 8)
    }))

  it.scopedLive("a batch's error fails the call typed", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeDashScope.responder())
      const error = yield* failure(withProvider(server, { embeddingBatchSize: 12 }, (llm) =>
        llm.embed({
          model: "text-embedding-v4",
          input: Array.from({ length: 12 }, (_, i) => `t${i}`)
        })))
      assert.strictEqual(error._tag, "InvalidRequestError")
      if (error._tag === "InvalidRequestError") {
        assert.strictEqual(error.code, "InvalidParameter")
      }
    }))

  it.scopedLive("a response with the wrong number of vectors is a ResponseDecodeError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeDashScope.jsonReply({ output: { embeddings: [{ text_index: 0, embedding: [1] }] }, usage: {} })
      )
      const error = yield* failure(
        withProvider(server, {}, (llm) => llm.embed({ model: "text-embedding-v4", input: ["a", "b"] }))
      )
      assert.strictEqual(error._tag, "ResponseDecodeError")
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// regions and config
// ---------------------------------------------------------------------------------------------------------------

describe("Aliyun: region selection", () => {
  /** An HttpClient that records each URL and fails as if offline: no request leaves the machine. */
  const recording = (urls: Array<string>) =>
    Layer.succeed(
      Http.HttpClient,
      PlatformHttpClient.make((request) => {
        urls.push(request.url)
        return Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause: "offline" }))
      })
    )

  const urlFor = (
    options: Partial<Aliyun.Options>,
    run: (llm: LlmProvider.Service) => Effect.Effect<unknown, LlmError>
  ) =>
    Effect.gen(function*() {
      const urls: Array<string> = []
      const error = yield* Effect.flip(
        Effect.flatMap(LlmProvider.LlmProvider, run).pipe(
          Effect.provide(Aliyun.layer({ apiKey, retry: false, ...options })),
          Effect.provide(recording(urls))
        )
      )
      assert.strictEqual(error._tag, "NetworkError")
      return urls[0]
    })

  it.effect("cn by default, intl on request, baseUrl over both", () =>
    Effect.gen(function*() {
      const chat = (llm: LlmProvider.Service) => llm.chat(hello)
      assert.strictEqual(yield* urlFor({}, chat), `https://dashscope.aliyuncs.com/api/v1${GENERATION.slice(7)}`)
      assert.strictEqual(yield* urlFor({ region: "cn" }, chat), `${Aliyun.baseUrls.cn}${GENERATION.slice(7)}`)
      assert.strictEqual(
        yield* urlFor({ region: "intl" }, chat),
        `https://dashscope-intl.aliyuncs.com/api/v1${GENERATION.slice(7)}`
      )
      assert.strictEqual(
        yield* urlFor({ region: "intl", baseUrl: "https://proxy.example/api/v1/" }, chat),
        `https://proxy.example/api/v1${GENERATION.slice(7)}`
      )
      assert.strictEqual(
        yield* urlFor({ region: "intl" }, (llm) => llm.embed({ input: "x" })),
        `https://dashscope-intl.aliyuncs.com/api/v1${EMBEDDING.slice(7)}`
      )
    }))

  it.effect("an unknown region or a bad baseUrl is rejected naming the field", () =>
    Effect.gen(function*() {
      for (
        const [options, param] of [[{ region: "us" as any }, "region"], [{ baseUrl: "dashscope" }, "baseUrl"]] as const
      ) {
        const error = yield* Effect.flip(
          LlmProvider.info.pipe(Effect.provide(Aliyun.layer({ apiKey, ...options })), Effect.provide(Http.layer()))
        )
        assert.strictEqual(error._tag, "InvalidRequestError")
        assert.strictEqual(error.param, param)
      }
    }))

  it.effect("layerConfig reads DASHSCOPE_API_KEY and DASHSCOPE_REGION", () =>
    Effect.gen(function*() {
      const urls: Array<string> = []
      yield* Effect.flip(
        LlmProvider.chat(hello).pipe(
          Effect.provide(Aliyun.layerConfig({ retry: false })),
          Effect.provide(recording(urls)),
          Effect.withConfigProvider(
            ConfigProvider.fromMap(new Map([["DASHSCOPE_API_KEY", SECRET], ["DASHSCOPE_REGION", "intl"]]))
          )
        )
      )
      assert.strictEqual(urls[0], `${Aliyun.baseUrls.intl}${GENERATION.slice(7)}`)
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// through the Promise facade
// ---------------------------------------------------------------------------------------------------------------

describe("Aliyun: through Client", () => {
  it("a full tool loop: the second request carries the first turn's tool call and result", async () => {
    const server = await FakeServer.start({ handler: FakeDashScope.responder() })
    try {
      await using client = new Client({
        provider: "aliyun",
        apiKey: SECRET,
        baseUrl: `${server.url}/api/v1`,
        retry: false
      })
      const tools = [{
        type: "function" as const,
        function: {
          name: "get_weather",
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
        }
      }]
      const user = { role: "user" as const, content: "杭州" }
      const first = await client.chat.completions.create({ messages: [user], tools })
      assert.strictEqual(first.choices[0]!.finish_reason, "tool_calls")
      assert.strictEqual(first.model, "qwen-plus")
      const calls = first.choices[0]!.message.tool_calls!
      assert.strictEqual(calls.length, 1)
      assert.deepStrictEqual(JSON.parse(calls[0]!.function.arguments), { city: "杭州" })

      const second = await client.chat.completions.create({
        messages: [user, first.choices[0]!.message, {
          role: "tool",
          tool_call_id: calls[0]!.id,
          content: "26°C，小雨"
        }],
        tools
      })
      assert.strictEqual(second.choices[0]!.finish_reason, "stop")
      assert.deepStrictEqual((server.requests[1]!.json as any).input.messages, [
        { role: "user", content: "杭州" },
        {
          role: "assistant",
          content: "",
          tool_calls: [{
            id: calls[0]!.id,
            type: "function",
            function: { name: "get_weather", arguments: calls[0]!.function.arguments }
          }]
        },
        { role: "tool", tool_call_id: calls[0]!.id, name: "get_weather", content: "26°C，小雨" }
      ])
      assert.strictEqual(server.requests[1]!.path, GENERATION)
      assert.strictEqual(server.requests[1]!.headers.authorization, `Bearer ${SECRET}`)

      // the same loop streamed
      const stream = await client.chat.completions.create({ messages: [user], tools, stream: true })
      const chunks: Array<ChatCompletionChunk> = []
      for await (const chunk of stream) chunks.push(chunk)
      const streamed = await Effect.runPromise(ChatStream.toCompletion(Stream.fromIterable(chunks)))
      assert.deepStrictEqual(
        streamed.choices[0]!.message.tool_calls?.map((c) => c.function),
        calls.map((c) => c.function)
      )
      assert.strictEqual(server.requests[2]!.headers["x-dashscope-sse"], "enable")

      const text = await client.chat.completions.create({
        messages: [{ role: "user", content: "你好 世界" }],
        stream: true
      })
      let content = ""
      for await (const chunk of text) content += chunk.choices[0]?.delta.content ?? ""
      assert.strictEqual(content, "Echo: 你好 世界")

      const emb = await client.embeddings.create({ input: ["a", "b"], dimensions: 16 })
      assert.strictEqual(emb.data.length, 2)
      assert.strictEqual(emb.data[0]!.embedding.length, 16)
    } finally {
      await server.close()
    }
  })
})
