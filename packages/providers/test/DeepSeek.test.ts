import { assert, describe, it } from "@effect/vitest"
import type { ChatCompletionChunk, ChatCompletionRequest, ChatMessage, LlmError } from "@llm-api-router/core"
import { ChatStream, ChunkContract, Http, LlmProvider } from "@llm-api-router/core"
import { DeepSeek } from "@llm-api-router/providers"
import { Client } from "@llm-api-router/providers/Client"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Chunk from "effect/Chunk"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { loadChunks, loadJson } from "./fixtures.js"
import { awkwardCuts, failure } from "./helpers.js"
import { chunkings, expectedFromWire } from "./openAiDialects.js"

const SECRET = "sk-deepseek-0123456789-SECRET"
const apiKey = Redacted.make(SECRET)
const hello: ChatCompletionRequest = { model: "deepseek-reasoner", messages: [{ role: "user", content: "hi" }] }

const withProvider = <A, E>(
  server: FakeServer.FakeServer,
  options: Partial<DeepSeek.Options>,
  f: (llm: LlmProvider.Service) => Effect.Effect<A, E>
) =>
  Effect.flatMap(LlmProvider.LlmProvider, f).pipe(
    Effect.provide(DeepSeek.layer({ apiKey, baseUrl: server.url, retry: false, ...options })),
    Effect.provide(Http.layer())
  )

const collect = (server: FakeServer.FakeServer, request: ChatCompletionRequest = hello) =>
  Effect.map(withProvider(server, {}, (llm) => Stream.runCollect(llm.stream(request))), Chunk.toReadonlyArray)

describe("DeepSeek: recorded responses (real captures) replay through the real HTTP path", () => {
  for (const name of ["deepseek-text", "deepseek-reasoning", "deepseek-tool-call"]) {
    const wire = loadChunks("deepseek", name)
    const expected = expectedFromWire(wire)
    for (const { name: chunking, options } of chunkings) {
      it.scopedLive(`${name}: ${chunking}`, () =>
        Effect.gen(function*() {
          const server = yield* FakeServer.make()
          server.enqueue(FakeOpenAi.streamReply(wire, { ...options, comments: [": keep-alive"] }))
          const all = yield* collect(server)
          const completion = yield* ChatStream.toCompletion(Stream.fromIterable(all))
          const message = completion.choices[0]!.message
          assert.strictEqual(message.content ?? "", expected.content)
          assert.strictEqual(message.reasoning_content ?? "", expected.reasoning)
          assert.deepStrictEqual(
            (message.tool_calls ?? []).map((c) => ({
              id: c.id,
              name: c.function.name,
              arguments: c.function.arguments
            })),
            expected.calls
          )
          assert.strictEqual(
            completion.choices[0]!.finish_reason,
            expected.calls.length > 0 ? "tool_calls" : expected.finish
          )
          assert.strictEqual(all[0]!.choices[0]!.delta.role, "assistant")
          assert.isTrue(all.every((c) => c.provider === "deepseek"))
          // content: null during reasoning never becomes text
          assert.isTrue(all.every((c) => c.choices.every((ch) => ch.delta.content !== null)))
          assert.notInclude(message.content ?? "", "null")
          // DeepSeek puts usage on the finishing chunk; we emit it last, on its own, with no choices
          const last = all[all.length - 1]!
          assert.deepStrictEqual(last.choices, [])
          assert.deepStrictEqual(
            [last.usage?.prompt_tokens, last.usage?.completion_tokens, last.usage?.total_tokens],
            [expected.usage.prompt_tokens, expected.usage.completion_tokens, expected.usage.total_tokens]
          )
          assert.isTrue(all.slice(0, -1).every((c) => c.usage === undefined))
          assert.strictEqual(all.filter((c) => c.choices.some((ch) => ch.finish_reason !== null)).length, 1)
        }))
    }
    it.scopedLive(`${name}: cuts inside multi-byte characters and CRLF pairs`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        const body = FakeOpenAi.sse(wire, { lineEnding: "\r\n", comments: [": keep-alive"] })
        server.enqueue({ headers: { "content-type": "text/event-stream" }, chunks: [body], split: awkwardCuts(body) })
        const completion = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
        assert.strictEqual(completion.choices[0]!.message.content ?? "", expected.content)
        assert.strictEqual(completion.choices[0]!.message.reasoning_content ?? "", expected.reasoning)
      }))
  }

  for (const name of ["deepseek-text", "deepseek-reasoning", "deepseek-tool-call"]) {
    it.scopedLive(`${name}.json: the non-streaming body`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        const body = loadJson("deepseek", name) as any
        server.enqueue(FakeOpenAi.jsonReply(body))
        const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
        const wireMessage = body.choices[0].message
        assert.strictEqual(res.id, body.id)
        assert.strictEqual(res.provider, "deepseek")
        // A message with only tool calls has content null, whatever the server sent (DeepSeek: `""`).
        assert.strictEqual(
          res.choices[0]!.message.content,
          ChunkContract.assistantContent(wireMessage.content, (wireMessage.tool_calls?.length ?? 0) > 0)
        )
        assert.strictEqual(res.choices[0]!.message.reasoning_content, wireMessage.reasoning_content ?? undefined)
        assert.deepStrictEqual(
          (res.choices[0]!.message.tool_calls ?? []).map((c) => [c.id, c.function.name, c.function.arguments]),
          (wireMessage.tool_calls ?? []).map((c: any) => [c.id, c.function.name, c.function.arguments])
        )
        assert.strictEqual(
          res.choices[0]!.finish_reason,
          wireMessage.tool_calls?.length ? "tool_calls" : body.choices[0].finish_reason
        )
        assert.deepStrictEqual(
          [res.usage?.prompt_tokens, res.usage?.completion_tokens, res.usage?.total_tokens],
          [body.usage.prompt_tokens, body.usage.completion_tokens, body.usage.total_tokens]
        )
      }))
  }
})

