/**
 * No real Zhipu captures exist (protocols Zhipu §6.4): every transcript here is CONSTRUCTED from the examples and
 * tables of protocols Zhipu §4.
 */
import { assert, describe, it } from "@effect/vitest"
import type { ChatCompletionChunk, ChatCompletionRequest, ChatMessage, LlmError } from "@llm-api-router/core"
import { ChatStream, Http, LlmProvider } from "@llm-api-router/core"
import { Zhipu } from "@llm-api-router/providers"
import { Client } from "@llm-api-router/providers/Client"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { createHmac } from "node:crypto"
import { failure, waitUntil } from "./helpers.js"
import { chunkings } from "./openAiDialects.js"

const ID = "a1b2c3d4e5f6"
const SECRET_PART = "zYxWvUtSrQpOnMlK-SECRET"
const KEY = `${ID}.${SECRET_PART}`
const apiKey = Redacted.make(KEY)
const hello: ChatCompletionRequest = { model: "glm-4-plus", messages: [{ role: "user", content: "你好" }] }

const withProvider = <A, E>(
  server: FakeServer.FakeServer,
  options: Partial<Zhipu.Options>,
  f: (llm: LlmProvider.Service) => Effect.Effect<A, E>
) =>
  Effect.flatMap(LlmProvider.LlmProvider, f).pipe(
    Effect.provide(Zhipu.layer({ apiKey, baseUrl: `${server.url}/api/paas/v4`, retry: false, ...options })),
    Effect.provide(Http.layer())
  )

// Constructed after protocols Zhipu §4.5: no `object`, the whole tool call in one delta, finish + usage together.
const base = { id: "20251021143022abc", created: 1761028222, model: "glm-4-plus" }
const toolStream = [
  { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "我来" } }] },
  { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "查一下。" } }] },
  {
    ...base,
    choices: [{
      index: 0,
      delta: {
        role: "assistant",
        tool_calls: [{
          id: "call_9012345678901234567",
          index: 0,
          type: "function",
          function: { name: "get_weather", arguments: "{\"city\":\"北京\"}" }
        }]
      }
    }]
  },
  {
    ...base,
    choices: [{ index: 0, finish_reason: "tool_calls", delta: { role: "assistant", content: "" } }],
    usage: { prompt_tokens: 152, completion_tokens: 21, total_tokens: 173 }
  }
]
const textStream = (finish: string) => [
  { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "北京" } }] },
  { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "今天晴。" } }] },
  {
    ...base,
    choices: [{ index: 0, finish_reason: finish, delta: { role: "assistant", content: "" } }],
    usage: { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14 }
  }
]
const completionBody = (finish: string, message: Record<string, unknown> = { role: "assistant", content: "好" }) => ({
  id: "2025102114302284f7c9e1a2b34d5e",
  request_id: "req-7f3c9a52-1d2e",
  created: 1761028222,
  model: "glm-4-plus",
  choices: [{ index: 0, finish_reason: finish, message }],
  usage: { prompt_tokens: 152, completion_tokens: 14, total_tokens: 166, prompt_tokens_details: { cached_tokens: 0 } }
})

const decodePart = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"))

/** Verifies a Zhipu JWT independently of the code under test; returns its header and payload. */
const verifyJwt = (authorization: string | undefined) => {
  assert.isTrue(authorization?.startsWith("Bearer "), "a Bearer token")
  const token = authorization!.slice("Bearer ".length)
  const [header, payload, signature] = token.split(".")
  const expected = createHmac("sha256", Buffer.from(SECRET_PART, "utf8")).update(`${header}.${payload}`).digest(
    "base64url"
  )
  assert.strictEqual(signature, expected, "HS256 over header.payload with the secret's UTF-8 bytes")
  return { token, header: decodePart(header!), payload: decodePart(payload!) }
}

