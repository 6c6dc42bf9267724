/**
 * Ollama's native API over a real loopback socket. No recorded Ollama responses exist (protocols §9): the
 * transcripts below are CONSTRUCTED from the examples of the protocol notes (§6.3, §6.4, §6.5), which follow
 * ollama/ollama's docs/api.md and api/types.go.
 */
import { assert, describe, it } from "@effect/vitest"
import type { ChatCompletionChunk, ChatCompletionRequest, LlmError } from "@llm-api-router/core"
import { ChatStream, Http, LlmProvider } from "@llm-api-router/core"
import { Ollama } from "@llm-api-router/providers"
import { Client } from "@llm-api-router/providers/Client"
import { FakeOllama, FakeServer } from "@llm-api-router/providers/testing"
import * as Chunk from "effect/Chunk"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { failure } from "./helpers.js"

const SECRET = "ollama-proxy-key-0123456789-SECRET"
const hello: ChatCompletionRequest = { model: "qwen3:8b", messages: [{ role: "user", content: "hi" }] }

const withProvider = <A, E>(
  server: FakeServer.FakeServer,
  options: Ollama.Options,
  f: (llm: LlmProvider.Service) => Effect.Effect<A, E>
) =>
  Effect.flatMap(LlmProvider.LlmProvider, f).pipe(
    Effect.provide(Ollama.layer({ baseUrl: server.url, retry: false, ...options })),
    Effect.provide(Http.layer())
  )

// ---------------------------------------------------------------------------------------------------------------
// constructed transcripts
// ---------------------------------------------------------------------------------------------------------------

/** Constructed: protocols §6.3 (thinking, then text; usage on the done line). */
const thinkingStream = [
  {
    model: "qwen3:8b",
    created_at: "2026-01-05T10:00:00.100000001Z",
    message: { role: "assistant", content: "", thinking: "The user asks" },
    done: false
  },
  {
    model: "qwen3:8b",
    created_at: "2026-01-05T10:00:00.120000001Z",
    message: { role: "assistant", content: "", thinking: " about the sky." },
    done: false
  },
  {
    model: "qwen3:8b",
    created_at: "2026-01-05T10:00:00.300000001Z",
    message: { role: "assistant", content: "Rayleigh" },
    done: false
  },
  {
    model: "qwen3:8b",
    created_at: "2026-01-05T10:00:00.320000001Z",
    message: { role: "assistant", content: " scattering." },
    done: false
  },
  {
    model: "qwen3:8b",
    created_at: "2026-01-05T10:00:00.340000001Z",
    message: { role: "assistant", content: "" },
    done: true,
    done_reason: "stop",
    total_duration: 412000000,
    load_duration: 21000000,
    prompt_eval_count: 14,
    prompt_eval_duration: 30000000,
    eval_count: 19,
    eval_duration: 350000000
  }
]

/** Constructed: protocols §6.4 (a whole tool call, arguments an object, done_reason "stop"). */
const toolStream = [
  {
    model: "llama3.2",
    created_at: "2026-01-05T10:01:00.000000001Z",
    message: {
      role: "assistant",
      content: "",
      tool_calls: [{ id: "call_k3x9b2", function: { index: 0, name: "get_weather", arguments: { city: "Tokyo" } } }]
    },
    done: false
  },
  {
    model: "llama3.2",
    created_at: "2026-01-05T10:01:00.010000001Z",
    message: { role: "assistant", content: "" },
    done: true,
    done_reason: "stop",
    total_duration: 182242375,
    load_duration: 41295167,
    prompt_eval_count: 169,
    prompt_eval_duration: 24573166,
    eval_count: 15,
    eval_duration: 115959084
  }
]

/**
 * Constructed: multi-byte text (CJK, emoji), the last token on the done line (§6.3's note), a done_reason of
 * "length", and no prompt_eval_count (a cached prompt, quirk 16).
 */
const multibyteStream = [
  {
    model: "qwen3:8b",
    created_at: "2026-01-05T10:02:00.5-07:00",
    message: { role: "assistant", content: "你好，" },
    done: false
  },
  {
    model: "qwen3:8b",
    created_at: "2026-01-05T10:02:00.6-07:00",
    message: { role: "assistant", content: "世界 🌍" },
    done: false
  },
  {
    model: "qwen3:8b",
    created_at: "2026-01-05T10:02:00.7-07:00",
    message: { role: "assistant", content: "…ß" },
    done: true,
    done_reason: "length",
    eval_count: 3
  }
]