describe("DeepSeek: quirks", () => {
  const reasoning = loadChunks("deepseek", "deepseek-reasoning")

  it.scopedLive("`: keep-alive` comments before and between events are skipped", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const body = FakeOpenAi.sse(reasoning.slice(0, 3), { done: false, comments: [": keep-alive", ": keep-alive"] }) +
        ": keep-alive\n\n" + FakeOpenAi.sse(reasoning.slice(3))
      server.enqueue({ headers: { "content-type": "text/event-stream" }, chunks: [body], split: 11 })
      const completion = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
      assert.strictEqual(completion.choices[0]!.message.reasoning_content, expectedFromWire(reasoning).reasoning)
    }))

  it.scopedLive("leading blank lines before a stream's first event are skipped", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply(reasoning, { leadingBlankLines: 5, chunkDelay: 2 }))
      const completion = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
      assert.strictEqual(completion.choices[0]!.message.content, expectedFromWire(reasoning).content)
    }))

  it.scopedLive("leading blank lines before a non-streaming body (DeepSeek under load) are skipped", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const body = loadJson("deepseek", "deepseek-text") as any
      server.enqueue(FakeOpenAi.blankLinesJsonReply(body, 6, { chunkDelay: 5 }))
      const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
      assert.strictEqual(res.choices[0]!.message.content, body.choices[0].message.content)
    }))

  it.scopedLive("usage on the finishing chunk arrives as a separate last chunk with choices: [] (constructed)", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const base = { id: "u1", object: "chat.completion.chunk", created: 1, model: "deepseek-chat", usage: null }
      server.enqueue(FakeOpenAi.streamReply([
        { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: { content: "ok" }, finish_reason: null }] },
        {
          ...base,
          choices: [{ index: 0, delta: { content: "", reasoning_content: null }, finish_reason: "stop" }],
          usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4, prompt_cache_hit_tokens: 0 }
        }
      ]))
      const all = yield* collect(server, { ...hello, model: "deepseek-chat" })
      assert.deepStrictEqual(all.map((c) => [c.choices.length, c.choices[0]?.finish_reason ?? null, c.usage]), [
        [1, null, undefined],
        [1, null, undefined],
        [1, "stop", undefined],
        [0, null, { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 }]
      ])
    }))

  it.scopedLive("finish_reason insufficient_system_resource fails with a retryable ProviderError (constructed)", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const base = { id: "c1", object: "chat.completion.chunk", created: 1, model: "deepseek-chat" }
      server.enqueue(FakeOpenAi.streamReply([
        { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "part" }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: { content: "" }, finish_reason: "insufficient_system_resource" }] }
      ]))
      const seen: Array<ChatCompletionChunk> = []
      const error = yield* failure(
        withProvider(server, {}, (llm) => Stream.runForEach(llm.stream(hello), (c) => Effect.sync(() => seen.push(c))))
      )
      assert.strictEqual(error._tag, "ProviderError")
      assert.strictEqual(error.code, "insufficient_system_resource")
      assert.strictEqual(seen[0]!.choices[0]!.delta.content, "part")

      server.enqueue(FakeOpenAi.jsonReply({
        id: "c2",
        object: "chat.completion",
        created: 1,
        model: "deepseek-chat",
        choices: [{
          index: 0,
          message: { role: "assistant", content: "par" },
          finish_reason: "insufficient_system_resource"
        }]
      }))
      const chatError = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(chatError._tag, "ProviderError")
    }))
})

