import { assert, describe, it } from "@effect/vitest"
import type { ChatCompletionChunk, ChatCompletionRequest, LlmError } from "@llm-api-router/core"
import { ChatStream, ChunkContract, Http, LlmProvider } from "@llm-api-router/core"
import { OpenAi, OpenAiCompatible } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { loadChunks, loadJson } from "./fixtures.js"
import { awkwardCuts, failure, settle, waitUntil } from "./helpers.js"

const SECRET = "sk-test-0123456789abcdef-SECRET"
const apiKey = Redacted.make(SECRET)
const hello: ChatCompletionRequest = { model: "gpt-4.1-nano", messages: [{ role: "user", content: "hi" }] }

const withProvider = <A, E>(
  server: FakeServer.FakeServer,
  options: Partial<OpenAi.Options>,
  f: (llm: LlmProvider.Service) => Effect.Effect<A, E>
) =>
  Effect.flatMap(LlmProvider.LlmProvider, f).pipe(
    Effect.provide(OpenAi.layer({ apiKey, baseUrl: `${server.url}/v1`, retry: false, ...options })),
    Effect.provide(Http.layer())
  )

/** An independent fold of raw wire chunks: what a stream of them must assemble to. */
const expectedFromWire = (chunks: ReadonlyArray<any>) => {
  let content = ""
  let reasoning = ""
  let usage: any = undefined
  const calls = new Map<number, { id: string; name: string; arguments: string }>()
  for (const chunk of chunks) {
    if (chunk.usage) usage = chunk.usage
    for (const choice of chunk.choices ?? []) {
      const d = choice.delta ?? {}
      if (typeof d.content === "string") content += d.content
      if (typeof d.reasoning_content === "string") reasoning += d.reasoning_content
      for (const tc of d.tool_calls ?? []) {
        const call = calls.get(tc.index) ?? { id: "", name: "", arguments: "" }
        if (tc.id) call.id = tc.id
        if (tc.function?.name) call.name = tc.function.name
        if (typeof tc.function?.arguments === "string") call.arguments += tc.function.arguments
        calls.set(tc.index, call)
      }
    }
  }
  return { content, reasoning, usage, calls: [...calls.values()] }
}

/** Frames recorded chunks as SSE and cuts the bytes every `n` bytes. */
const chunkings: ReadonlyArray<{ readonly name: string; readonly options: FakeOpenAi.StreamReplyOptions }> = [
  { name: "one event per write", options: {} },
  { name: "7-byte pieces", options: { split: 7 } },
  { name: "CRLF framing in 3-byte pieces", options: { lineEnding: "\r\n", split: 3 } },
  { name: "CR framing in 64-byte pieces", options: { lineEnding: "\r", split: 64 } }
]