const transcripts = [
  {
    name: "thinking then text",
    lines: thinkingStream,
    content: "Rayleigh scattering.",
    reasoning: "The user asks about the sky.",
    calls: [] as Array<{ id: string; name: string; arguments: string }>,
    finish: "stop",
    usage: { prompt_tokens: 14, completion_tokens: 19, total_tokens: 33 }
  },
  {
    name: "a tool call",
    lines: toolStream,
    content: "",
    reasoning: "",
    calls: [{ id: "call_k3x9b2", name: "get_weather", arguments: "{\"city\":\"Tokyo\"}" }],
    finish: "tool_calls",
    usage: { prompt_tokens: 169, completion_tokens: 15, total_tokens: 184 }
  },
  {
    name: "multi-byte text, last token on the done line, length, no prompt count",
    lines: multibyteStream,
    content: "你好，世界 🌍…ß",
    reasoning: "",
    calls: [],
    finish: "length",
    usage: { prompt_tokens: 0, completion_tokens: 3, total_tokens: 3 }
  }
] as const

/** Byte offsets that fall inside multi-byte UTF-8 characters. */
const cutsInsideCharacters = (body: string): Array<number> => {
  const bytes = Buffer.from(body, "utf8")
  const cuts: Array<number> = []
  for (let i = 1; i < bytes.length; i++) if ((bytes[i]! & 0xc0) === 0x80) cuts.push(i)
  return cuts
}

const chunkings: ReadonlyArray<{ readonly name: string; readonly options: FakeOllama.StreamReplyOptions }> = [
  { name: "one line per write", options: {} },
  { name: "7-byte pieces", options: { split: 7 } },
  { name: "1-byte pieces", options: { split: 1 } },
  { name: "64-byte pieces, 2 ms apart", options: { split: 64, chunkDelay: 2 } }
]