describe("Zhipu: authentication", () => {
  it.scopedLive("default: the raw id.secret key as Bearer", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOpenAi.responder())
      yield* withProvider(server, {}, (llm) => llm.chat(hello))
      assert.strictEqual(server.requests[0]!.headers["authorization"], `Bearer ${KEY}`)
    }))

  it.scoped("jwt: header and payload fields, milliseconds, the signature; cached, then renewed (TestClock)", () =>
    Effect.gen(function*() {
      const now = 1_767_225_600_000
      yield* TestClock.setTime(now)
      const server = yield* FakeServer.make()
      server.setHandler(FakeOpenAi.responder())
      yield* Effect.gen(function*() {
        const llm = yield* LlmProvider.LlmProvider
        yield* llm.chat(hello)
        yield* TestClock.adjust("100 seconds")
        yield* Stream.runDrain(llm.stream(hello))
        yield* llm.embed({ input: "x" })
        yield* TestClock.adjust("81 seconds") // 181 s: past the renewal point, 30 s before the 210 s expiry
        yield* llm.chat(hello)
      }).pipe(
        Effect.provide(Zhipu.layer({ apiKey, auth: "jwt", baseUrl: `${server.url}/api/paas/v4`, retry: false })),
        Effect.provide(Http.layer())
      )
      const tokens = server.requests.map((r) => verifyJwt(r.headers["authorization"]))
      assert.deepStrictEqual(tokens[0]!.header, { alg: "HS256", sign_type: "SIGN" })
      // exp and timestamp in MILLISECONDS (not seconds, not microseconds)
      assert.deepStrictEqual(tokens[0]!.payload, { api_key: ID, exp: now + 210_000, timestamp: now })
      assert.strictEqual(tokens[1]!.token, tokens[0]!.token)
      assert.strictEqual(tokens[2]!.token, tokens[0]!.token)
      assert.notStrictEqual(tokens[3]!.token, tokens[0]!.token)
      assert.deepStrictEqual(tokens[3]!.payload, {
        api_key: ID,
        exp: now + 181_000 + 210_000,
        timestamp: now + 181_000
      })
      // the raw key is never sent in JWT mode
      assert.isTrue(server.requests.every((r) => !r.headers["authorization"]!.includes(SECRET_PART)))
    }))

  it.scoped("jwt: jwtTtl sets the expiry, renewal 30 s before it", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOpenAi.responder())
      yield* Effect.gen(function*() {
        const llm = yield* LlmProvider.LlmProvider
        yield* llm.chat(hello)
        yield* TestClock.adjust("3599 seconds")
        yield* llm.chat(hello)
        yield* TestClock.adjust("30 seconds")
        yield* llm.chat(hello)
      }).pipe(
        Effect.provide(
          Zhipu.layer({ apiKey, auth: "jwt", jwtTtl: "1 hour", baseUrl: `${server.url}/api/paas/v4`, retry: false })
        ),
        Effect.provide(Http.layer())
      )
      const [a, b, c] = server.requests.map((r) => verifyJwt(r.headers["authorization"]))
      assert.strictEqual(a!.payload.exp - a!.payload.timestamp, 3_600_000)
      assert.notStrictEqual(b!.token, a!.token) // 3599 s is past exp − 30 s
      assert.strictEqual(c!.token, b!.token)
    }))

  it.effect("jwt with a key that is not <id>.<secret> is rejected at construction, without echoing it", () =>
    Effect.gen(function*() {
      const bad = "not-a-zhipu-key-SECRET"
      const error = yield* Effect.flip(
        LlmProvider.info.pipe(
          Effect.provide(Zhipu.layer({ apiKey: Redacted.make(bad), auth: "jwt" })),
          Effect.provide(Http.layer())
        )
      )
      assert.strictEqual(error._tag, "InvalidRequestError")
      if (error._tag === "InvalidRequestError") assert.strictEqual(error.param, "apiKey")
      assert.notInclude(error.message, bad)
    }))
})