describe("DeepSeek: the wire request", () => {
  const toolLoop: ReadonlyArray<ChatMessage> = [
    { role: "user", content: "Weather in Lisbon?" },
    {
      role: "assistant",
      content: "",
      reasoning_content: "Need the weather tool.",
      tool_calls: [{
        id: "call_00_a",
        type: "function",
        function: { name: "get_weather", arguments: "{\"city\":\"L\"}" }
      }]
    },
    { role: "tool", tool_call_id: "call_00_a", content: "{\"temp_c\":21}" },
    { role: "assistant", content: "21 °C.", reasoning_content: "Answer directly." },
    { role: "user", content: "And Porto?" },
    {
      role: "assistant",
      content: null,
      tool_calls: [{
        id: "call_00_b",
        type: "function",
        function: { name: "get_weather", arguments: "{\"city\":\"P\"}" }
      }]
    },
    { role: "tool", tool_call_id: "call_00_b", content: "{\"temp_c\":19}" }
  ]
  const textReply = () => FakeOpenAi.jsonReply(loadJson("deepseek", "deepseek-text"))

  it.scopedLive("chat: path without /v1, bearer key, JSON body, default model deepseek-chat", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(textReply())
      yield* withProvider(
        server,
        { headers: { "x-team": "a" } },
        (llm) => llm.chat({ messages: [{ role: "user", content: "hi" }], temperature: 0.3, max_completion_tokens: 50 })
      )
      const request = server.requests[0]!
      assert.strictEqual(request.method, "POST")
      assert.strictEqual(request.path, "/chat/completions")
      assert.strictEqual(request.headers["authorization"], `Bearer ${SECRET}`)
      assert.strictEqual(request.headers["content-type"], "application/json")
      assert.strictEqual(request.headers["accept"], "application/json")
      assert.strictEqual(request.headers["x-team"], "a")
      // DeepSeek reads max_tokens only
      assert.deepStrictEqual(request.json, {
        model: "deepseek-chat",
        messages: [{ role: "user", content: "hi" }],
        temperature: 0.3,
        max_tokens: 50
      })
    }))

  it.scopedLive("stream: asks for an event stream and usage", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply(loadChunks("deepseek", "deepseek-text")))
      yield* collect(server)
      const request = server.requests[0]!
      assert.strictEqual(request.headers["accept"], "text/event-stream")
      assert.deepStrictEqual(request.json, {
        model: "deepseek-reasoner",
        messages: [{ role: "user", content: "hi" }],
        stream: true,
        stream_options: { include_usage: true }
      })
    }))

  it.scopedLive("reasoning replay, default \"toolCalls\": kept on tool-calling turns (\"\" when absent), dropped elsewhere", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(textReply())
      yield* withProvider(server, {}, (llm) => llm.chat({ ...hello, messages: toolLoop }))
      const sent = (server.requests[0]!.json as any).messages
      assert.strictEqual(sent[1].reasoning_content, "Need the weather tool.")
      assert.notProperty(sent[3], "reasoning_content")
      assert.strictEqual(sent[5].reasoning_content, "")
      assert.deepStrictEqual(sent[0], toolLoop[0])
      assert.deepStrictEqual(sent[2], toolLoop[2])
    }))

  it.scopedLive("reasoning replay \"strip\" (R1): no reasoning_content in any message", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(textReply())
      yield* withProvider(server, { reasoningReplay: "strip" }, (llm) => llm.chat({ ...hello, messages: toolLoop }))
      const sent = (server.requests[0]!.json as any).messages as Array<any>
      assert.isTrue(sent.every((m) => !("reasoning_content" in m)))
      assert.strictEqual(sent.length, toolLoop.length)
    }))

  it.scopedLive("reasoning replay \"keep\": sent exactly as given", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(textReply())
      yield* withProvider(server, { reasoningReplay: "keep" }, (llm) => llm.chat({ ...hello, messages: toolLoop }))
      assert.deepStrictEqual((server.requests[0]!.json as any).messages, toolLoop)
    }))

  it.scopedLive("embeddings and JSON Schema formats are refused before any I/O", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const error = yield* failure(withProvider(server, {}, (llm) => llm.embed({ model: "m", input: "x" })))
      assert.strictEqual(error._tag, "UnsupportedFeatureError")
      const schemaError = yield* failure(withProvider(server, {}, (llm) =>
        llm.chat({
          ...hello,
          response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" } } }
        })))
      assert.strictEqual(schemaError._tag, "UnsupportedFeatureError")
      assert.strictEqual(server.requests.length, 0)
    }))

  it.effect("layerConfig reads DEEPSEEK_API_KEY and DEEPSEEK_MODEL", () =>
    Effect.gen(function*() {
      const info = yield* LlmProvider.info.pipe(
        Effect.provide(DeepSeek.layerConfig()),
        Effect.provide(Http.layer()),
        Effect.withConfigProvider(
          ConfigProvider.fromMap(new Map([["DEEPSEEK_API_KEY", SECRET], ["DEEPSEEK_MODEL", "deepseek-reasoner"]]))
        )
      )
      assert.strictEqual(info.name, "deepseek")
      assert.strictEqual(info.defaultModel, "deepseek-reasoner")
      const missing = yield* Effect.flip(
        LlmProvider.info.pipe(
          Effect.provide(
            Layer.orDie(Http.layer()).pipe(Layer.provideMerge(DeepSeek.layerConfig()), Layer.provide(Http.layer()))
          ),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
        )
      )
      assert.include(String(missing), "DEEPSEEK_API_KEY")
    }))
})

