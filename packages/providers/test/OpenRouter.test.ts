/**
 * No real OpenRouter captures exist (protocols §9): every transcript here is CONSTRUCTED from the examples in
 * OpenRouter's docs (protocols §4).
 */
import { assert, describe, it } from "@effect/vitest"
import type { ChatCompletionChunk, ChatCompletionRequest, ChatMessage, LlmError } from "@llm-api-router/core"
import { ChatStream, Http, LlmProvider } from "@llm-api-router/core"
import { OpenRouter } from "@llm-api-router/providers"
import { Client } from "@llm-api-router/providers/Client"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { failure } from "./helpers.js"
import { chunkings, expectedFromWire } from "./openAiDialects.js"

const SECRET = "sk-or-v1-0123456789-SECRET"
const apiKey = Redacted.make(SECRET)
const hello: ChatCompletionRequest = { model: "deepseek/deepseek-r1", messages: [{ role: "user", content: "hi" }] }

const withProvider = <A, E>(
  server: FakeServer.FakeServer,
  options: Partial<OpenRouter.Options>,
  f: (llm: LlmProvider.Service) => Effect.Effect<A, E>
) =>
  Effect.flatMap(LlmProvider.LlmProvider, f).pipe(
    Effect.provide(OpenRouter.layer({ apiKey, baseUrl: `${server.url}/api/v1`, retry: false, ...options })),
    Effect.provide(Http.layer())
  )

// Constructed after protocols §4.4: reasoning in `delta.reasoning`, native_finish_reason, a choices: [] usage chunk.
const base = {
  id: "gen-1767225600-AbCdEf",
  provider: "DeepSeek",
  model: "deepseek/deepseek-r1",
  object: "chat.completion.chunk",
  created: 1767225600
}
const reasoningStream = [
  {
    ...base,
    choices: [{
      index: 0,
      delta: { role: "assistant", content: "", reasoning: "User wants" },
      finish_reason: null,
      native_finish_reason: null
    }]
  },
  { ...base, choices: [{ index: 0, delta: { content: "", reasoning: " a greeting." }, finish_reason: null }] },
  { ...base, choices: [{ index: 0, delta: { content: "Hello!", reasoning: null }, finish_reason: null }] },
  { ...base, choices: [{ index: 0, delta: { content: " Olá, 世界" }, finish_reason: null }] },
  { ...base, choices: [{ index: 0, delta: { content: "" }, finish_reason: "stop", native_finish_reason: "stop" }] },
  {
    ...base,
    choices: [],
    usage: {
      prompt_tokens: 9,
      completion_tokens: 31,
      total_tokens: 40,
      completion_tokens_details: { reasoning_tokens: 27 },
      cost: 0.0000712
    }
  }
]

