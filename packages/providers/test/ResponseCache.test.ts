import { assert, describe, it } from "@effect/vitest"
import { Http, LlmProvider, ResponseCache } from "@llm-api-router/core"
import { Client, OpenAi } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { inspect } from "node:util"

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

describe("a cache entry belongs to the caller who paid for it", () => {
  // The server answers the good key only: a wrong key gets a 401, so an answer it receives came from the cache.
  const goodKey = "sk-good-0123456789"
  const guarded = (): FakeServer.Handler => {
    const respond = FakeOpenAi.responder()
    return (request) =>
      request.headers.authorization === `Bearer ${goodKey}`
        ? respond(request)
        : FakeOpenAi.errorReply(401, { message: "Incorrect API key provided", type: "invalid_request_error" })
  }

  // Two providers over one memory storage, as two clients over one Redis.
  const pair = (
    server: FakeServer.FakeServer,
    one: Partial<OpenAi.Options>,
    two: Partial<OpenAi.Options>,
    cache?: ResponseCache.Options
  ) =>
    Effect.gen(function*() {
      const store = yield* ResponseCache.makeMemory()
      const http = yield* Layer.build(Http.layerDefault)
      const build = (options: Partial<OpenAi.Options>) =>
        Effect.flatMap(
          OpenAi.make({
            apiKey: Redacted.make(goodKey),
            baseUrl: server.url,
            defaultModel: "m",
            retry: false,
            ...options
          }),
          (provider) => Effect.succeed(ResponseCache.cached(provider, store, cache))
        ).pipe(Effect.provide(http))
      return [yield* build(one), yield* build(two)] as const
    })

  it.scopedLive("a wrong key is not served the answer the good key paid for, chat, stream and embeddings", () =>
    Effect.flatMap(FakeServer.make({ handler: guarded() }), (server) =>
      Effect.gen(function*() {
        const [good, wrong] = yield* pair(server, {}, { apiKey: Redacted.make("sk-revoked-9876543210") })
        yield* good.chat(ask("paid"))
        yield* Stream.runDrain(good.stream(ask("paid stream")))
        yield* good.embed({ model: "e", input: ["paid"] })
        assert.strictEqual(server.requests.length, 3)
        assert.strictEqual((yield* Effect.flip(wrong.chat(ask("paid"))))._tag, "AuthenticationError")
        assert.strictEqual((yield* Effect.flip(Stream.runDrain(wrong.stream(ask("paid")))))._tag, "AuthenticationError")
        assert.strictEqual(
          (yield* Effect.flip(Stream.runDrain(wrong.stream(ask("paid stream")))))._tag,
          "AuthenticationError"
        )
        assert.strictEqual(
          (yield* Effect.flip(wrong.embed({ model: "e", input: ["paid"] })))._tag,
          "AuthenticationError"
        )
        assert.strictEqual(server.requests.length, 7)
        // the good key is still served from the cache
        yield* good.chat(ask("paid"))
        assert.strictEqual(server.requests.length, 7)
      })))

  it.scopedLive("the same key and identity headers share entries; another organization or project does not", () =>
    Effect.flatMap(FakeServer.make({ handler: FakeOpenAi.responder() }), (server) =>
      Effect.gen(function*() {
        const [a, b] = yield* pair(server, { organization: "org-1" }, { organization: "org-1" })
        yield* a.chat(ask("q"))
        yield* b.chat(ask("q"))
        assert.strictEqual(server.requests.length, 1)
        const [c, d] = yield* pair(server, { organization: "org-1" }, { organization: "org-2" })
        yield* c.chat(ask("q"))
        yield* d.chat(ask("q"))
        assert.strictEqual(server.requests.length, 3)
        const [e, f] = yield* pair(server, { project: "p-1" }, { project: "p-2" })
        yield* e.chat(ask("q"))
        yield* f.chat(ask("q"))
        assert.strictEqual(server.requests.length, 5)
      })))

  it.scopedLive("a header of the caller's own counts once it is marked as identity", () =>
    Effect.flatMap(FakeServer.make({ handler: FakeOpenAi.responder() }), (server) =>
      Effect.gen(function*() {
        const tenant = (name: string) => ({ headers: { "X-Tenant": name } })
        const [a, b] = yield* pair(server, tenant("acme"), tenant("globex"))
        yield* a.chat(ask("q"))
        yield* b.chat(ask("q"))
        // not marked: the tenants share
        assert.strictEqual(server.requests.length, 1)
        const [c, d] = yield* pair(server, tenant("acme"), tenant("globex"), { identityHeaders: ["x-tenant"] })
        yield* c.chat(ask("q"))
        yield* d.chat(ask("q"))
        assert.strictEqual(server.requests.length, 3)
      })))

  it.scopedLive("shareAcrossCredentials: true is the explicit opt-in to share entries across keys", () =>
    Effect.flatMap(FakeServer.make({ handler: guarded() }), (server) =>
      Effect.gen(function*() {
        const [good, other] = yield* pair(server, {}, { apiKey: Redacted.make("sk-other-key-00000") }, {
          shareAcrossCredentials: true
        })
        yield* good.chat(ask("shared"))
        const answer = yield* other.chat(ask("shared"))
        assert.strictEqual(answer.choices[0]!.message.content, "Echo: shared")
        assert.strictEqual(server.requests.length, 1)
      })))

  it("the fingerprint holds no part of the key, is the same for the same key, and the info does not print it", () =>
    Effect.gen(function*() {
      const make = (apiKey: string) =>
        OpenAi.make({ apiKey: Redacted.make(apiKey), baseUrl: "http://127.0.0.1:9/v1", defaultModel: "m" }).pipe(
          Effect.provide(Http.layerDefault)
        )
      const one = yield* make(goodKey)
      const again = yield* make(goodKey)
      const other = yield* make("sk-other-key-00000")
      const fingerprint = one.info.identity!.fingerprint()
      assert.match(fingerprint, /^[0-9a-f]{64}$/)
      assert.strictEqual(again.info.identity!.fingerprint(), fingerprint)
      assert.notStrictEqual(other.info.identity!.fingerprint(), fingerprint)
      const texts = [fingerprint, JSON.stringify(one.info), String(one.info.identity), inspect(one.info, { depth: 10 })]
      for (const text of texts) {
        assert.notInclude(text, goodKey)
        assert.notInclude(text, goodKey.slice(3, 12))
      }
      assert.strictEqual(ResponseCache.key(one.info, ask("q")), ResponseCache.key(again.info, ask("q")))
      assert.notStrictEqual(ResponseCache.key(one.info, ask("q")), ResponseCache.key(other.info, ask("q")))
    }).pipe(Effect.runPromise))

  it("two Clients with different keys over one cache layer: neither is served the other's answer", async () => {
    const server = await FakeServer.start({ handler: guarded() })
    try {
      // One storage, given to both clients as a layer over the same service.
      const store = await Effect.runPromise(ResponseCache.makeMemory())
      const cache = Layer.succeed(ResponseCache.ResponseCache, store)
      const config = { provider: "openai", baseUrl: server.url, defaultModel: "m", retry: false, cache } as const
      await using good = new Client({ ...config, apiKey: goodKey })
      await using wrong = new Client({ ...config, apiKey: "sk-revoked-9876543210" })
      await using again = new Client({ ...config, apiKey: goodKey })
      await good.chat.completions.create(ask("hi"))
      const refused = await wrong.chat.completions.create(ask("hi")).then(() => undefined, (e: unknown) => e)
      assert.strictEqual((refused as { _tag?: string } | undefined)?._tag, "AuthenticationError")
      await again.chat.completions.create(ask("hi"))
      assert.strictEqual(server.requests.length, 2)
    } finally {
      await server.close()
    }
  })

  it("a Client config opts in with cache.shareAcrossCredentials", async () => {
    const server = await FakeServer.start({ handler: guarded() })
    try {
      const shared = {
        provider: "openai",
        baseUrl: server.url,
        defaultModel: "m",
        retry: false,
        cache: { backend: "memory", shareAcrossCredentials: true }
      } as const
      await using good = new Client({ ...shared, apiKey: goodKey })
      await good.chat.completions.create(ask("hi"))
      assert.strictEqual((await good.cacheStats()).size, 1)
      // a bad value is rejected at construction, naming the field
      assert.throws(
        () =>
          new Client({
            ...shared,
            apiKey: goodKey,
            cache: { backend: "memory", shareAcrossCredentials: "yes" } as never
          }),
        /shareAcrossCredentials/
      )
    } finally {
      await server.close()
    }
  })
})