describe("OpenAi: recorded responses replay through the real HTTP path", () => {
  const streams = [
    { folder: "openai", name: "openai-text" },
    { folder: "openai-compatible", name: "xai-tool-call" },
    { folder: "dashscope-compatible", name: "alibaba-text" },
    { folder: "dashscope-compatible", name: "alibaba-tool-call" },
    { folder: "deepseek", name: "deepseek-reasoning" },
    { folder: "deepseek", name: "deepseek-tool-call" }
  ]
  for (const { folder, name } of streams) {
    const wire = loadChunks(folder, name)
    const expected = expectedFromWire(wire)
    for (const { name: chunking, options } of chunkings) {
      it.scopedLive(`${folder}/${name}: ${chunking}`, () =>
        Effect.gen(function*() {
          const server = yield* FakeServer.make()
          server.enqueue(FakeOpenAi.streamReply(wire, options))
          const chunks = yield* withProvider(server, {}, (llm) => Stream.runCollect(llm.stream(hello)))
          const all = Chunk.toReadonlyArray(chunks)
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
            expected.calls.map((c) => ({ ...c, arguments: c.arguments === "" ? "{}" : c.arguments }))
          )
          if (expected.calls.length > 0) assert.strictEqual(completion.choices[0]!.finish_reason, "tool_calls")
          // usage always arrives last, on a chunk of its own with no choices
          const last = all[all.length - 1]!
          if (expected.usage) {
            assert.deepStrictEqual(last.choices, [])
            assert.strictEqual(last.usage?.prompt_tokens, expected.usage.prompt_tokens)
            assert.strictEqual(last.usage?.completion_tokens, expected.usage.completion_tokens)
            assert.strictEqual(last.usage?.total_tokens, expected.usage.total_tokens)
            assert.isTrue(all.slice(0, -1).every((c) => c.usage === undefined))
          }
          assert.strictEqual(all[0]!.choices[0]!.delta.role, "assistant")
          assert.strictEqual(all.filter((c) => c.choices.some((ch) => ch.finish_reason !== null)).length, 1)
        }))
    }
    it.scopedLive(`${folder}/${name}: cuts inside multi-byte characters and CRLF pairs`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        const body = FakeOpenAi.sse(wire, { lineEnding: "\r\n" })
        server.enqueue({ headers: { "content-type": "text/event-stream" }, chunks: [body], split: awkwardCuts(body) })
        const completion = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
        assert.strictEqual(completion.choices[0]!.message.content ?? "", expected.content)
        assert.strictEqual(completion.choices[0]!.message.reasoning_content ?? "", expected.reasoning)
      }))
  }

  const bodies = [
    { folder: "openai", name: "openai-text" },
    { folder: "openai-compatible", name: "xai-tool-call" },
    { folder: "dashscope-compatible", name: "alibaba-tool-call" },
    { folder: "deepseek", name: "deepseek-reasoning" }
  ]
  for (const { folder, name } of bodies) {
    it.scopedLive(`${folder}/${name}.json: the non-streaming body`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        const body = loadJson(folder, name) as any
        server.enqueue(FakeOpenAi.jsonReply(body))
        const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
        const wireMessage = body.choices[0].message
        assert.strictEqual(res.id, body.id)
        assert.strictEqual(res.model, body.model)
        assert.strictEqual(res.object, "chat.completion")
        assert.strictEqual(res.provider, "openai")
        // A message with only tool calls has content null, whatever the server sent (`""` from some).
        assert.strictEqual(
          res.choices[0]!.message.content,
          ChunkContract.assistantContent(wireMessage.content, (wireMessage.tool_calls?.length ?? 0) > 0)
        )
        assert.strictEqual(res.choices[0]!.message.reasoning_content, wireMessage.reasoning_content ?? undefined)
        assert.deepStrictEqual(
          (res.choices[0]!.message.tool_calls ?? []).map((c) => c.function),
          (wireMessage.tool_calls ?? []).map((c: any) => ({ name: c.function.name, arguments: c.function.arguments }))
        )
        assert.strictEqual(
          res.choices[0]!.finish_reason,
          wireMessage.tool_calls?.length ? "tool_calls" : body.choices[0].finish_reason
        )
        assert.strictEqual(res.usage?.prompt_tokens, body.usage.prompt_tokens)
        assert.strictEqual(res.usage?.total_tokens, body.usage.total_tokens)
      }))
  }

  it.scopedLive("openai-embedding.json: float vectors in index order", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const body = loadJson("openai", "openai-embedding") as any
      server.enqueue(FakeOpenAi.jsonReply({ ...body, data: [...body.data].reverse() }))
      const res = yield* withProvider(server, {}, (llm) =>
        llm.embed({ model: "text-embedding-3-small", input: ["a", "b"] }))
      assert.deepStrictEqual(
        res.data.map((d) =>
          d.index
        ),
        [0, 1]
      )
      assert.deepStrictEqual(res.data[0]!.embedding, body.data[0].embedding)
      assert.deepStrictEqual(res.usage, { prompt_tokens: 12, total_tokens: 12 })
    }))
})

