import { afterAll, afterEach, assert, beforeAll, describe, it } from "@effect/vitest"
import {
  AuthenticationError,
  type ChatCompletionChunk,
  InvalidRequestError,
  isLlmError,
  LlmProvider,
  ProviderError
} from "@llm-api-router/core"
import { Client } from "@llm-api-router/providers/Client"
import * as ProviderConfig from "@llm-api-router/providers/ProviderConfig"
import * as ProviderFactory from "@llm-api-router/providers/ProviderFactory"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import * as util from "node:util"

const SECRET = "sk-client-test-0123456789-SECRET"

let server: FakeServer.FakeServer

beforeAll(async () => {
  server = await FakeServer.start()
})
afterAll(() => server.close())
afterEach(() => server.reset())

const config = (overrides: Partial<ProviderConfig.ProviderConfig> = {}): ProviderConfig.ProviderConfig => ({
  provider: "openai",
  apiKey: SECRET,
  baseUrl: `${server.url}/v1`,
  defaultModel: "gpt-test",
  retry: false,
  ...overrides
})

const hello = { messages: [{ role: "user" as const, content: "hello there" }] }

/** Resolves with what `promise` rejected with; fails the test if it resolved. */
const rejectionOf = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise
  } catch (e) {
    return e
  }
  throw new Error("expected the promise to reject")
}

const until = async (condition: () => boolean): Promise<void> => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5))
}

const chunk = (content: string): ChatCompletionChunk => ({
  id: "chatcmpl-scripted",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-test",
  choices: [{ index: 0, delta: { role: "assistant", content }, finish_reason: null }]
})

const assertNoSecret = (text: string, where: string) => assert.notInclude(text, SECRET, `the key leaked into ${where}`)

describe("Client: calls over a real socket", () => {
  it("chat resolves with the ChatCompletion, sending the key and the default model", async () => {
    server.setHandler(FakeOpenAi.responder())
    await using client = new Client(config())
    const res = await client.chat.completions.create(hello)
    assert.strictEqual(res.choices[0]?.message.content, "Echo: hello there")
    assert.strictEqual(server.requests.length, 1)
    const request = server.requests[0]!
    assert.strictEqual(request.path, "/v1/chat/completions")
    assert.strictEqual(request.headers.authorization, `Bearer ${SECRET}`)
    assert.strictEqual((request.json as any).model, "gpt-test")
    assert.notProperty(request.json as object, "stream_options")
  })

  it("stream: true yields the chunks in order, ending with usage; toCompletion folds them", async () => {
    server.setHandler(FakeOpenAi.responder())
    await using client = new Client(config())
    const stream = await client.chat.completions.create({ ...hello, stream: true })
    const chunks: Array<ChatCompletionChunk> = []
    for await (const c of stream) chunks.push(c)
    assert.strictEqual((server.requests[0]!.json as any).stream, true)
    assert.strictEqual(chunks[0]?.choices[0]?.delta.role, "assistant")
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")
    assert.strictEqual(text, "Echo: hello there")
    const last = chunks[chunks.length - 1]!
    assert.deepStrictEqual(last.choices, [])
    assert.isDefined(last.usage)

    const completion = await (await client.chat.completions.create({ ...hello, stream: true })).toCompletion()
    assert.strictEqual(completion.choices[0]?.message.content, "Echo: hello there")
    assert.strictEqual(completion.choices[0]?.finish_reason, "stop")
    assert.isDefined(completion.usage)
  })

  it("embeddings resolve with one vector per input", async () => {
    server.setHandler(FakeOpenAi.responder())
    await using client = new Client(config())
    const res = await client.embeddings.create({ model: "text-embedding-3-small", input: ["a", "b"], dimensions: 4 })
    assert.strictEqual(res.data.length, 2)
    assert.strictEqual(res.data[0]!.embedding.length, 4)
    assert.strictEqual(server.requests[0]!.path, "/v1/embeddings")
  })

  it("builds the runtime once and lazily: no connection before the first call, one reused pool after", async () => {
    server.setHandler(FakeOpenAi.responder())
    const before = server.totalSockets()
    const client = new Client(config())
    assert.strictEqual(server.totalSockets(), before)
    await client.chat.completions.create(hello)
    await client.embeddings.create({ model: "e", input: "x" })
    await client.chat.completions.create(hello)
    assert.strictEqual(server.requests.length, 3)
    assert.strictEqual(server.totalSockets(), before + 1)
    await client.close()
    await until(() => server.openSockets() === 0)
  })

  it("client.layer serves Effect code from the same runtime and pool", async () => {
    server.setHandler(FakeOpenAi.responder())
    const before = server.totalSockets()
    await using client = new Client(config())
    await client.chat.completions.create(hello)
    const res = await Effect.runPromise(LlmProvider.chat(hello).pipe(Effect.provide(client.layer)))
    assert.strictEqual(res.choices[0]?.message.content, "Echo: hello there")
    assert.strictEqual(server.requests.length, 2)
    assert.strictEqual(server.totalSockets(), before + 1)
  })
})