describe("Ollama: constructed transcripts replay through the real HTTP path", () => {
  for (const t of transcripts) {
    const check = (all: ReadonlyArray<ChatCompletionChunk>) =>
      Effect.gen(function*() {
        const completion = yield* ChatStream.toCompletion(Stream.fromIterable(all))
        const message = completion.choices[0]!.message
        assert.strictEqual(message.content ?? "", t.content)
        assert.strictEqual(message.reasoning_content ?? "", t.reasoning)
        assert.deepStrictEqual(
          (message.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })),
          t.calls
        )
        assert.strictEqual(completion.choices[0]!.finish_reason, t.finish)
        assert.strictEqual(all[0]!.choices[0]!.delta.role, "assistant")
        assert.strictEqual(all.filter((c) => c.choices.some((ch) => ch.finish_reason !== null)).length, 1)
        const last = all[all.length - 1]!
        assert.deepStrictEqual(last.choices, [])
        assert.deepStrictEqual(last.usage, t.usage)
        assert.isTrue(all.slice(0, -1).every((c) => c.usage === undefined))
        assert.isTrue(all.every((c) => c.provider === "ollama" && c.id.startsWith("chatcmpl-") && c.id === all[0]!.id))
        assert.strictEqual(all[0]!.model, t.lines[0]!.model)
        assert.strictEqual(all[0]!.created, Math.floor(Date.parse(t.lines[0]!.created_at) / 1000))
      })
    for (const { name, options } of chunkings) {
      it.scopedLive(`${t.name}: ${name}`, () =>
        Effect.gen(function*() {
          const server = yield* FakeServer.make()
          server.enqueue(FakeOllama.streamReply(t.lines, options))
          const chunks = yield* withProvider(server, {}, (llm) => Stream.runCollect(llm.stream(hello)))
          yield* check(Chunk.toReadonlyArray(chunks))
        }))
    }
    it.scopedLive(`${t.name}: cuts inside every multi-byte character`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        const body = FakeOllama.ndjson(t.lines)
        server.enqueue({
          headers: { "content-type": "application/x-ndjson" },
          chunks: [body],
          split: cutsInsideCharacters(body)
        })
        const chunks = yield* withProvider(server, {}, (llm) => Stream.runCollect(llm.stream(hello)))
        yield* check(Chunk.toReadonlyArray(chunks))
      }))
  }

  it.scopedLive("property: any cutting of the bytes gives the same chunks", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const body = FakeOllama.ndjson([...multibyteStream.slice(0, 2), ...thinkingStream])
      const size = Buffer.byteLength(body)
      const strip = (chunks: Chunk.Chunk<ChatCompletionChunk>) =>
        Chunk.toReadonlyArray(chunks).map(({ id: _id, ...rest }) => rest)
      server.enqueue({ headers: { "content-type": "application/x-ndjson" }, chunks: [body] })
      const reference = strip(yield* withProvider(server, {}, (llm) => Stream.runCollect(llm.stream(hello))))
      const cutSets = FastCheck.sample(
        FastCheck.uniqueArray(FastCheck.integer({ min: 1, max: size - 1 }), { maxLength: 40 }),
        { numRuns: 25, seed: 42 }
      )
      for (const cuts of cutSets) {
        server.enqueue({
          headers: { "content-type": "application/x-ndjson" },
          chunks: [body],
          split: [...cuts].sort((a, b) => a - b)
        })
        const got = strip(yield* withProvider(server, {}, (llm) => Stream.runCollect(llm.stream(hello))))
        assert.deepStrictEqual(got, reference)
      }
    }))

  it("the multi-byte transcript really has cuts inside characters", () => {
    assert.isAbove(cutsInsideCharacters(FakeOllama.ndjson(multibyteStream)).length, 10)
  })

  it.scopedLive("non-streaming: thinking, text, usage, created from created_at", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      // Constructed: the non-streaming shape of §6.3 (the final line with the full message).
      server.enqueue(FakeOllama.jsonReply({
        model: "qwen3:8b",
        created_at: "2026-01-05T10:00:00.340000001Z",
        message: { role: "assistant", content: "Rayleigh scattering.", thinking: "The user asks about the sky." },
        done: true,
        done_reason: "stop",
        total_duration: 412000000,
        prompt_eval_count: 14,
        eval_count: 19
      }))
      const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
      assert.isTrue(res.id.startsWith("chatcmpl-"))
      assert.strictEqual(res.object, "chat.completion")
      assert.strictEqual(res.created, Math.floor(Date.parse("2026-01-05T10:00:00Z") / 1000))
      assert.strictEqual(res.model, "qwen3:8b")
      assert.strictEqual(res.provider, "ollama")
      assert.deepStrictEqual(res.choices[0]!.message, {
        role: "assistant",
        content: "Rayleigh scattering.",
        reasoning_content: "The user asks about the sky."
      })
      assert.strictEqual(res.choices[0]!.finish_reason, "stop")
      assert.deepStrictEqual(res.usage, { prompt_tokens: 14, completion_tokens: 19, total_tokens: 33 })
    }))

  it.scopedLive("embeddings: /api/embed with an input array, vectors and usage back (constructed, §6.5)", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOllama.jsonReply({
        model: "all-minilm",
        embeddings: [[0.0100, -0.0017, 0.0500], [-0.0098, 0.0604, 0.0252]],
        total_duration: 14143917,
        load_duration: 1019500,
        prompt_eval_count: 16
      }))
      const res = yield* withProvider(
        server,
        {},
        (llm) =>
          llm.embed({ model: "all-minilm", input: ["Why is the sky blue?", "Why is the grass green?"], dimensions: 3 })
      )
      const request = server.requests[0]!
      assert.strictEqual(request.path, "/api/embed")
      assert.deepStrictEqual(request.json, {
        model: "all-minilm",
        input: ["Why is the sky blue?", "Why is the grass green?"],
        dimensions: 3
      })
      assert.deepStrictEqual(res, {
        object: "list",
        data: [
          { object: "embedding", index: 0, embedding: [0.0100, -0.0017, 0.0500] },
          { object: "embedding", index: 1, embedding: [-0.0098, 0.0604, 0.0252] }
        ],
        model: "all-minilm",
        usage: { prompt_tokens: 16, total_tokens: 16 },
        provider: "ollama"
      })
    }))

  it.scopedLive("embeddings: a single string goes as a one-item array", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOllama.responder())
      const res = yield* withProvider(server, {}, (llm) => llm.embed({ model: "all-minilm", input: "hello" }))
      assert.deepStrictEqual((server.requests[0]!.json as any).input, ["hello"])
      assert.strictEqual(res.data.length, 1)
      assert.strictEqual(res.data[0]!.embedding.length, 8)
      assert.strictEqual(res.usage.prompt_tokens, 1)
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// the wire request
// ---------------------------------------------------------------------------------------------------------------

const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
  }
} as const