describe("OpenRouter: streams (constructed)", () => {
  const expected = expectedFromWire(reasoningStream)
  for (const { name, options } of chunkings) {
    it.scopedLive(`reasoning stream behind ": OPENROUTER PROCESSING": ${name}`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(
          FakeOpenAi.streamReply(reasoningStream, {
            ...options,
            comments: [": OPENROUTER PROCESSING", ": OPENROUTER PROCESSING"]
          })
        )
        const all = Chunk.toReadonlyArray(
          yield* withProvider(server, {}, (llm) => Stream.runCollect(llm.stream(hello)))
        )
        const completion = yield* ChatStream.toCompletion(Stream.fromIterable(all))
        assert.strictEqual(completion.choices[0]!.message.content, expected.content)
        // `reasoning` is renamed `reasoning_content`
        assert.strictEqual(completion.choices[0]!.message.reasoning_content, "User wants a greeting.")
        assert.strictEqual(completion.choices[0]!.finish_reason, "stop")
        assert.deepStrictEqual(all[all.length - 1]!.choices, [])
        assert.strictEqual(all[all.length - 1]!.usage?.total_tokens, 40)
        assert.isTrue(all.every((c) => c.provider === "openrouter"))
      }))
  }

  it.scopedLive("`: OPENROUTER PROCESSING` comments between events are skipped", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const body = FakeOpenAi.sse(reasoningStream.slice(0, 2), { done: false, comments: [": OPENROUTER PROCESSING"] }) +
        ": OPENROUTER PROCESSING\n\n" + FakeOpenAi.sse(reasoningStream.slice(2))
      server.enqueue({ headers: { "content-type": "text/event-stream" }, chunks: [body], split: 13 })
      const completion = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
      assert.strictEqual(completion.choices[0]!.message.content, expected.content)
    }))

  it.scopedLive("a mid-stream error chunk (finish_reason \"error\", numeric code) fails typed after the partial text", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply([
        ...reasoningStream.slice(0, 3),
        FakeOpenAi.openRouterErrorChunk({
          code: 429,
          message: "Rate limit exceeded",
          metadata: { error_type: "rate_limit_exceeded", provider_code: "rate_limit_exceeded" }
        })
      ], { done: false }))
      const seen: Array<ChatCompletionChunk> = []
      const error = yield* failure(
        withProvider(server, {}, (llm) => Stream.runForEach(llm.stream(hello), (c) => Effect.sync(() => seen.push(c))))
      )
      assert.strictEqual(error._tag, "RateLimitError")
      assert.strictEqual(error.code, "429")
      assert.include(error.message, "Rate limit exceeded")
      assert.strictEqual(seen.map((c) => c.choices[0]?.delta.content ?? "").join(""), "Hello!")
    }))

  it.scopedLive("a mid-stream error chunk with a string code and [DONE] after it fails with ProviderError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply([
        reasoningStream[0],
        FakeOpenAi.openRouterErrorChunk({ code: "server_error", message: "Provider disconnected" })
      ]))
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "ProviderError")
      assert.strictEqual(error.code, "server_error")
    }))

  it.scopedLive("finish_reason \"error\" on a chunk without an error object still fails typed", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply([
        reasoningStream[0],
        { ...base, choices: [{ index: 0, delta: { content: "" }, finish_reason: "error" }] }
      ]))
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "ProviderError")
      assert.strictEqual(error.code, "error")
    }))

  it.scopedLive("a stream cut after the error-free part without finish or [DONE] is a NetworkError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply(reasoningStream.slice(0, 3), { done: false }))
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "NetworkError")
    }))
})

describe("OpenRouter: non-streaming (constructed)", () => {
  it.scopedLive("reasoning → reasoning_content, upstream provider field ignored, usage with cost kept as usage", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.jsonReply({
        id: "gen-1767225600-AbCdEf",
        provider: "Anthropic",
        model: "anthropic/claude-sonnet-4.5",
        object: "chat.completion",
        created: 1767225600,
        choices: [{
          index: 0,
          finish_reason: "stop",
          native_finish_reason: "end_turn",
          message: { role: "assistant", content: "Lisbon is 21 °C and clear.", reasoning: "Look it up." }
        }],
        usage: { prompt_tokens: 120, completion_tokens: 9, total_tokens: 129, cost: 0.000495, is_byok: false }
      }))
      const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
      assert.strictEqual(res.provider, "openrouter")
      assert.strictEqual(res.model, "anthropic/claude-sonnet-4.5")
      assert.strictEqual(res.choices[0]!.message.content, "Lisbon is 21 °C and clear.")
      assert.strictEqual(res.choices[0]!.message.reasoning_content, "Look it up.")
      assert.deepStrictEqual(res.usage, { prompt_tokens: 120, completion_tokens: 9, total_tokens: 129 })
    }))

  const inside200: ReadonlyArray<{ name: string; body: unknown; tag: LlmError["_tag"]; message: string }> = [
    {
      name: "numeric code 502 with the upstream's raw error as a JSON string",
      body: {
        error: {
          code: 502,
          message: "Provider returned error",
          metadata: { provider_name: "Together", raw: "{\"error\":{\"message\":\"upstream connect error\"}}" }
        },
        user_id: "user_2abc"
      },
      tag: "ProviderError",
      message: "upstream connect error"
    },
    {
      name: "numeric code 429",
      body: { error: { code: 429, message: "Rate limit exceeded" } },
      tag: "RateLimitError",
      message: "Rate limit exceeded"
    },
    {
      name: "string code with error_type",
      body: {
        error: {
          code: "context_length_exceeded",
          message: "Too long",
          metadata: { error_type: "context_length_exceeded" }
        }
      },
      tag: "ContextLengthError",
      message: "Too long"
    },
    {
      name: "no code, error_type and http_status (availability errors)",
      body: { error: { message: "No endpoints available", error_type: "provider_unavailable", http_status: 503 } },
      tag: "ProviderError",
      message: "No endpoints available"
    }
  ]
  for (const row of inside200) {
    it.scopedLive(`an error inside a 200 body: ${row.name} → ${row.tag}`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(FakeOpenAi.jsonReply(row.body))
        const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
        assert.strictEqual(error._tag, row.tag)
        assert.include(error.message, row.message)
      }))
  }
})