describe("DeepSeek: the error-mapping table (statuses from the Error Codes page; bodies constructed)", () => {
  const rows: ReadonlyArray<{ status: number; error: FakeOpenAi.ErrorBody; tag: LlmError["_tag"] }> = [
    { status: 400, error: { message: "Invalid Format", code: "invalid_request_error" }, tag: "InvalidRequestError" },
    {
      status: 400,
      error: {
        message: "The `reasoning_content` in the thinking mode must be passed back to the API.",
        code: "invalid_request_error"
      },
      tag: "InvalidRequestError"
    },
    {
      status: 401,
      error: { message: "Authentication Fails", type: "authentication_error" },
      tag: "AuthenticationError"
    },
    {
      status: 402,
      error: { message: "Insufficient Balance", type: "unknown_error", code: "invalid_request_error" },
      tag: "QuotaExceededError"
    },
    {
      status: 422,
      error: { message: "Invalid Parameters", code: "invalid_request_error" },
      tag: "InvalidRequestError"
    },
    { status: 429, error: { message: "Rate Limit Reached", code: "rate_limit_exceeded" }, tag: "RateLimitError" },
    { status: 429, error: { message: "Rate Limit Reached" }, tag: "RateLimitError" },
    { status: 500, error: { message: "Server Error" }, tag: "ProviderError" },
    { status: 503, error: { message: "Server Overloaded" }, tag: "ProviderError" }
  ]
  for (const row of rows) {
    it.scopedLive(`${row.status} ${row.error.message} → ${row.tag}`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(FakeOpenAi.errorReply(row.status, row.error))
        const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
        assert.strictEqual(error._tag, row.tag)
        assert.strictEqual(error.provider, "deepseek")
        if (error._tag !== "RetryExhausted") assert.strictEqual(error.status, row.status)
        assert.include(error.message, row.error.message)
      }))
  }

  it.scopedLive("a 402 is not retried under the default policy", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(() => FakeOpenAi.errorReply(402, { message: "Insufficient Balance" }))
      const error = yield* failure(withProvider(server, { retry: undefined }, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "QuotaExceededError")
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("the key never appears in an error", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.errorReply(401, { message: `bad key ${SECRET}` }))
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.notInclude(JSON.stringify(error) + error.message + String(error), SECRET)
    }))
})