describe("Ollama: the wire request", () => {
  it.scopedLive("a conversation with a system prompt, an image, a tool call and its result", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOllama.responder())
      yield* withProvider(server, { keepAlive: "10m", headers: { "x-team": "a" } }, (llm) =>
        llm.chat({
          model: "llama3.2",
          messages: [
            { role: "system", content: "Answer briefly." },
            {
              role: "user",
              content: [
                { type: "text", text: "What is in this picture, and what's the weather in Tokyo?" },
                { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } }
              ]
            },
            {
              role: "assistant",
              content: null,
              tool_calls: [{
                id: "call_k3x9b2",
                type: "function",
                function: { name: "get_weather", arguments: "{\"city\":\"Tokyo\"}" }
              }]
            },
            { role: "tool", tool_call_id: "call_k3x9b2", content: "11 degrees celsius" }
          ],
          tools: [weatherTool],
          response_format: {
            type: "json_schema",
            json_schema: {
              name: "answer",
              schema: { type: "object", properties: { answer: { type: "string" } }, required: ["answer"] }
            }
          },
          temperature: 0.2,
          top_p: 0.9,
          max_tokens: 256,
          stop: ["</end>"],
          seed: 42
        }))
      const request = server.requests[0]!
      assert.strictEqual(request.method, "POST")
      assert.strictEqual(request.path, "/api/chat")
      assert.strictEqual(request.headers["content-type"], "application/json")
      assert.strictEqual(request.headers["accept"], "application/json")
      assert.strictEqual(request.headers["x-team"], "a")
      assert.isUndefined(request.headers["authorization"])
      assert.deepStrictEqual(request.json, {
        model: "llama3.2",
        messages: [
          { role: "system", content: "Answer briefly." },
          { role: "user", content: "What is in this picture, and what's the weather in Tokyo?", images: [PNG] },
          {
            role: "assistant",
            content: "",
            tool_calls: [{
              id: "call_k3x9b2",
              function: { index: 0, name: "get_weather", arguments: { city: "Tokyo" } }
            }]
          },
          { role: "tool", content: "11 degrees celsius", tool_name: "get_weather", tool_call_id: "call_k3x9b2" }
        ],
        stream: false,
        tools: [weatherTool],
        format: { type: "object", properties: { answer: { type: "string" } }, required: ["answer"] },
        options: { temperature: 0.2, top_p: 0.9, num_predict: 256, stop: ["</end>"], seed: 42 },
        keep_alive: "10m"
      })
    }))

  it.scopedLive("stream: stream true, NDJSON accepted, the key as Bearer when given", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOllama.responder())
      yield* withProvider(server, { apiKey: Redacted.make(SECRET), defaultModel: "llama3.2" }, (llm) =>
        Stream.runDrain(llm.stream({ messages: [{ role: "user", content: "hi" }] })))
      const request = server.requests[0]!
      assert.strictEqual(request.path, "/api/chat")
      assert.strictEqual(request.headers["accept"], "application/x-ndjson")
      assert.strictEqual(request.headers["authorization"], `Bearer ${SECRET}`)
      assert.deepStrictEqual(request.json, {
        model: "llama3.2",
        messages: [{ role: "user", content: "hi" }],
        stream: true
      })
    }))

  it.scopedLive("options: max_completion_tokens over max_tokens, a bare stop string, penalties, raw options win", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOllama.responder())
      const request = {
        ...hello,
        max_tokens: 10,
        max_completion_tokens: 20,
        stop: "END",
        presence_penalty: 0.5,
        frequency_penalty: -0.5,
        options: { num_ctx: 8192, top_p: 0.5 },
        top_p: 0.9
      } as ChatCompletionRequest
      yield* withProvider(server, {}, (llm) => llm.chat(request))
      assert.deepStrictEqual((server.requests[0]!.json as any).options, {
        top_p: 0.5,
        num_predict: 20,
        stop: ["END"],
        presence_penalty: 0.5,
        frequency_penalty: -0.5,
        num_ctx: 8192
      })
    }))

  it.scopedLive("format: json_object → \"json\"; developer → system", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOllama.responder())
      yield* withProvider(server, {}, (llm) =>
        llm.chat({
          model: "m",
          messages: [{ role: "developer", content: "JSON only" }, { role: "user", content: "hi" }],
          response_format: { type: "json_object" }
        }))
      const json = server.requests[0]!.json as any
      assert.strictEqual(json.format, "json")
      assert.deepStrictEqual(json.messages[0], { role: "system", content: "JSON only" })
    }))

  it.scopedLive("thinking: the layer's think, a request's reasoning_effort, a request's own think", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOllama.responder())
      yield* withProvider(server, { think: true, keepAlive: 0 }, (llm) =>
        Effect.all([
          llm.chat(hello),
          llm.chat({ ...hello, reasoning_effort: "high" }),
          llm.chat({ ...hello, reasoning_effort: "none" }),
          llm.chat({ ...hello, think: "low", keep_alive: -1 } as ChatCompletionRequest)
        ]))
      const sent = server.requests.map((r) => r.json as any)
      assert.deepStrictEqual(sent.map((j) => j.think), [true, "high", false, "low"])
      assert.deepStrictEqual(sent.map((j) => j.keep_alive), [0, 0, 0, -1])
    }))

  it.scopedLive("tool_choice: none sends no tools, a named function only that tool", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOllama.responder())
      const other = { type: "function", function: { name: "other", parameters: { type: "object" } } } as const
      yield* withProvider(server, {}, (llm) =>
        Effect.all([
          llm.chat({ ...hello, tools: [weatherTool, other], tool_choice: "none" }),
          llm.chat({
            ...hello,
            tools: [weatherTool, other],
            tool_choice: { type: "function", function: { name: "other" } }
          })
        ]))
      assert.isUndefined((server.requests[0]!.json as any).tools)
      assert.deepStrictEqual((server.requests[1]!.json as any).tools.map((t: any) => t.function.name), ["other"])
    }))

  const rejected: ReadonlyArray<
    { readonly name: string; readonly request: ChatCompletionRequest; readonly tag: string }
  > = [
    {
      name: "an http(s) image URL (Ollama takes base64 only; we do not fetch)",
      request: {
        model: "m",
        messages: [{
          role: "user",
          content: [{ type: "image_url", image_url: { url: "https://example.com/cat.png" } }]
        }]
      },
      tag: "UnsupportedFeatureError"
    },
    {
      name: "audio input",
      request: {
        model: "m",
        messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }] }]
      },
      tag: "UnsupportedFeatureError"
    },
    { name: "n > 1", request: { ...hello, n: 2 }, tag: "UnsupportedFeatureError" },
    {
      name: "replayed tool-call arguments that are not a JSON object",
      request: {
        model: "m",
        messages: [
          { role: "user", content: "x" },
          { role: "assistant", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "[1]" } }] }
        ]
      },
      tag: "InvalidRequestError"
    },
    { name: "no messages", request: { model: "m", messages: [] }, tag: "InvalidRequestError" }
  ]
  for (const { name, request, tag } of rejected) {
    it.scopedLive(`rejected before any I/O: ${name}`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.setHandler(FakeOllama.responder())
        const errors = yield* withProvider(server, {}, (llm) =>
          Effect.all([failure(llm.chat(request)), failure(Stream.runDrain(llm.stream(request)))]))
        for (const e of errors) {
          assert.strictEqual(e._tag, tag)
          if (e._tag === "InvalidRequestError") {
            assert.strictEqual(e.source, "client")
          }
        }
        assert.strictEqual(server.requests.length, 0)
      }))
  }
})