describe("OpenAi: the wire request", () => {
  it.scopedLive("chat: method, path, headers and body", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.jsonReply(loadJson("openai", "openai-text")))
      yield* withProvider(server, { headers: { "x-team": "a" }, organization: "org-1", project: "proj-1" }, (llm) =>
        llm.chat({
          model: "gpt-4.1-nano",
          messages: [
            { role: "system", content: "be brief" },
            { role: "user", content: "hi" },
            {
              role: "assistant",
              content: null,
              tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "" } }]
            },
            { role: "tool", tool_call_id: "c1", content: "42" }
          ],
          temperature: 0.2,
          max_tokens: 10,
          tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: {} } } }]
        }))
      const request = server.requests[0]!
      assert.strictEqual(request.method, "POST")
      assert.strictEqual(request.path, "/v1/chat/completions")
      assert.strictEqual(request.headers["authorization"], `Bearer ${SECRET}`)
      assert.strictEqual(request.headers["content-type"], "application/json")
      assert.strictEqual(request.headers["accept"], "application/json")
      assert.strictEqual(request.headers["x-team"], "a")
      assert.strictEqual(request.headers["openai-organization"], "org-1")
      assert.strictEqual(request.headers["openai-project"], "proj-1")
      assert.deepStrictEqual(request.json, {
        model: "gpt-4.1-nano",
        messages: [
          { role: "system", content: "be brief" },
          { role: "user", content: "hi" },
          // an empty arguments string is replayed as "{}", which every server accepts
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }]
          },
          { role: "tool", tool_call_id: "c1", content: "42" }
        ],
        temperature: 0.2,
        max_tokens: 10,
        tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: {} } } }]
      })
    }))

  it.scopedLive("stream: asks for usage and for an event stream", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply(loadChunks("openai", "openai-text")))
      yield* withProvider(server, { defaultModel: "gpt-4o-mini" }, (llm) =>
        Stream.runDrain(llm.stream({ messages: [{ role: "user", content: "hi" }] })))
      const request = server.requests[0]!
      assert.strictEqual(request.path, "/v1/chat/completions")
      assert.strictEqual(request.headers["accept"], "text/event-stream")
      assert.strictEqual(request.headers["authorization"], `Bearer ${SECRET}`)
      assert.deepStrictEqual(request.json, {
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "hi" }],
        stream: true,
        stream_options: { include_usage: true }
      })
    }))

  it.scopedLive("embeddings: base64 on the wire, decoded to the same float32 values", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOpenAi.responder())
      const [viaBase64, viaFloat] = yield* withProvider(server, {}, (llm) =>
        Effect.all([
          llm.embed({ model: "text-embedding-3-small", input: ["a", "b"], dimensions: 16 }),
          llm.embed({ model: "text-embedding-3-small", input: ["a", "b"], dimensions: 16, encoding_format: "float" })
        ]))
      assert.deepStrictEqual(server.requests[0]!.json, {
        model: "text-embedding-3-small",
        input: ["a", "b"],
        dimensions: 16,
        encoding_format: "base64"
      })
      assert.strictEqual(server.requests[0]!.path, "/v1/embeddings")
      assert.strictEqual((server.requests[1]!.json as any).encoding_format, "float")
      assert.strictEqual(viaBase64.data.length, 2)
      assert.strictEqual(viaBase64.data[0]!.embedding.length, 16)
      for (let i = 0; i < 2; i++) {
        const a = viaBase64.data[i]!.embedding
        const b = viaFloat.data[i]!.embedding.map((x) => Math.fround(x))
        assert.deepStrictEqual(a, b)
      }
    }))

  it.scopedLive("extra request fields pass through to the server", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOpenAi.responder())
      const request = { ...hello, provider: { order: ["a"] } } as ChatCompletionRequest
      yield* withProvider(server, {}, (llm) => llm.chat(request))
      assert.deepStrictEqual((server.requests[0]!.json as any).provider, { order: ["a"] })
    }))
})