describe("OpenRouter: the error-mapping table (statuses and bodies after errors-and-debugging.mdx; constructed)", () => {
  const rows: ReadonlyArray<
    { status: number; error: unknown; tag: LlmError["_tag"]; headers?: Record<string, string> }
  > = [
    { status: 400, error: { code: 400, message: "Invalid model" }, tag: "InvalidRequestError" },
    { status: 401, error: { code: 401, message: "No auth credentials found" }, tag: "AuthenticationError" },
    {
      status: 402,
      error: { code: 402, message: "Insufficient credits", metadata: { error_type: "payment_required" } },
      tag: "QuotaExceededError"
    },
    { status: 402, error: { code: 402, message: "Insufficient credits" }, tag: "QuotaExceededError" },
    {
      status: 403,
      error: {
        code: 403,
        message: "Input was flagged by moderation",
        metadata: { reasons: ["harassment"], flagged_input: "…", provider_name: "OpenAI", model_slug: "openai/gpt-4o" }
      },
      tag: "ContentFilterError"
    },
    { status: 403, error: { code: 403, message: "Region not allowed" }, tag: "PermissionDeniedError" },
    { status: 404, error: { code: 404, message: "No endpoints found" }, tag: "InvalidRequestError" },
    { status: 408, error: { code: 408, message: "Request timed out" }, tag: "ProviderError" },
    { status: 413, error: { code: 413, message: "Payload too large" }, tag: "InvalidRequestError" },
    { status: 422, error: { code: 422, message: "Unprocessable" }, tag: "InvalidRequestError" },
    {
      status: 429,
      error: { code: 429, message: "Rate limited", metadata: { error_type: "rate_limit_exceeded" } },
      tag: "RateLimitError",
      headers: { "retry-after": "3", "x-ratelimit-reset": "1767225600000" }
    },
    { status: 500, error: { code: 500, message: "Internal error" }, tag: "ProviderError" },
    { status: 502, error: { code: 502, message: "Model down" }, tag: "ProviderError" },
    {
      status: 503,
      error: {
        code: 503,
        message: "No provider meets your routing requirements",
        metadata: { error_type: "provider_overloaded" }
      },
      tag: "ProviderError"
    },
    {
      status: 504,
      error: { code: 504, message: "Provider timeout", metadata: { error_type: "timeout" } },
      tag: "ProviderError"
    },
    {
      status: 400,
      error: { code: 400, message: "Prompt too long", metadata: { error_type: "context_length_exceeded" } },
      tag: "ContextLengthError"
    }
  ]
  for (const row of rows) {
    it.scopedLive(`${row.status} ${(row.error as any).message} → ${row.tag}`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(FakeOpenAi.jsonReply({ error: row.error }, row.status, row.headers))
        const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
        assert.strictEqual(error._tag, row.tag)
        assert.strictEqual(error.provider, "openrouter")
        if (error._tag !== "RetryExhausted") assert.strictEqual(error.status, row.status)
        assert.include(error.message, (row.error as any).message)
        if (error._tag === "RateLimitError") assert.isTrue(error.retryAfter._tag === "Some")
      }))
  }
})