describe("DeepSeek: through Client", () => {
  it.live("chat, stream and a tool loop with new Client({ provider: \"deepseek\" })", () =>
    Effect.promise(async () => {
      const server = await FakeServer.start({ handler: FakeOpenAi.responder() })
      try {
        await using client = new Client({ provider: "deepseek", apiKey: SECRET, baseUrl: server.url, retry: false })
        const res = await client.chat.completions.create({ messages: [{ role: "user", content: "hello" }] })
        assert.strictEqual(res.choices[0]!.message.content, "Echo: hello")
        assert.strictEqual(res.provider, "deepseek")
        assert.strictEqual((server.requests[0]!.json as any).model, "deepseek-chat")
        assert.strictEqual(server.requests[0]!.path, "/chat/completions")

        const stream = await client.chat.completions.create({
          messages: [{ role: "user", content: "a b" }],
          stream: true
        })
        let text = ""
        for await (const c of stream) text += c.choices[0]?.delta.content ?? ""
        assert.strictEqual(text, "Echo: a b")

        const tools = [{
          type: "function" as const,
          function: {
            name: "lookup",
            parameters: { type: "object", properties: { q: { type: "string" } }, required: ["q"] }
          }
        }]
        const messages: Array<ChatMessage> = [{ role: "user", content: "find x" }]
        const first = await client.chat.completions.create({ messages, tools })
        const call = first.choices[0]!.message.tool_calls![0]!
        assert.strictEqual(first.choices[0]!.finish_reason, "tool_calls")
        assert.strictEqual(call.function.name, "lookup")
        messages.push(first.choices[0]!.message as ChatMessage, { role: "tool", tool_call_id: call.id, content: "42" })
        const second = await client.chat.completions.create({ messages, tools })
        assert.strictEqual(second.choices[0]!.finish_reason, "stop")
        const replayed = (server.requests[3]!.json as any).messages[1]
        assert.strictEqual(replayed.tool_calls[0].id, call.id)
        // the tool-calling turn goes back with reasoning_content, as thinking mode requires
        assert.strictEqual(replayed.reasoning_content, "")
      } finally {
        await server.close()
      }
    }))
})