describe("OpenAi: invalid input is rejected before any I/O", () => {
  const cases: ReadonlyArray<{ readonly name: string; readonly request: unknown; readonly param: string }> = [
    { name: "no messages", request: { model: "m", messages: [] }, param: "messages" },
    {
      name: "an unknown role",
      request: { model: "m", messages: [{ role: "bot", content: "x" }] },
      param: "messages[0].role"
    },
    {
      name: "a tool message without tool_call_id",
      request: { model: "m", messages: [{ role: "tool", content: "x" }] },
      param: "messages[0].tool_call_id"
    },
    { name: "temperature out of range", request: { ...hello, temperature: 3 }, param: "temperature" },
    { name: "no model and no default model", request: { messages: [{ role: "user", content: "x" }] }, param: "model" }
  ]
  for (const { name, param, request } of cases) {
    it.scopedLive(name, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.setHandler(FakeOpenAi.responder())
        const error = yield* failure(
          withProvider(server, {}, (llm) => llm.chat(request as ChatCompletionRequest))
        )
        const streamError = yield* failure(
          withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(request as ChatCompletionRequest)))
        )
        for (const e of [error, streamError]) {
          assert.strictEqual(e._tag, "InvalidRequestError")
          if (e._tag === "InvalidRequestError") {
            assert.strictEqual(e.source, "client")
            assert.strictEqual(e.param, param)
            assert.include(e.message, param)
          }
        }
        assert.strictEqual(server.requests.length, 0)
      }))
  }

  it.scopedLive("embeddings without input", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const error = yield* failure(withProvider(server, {}, (llm) => llm.embed({ model: "m", input: [] })))
      assert.strictEqual(error._tag, "InvalidRequestError")
      assert.strictEqual(server.requests.length, 0)
    }))
})

describe("OpenAi: the error-mapping table", () => {
  const rows: ReadonlyArray<{
    readonly status: number
    readonly error: FakeOpenAi.ErrorBody
    readonly tag: LlmError["_tag"]
  }> = [
    {
      status: 400,
      error: {
        message: "Unsupported parameter: 'max_tokens'",
        type: "invalid_request_error",
        code: "unsupported_parameter"
      },
      tag: "InvalidRequestError"
    },
    {
      status: 400,
      error: {
        message: "This model's maximum context length is 128000 tokens.",
        type: "invalid_request_error",
        code: "context_length_exceeded"
      },
      tag: "ContextLengthError"
    },
    {
      status: 401,
      error: { message: "Incorrect API key provided", type: "invalid_request_error", code: "invalid_api_key" },
      tag: "AuthenticationError"
    },
    {
      status: 403,
      error: {
        message: "Country, region, or territory not supported",
        type: "request_forbidden",
        code: "unsupported_country_region_territory"
      },
      tag: "PermissionDeniedError"
    },
    {
      status: 404,
      error: { message: "The model `gpt-9` does not exist", type: "invalid_request_error", code: "model_not_found" },
      tag: "InvalidRequestError"
    },
    { status: 408, error: { message: "Request timed out" }, tag: "ProviderError" },
    { status: 409, error: { message: "Conflict" }, tag: "ProviderError" },
    { status: 413, error: { message: "Request entity too large" }, tag: "InvalidRequestError" },
    { status: 422, error: { message: "Unprocessable" }, tag: "InvalidRequestError" },
    {
      status: 429,
      error: { message: "Rate limit reached for gpt-4.1-mini", type: "tokens", code: "rate_limit_exceeded" },
      tag: "RateLimitError"
    },
    {
      status: 429,
      error: { message: "You exceeded your current quota", type: "insufficient_quota", code: "insufficient_quota" },
      tag: "QuotaExceededError"
    },
    { status: 402, error: { message: "Payment required" }, tag: "QuotaExceededError" },
    { status: 500, error: { message: "The server had an error", type: "server_error" }, tag: "ProviderError" },
    { status: 502, error: { message: "Bad gateway" }, tag: "ProviderError" },
    {
      status: 503,
      error: { message: "The engine is currently overloaded", code: "server_is_overloaded" },
      tag: "ProviderError"
    },
    { status: 504, error: { message: "Gateway timeout" }, tag: "ProviderError" },
    { status: 529, error: { message: "Overloaded" }, tag: "ProviderError" },
    {
      status: 400,
      error: { message: "Content violates policy", code: "content_policy_violation" },
      tag: "ContentFilterError"
    },
    { status: 418, error: { message: "a teapot", code: 418 }, tag: "InvalidRequestError" }
  ]
  for (const row of rows) {
    it.scopedLive(`${row.status} ${row.error.code ?? ""} → ${row.tag}`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(FakeOpenAi.errorReply(row.status, row.error, { "x-request-id": "req_123" }))
        const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
        assert.strictEqual(error._tag, row.tag)
        assert.strictEqual(error.provider, "openai")
        assert.strictEqual(error.model, "gpt-4.1-nano")
        if (error._tag !== "RetryExhausted") {
          assert.strictEqual(error.status, row.status)
          assert.strictEqual(error.requestId, "req_123")
          assert.include(error.message, row.error.message)
          if (row.error.code != null) assert.strictEqual(error.code, String(row.error.code))
        }
      }))
  }

  it.scopedLive("a 401 makes exactly one request, with the default retry policy", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(() => FakeOpenAi.errorReply(401, { message: "bad key", code: "invalid_api_key" }))
      const error = yield* failure(withProvider(server, { retry: undefined }, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "AuthenticationError")
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("a 400 is never retried, with the default retry policy", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(() => FakeOpenAi.errorReply(400, { message: "bad", type: "invalid_request_error" }))
      const error = yield* failure(withProvider(server, { retry: undefined }, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "InvalidRequestError")
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("insufficient_quota (a 429) is not retried", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(() => FakeOpenAi.errorReply(429, { message: "quota", code: "insufficient_quota" }))
      const error = yield* failure(withProvider(server, { retry: undefined }, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "QuotaExceededError")
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("an HTML 503 page from a proxy is a ProviderError, not a decode crash", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue({
        status: 503,
        headers: { "content-type": "text/html" },
        body: "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
      })
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "ProviderError")
      if (error._tag === "ProviderError") {
        assert.strictEqual(error.status, 503)
        assert.include(error.body ?? "", "503 Service Temporarily Unavailable")
      }
    }))

  it.scopedLive("a 200 that is not JSON is a ResponseDecodeError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue({ status: 200, headers: { "content-type": "text/html" }, body: "<html>login</html>" })
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "ResponseDecodeError")
    }))

  it.scopedLive("a 200 whose JSON is not a completion is a ResponseDecodeError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.jsonReply({ hello: "world" }))
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "ResponseDecodeError")
    }))

  it.scopedLive("an error envelope inside a 200 body fails typed", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.jsonReply({ error: { message: "Rate limit exceeded", code: 429 } }))
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "RateLimitError")
    }))
})