describe("OpenRouter: the wire request", () => {
  it.scopedLive("attribution headers, bearer key, path, and OpenRouter's own fields passed through", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOpenAi.responder())
      const request = {
        messages: [{ role: "user", content: "hi" }],
        models: ["anthropic/claude-sonnet-4.5", "openai/gpt-4o"],
        route: "fallback",
        provider: { order: ["Anthropic", "OpenAI"], allow_fallbacks: true, data_collection: "deny" },
        transforms: ["middle-out"],
        plugins: [{ id: "web" }],
        reasoning: { effort: "high", exclude: false },
        top_k: 40
      } as unknown as ChatCompletionRequest
      yield* withProvider(
        server,
        { appName: "My App", appUrl: "https://my.app", appCategories: ["cli-agent", "ide-extension"] },
        (llm) => Effect.all([llm.chat(request), Stream.runDrain(llm.stream(request))])
      )
      for (const [i, wire] of server.requests.entries()) {
        assert.strictEqual(wire.method, "POST")
        assert.strictEqual(wire.path, "/api/v1/chat/completions")
        assert.strictEqual(wire.headers["authorization"], `Bearer ${SECRET}`)
        assert.strictEqual(wire.headers["http-referer"], "https://my.app")
        assert.strictEqual(wire.headers["x-title"], "My App")
        assert.strictEqual(wire.headers["x-openrouter-title"], "My App")
        assert.strictEqual(wire.headers["x-openrouter-categories"], "cli-agent,ide-extension")
        const { stream: _s, stream_options: _o, ...rest } = wire.json as any
        assert.deepStrictEqual(rest, { ...request, model: "openrouter/auto" })
        if (i === 1) assert.deepStrictEqual((wire.json as any).stream_options, { include_usage: true })
      }
    }))

  it.scopedLive("no attribution headers unless asked for", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOpenAi.responder())
      yield* withProvider(server, {}, (llm) => llm.chat(hello))
      const headers = server.requests[0]!.headers
      assert.isUndefined(headers["http-referer"])
      assert.isUndefined(headers["x-title"])
    }))

  it.scopedLive("embeddings: /embeddings, float unless the caller asks for base64", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOpenAi.responder())
      const res = yield* withProvider(server, {}, (llm) =>
        llm.embed({ model: "openai/text-embedding-3-small", input: ["a", "b"], dimensions: 4 }))
      assert.strictEqual(server.requests[0]!.path, "/api/v1/embeddings")
      assert.deepStrictEqual(server.requests[0]!.json, {
        model: "openai/text-embedding-3-small",
        input: ["a", "b"],
        dimensions: 4
      })
      assert.strictEqual(res.data[1]!.embedding.length, 4)
    }))
})

describe("OpenRouter: through Client", () => {
  it.live("chat, stream and a tool loop with new Client({ provider: \"openrouter\" })", () =>
    Effect.promise(async () => {
      const server = await FakeServer.start({ handler: FakeOpenAi.responder() })
      try {
        await using client = new Client({
          provider: "openrouter",
          apiKey: SECRET,
          baseUrl: `${server.url}/api/v1`,
          defaultModel: "openai/gpt-4o-mini",
          retry: false
        })
        const res = await client.chat.completions.create({ messages: [{ role: "user", content: "hello" }] })
        assert.strictEqual(res.choices[0]!.message.content, "Echo: hello")
        assert.strictEqual((server.requests[0]!.json as any).model, "openai/gpt-4o-mini")

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
        const first = await (await client.chat.completions.create({ messages, tools, stream: true })).toCompletion()
        const call = first.choices[0]!.message.tool_calls![0]!
        assert.strictEqual(first.choices[0]!.finish_reason, "tool_calls")
        assert.strictEqual(call.function.arguments, "{\"q\":\"find x\"}")
        messages.push(first.choices[0]!.message as ChatMessage, { role: "tool", tool_call_id: call.id, content: "42" })
        const second = await client.chat.completions.create({ messages, tools })
        assert.strictEqual(second.choices[0]!.message.content, "Echo: find x")
      } finally {
        await server.close()
      }
    }))
})