// ---------------------------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------------------------

describe("Ollama: the error-mapping table", () => {
  const rows: ReadonlyArray<{ readonly status: number; readonly message: string; readonly tag: LlmError["_tag"] }> = [
    { status: 400, message: "model is required", tag: "InvalidRequestError" },
    { status: 400, message: "option \"stop\" must be of type array", tag: "InvalidRequestError" },
    {
      status: 400,
      message: "registry.ollama.ai/library/gemma:2b does not support tools",
      tag: "UnsupportedFeatureError"
    },
    { status: 400, message: "\"llama3.2\" does not support thinking", tag: "UnsupportedFeatureError" },
    { status: 400, message: "the input length exceeds the context length", tag: "ContextLengthError" },
    { status: 401, message: "unauthorized", tag: "AuthenticationError" },
    { status: 403, message: "cloud is disabled", tag: "PermissionDeniedError" },
    { status: 404, message: "model \"qwen3:8b\" not found, try pulling it first", tag: "InvalidRequestError" },
    { status: 429, message: "too many requests", tag: "RateLimitError" },
    { status: 500, message: "llama runner process has terminated: exit status 2", tag: "ProviderError" },
    { status: 502, message: "cloud model unreachable", tag: "ProviderError" },
    { status: 503, message: "server busy, please try again.  maximum pending requests exceeded", tag: "ProviderError" }
  ]
  for (const row of rows) {
    it.scopedLive(`${row.status} ${row.message} → ${row.tag}`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(FakeOllama.errorReply(row.status, row.message), FakeOllama.errorReply(row.status, row.message))
        const errors = yield* withProvider(server, {}, (llm) =>
          Effect.all([failure(llm.chat(hello)), failure(Stream.runDrain(llm.stream(hello)))]))
        for (const error of errors) {
          assert.strictEqual(error._tag, row.tag)
          assert.strictEqual(error.provider, "ollama")
          assert.strictEqual(error.model, "qwen3:8b")
          if (error._tag !== "RetryExhausted") {
            assert.strictEqual(error.status, row.status)
            assert.include(error.message, row.message)
          }
        }
      }))
  }

  it.scopedLive("a model that is not pulled: the message tells the user to `ollama pull` it", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOllama.responder({ models: ["llama3.2"] }))
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "InvalidRequestError")
      if (error._tag === "InvalidRequestError") {
        assert.include(error.message, "ollama pull qwen3:8b")
        assert.strictEqual(error.param, "model")
        assert.strictEqual(error.source, "provider")
        assert.strictEqual(error.status, 404)
      }
    }))

  it.scopedLive("an unsupported feature the server reports names the feature", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOllama.errorReply(400, "registry.ollama.ai/library/gemma:2b does not support tools"))
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag === "UnsupportedFeatureError" ? error.feature : "", "tools")
    }))

  it.scopedLive("a 503 (queue full) is retried with the default policy, a 404 is not", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOllama.errorReply(404, FakeOllama.notFoundMessage("qwen3:8b")))
      const notFound = yield* failure(withProvider(server, { retry: undefined }, (llm) => llm.chat(hello)))
      assert.strictEqual(notFound._tag, "InvalidRequestError")
      assert.strictEqual(server.requests.length, 1)
      server.enqueue(
        FakeOllama.errorReply(503, "server busy, please try again."),
        FakeOllama.jsonReply({
          model: "qwen3:8b",
          message: { role: "assistant", content: "ok" },
          done: true
        })
      )
      const res = yield* withProvider(server, { retry: { maxRetries: 1, initialDelay: 1, jitter: false } }, (llm) =>
        llm.chat(hello))
      assert.strictEqual(res.choices[0]!.message.content, "ok")
      assert.strictEqual(server.requests.length, 3)
    }))

  it.scopedLive("an {\"error\"} body inside a 200 fails typed", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOllama.jsonReply({ error: "an error was encountered while running the model" }))
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "ProviderError")
      assert.include(error.message, "an error was encountered while running the model")
    }))

  it.scopedLive("a 200 that does not match the protocol is a ResponseDecodeError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOllama.jsonReply({ message: { content: 42 } }))
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "ResponseDecodeError")
    }))

  it.scopedLive("the proxy key never appears in an error, even when the server echoes it", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOllama.errorReply(401, `invalid key ${SECRET}`))
      const error = yield* failure(withProvider(server, { apiKey: Redacted.make(SECRET) }, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "AuthenticationError")
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

describe("Ollama: streams that go wrong", () => {
  it.scopedLive("an {\"error\"} line inside a 200 stream fails typed, after the chunks before it", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOllama.streamReply([
        ...thinkingStream.slice(0, 3),
        FakeOllama.errorLine("an error was encountered while running the model")
      ]))
      const seen: Array<ChatCompletionChunk> = []
      const error = yield* failure(
        withProvider(server, {}, (llm) => Stream.runForEach(llm.stream(hello), (c) => Effect.sync(() => seen.push(c))))
      )
      assert.strictEqual(error._tag, "ProviderError")
      assert.include(error.message, "an error was encountered while running the model")
      assert.strictEqual(seen.length, 3)
    }))

  it.scopedLive("a stream that ends without done: true fails with NetworkError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOllama.streamReply(thinkingStream.slice(0, 4)))
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "NetworkError")
      assert.include(error.message, "done")
    }))

  it.scopedLive("a connection cut mid-stream fails with NetworkError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOllama.streamReply(thinkingStream, { disconnectAfter: 2 }))
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "NetworkError")
    }))

  it.scopedLive("a line that is not JSON is a ResponseDecodeError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOllama.streamReply([thinkingStream[0], "{\"model\": oops", thinkingStream[4]]))
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "ResponseDecodeError")
    }))

  it.scopedLive("a 404 before the stream starts fails typed, before any chunk", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOllama.errorReply(404, FakeOllama.notFoundMessage("qwen3:8b")))
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "InvalidRequestError")
      assert.include(error.message, "ollama pull qwen3:8b")
    }))

  it.scopedLive("taking a few chunks closes the connection", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOllama.responder({ words: 50, chunkDelay: 20 }))
      const taken = yield* withProvider(server, {}, (llm) => Stream.runCollect(Stream.take(llm.stream(hello), 3)))
      assert.strictEqual(Chunk.size(taken), 3)
      yield* Effect.promise(() => server.awaitClientClose(1))
      assert.strictEqual(server.closedConnections(), 1)
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// quirks (protocols §10)
// ---------------------------------------------------------------------------------------------------------------