describe("OpenAi: streams that go wrong", () => {
  const textChunks = loadChunks("openai", "openai-text")

  it.scopedLive("a stream that ends without its end (no finish, no [DONE]) fails with NetworkError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply(textChunks.slice(0, 5), { done: false }))
      const seen: Array<ChatCompletionChunk> = []
      const error = yield* failure(
        withProvider(server, {}, (llm) => Stream.runForEach(llm.stream(hello), (c) => Effect.sync(() => seen.push(c))))
      )
      assert.strictEqual(error._tag, "NetworkError")
      // what arrived before the cut was delivered, not dropped
      assert.strictEqual(seen.length, 5)
    }))

  it.scopedLive("a connection cut mid-stream fails with NetworkError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply(textChunks, { disconnectAfter: 4 }))
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "NetworkError")
    }))

  it.scopedLive("a mid-stream {\"error\": …} event fails typed", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply([
        ...textChunks.slice(0, 3),
        {
          error: {
            message: "The server had an error while processing your request.",
            type: "server_error",
            param: null,
            code: null
          }
        }
      ]))
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "ProviderError")
      assert.include(error.message, "The server had an error")
    }))

  it.scopedLive("an SSE `event: error` fails typed", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue({
        headers: { "content-type": "text/event-stream" },
        body: `${
          FakeOpenAi.sse(textChunks.slice(0, 2), { done: false })
        }event: error\ndata: {"message":"overloaded","code":"overloaded"}\n\n`
      })
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "ProviderError")
    }))

  it.scopedLive("keep-alive comments and a trailing [DONE] are handled", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply(textChunks, { comments: [": keep-alive", ": OPENROUTER PROCESSING"] }))
      const completion = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
      assert.strictEqual(completion.choices[0]!.message.content, expectedFromWire(textChunks).content)
    }))

  it.scopedLive("a stream that ends at [DONE] gives its connection back, though the server ends the body later", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      // the answer, then [DONE] 50 ms later, then the end of the body 50 ms after that
      server.enqueue(
        {
          headers: { "content-type": "text/event-stream" },
          chunks: [FakeOpenAi.sse(textChunks, { done: false }), "data: [DONE]\n\n"],
          chunkDelay: 50
        },
        FakeOpenAi.jsonReply(loadJson("openai", "openai-text"))
      )
      const completion = yield* withProvider(server, {}, (llm) =>
        ChatStream.toCompletion(llm.stream(hello)).pipe(
          Effect.zipRight(Effect.sleep("200 millis")),
          Effect.zipRight(llm.chat(hello))
        ))
      assert.strictEqual(completion.object, "chat.completion")
      // the second call went over the first one's connection: the first body was read to its end, not aborted
      assert.strictEqual(server.totalSockets(), 1)
      assert.strictEqual(server.closedConnections(), 0)
    }))

  it.scopedLive("a stream error status fails before any chunk, typed", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.errorReply(401, { message: "bad key", code: "invalid_api_key" }))
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "AuthenticationError")
    }))
})