describe("Zhipu: streams and bodies (constructed)", () => {
  for (const { name, options } of chunkings) {
    it.scopedLive(`the whole tool call in one delta: ${name}`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(FakeOpenAi.streamReply(toolStream, options))
        const all = Chunk.toReadonlyArray(
          yield* withProvider(server, {}, (llm) => Stream.runCollect(llm.stream(hello)))
        )
        const completion = yield* ChatStream.toCompletion(Stream.fromIterable(all))
        const message = completion.choices[0]!.message
        assert.strictEqual(message.content, "我来查一下。")
        assert.deepStrictEqual(message.tool_calls, [{
          id: "call_9012345678901234567",
          type: "function",
          function: { name: "get_weather", arguments: "{\"city\":\"北京\"}" }
        }])
        assert.strictEqual(completion.choices[0]!.finish_reason, "tool_calls")
        assert.deepStrictEqual(all[all.length - 1]!.choices, [])
        assert.strictEqual(all[all.length - 1]!.usage?.total_tokens, 173)
        // the role is sent once, on the first chunk, although every Zhipu delta repeats it
        assert.strictEqual(all.filter((c) => c.choices[0]?.delta.role !== undefined).length, 1)
      }))
  }

  it.scopedLive("finish_reason sensitive → content_filter (stream and chat)", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply(textStream("sensitive")), FakeOpenAi.jsonReply(completionBody("sensitive")))
      const completion = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
      assert.strictEqual(completion.choices[0]!.finish_reason, "content_filter")
      const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
      assert.strictEqual(res.choices[0]!.finish_reason, "content_filter")
    }))

  it.scopedLive("finish_reason model_context_window_exceeded → length", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.jsonReply(completionBody("model_context_window_exceeded")))
      const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
      assert.strictEqual(res.choices[0]!.finish_reason, "length")
    }))

  it.scopedLive("finish_reason network_error fails with a retryable ProviderError after the partial text", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply(textStream("network_error")))
      const seen: Array<ChatCompletionChunk> = []
      const error = yield* failure(
        withProvider(server, {}, (llm) => Stream.runForEach(llm.stream(hello), (c) => Effect.sync(() => seen.push(c))))
      )
      assert.strictEqual(error._tag, "ProviderError")
      assert.strictEqual(error.code, "network_error")
      assert.strictEqual(seen.map((c) => c.choices[0]?.delta.content ?? "").join(""), "北京今天晴。")
      server.enqueue(FakeOpenAi.jsonReply(completionBody("network_error")))
      const chatError = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(chatError._tag, "ProviderError")
    }))

  it.scoped("network_error is retried by the default policy (TestClock)", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeOpenAi.jsonReply(completionBody("network_error")),
        FakeOpenAi.jsonReply(completionBody("stop"))
      )
      const fiber = yield* Effect.fork(
        withProvider(
          server,
          { retry: { maxRetries: 1, initialDelay: "1 second", jitter: false } },
          (llm) => llm.chat(hello)
        )
      )
      yield* Effect.promise(() => waitUntil(() => server.requests.length === 1))
      yield* TestClock.adjust("1 second")
      const res = yield* Effect.fromFiber(fiber)
      assert.strictEqual(res.choices[0]!.finish_reason, "stop")
      assert.strictEqual(server.requests.length, 2)
    }))

  it.scopedLive("a mid-stream {\"error\":{\"code\":\"1301\"}} event fails with ContentFilterError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply([
        textStream("stop")[0],
        { error: { code: "1301", message: "系统检测到输入或生成内容可能包含不安全或敏感内容" } }
      ], { done: false }))
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "ContentFilterError")
      assert.strictEqual(error.code, "1301")
    }))
})