describe("Ollama: quirks", () => {
  it.scopedLive("5: tool arguments arrive as an object and become our JSON string (chat and stream)", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeOllama.jsonReply({ ...toolStream[1], message: toolStream[0]!.message }),
        FakeOllama.streamReply(toolStream)
      )
      const [res, chunks] = yield* withProvider(
        server,
        {},
        (llm) => Effect.all([llm.chat(hello), Stream.runCollect(llm.stream(hello))])
      )
      assert.deepStrictEqual(res.choices[0]!.message.tool_calls, [
        { id: "call_k3x9b2", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Tokyo\"}" } }
      ])
      const deltas = Chunk.toReadonlyArray(chunks).flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []))
      assert.deepStrictEqual(deltas, [
        {
          index: 0,
          id: "call_k3x9b2",
          type: "function",
          function: { name: "get_weather", arguments: "{\"city\":\"Tokyo\"}" }
        }
      ])
    }))

  it.scopedLive("5: several calls in one or more lines are indexed from 0; a call without id gets one", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const line = (calls: Array<unknown>) => ({
        model: "m",
        created_at: "",
        message: { role: "assistant", content: "", tool_calls: calls },
        done: false
      })
      server.enqueue(FakeOllama.streamReply([
        line([{ function: { name: "a", arguments: { x: 1 } } }, { function: { name: "b", arguments: {} } }]),
        line([{ function: { name: "c" } }]),
        { model: "m", created_at: "", message: { role: "assistant", content: "" }, done: true, done_reason: "stop" }
      ]))
      const completion = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
      const calls = completion.choices[0]!.message.tool_calls ?? []
      assert.deepStrictEqual(calls.map((c) => [c.function.name, c.function.arguments]), [["a", "{\"x\":1}"], [
        "b",
        "{}"
      ], ["c", "{}"]])
      assert.isTrue(calls.every((c) => c.id.startsWith("call_")))
      assert.strictEqual(new Set(calls.map((c) => c.id)).size, 3)
    }))

  it.scopedLive("6: done_reason \"stop\" with a tool call is finish_reason tool_calls (chat and stream)", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeOllama.jsonReply({ ...toolStream[1], message: toolStream[0]!.message }),
        FakeOllama.streamReply(toolStream)
      )
      const [res, completion] = yield* withProvider(
        server,
        {},
        (llm) => Effect.all([llm.chat(hello), ChatStream.toCompletion(llm.stream(hello))])
      )
      assert.strictEqual(toolStream[1]!.done_reason, "stop")
      assert.strictEqual(res.choices[0]!.finish_reason, "tool_calls")
      assert.strictEqual(completion.choices[0]!.finish_reason, "tool_calls")
    }))

  it.scopedLive("7: an error with status 200 is checked on every line, not only the first", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeOllama.streamReply([
          ...thinkingStream.slice(0, 4),
          FakeOllama.errorLine("out of memory"),
          thinkingStream[4]
        ])
      )
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "ProviderError")
      assert.include(error.message, "out of memory")
    }))

  it.scopedLive("16: missing metrics give zero counts; created_at with ns and an offset; absent done_reason is stop", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOllama.jsonReply({
        model: "llama3.2",
        created_at: "2023-08-04T08:52:19.385406455-07:00",
        message: { role: "assistant", content: "hi" },
        done: true
      }))
      const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
      assert.deepStrictEqual(res.usage, { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 })
      assert.strictEqual(res.created, Math.floor(Date.parse("2023-08-04T15:52:19Z") / 1000))
      assert.strictEqual(res.choices[0]!.finish_reason, "stop")
    }))

  it.scopedLive("17: images go as raw base64 without the data: prefix", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOllama.responder())
      yield* withProvider(server, {}, (llm) =>
        llm.chat({
          model: "llava",
          messages: [{
            role: "user",
            content: [
              { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
              { type: "image_url", image_url: { url: `data:image/jpeg;base64,AAAA` } }
            ]
          }]
        }))
      assert.deepStrictEqual((server.requests[0]!.json as any).messages[0], {
        role: "user",
        content: "",
        images: [PNG, "AAAA"]
      })
    }))

  it.scopedLive("18: /api/embed (not the deprecated /api/embeddings), vectors back as numbers", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOllama.responder())
      const res = yield* withProvider(
        server,
        {},
        (llm) => llm.embed({ model: "all-minilm", input: ["a b", "c"], dimensions: 4, encoding_format: "base64" })
      )
      assert.strictEqual(server.requests[0]!.path, "/api/embed")
      // the base64 encoding is an OpenAI wire detail: Ollama is not asked for it, vectors come back as numbers
      assert.isUndefined((server.requests[0]!.json as any).encoding_format)
      assert.deepStrictEqual(res.data.map((d) => d.embedding.length), [4, 4])
      assert.deepStrictEqual(res.usage, { prompt_tokens: 3, total_tokens: 3 })
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// configuration
// ---------------------------------------------------------------------------------------------------------------