describe("OpenAi: retries", () => {
  it.scoped("a 429 with retry-after-ms is waited for (TestClock), then succeeds", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeOpenAi.errorReply(429, { message: "slow down", code: "rate_limit_exceeded" }, { "retry-after-ms": "5000" }),
        FakeOpenAi.jsonReply(loadJson("openai", "openai-text"))
      )
      const fiber = yield* Effect.fork(
        withProvider(server, { retry: { maxRetries: 2, jitter: false } }, (llm) => llm.chat(hello))
      )
      yield* Effect.promise(() => waitUntil(() => server.requests.length === 1))
      yield* TestClock.adjust("4900 millis")
      yield* Effect.promise(() => settle())
      assert.strictEqual(server.requests.length, 1)
      yield* TestClock.adjust("100 millis")
      const res = yield* Fiber.join(fiber)
      assert.strictEqual(server.requests.length, 2)
      assert.strictEqual(res.object, "chat.completion")
    }))

  it.scoped("retries exhausted gives RetryExhausted with the number of attempts", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(() => FakeOpenAi.errorReply(503, { message: "overloaded" }))
      const fiber = yield* Effect.fork(
        failure(withProvider(server, { retry: { maxRetries: 2, initialDelay: "1 second", jitter: false } }, (llm) =>
          llm.chat(hello)))
      )
      for (let attempt = 1; attempt <= 2; attempt++) {
        yield* Effect.promise(() =>
          waitUntil(() => server.requests.length === attempt)
        )
        yield* TestClock.adjust(Duration.seconds(2 ** attempt))
      }
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "RetryExhausted")
      if (error._tag === "RetryExhausted") {
        assert.strictEqual(error.attempts, 3)
        assert.strictEqual(error.lastError._tag, "ProviderError")
        assert.strictEqual(error.provider, "openai")
      }
      assert.strictEqual(server.requests.length, 3)
    }))

  it.scoped("a stream is retried before its first chunk", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeOpenAi.errorReply(500, { message: "oops" }),
        FakeOpenAi.streamReply(loadChunks("openai", "openai-text"))
      )
      const fiber = yield* Effect.fork(
        withProvider(server, { retry: { maxRetries: 1, initialDelay: "1 second", jitter: false } }, (llm) =>
          ChatStream.toCompletion(llm.stream(hello)))
      )
      yield* Effect.promise(() =>
        waitUntil(() =>
          server.requests.length === 1
        )
      )
      yield* TestClock.adjust("1 second")
      const completion = yield* Fiber.join(fiber)
      assert.strictEqual(server.requests.length, 2)
      assert.isTrue((completion.choices[0]!.message.content ?? "").length > 0)
    }))
})