describe("Zhipu: the business-code table (codes from the protocols doc; bodies constructed)", () => {
  const rows: ReadonlyArray<{ status: number; code: string | number; tag: LlmError["_tag"] }> = [
    { status: 401, code: "1000", tag: "AuthenticationError" },
    { status: 401, code: "1001", tag: "AuthenticationError" },
    { status: 401, code: "1002", tag: "AuthenticationError" },
    { status: 401, code: "1003", tag: "AuthenticationError" },
    { status: 401, code: "1004", tag: "AuthenticationError" },
    { status: 403, code: "1110", tag: "PermissionDeniedError" },
    { status: 403, code: "1111", tag: "PermissionDeniedError" },
    { status: 403, code: "1112", tag: "PermissionDeniedError" },
    { status: 403, code: "1120", tag: "PermissionDeniedError" },
    { status: 403, code: "1121", tag: "PermissionDeniedError" },
    { status: 429, code: "1113", tag: "QuotaExceededError" },
    { status: 429, code: 1113, tag: "QuotaExceededError" },
    { status: 400, code: "1210", tag: "InvalidRequestError" },
    { status: 400, code: "1211", tag: "InvalidRequestError" },
    { status: 400, code: "1212", tag: "InvalidRequestError" },
    { status: 400, code: "1213", tag: "InvalidRequestError" },
    { status: 400, code: "1214", tag: "InvalidRequestError" },
    { status: 400, code: "1215", tag: "InvalidRequestError" },
    { status: 403, code: "1220", tag: "PermissionDeniedError" },
    { status: 400, code: "1221", tag: "InvalidRequestError" },
    { status: 400, code: "1222", tag: "InvalidRequestError" },
    { status: 500, code: "1230", tag: "ProviderError" },
    { status: 400, code: "1231", tag: "InvalidRequestError" },
    { status: 500, code: "1234", tag: "ProviderError" },
    { status: 400, code: "1261", tag: "ContextLengthError" },
    { status: 400, code: "1301", tag: "ContentFilterError" },
    { status: 429, code: "1302", tag: "RateLimitError" },
    { status: 429, code: "1303", tag: "RateLimitError" },
    { status: 429, code: "1304", tag: "QuotaExceededError" },
    { status: 429, code: "1305", tag: "RateLimitError" },
    { status: 429, code: "1308", tag: "QuotaExceededError" },
    { status: 429, code: "1309", tag: "QuotaExceededError" },
    { status: 429, code: "1310", tag: "QuotaExceededError" },
    { status: 403, code: "1313", tag: "PermissionDeniedError" },
    { status: 500, code: "500", tag: "ProviderError" },
    { status: 434, code: "9999", tag: "PermissionDeniedError" },
    { status: 435, code: "9998", tag: "InvalidRequestError" },
    { status: 429, code: "9997", tag: "RateLimitError" },
    { status: 401, code: "9996", tag: "AuthenticationError" },
    { status: 503, code: "9995", tag: "ProviderError" }
  ]
  for (const row of rows) {
    it.scopedLive(`${row.status} code ${JSON.stringify(row.code)} → ${row.tag}`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(FakeOpenAi.jsonReply({ error: { code: row.code, message: `message ${row.code}` } }, row.status))
        const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
        assert.strictEqual(error._tag, row.tag)
        assert.strictEqual(error.provider, "zhipu")
        assert.strictEqual(error.code, String(row.code))
        if (error._tag !== "RetryExhausted") assert.strictEqual(error.status, row.status)
        if (error._tag === "InvalidRequestError" && row.code === "1211") assert.strictEqual(error.param, "model")
      }))
  }

  it.scopedLive("1113 (no balance, sent as a 429) is not retried by the default policy", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(() => FakeOpenAi.jsonReply({ error: { code: "1113", message: "Insufficient balance" } }, 429))
      const error = yield* failure(withProvider(server, { retry: undefined }, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "QuotaExceededError")
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("the key never appears in an error", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.jsonReply({ error: { code: "1002", message: `invalid token ${KEY}` } }, 401))
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.notInclude(JSON.stringify(error) + error.message + String(error), KEY)
    }))
})