describe("Ollama: configuration", () => {
  it("hostUrl reads OLLAMA_HOST as the ollama CLI does", () => {
    assert.strictEqual(Ollama.hostUrl("0.0.0.0:11434"), "http://0.0.0.0:11434")
    assert.strictEqual(Ollama.hostUrl("gpu-box"), "http://gpu-box:11434")
    assert.strictEqual(Ollama.hostUrl("gpu-box:8080"), "http://gpu-box:8080")
    assert.strictEqual(Ollama.hostUrl("[::1]"), "http://[::1]:11434")
    assert.strictEqual(Ollama.hostUrl("[::1]:9000"), "http://[::1]:9000")
    assert.strictEqual(Ollama.hostUrl("https://ollama.corp/"), "https://ollama.corp")
    assert.strictEqual(Ollama.hostUrl("http://h:1/prefix"), "http://h:1/prefix")
  })

  const viaConfig = (server: FakeServer.FakeServer, env: Record<string, string>) =>
    LlmProvider.chat(hello).pipe(
      Effect.provide(Ollama.layerConfig({ retry: false })),
      Effect.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))),
      Effect.provide(Http.layer())
    )

  it.scopedLive("layerConfig: OLLAMA_HOST without a scheme, OLLAMA_BASE_URL first, OLLAMA_API_KEY as Bearer", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOllama.responder())
      const port = new URL(server.url).port
      yield* viaConfig(server, { OLLAMA_HOST: `127.0.0.1:${port}` })
      yield* viaConfig(server, { OLLAMA_BASE_URL: server.url, OLLAMA_HOST: "127.0.0.1:1", OLLAMA_API_KEY: "k" })
      assert.strictEqual(server.requests.length, 2)
      assert.isUndefined(server.requests[0]!.headers["authorization"])
      assert.strictEqual(server.requests[1]!.headers["authorization"], "Bearer k")
    }))

  it.effect("the default base URL is the local server, and a bad baseUrl fails the layer", () =>
    Effect.gen(function*() {
      assert.strictEqual(Ollama.defaultBaseUrl, "http://localhost:11434")
      const error = yield* Effect.flip(
        Layer.build(Ollama.layer({ baseUrl: "ftp://x" })).pipe(Effect.scoped, Effect.provide(Http.layer()))
      )
      assert.strictEqual(error._tag, "InvalidRequestError")
      assert.strictEqual(error.param, "baseUrl")
    }))

  it.scopedLive("the fake's /api/tags lists the pulled models, unknown routes are 404", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOllama.responder({ models: ["llama3.2", "all-minilm"] }))
      const tags = yield* Effect.promise(() => fetch(`${server.url}/api/tags`).then((r) => r.json() as Promise<any>))
      assert.deepStrictEqual(tags.models.map((m: any) => m.name), ["llama3.2:latest", "all-minilm:latest"])
      const missing = yield* Effect.promise(() => fetch(`${server.url}/api/nope`, { method: "POST" }))
      assert.strictEqual(missing.status, 404)
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// through the Promise facade
// ---------------------------------------------------------------------------------------------------------------

