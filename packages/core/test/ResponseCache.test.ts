import { assert, describe, it } from "@effect/vitest"
import { ChatStream, LlmProvider, ProviderError, ResponseCache, Telemetry } from "@llm-api-router/core"
import { MockProvider } from "@llm-api-router/core/testing"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"

const ask = (content: string) => ({ messages: [{ role: "user" as const, content }] })

const cachedMock = (
  script: MockProvider.Script,
  memory?: ResponseCache.MemoryOptions,
  options?: ResponseCache.Options
) =>
  ResponseCache.layerWith(options).pipe(
    Layer.provideMerge(MockProvider.layer(script)),
    Layer.provideMerge(ResponseCache.layerMemory(memory))
  )

const prompt = (call: MockProvider.Call): string =>
  call.method === "embed" ? "" : String(call.request.messages[0]!.content)

const echo: MockProvider.Script = (call) =>
  call.method === "stream" ? MockProvider.stream(`re: ${prompt(call)}`) : MockProvider.reply(`re: ${prompt(call)}`)

const upstreamCalls = Effect.map(MockProvider.calls, (calls) => calls.length)

// One vector per input, each telling its input and the requested dimensions apart.
const withEmbeddings: MockProvider.Script = (call) =>
  call.method === "embed"
    ? MockProvider.embeddings(
      (typeof call.request.input === "string" ? [call.request.input] : call.request.input).map((text) => [
        text.length,
        call.request.dimensions ?? 0
      ])
    )
    : echo(call)

describe("ResponseCache.key", () => {
  const info: LlmProvider.ProviderInfo = {
    name: "p",
    defaultModel: "m",
    capabilities: { streaming: true, tools: true, embeddings: true, vision: true, jsonSchema: true }
  }
  it("ignores key order, stream options and request-scoped ids; resolves the model", () => {
    const a = ResponseCache.key(info, { messages: [{ role: "user", content: "x" }], temperature: 0.5, seed: 1 })
    const b = ResponseCache.key(info, {
      seed: 1,
      temperature: 0.5,
      model: "m",
      user: "u-1",
      stream_options: { include_usage: true },
      messages: [{ content: "x", role: "user" }]
    })
    assert.strictEqual(a, b)
    assert.match(a, /^[0-9a-f]{64}$/)
  })
  it("changes with what changes the answer", () => {
    const base = { messages: [{ role: "user" as const, content: "x" }] }
    const keys = [
      ResponseCache.key(info, base),
      ResponseCache.key(info, { ...base, model: "other" }),
      ResponseCache.key(info, { ...base, temperature: 0 }),
      ResponseCache.key(info, { ...base, stop: ["a"] }),
      ResponseCache.key(info, { ...base, extra_body_field: 1 } as never),
      ResponseCache.key({ ...info, name: "q" }, base),
      ResponseCache.key({ ...info, baseUrl: "http://elsewhere/v1" }, base)
    ]
    assert.strictEqual(new Set(keys).size, keys.length)
  })
})

describe("ResponseCache.embeddingKey", () => {
  const info: LlmProvider.ProviderInfo = {
    name: "p",
    defaultModel: "m",
    capabilities: { streaming: true, tools: true, embeddings: true, vision: true, jsonSchema: true }
  }
  it("ignores key order and user, resolves the model, changes with what changes the vectors", () => {
    const base = { input: ["x", "y"] }
    assert.strictEqual(
      ResponseCache.embeddingKey(info, base),
      ResponseCache.embeddingKey(info, { user: "u-1", model: "m", input: ["x", "y"] })
    )
    const keys = [
      ResponseCache.embeddingKey(info, base),
      ResponseCache.embeddingKey(info, { input: ["y", "x"] }),
      ResponseCache.embeddingKey(info, { ...base, dimensions: 8 }),
      ResponseCache.embeddingKey(info, { ...base, model: "other" }),
      ResponseCache.embeddingKey({ ...info, name: "q" }, base),
      // never the key of a chat request
      ResponseCache.key(info, { messages: [{ role: "user", content: "x" }] }),
      ResponseCache.embeddingKey(info, { input: "x" })
    ]
    assert.strictEqual(new Set(keys).size, keys.length)
  })
})