describe("Zhipu: the wire request", () => {
  it.scopedLive("chat: path, JSON, sampling mapped into Zhipu's ranges, tool_choice → auto, bare base64 images", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(() => FakeOpenAi.jsonReply(completionBody("stop")))
      const tools = [{ type: "function" as const, function: { name: "f", parameters: { type: "object" } } }]
      yield* withProvider(server, {}, (llm) =>
        Effect.all([
          llm.chat({
            messages: [{
              role: "user",
              content: [{ type: "text", text: "看图" }, {
                type: "image_url",
                image_url: { url: "data:image/png;base64,iVBORw0KGgo=" }
              }]
            }],
            temperature: 0,
            top_p: 1,
            tools,
            tool_choice: "required"
          }),
          llm.chat({ ...hello, temperature: 1.5, tools, tool_choice: "none" })
        ]))
      const [first, second] = server.requests
      assert.strictEqual(first!.path, "/api/paas/v4/chat/completions")
      assert.strictEqual(first!.headers["content-type"], "application/json")
      assert.deepStrictEqual(first!.json, {
        model: "glm-4-flash",
        messages: [{
          role: "user",
          content: [{ type: "text", text: "看图" }, { type: "image_url", image_url: { url: "iVBORw0KGgo=" } }]
        }],
        do_sample: false,
        top_p: 0.99,
        tools,
        tool_choice: "auto"
      })
      assert.deepStrictEqual(second!.json, { ...hello, temperature: 0.99 })
    }))

  it.scopedLive("stream: no stream_options (usage comes on the finishing chunk)", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.streamReply(textStream("stop")))
      yield* withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello)))
      assert.deepStrictEqual(server.requests[0]!.json, { ...hello, stream: true })
      assert.strictEqual(server.requests[0]!.headers["accept"], "text/event-stream")
    }))

  it.scopedLive("embeddings: embedding-3 by default, dimensions passed, no encoding_format", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeOpenAi.responder())
      const [a, b] = yield* withProvider(server, {}, (llm) =>
        Effect.all([
          llm.embed({ input: ["北京", "上海"], dimensions: 256 }),
          llm.embed({ model: "embedding-2", input: "x" })
        ]))
      assert.strictEqual(server.requests[0]!.path, "/api/paas/v4/embeddings")
      assert.deepStrictEqual(server.requests[0]!.json, {
        model: "embedding-3",
        input: ["北京", "上海"],
        dimensions: 256
      })
      assert.deepStrictEqual(server.requests[1]!.json, { model: "embedding-2", input: "x" })
      assert.strictEqual(a.data.length, 2)
      assert.strictEqual(a.data[0]!.embedding.length, 256)
      assert.strictEqual(b.provider, "zhipu")
    }))
})

describe("Zhipu: through Client", () => {
  it.live("chat, stream and a tool loop with new Client({ provider: \"zhipu\" })", () =>
    Effect.promise(async () => {
      const server = await FakeServer.start({ handler: FakeOpenAi.responder() })
      try {
        await using client = new Client({ provider: "zhipu", apiKey: KEY, baseUrl: server.url, retry: false })
        const res = await client.chat.completions.create({ messages: [{ role: "user", content: "你好" }] })
        assert.strictEqual(res.choices[0]!.message.content, "Echo: 你好")
        assert.strictEqual(res.provider, "zhipu")
        assert.strictEqual((server.requests[0]!.json as any).model, "glm-4-flash")
        assert.strictEqual(server.requests[0]!.headers.authorization, `Bearer ${KEY}`)

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
        messages.push(first.choices[0]!.message as ChatMessage, { role: "tool", tool_call_id: call.id, content: "42" })
        const second = await client.chat.completions.create({ messages, tools })
        assert.strictEqual(second.choices[0]!.message.content, "Echo: find x")
      } finally {
        await server.close()
      }
    }))
})