describe("Ollama: through Client", () => {
  it.live("chat, stream and a tool loop whose second request replays the call as an object", () =>
    Effect.promise(async () => {
      const server = await FakeServer.start({ handler: FakeOllama.responder() })
      try {
        // no apiKey: Ollama needs none
        await using client = new Client({
          provider: "ollama",
          baseUrl: server.url,
          defaultModel: "llama3.2",
          retry: false
        })
        const res = await client.chat.completions.create({ messages: [{ role: "user", content: "hello there" }] })
        assert.strictEqual(res.choices[0]!.message.content, "Echo: hello there")
        assert.strictEqual(res.provider, "ollama")

        const stream = await client.chat.completions.create({
          messages: [{ role: "user", content: "a b c" }],
          stream: true
        })
        let text = ""
        let usageChunks = 0
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta.content ?? ""
          if (chunk.usage) usageChunks++
        }
        assert.strictEqual(text, "Echo: a b c")
        assert.strictEqual(usageChunks, 1)

        const messages: Array<any> = [{ role: "user", content: "Tokyo" }]
        const first = await client.chat.completions.create({ messages, tools: [weatherTool] })
        assert.strictEqual(first.choices[0]!.finish_reason, "tool_calls")
        const call = first.choices[0]!.message.tool_calls![0]!
        assert.strictEqual(call.function.arguments, "{\"city\":\"Tokyo\"}")
        messages.push(first.choices[0]!.message, { role: "tool", tool_call_id: call.id, content: "11 degrees celsius" })
        const second = await client.chat.completions.create({ messages, tools: [weatherTool] })
        assert.strictEqual(second.choices[0]!.finish_reason, "stop")
        const sent = server.requests[server.requests.length - 1]!.json as any
        assert.deepStrictEqual(sent.messages.slice(1), [
          {
            role: "assistant",
            content: "",
            tool_calls: [{ id: call.id, function: { index: 0, name: "get_weather", arguments: { city: "Tokyo" } } }]
          },
          { role: "tool", content: "11 degrees celsius", tool_name: "get_weather", tool_call_id: call.id }
        ])
        assert.isUndefined(server.requests[0]!.headers["authorization"])
      } finally {
        await server.close()
      }
    }))
})
