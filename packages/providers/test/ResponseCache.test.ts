import { assert, describe, it } from "@effect/vitest"
import { Http, LlmProvider, ResponseCache } from "@llm-api-router/core"
import { Client, OpenAi } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"

const ask = (content: string) => ({ messages: [{ role: "user" as const, content }] })

const withServer = <A, E, R>(f: (server: FakeServer.FakeServer) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(FakeServer.make({ handler: FakeOpenAi.responder() }), f)

const cachedOpenAi = (server: FakeServer.FakeServer) =>
  ResponseCache.layer.pipe(
    Layer.provide(OpenAi.layer({ apiKey: Redacted.make("sk"), baseUrl: server.url, defaultModel: "m", retry: false })),
    Layer.provideMerge(ResponseCache.layerMemory({ ttl: "1 hour", maxSize: 100 })),
    Layer.provide(Http.layerDefault)
  )

describe("ResponseCache over OpenAi and the fake server", () => {
  it.scopedLive("50 concurrent identical requests make 1 request at the server", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const respond = FakeOpenAi.responder()
        server.setHandler((request) => ({ ...respond(request)!, headersDelay: 200 }))
        const answers = yield* Effect.all(Array.from({ length: 50 }, () => LlmProvider.chat(ask("same"))), {
          concurrency: "unbounded"
        })
        assert.strictEqual(server.requests.length, 1)
        for (const a of answers) assert.deepStrictEqual(a, answers[0])
        const stats = yield* ResponseCache.stats
        assert.strictEqual(stats.misses, 1)
        assert.strictEqual(stats.hits, 49)
      }).pipe(Effect.provide(cachedOpenAi(server)))
    ))

  it.scopedLive("a cached stream replays chunk for chunk; the wire request asks for a stream only once", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const first = Chunk.toReadonlyArray(yield* Stream.runCollect(LlmProvider.stream(ask("one two three"))))
        const second = Chunk.toReadonlyArray(yield* Stream.runCollect(LlmProvider.stream(ask("one two three"))))
        assert.isAbove(first.length, 3)
        assert.deepStrictEqual(second, first)
        assert.strictEqual(server.requests.length, 1)
      }).pipe(Effect.provide(cachedOpenAi(server)))
    ))

  it.scopedLive("failures are not stored", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(FakeOpenAi.errorReply(500, { message: "boom", type: "server_error" }))
        const failed = yield* Effect.flip(LlmProvider.chat(ask("x")))
        assert.strictEqual(failed._tag, "ProviderError")
        const ok = yield* LlmProvider.chat(ask("x"))
        assert.strictEqual(ok.choices[0]!.message.content, "Echo: x")
        assert.strictEqual(server.requests.length, 2)
      }).pipe(Effect.provide(cachedOpenAi(server)))
    ))
})

describe("Client with a cache", () => {
  it("a memory cache serves the repeat, counts it, skips on request, and clears", async () => {
    const server = await FakeServer.start({ handler: FakeOpenAi.responder() })
    try {
      await using client = new Client({
        provider: "openai",
        apiKey: "sk",
        baseUrl: server.url,
        defaultModel: "m",
        cache: { backend: "memory", ttl: "1 minute", maxSize: 10 }
      })
      const first = await client.chat.completions.create(ask("hi"))
      const second = await client.chat.completions.create(ask("hi"))
      assert.deepStrictEqual(second, first)
      const stream = await client.chat.completions.create({ ...ask("hi"), stream: true })
      const folded = await stream.toCompletion()
      assert.deepStrictEqual(folded.choices[0]!.message, first.choices[0]!.message)
      assert.deepStrictEqual(folded.usage, first.usage)
      assert.strictEqual(server.requests.length, 1)
      await client.chat.completions.create(ask("hi"), { cache: false })
      assert.strictEqual(server.requests.length, 2)
      assert.deepStrictEqual(await client.cacheStats(), {
        backend: "memory",
        size: 1,
        maxSize: 10,
        hits: 2,
        misses: 1,
        hitRate: 2 / 3
      })
      await client.clearCache()
      assert.strictEqual((await client.cacheStats()).size, 0)
      await client.chat.completions.create(ask("hi"))
      assert.strictEqual(server.requests.length, 3)
    } finally {
      await server.close()
    }
  })

  it("embeddings are served from the cache too, and skip it on request", async () => {
    const server = await FakeServer.start({ handler: FakeOpenAi.responder() })
    try {
      await using client = new Client({
        provider: "openai",
        apiKey: "sk",
        baseUrl: server.url,
        cache: { backend: "memory" }
      })
      const request = { model: "text-embedding-3-small", input: ["a", "b"], dimensions: 4 }
      const first = await client.embeddings.create(request)
      const second = await client.embeddings.create(request)
      assert.deepStrictEqual(second, first)
      assert.strictEqual(server.requests.length, 1)
      await client.embeddings.create(request, { cache: false })
      assert.strictEqual(server.requests.length, 2)
      assert.strictEqual((await client.cacheStats()).hits, 1)
    } finally {
      await server.close()
    }
  })

  it("cache: { backend: \"redis\" } loads the optional package; with Redis down, calls go upstream and succeed", async () => {
    const server = await FakeServer.start({ handler: FakeOpenAi.responder() })
    try {
      await using client = new Client({
        provider: "openai",
        apiKey: "sk",
        baseUrl: `${server.url}/v1`,
        defaultModel: "m",
        // nothing listens on port 1: the cache must step aside, not fail the call
        cache: { backend: "redis", url: "redis://127.0.0.1:1", prefix: "down:" }
      })
      const first = await client.chat.completions.create(ask("hi"))
      const second = await client.chat.completions.create(ask("hi"))
      assert.strictEqual(second.choices[0]!.message.content, first.choices[0]!.message.content)
      assert.strictEqual(server.requests.length, 2)
      assert.strictEqual((await client.cacheStats()).backend, "redis")
    } finally {
      await server.close()
    }
  })
})