describe("OpenAi: cancellation and the pool", () => {
  it.scopedLive("taking a few chunks closes the connection; the pool is reusable afterwards", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply(loadChunks("openai", "openai-text"), { chunkDelay: 20 }))
      server.enqueue(FakeOpenAi.jsonReply(loadJson("openai", "openai-text")))
      yield* Effect.gen(function*() {
        const llm = yield* LlmProvider.LlmProvider
        const firstFew = yield* Stream.runCollect(Stream.take(llm.stream(hello), 3))
        assert.strictEqual(Chunk.size(firstFew), 3)
        yield* Effect.promise(() => server.awaitClientClose(1))
        assert.strictEqual(server.closedConnections(), 1)
        const res = yield* llm.chat(hello)
        assert.strictEqual(res.object, "chat.completion")
      }).pipe(
        Effect.provide(OpenAi.layer({ apiKey, baseUrl: `${server.url}/v1`, retry: false })),
        Effect.provide(Http.layer())
      )
    }))

  it.scopedLive("interrupting a chat that waits for headers closes the connection", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue({ hang: true })
      const fiber = yield* Effect.fork(withProvider(server, {}, (llm) => llm.chat(hello)))
      yield* Effect.promise(() => waitUntil(() => server.requests.length === 1))
      yield* Fiber.interrupt(fiber)
      yield* Effect.promise(() => server.awaitClientClose(1))
      assert.strictEqual(server.closedConnections(), 1)
    }))
})

describe("OpenAi: secrets", () => {
  it.scopedLive("the API key never appears in an error, even when the server echoes it", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeOpenAi.errorReply(401, { message: `Incorrect API key provided: ${SECRET}`, code: "invalid_api_key" })
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
      assert.strictEqual(error._tag, "AuthenticationError")
    }))

  it("the options print the key redacted", () => {
    const options: OpenAi.Options = { apiKey }
    assert.notInclude(String(options.apiKey), SECRET)
    assert.notInclude(JSON.stringify(options), SECRET)
  })
})

describe("OpenAiCompatible", () => {
  it.scopedLive("talks to any OpenAI-compatible server, without a key", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOpenAi.responder())
      const [res, streamed] = yield* Effect.gen(function*() {
        const llm = yield* LlmProvider.LlmProvider
        return yield* Effect.all([llm.chat(hello), ChatStream.toCompletion(llm.stream(hello))])
      }).pipe(
        Effect.provide(OpenAiCompatible.layer({ name: "local", baseUrl: `${server.url}/v1/`, retry: false })),
        Effect.provide(Http.layer())
      )
      assert.strictEqual(res.provider, "local")
      assert.strictEqual(res.choices[0]!.message.content, streamed.choices[0]!.message.content)
      assert.isUndefined(server.requests[0]!.headers["authorization"])
      assert.strictEqual(server.requests[0]!.path, "/v1/chat/completions")
    }))

  it.effect("a baseUrl that is not a URL is rejected naming the field", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        LlmProvider.info.pipe(
          Effect.provide(OpenAiCompatible.layer({ baseUrl: "localhost:8000" })),
          Effect.provide(Http.layer())
        )
      )
      assert.strictEqual(error._tag, "InvalidRequestError")
      if (error._tag === "InvalidRequestError") assert.strictEqual(error.param, "baseUrl")
    }))

  it.effect("capabilities are declared honestly: a feature turned off fails before any I/O", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        LlmProvider.embed({ model: "m", input: "x" }).pipe(
          Effect.provide(
            OpenAiCompatible.layer({ baseUrl: "http://127.0.0.1:9", capabilities: { embeddings: false } })
          ),
          Effect.provide(Http.layer())
        )
      )
      assert.strictEqual(error._tag, "UnsupportedFeatureError")
      if (error._tag === "UnsupportedFeatureError") assert.strictEqual(error.feature, "embeddings")
    }))
})