describe("Client: errors are our own instances", () => {
  it("a 401 rejects with the AuthenticationError itself, after exactly one request", async () => {
    server.enqueue(
      FakeOpenAi.errorReply(401, { message: `Incorrect API key provided: ${SECRET}`, code: "invalid_api_key" })
    )
    await using client = new Client(config({ retry: undefined }))
    const error = await rejectionOf(client.chat.completions.create(hello))
    assert.instanceOf(error, AuthenticationError)
    assert.strictEqual((error as AuthenticationError)._tag, "AuthenticationError")
    assert.isFalse(Runtime.isFiberFailure(error))
    assert.isFalse(util.types.isProxy(error))
    assert.strictEqual(server.requests.length, 1)
    assertNoSecret((error as AuthenticationError).message, "the error message")
    assertNoSecret(String(error), "String(error)")
    assertNoSecret(util.inspect(error, { depth: 10 }), "util.inspect(error)")
  })

  it("a stream refused with 401 rejects create itself", async () => {
    server.enqueue(FakeOpenAi.errorReply(401, { message: "bad key", code: "invalid_api_key" }))
    await using client = new Client(config())
    const error = await rejectionOf(client.chat.completions.create({ ...hello, stream: true }))
    assert.instanceOf(error, AuthenticationError)
    assert.strictEqual(server.requests.length, 1)
  })

  it("an error after the first chunk is thrown from the iterator as our error", async () => {
    // Apart in time, so that the error event is not in the same read as the first chunk.
    server.enqueue(
      FakeOpenAi.streamReply([chunk("Hel"), { error: { message: "overloaded", type: "server_error" } }], {
        chunkDelay: 20
      })
    )
    await using client = new Client(config())
    const stream = await client.chat.completions.create({ ...hello, stream: true })
    const seen: Array<string> = []
    const error = await rejectionOf((async () => {
      for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? "")
    })())
    assert.deepStrictEqual(seen, ["Hel"])
    assert.instanceOf(error, ProviderError)
    assert.isFalse(Runtime.isFiberFailure(error))
    assert.isFalse(util.types.isProxy(error))
  })

  it("invalid input rejects with InvalidRequestError naming the field, and nothing is sent", async () => {
    server.setHandler(FakeOpenAi.responder())
    await using client = new Client(config())
    const error = await rejectionOf(client.chat.completions.create({ messages: [] }))
    assert.instanceOf(error, InvalidRequestError)
    assert.strictEqual((error as InvalidRequestError).source, "client")
    assert.strictEqual((error as InvalidRequestError).param, "messages")
    assert.instanceOf(await rejectionOf(client.chat.completions.create(undefined as any)), InvalidRequestError)
    const embedError = await rejectionOf(client.embeddings.create({ input: [] }))
    assert.instanceOf(embedError, InvalidRequestError)
    assert.strictEqual(server.requests.length, 0)
  })
})

describe("Client: defects", () => {
  it("a defect rejects as the thrown value itself", async () => {
    const boom = new Error("boom")
    ProviderFactory.register("defect-test", () =>
      Layer.succeed(
        LlmProvider.LlmProvider,
        LlmProvider.make({
          info: {
            name: "defect-test",
            defaultModel: "d",
            capabilities: { streaming: true, tools: true, embeddings: false, vision: true, jsonSchema: true }
          },
          chat: () => Effect.die(boom),
          stream: () => Stream.die(boom)
        })
      ), { requiresApiKey: false })
    await using client = new Client({ provider: "defect-test" })
    assert.strictEqual(await rejectionOf(client.chat.completions.create(hello)), boom)
    assert.strictEqual(await rejectionOf(client.chat.completions.create({ ...hello, stream: true })), boom)
  })
})