describe("ResponseCache (memory)", () => {
  it.effect("a repeated request is served from the cache, and stats count it", () =>
    Effect.gen(function*() {
      const first = yield* LlmProvider.chat(ask("hi"))
      const second = yield* LlmProvider.chat(ask("hi"))
      assert.deepStrictEqual(second, first)
      assert.strictEqual(yield* upstreamCalls, 1)
      const stats = yield* ResponseCache.stats
      assert.deepStrictEqual(stats, { backend: "memory", size: 1, maxSize: 1000, hits: 1, misses: 1, hitRate: 0.5 })
      yield* ResponseCache.clear
      assert.deepStrictEqual(yield* ResponseCache.stats, { ...stats, size: 0, hits: 0, misses: 0, hitRate: 0 })
    }).pipe(Effect.provide(cachedMock(echo))))

  it.effect("embeddings are cached under keys of their own; skip and other options go upstream", () =>
    Effect.gen(function*() {
      const first = yield* LlmProvider.embed({ input: ["a", "b"] })
      const second = yield* LlmProvider.embed({ input: ["a", "b"] })
      assert.deepStrictEqual(second, first)
      assert.strictEqual(yield* upstreamCalls, 1)
      yield* LlmProvider.embed({ input: ["a", "b"], dimensions: 2 })
      yield* LlmProvider.embed({ input: ["a", "b"] }).pipe(ResponseCache.skip)
      assert.strictEqual(yield* upstreamCalls, 3)
      // a chat request is not served from an embeddings entry, nor the reverse
      yield* LlmProvider.chat(ask("a"))
      assert.strictEqual(yield* upstreamCalls, 4)
      const stats = yield* ResponseCache.stats
      assert.deepStrictEqual([stats.hits, stats.size], [1, 3])
    }).pipe(Effect.provide(cachedMock(withEmbeddings))))

  it.effect("identical embeddings requests at once make one upstream call", () =>
    Effect.gen(function*() {
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(LlmProvider.embed({ input: "same" })))
      yield* TestClock.adjust("1 second")
      const responses = yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(yield* upstreamCalls, 1)
      for (const response of responses) assert.deepStrictEqual(response, responses[0])
    }).pipe(Effect.provide(cachedMock((call) =>
      call.method === "embed" ? MockProvider.embeddings([[1, 2, 3]], { delay: "1 second" }) : echo(call)
    ))))

  it.effect("hits and misses are counted in the Telemetry metrics too", () =>
    Effect.gen(function*() {
      const lookups = (result: string) =>
        Metric.value(Metric.tagged(Metric.tagged(Telemetry.cacheLookups, "provider", "mock"), "result", result))
      const hitsBefore = (yield* lookups("hit")).count
      const missesBefore = (yield* lookups("miss")).count
      yield* LlmProvider.chat(ask("counted"))
      yield* LlmProvider.chat(ask("counted"))
      yield* LlmProvider.chat(ask("counted"))
      assert.strictEqual((yield* lookups("hit")).count - hitsBefore, 2)
      assert.strictEqual((yield* lookups("miss")).count - missesBefore, 1)
    }).pipe(Effect.provide(cachedMock(echo))))

  it.effect("entries expire after their TTL (TestClock), and withTtl overrides it per call", () =>
    Effect.gen(function*() {
      yield* LlmProvider.chat(ask("a"))
      yield* LlmProvider.chat(ask("b")).pipe(ResponseCache.withTtl("10 minutes"))
      yield* TestClock.adjust("59 seconds")
      yield* LlmProvider.chat(ask("a"))
      assert.strictEqual(yield* upstreamCalls, 2)
      yield* TestClock.adjust("2 seconds")
      yield* LlmProvider.chat(ask("a"))
      yield* LlmProvider.chat(ask("b"))
      assert.strictEqual(yield* upstreamCalls, 3)
    }).pipe(Effect.provide(cachedMock(echo, { ttl: "1 minute" }))))

  it.effect("evicts the least recently used entry beyond maxSize", () =>
    Effect.gen(function*() {
      yield* LlmProvider.chat(ask("a"))
      yield* LlmProvider.chat(ask("b"))
      yield* LlmProvider.chat(ask("a")) // a is now the most recent
      yield* LlmProvider.chat(ask("c")) // evicts b
      assert.strictEqual(yield* upstreamCalls, 3)
      assert.strictEqual((yield* ResponseCache.stats).size, 2)
      yield* LlmProvider.chat(ask("a"))
      yield* LlmProvider.chat(ask("c"))
      assert.strictEqual(yield* upstreamCalls, 3)
      yield* LlmProvider.chat(ask("b"))
      assert.strictEqual(yield* upstreamCalls, 4)
    }).pipe(Effect.provide(cachedMock(echo, { maxSize: 2 }))))

  it.effect("failures are not stored", () => {
    let n = 0
    const flaky: MockProvider.Script = () =>
      n++ === 0 ? MockProvider.fail(new ProviderError({ provider: "mock", message: "boom" })) : MockProvider.reply("ok")
    return Effect.gen(function*() {
      const failed = yield* Effect.flip(LlmProvider.chat(ask("x")))
      assert.strictEqual(failed._tag, "ProviderError")
      const ok = yield* LlmProvider.chat(ask("x"))
      assert.strictEqual(ok.choices[0]!.message.content, "ok")
      assert.strictEqual(yield* upstreamCalls, 2)
    }).pipe(Effect.provide(cachedMock(flaky)))
  })

  it.effect("answers cut by length are stored only with cacheLength", () =>
    Effect.gen(function*() {
      const cut = () => MockProvider.reply({ content: "trunc", finish_reason: "length" })
      const run = (options?: ResponseCache.Options) =>
        Effect.gen(function*() {
          yield* LlmProvider.chat(ask("x"))
          yield* LlmProvider.chat(ask("x"))
          return yield* upstreamCalls
        }).pipe(Effect.provide(cachedMock(cut, undefined, options)))
      assert.strictEqual(yield* run(), 2)
      assert.strictEqual(yield* run({ cacheLength: true }), 1)
    }))

  it.effect("skip neither reads nor writes", () =>
    Effect.gen(function*() {
      yield* LlmProvider.chat(ask("x")).pipe(ResponseCache.skip)
      yield* LlmProvider.chat(ask("x"))
      yield* LlmProvider.chat(ask("x")).pipe(ResponseCache.skip)
      assert.strictEqual(yield* upstreamCalls, 3)
    }).pipe(Effect.provide(cachedMock(echo))))

  it.effect("concurrent identical requests make one upstream call; an interrupted caller fails no one", () =>
    Effect.gen(function*() {
      const first = yield* Effect.fork(LlmProvider.chat(ask("x")))
      yield* Effect.yieldNow()
      const others = yield* Effect.fork(Effect.all(Array.from({ length: 9 }, () => LlmProvider.chat(ask("x"))), {
        concurrency: "unbounded"
      }))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(first)
      yield* TestClock.adjust("2 seconds")
      const answers = yield* Fiber.join(others)
      assert.strictEqual(answers.length, 9)
      for (const a of answers) assert.strictEqual(a.choices[0]!.message.content, "slow")
      // the interrupted one started a call, one waiter took over
      assert.strictEqual(yield* upstreamCalls, 2)
    }).pipe(Effect.provide(cachedMock(() => MockProvider.reply("slow", { delay: "1 second" })))))

  it.effect("a stream is stored as its chunks and replayed chunk for chunk, and serves chat too", () =>
    Effect.gen(function*() {
      const first = Chunk.toReadonlyArray(yield* Stream.runCollect(LlmProvider.stream(ask("hello world"))))
      const second = Chunk.toReadonlyArray(yield* Stream.runCollect(LlmProvider.stream(ask("hello world"))))
      assert.deepStrictEqual(second, first)
      const completion = yield* LlmProvider.chat(ask("hello world"))
      assert.deepStrictEqual(completion, yield* ChatStream.toCompletion(Stream.fromIterable(first)))
      assert.strictEqual(yield* upstreamCalls, 1)
    }).pipe(Effect.provide(cachedMock(echo))))

  it.effect("a stream is served from a completion with the same content", () =>
    Effect.gen(function*() {
      const completion = yield* LlmProvider.chat(ask("x"))
      const replayed = yield* ChatStream.toCompletion(LlmProvider.stream(ask("x")))
      assert.deepStrictEqual(replayed, completion)
      assert.strictEqual(yield* upstreamCalls, 1)
    }).pipe(Effect.provide(cachedMock(() =>
      MockProvider.reply({
        content: "answer",
        reasoning_content: "thinking",
        usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }
      })
    ))))

  it.effect("a stream left early or failed is not stored", () =>
    Effect.gen(function*() {
      yield* Stream.runCollect(Stream.take(LlmProvider.stream(ask("a b c d")), 1))
      yield* Effect.flip(Stream.runCollect(LlmProvider.stream(ask("cut"))))
      yield* Stream.runCollect(LlmProvider.stream(ask("a b c d")))
      yield* Stream.runCollect(LlmProvider.stream(ask("a b c d")))
      assert.strictEqual(yield* upstreamCalls, 3)
      assert.strictEqual((yield* ResponseCache.stats).size, 1)
    }).pipe(Effect.provide(cachedMock((call) =>
      prompt(call) === "cut"
        ? MockProvider.stream("half", { failWith: new ProviderError({ provider: "mock", message: "cut" }) })
        : MockProvider.stream("a b c d")
    ))))
})