describe("Client: cancellation", () => {
  it("aborting the signal mid-request rejects with an AbortError and closes the HTTP request", async () => {
    server.enqueue({ hang: true })
    await using client = new Client(config())
    const controller = new AbortController()
    const pending = rejectionOf(client.chat.completions.create(hello, { signal: controller.signal }))
    await until(() => server.requests.length === 1)
    controller.abort()
    const error = await pending
    assert.strictEqual((error as Error).name, "AbortError")
    await server.awaitClientClose()
    assert.strictEqual(server.closedConnections(), 1)
  })

  it("an already aborted signal rejects with its reason and sends nothing", async () => {
    await using client = new Client(config())
    const reason = new Error("stop")
    const error = await rejectionOf(client.chat.completions.create(hello, { signal: AbortSignal.abort(reason) }))
    assert.strictEqual(error, reason)
    assert.strictEqual(server.requests.length, 0)
  })

  it("break after 2 chunks of a slow stream closes the request; the next create on the client succeeds", async () => {
    server.setHandler(FakeOpenAi.responder({ words: 200, chunkDelay: 20 }))
    await using client = new Client(config())
    const stream = await client.chat.completions.create({ ...hello, stream: true })
    let n = 0
    for await (const _ of stream) {
      if (++n === 2) break
    }
    await server.awaitClientClose()
    assert.strictEqual(n, 2)
    server.setHandler(FakeOpenAi.responder())
    const res = await client.chat.completions.create(hello)
    assert.strictEqual(res.choices[0]?.message.content, "Echo: hello there")
  })

  it("next() called twice without waiting yields the chunks in order", async () => {
    server.enqueue(FakeOpenAi.streamReply([chunk("a"), chunk("b"), chunk("c")], { chunkDelay: 10 }))
    await using client = new Client(config())
    const stream = await client.chat.completions.create({ ...hello, stream: true })
    const iterator = stream[Symbol.asyncIterator]()
    const [one, two, three] = await Promise.all([iterator.next(), iterator.next(), iterator.next()])
    const text = (r: IteratorResult<ChatCompletionChunk>) => r.done ? undefined : r.value.choices[0]?.delta.content
    assert.deepStrictEqual([text(one!), text(two!), text(three!)], ["a", "b", "c"])
  })

  it("aborting the signal between chunks makes the iterator throw an AbortError and closes the request", async () => {
    server.setHandler(FakeOpenAi.responder({ words: 200, chunkDelay: 20 }))
    await using client = new Client(config())
    const controller = new AbortController()
    const stream = await client.chat.completions.create({ ...hello, stream: true }, { signal: controller.signal })
    const iterator = stream[Symbol.asyncIterator]()
    await iterator.next()
    controller.abort()
    const error = await rejectionOf(iterator.next())
    assert.strictEqual((error as Error).name, "AbortError")
    await server.awaitClientClose()
    assert.deepStrictEqual(await iterator.next(), { done: true, value: undefined })
  })
})

describe("Client: lifecycle", () => {
  it("close stops an open stream, and later calls reject with a clear error", async () => {
    server.setHandler(FakeOpenAi.responder({ words: 200, chunkDelay: 20 }))
    const client = new Client(config())
    const stream = await client.chat.completions.create({ ...hello, stream: true })
    const iterator = stream[Symbol.asyncIterator]()
    await iterator.next()
    await client.close()
    await server.awaitClientClose()
    const streamError = await rejectionOf((async () => {
      for (;;) if ((await iterator.next()).done) return
    })())
    assert.instanceOf(streamError, InvalidRequestError)
    const error = await rejectionOf(client.chat.completions.create(hello))
    assert.instanceOf(error, InvalidRequestError)
    assert.include((error as InvalidRequestError).message, "closed")
    await client.close()
  })

  it("await using closes the client at the end of the block", async () => {
    server.setHandler(FakeOpenAi.responder())
    let escaped: Client | undefined
    {
      await using client = new Client(config())
      await client.chat.completions.create(hello)
      escaped = client
    }
    assert.instanceOf(await rejectionOf(escaped.embeddings.create({ model: "e", input: "x" })), InvalidRequestError)
    await until(() => server.openSockets() === 0)
  })

  it("without a cache, cacheStats reports backend none and clearCache resolves", async () => {
    await using client = new Client(config())
    assert.deepStrictEqual(await client.cacheStats(), {
      backend: "none",
      size: 0,
      maxSize: 0,
      hits: 0,
      misses: 0,
      hitRate: 0
    })
    await client.clearCache()
  })

  it("exposes the provider's name, base URL and default model", async () => {
    await using client = new Client(config())
    assert.deepStrictEqual(client.provider, { name: "openai", baseUrl: `${server.url}/v1`, defaultModel: "gpt-test" })
  })
})

describe("Client: config", () => {
  const thrown = (f: () => unknown): InvalidRequestError => {
    try {
      f()
    } catch (e) {
      assert.instanceOf(e, InvalidRequestError)
      return e as InvalidRequestError
    }
    throw new Error("expected the constructor to throw")
  }

  it("an invalid config is rejected at construction, naming the field", () => {
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [{ provider: "nope" }, "provider"],
      [{ provider: "openai", apiKey: SECRET, baseUrl: "not a url" }, "baseUrl"],
      [{ provider: "openai", apiKey: SECRET, timeout: -1 }, "timeout"],
      [{ provider: "openai", apiKey: SECRET, timeout: { idle: "-5 seconds" } }, "timeout.idle"],
      [{ provider: "openai", apiKey: SECRET, retry: { maxRetries: 1.5 } }, "retry.maxRetries"],
      [{ provider: "openai", apiKey: SECRET, retry: "always" }, "retry"],
      [{ provider: "openai", apiKey: SECRET, http: { connections: 0 } }, "http.connections"],
      [{ provider: "openai", apiKey: SECRET, cache: { backend: "disk" } }, "cache"],
      [{ provider: "openai", apiKey: SECRET, baseURL: "http://x" }, "baseURL"],
      [{ provider: "openai", apiKey: 42 }, "apiKey"],
      [{ provider: "openai-compatible" }, "baseUrl"]
    ]
    for (const [input, param] of cases) {
      const error = thrown(() => new Client(input as ProviderConfig.ProviderConfig))
      assert.strictEqual(error.param, param, JSON.stringify(input))
      assert.strictEqual(error.source, "client")
      assert.include(error.message, param)
    }
    assert.include(thrown(() => new Client({ provider: "nope" })).message, "openai-compatible")
  })

  it("timeout.connect becomes the pool's connect timeout unless http.connectTimeout is set", () => {
    const resolved = Either.getOrThrow(
      ProviderConfig.validate(config({ timeout: { connect: 250, total: "5 seconds" } }))
    )
    assert.isTrue(Duration.equals(Duration.decode(resolved.http.connectTimeout!), Duration.millis(250)))
    assert.isTrue(Duration.equals(resolved.timeout!.total!, Duration.seconds(5)))
    const both = Either.getOrThrow(
      ProviderConfig.validate(config({ timeout: { connect: 250 }, http: { connectTimeout: "1 second" } }))
    )
    assert.isTrue(Duration.equals(Duration.decode(both.http.connectTimeout!), Duration.seconds(1)))
    const bare = Either.getOrThrow(ProviderConfig.validate(config({ timeout: 3000 })))
    assert.isTrue(Duration.equals(bare.timeout!.total!, Duration.seconds(3)))
    assert.isUndefined(bare.http.connectTimeout)
  })

  it("a missing key is read from the provider's environment variable, else rejected naming apiKey", async () => {
    const saved = process.env.OPENAI_API_KEY
    try {
      delete process.env.OPENAI_API_KEY
      const error = thrown(() => new Client({ provider: "openai" }))
      assert.strictEqual(error.param, "apiKey")
      assert.include(error.message, "OPENAI_API_KEY")

      process.env.OPENAI_API_KEY = SECRET
      server.setHandler(FakeOpenAi.responder())
      await using client = new Client({ provider: "openai", baseUrl: `${server.url}/v1`, defaultModel: "m" })
      await client.chat.completions.create(hello)
      assert.strictEqual(server.requests[0]!.headers.authorization, `Bearer ${SECRET}`)
    } finally {
      if (saved === undefined) delete process.env.OPENAI_API_KEY
      else process.env.OPENAI_API_KEY = saved
    }
  })

  it("the key never shows in String, JSON.stringify or util.inspect of the client or its config", async () => {
    for (const apiKey of [SECRET, Redacted.make(SECRET)]) {
      const input = config({ apiKey })
      await using client = new Client(input)
      const resolved = Either.getOrThrow(ProviderConfig.validate(input))
      assert.isTrue(Redacted.isRedacted(resolved.apiKey))
      assert.strictEqual(Redacted.value(resolved.apiKey!), SECRET)
      assertNoSecret(String(client), "String(client)")
      assertNoSecret(`${client}`, "a template string")
      assertNoSecret(JSON.stringify(client), "JSON.stringify(client)")
      assertNoSecret(util.inspect(client, { depth: 10, showHidden: true }), "util.inspect(client)")
      assertNoSecret(JSON.stringify(resolved), "JSON.stringify(config)")
      assertNoSecret(String(resolved.apiKey), "String(config.apiKey)")
      assertNoSecret(util.inspect(resolved, { depth: 10 }), "util.inspect(config)")
    }
    const error = (() => {
      try {
        new Client({ provider: "openai", apiKey: SECRET, timeout: "never" as any })
      } catch (e) {
        return e as InvalidRequestError
      }
      throw new Error("expected a throw")
    })()
    assertNoSecret(error.message, "a config error")
    assertNoSecret(util.inspect(error, { depth: 10 }), "util.inspect(config error)")
    assert.isTrue(isLlmError(error))
  })
})
