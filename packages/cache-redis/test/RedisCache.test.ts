import { assert, describe, it } from "@effect/vitest"
import { Http, LlmProvider, ResponseCache } from "@llm-api-router/core"
import { OpenAi } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import { Redis } from "ioredis"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll } from "vitest"
import { RedisCache } from "../src/index.js"
import { type RedisServer, requireRedis, startRedis } from "./redisServer.js"

const binary = requireRedis()
const root = fileURLToPath(new URL("../../..", import.meta.url))
const child = fileURLToPath(new URL("./child.ts", import.meta.url))

interface ChildResult {
  readonly completion: { choices: Array<{ message: { content: string } }> }
  readonly stats: Omit<ResponseCache.CacheStats, "maxSize">
}

interface Child {
  /** Settles once the child has built its layer and connected: it then waits for {@link go}. */
  readonly ready: Promise<void>
  readonly go: () => void
  readonly result: Promise<ChildResult>
}

// A child process of its own (child.ts). It starts its call when told to, so that several children call at the
// same moment however long each takes to start (tsx start-up takes seconds on a busy machine).
const startChild = (baseUrl: string, redisUrl: string, prefix: string, apiKey?: string): Child => {
  const proc = spawn(
    process.execPath,
    [
      "--conditions=@llm-api-router/source",
      "--import",
      "tsx",
      child,
      baseUrl,
      redisUrl,
      prefix,
      apiKey ?? "sk-test"
    ],
    { cwd: root, stdio: ["pipe", "pipe", "pipe"] }
  )
  let stdout = ""
  let stderr = ""
  proc.stdout.on("data", (data: Buffer) => (stdout += data.toString("utf8")))
  const ready = new Promise<void>((resolve) => {
    proc.stderr.on("data", (data: Buffer) => {
      stderr += data.toString("utf8")
      if (stderr.includes("ready\n")) resolve()
    })
  })
  const result = new Promise<ChildResult>((resolve, reject) => {
    proc.on("error", reject)
    proc.on(
      "close",
      (code) =>
        code === 0 ? resolve(JSON.parse(stdout) as ChildResult) : reject(new Error(`child exited ${code}\n${stderr}`))
    )
  })
  return { ready: Promise.race([ready, result.then(() => {})]), go: () => proc.stdin.end("go\n"), result }
}

const runChild = (baseUrl: string, redisUrl: string, prefix: string, apiKey?: string): Promise<ChildResult> => {
  const one = startChild(baseUrl, redisUrl, prefix, apiKey)
  one.go()
  return one.result
}

const ask = (content: string) => ({ messages: [{ role: "user" as const, content }] })

describe.skipIf(binary === undefined)("RedisCache (real redis-server)", () => {
  let redis: RedisServer
  let fake: FakeServer.FakeServer
  beforeAll(async () => {
    redis = await startRedis(binary!)
    fake = await FakeServer.start({ handler: FakeOpenAi.responder() })
  })
  afterAll(async () => {
    await fake?.close()
    await redis?.stop()
  })

  const cachedOpenAi = (prefix: string, options?: Partial<RedisCache.Options>) =>
    ResponseCache.layer.pipe(
      Layer.provide(OpenAi.layer({ apiKey: Redacted.make("sk"), baseUrl: fake.url, defaultModel: "m", retry: false })),
      Layer.provideMerge(RedisCache.layer({ url: redis.url, prefix, timeout: 500, ...options })),
      Layer.provide(Http.layerDefault)
    )

  it("two separate processes share one cache: the second is served from it", async () => {
    fake.reset()
    fake.setHandler(FakeOpenAi.responder())
    const first = await runChild(fake.url, redis.url, "procs:")
    const second = await runChild(fake.url, redis.url, "procs:")
    assert.strictEqual(fake.requests.length, 1)
    assert.deepStrictEqual(second.completion, first.completion)
    // (JSON drops `maxSize: undefined`)
    assert.deepStrictEqual(second.stats, {
      backend: "redis",
      size: 1,
      hits: 1,
      misses: 1,
      hitRate: 0.5
    })
    // A process with another key computes another fingerprint: it is not served the entry the first key paid for.
    await runChild(fake.url, redis.url, "procs:", "sk-tenant-b")
    assert.strictEqual(fake.requests.length, 2)
    const admin = new Redis(redis.url)
    const keys = await admin.keys("procs:e:*")
    await admin.quit()
    assert.strictEqual(keys.length, 2)
    for (const k of keys) assert.notInclude(k, "sk-")
  }, 180_000)

  it("processes missing the same key at once make one upstream call", async () => {
    fake.reset()
    const respond = FakeOpenAi.responder()
    fake.setHandler((request) => ({ ...respond(request)!, headersDelay: 1500 }))
    // The three call at once: each waits, connected, until all are ready. The first to miss holds the key's lock
    // while its upstream call takes 1.5 s; the others wait for its entry (up to `lockWait`, 30 s by default).
    const children = [1, 2, 3].map(() => startChild(fake.url, redis.url, "herd:"))
    await Promise.all(children.map((c) => c.ready))
    for (const c of children) c.go()
    const results = await Promise.all(children.map((c) => c.result))
    assert.strictEqual(fake.requests.length, 1)
    for (const r of results) assert.deepStrictEqual(r.completion, results[0]!.completion)
  }, 180_000)

  it.live("an old-format entry is a miss, not a crash", () =>
    Effect.gen(function*() {
      fake.reset()
      fake.setHandler(FakeOpenAi.responder())
      const provider = yield* LlmProvider.LlmProvider
      const key = ResponseCache.key(provider.info, ask("old"))
      const client = new Redis(redis.url)
      yield* Effect.promise(() => client.set(`old:e:${key}`, JSON.stringify({ v: 0, completion: { foo: 1 } })))
      const answer = yield* LlmProvider.chat(ask("old"))
      assert.strictEqual(answer.choices[0]!.message.content, "Echo: old")
      assert.strictEqual(fake.requests.length, 1)
      const stored = JSON.parse((yield* Effect.promise(() => client.get(`old:e:${key}`)))!)
      assert.strictEqual(stored.v, RedisCache.FORMAT_VERSION)
      yield* Effect.promise(() => client.quit())
    }).pipe(Effect.provide(cachedOpenAi("old:"))))

  it.live("a Redis that does not answer within `timeout` is passed by: the call goes upstream, the failure counted", () =>
    Effect.gen(function*() {
      fake.reset()
      fake.setHandler(FakeOpenAi.responder())
      yield* LlmProvider.chat(ask("slow"))
      assert.strictEqual(fake.requests.length, 1)
      const failed = (yield* Metric.value(RedisCache.failures)).count
      // every command waits 1.5 s: the cached answer is there, but not in time
      const admin = new Redis(redis.url)
      yield* Effect.promise(() => admin.call("CLIENT", "PAUSE", "1500", "ALL"))
      const answer = yield* LlmProvider.chat(ask("slow"))
      assert.strictEqual(answer.choices[0]!.message.content, "Echo: slow")
      assert.strictEqual(fake.requests.length, 2)
      assert.isAbove((yield* Metric.value(RedisCache.failures)).count, failed)
      yield* Effect.promise(() => admin.call("CLIENT", "UNPAUSE"))
      yield* Effect.promise(() => admin.quit())
    }).pipe(Effect.provide(cachedOpenAi("slow:", { timeout: 100 }))))

  it.live("embeddings are stored and served like chat answers", () =>
    Effect.gen(function*() {
      fake.reset()
      fake.setHandler(FakeOpenAi.responder())
      const request = { model: "text-embedding-3-small", input: ["a", "b"], dimensions: 4 }
      const first = yield* LlmProvider.embed(request)
      const second = yield* LlmProvider.embed(request)
      assert.deepStrictEqual(second, first)
      assert.strictEqual(first.data.length, 2)
      assert.strictEqual(fake.requests.length, 1)
      const stats = yield* ResponseCache.stats
      assert.deepStrictEqual([stats.hits, stats.misses, stats.size], [1, 1, 1])
    }).pipe(Effect.provide(cachedOpenAi("embed:"))))

  it.live("clear removes this prefix's keys only", () =>
    Effect.gen(function*() {
      fake.reset()
      fake.setHandler(FakeOpenAi.responder())
      const client = new Redis(redis.url)
      yield* Effect.promise(() => client.set("other:e:x", "keep"))
      yield* Effect.promise(() => client.set("unrelated", "keep"))
      for (let i = 0; i < 5; i++) yield* LlmProvider.chat(ask(`q${i}`))
      assert.strictEqual((yield* ResponseCache.stats).size, 5)
      yield* ResponseCache.clear
      assert.deepStrictEqual(yield* Effect.promise(() => client.keys("mine:*")), [])
      assert.strictEqual(yield* Effect.promise(() => client.get("other:e:x")), "keep")
      assert.strictEqual(yield* Effect.promise(() => client.get("unrelated")), "keep")
      yield* Effect.promise(() => client.quit())
    }).pipe(Effect.provide(cachedOpenAi("mine:"))))

  it.live(
    "Redis stopped mid-run and started again: every request succeeds, and the cache comes back",
    () =>
      Effect.gen(function*() {
        fake.reset()
        fake.setHandler(FakeOpenAi.responder())
        const before = yield* LlmProvider.chat(ask("up"))
        assert.strictEqual((yield* LlmProvider.chat(ask("up"))).id, before.id)
        assert.strictEqual(fake.requests.length, 1)
        yield* Effect.promise(() => redis.stop())
        for (let i = 0; i < 3; i++) {
          const answer = yield* LlmProvider.chat(ask(`down ${i}`))
          assert.strictEqual(answer.choices[0]!.message.content, `Echo: down ${i}`)
        }
        assert.strictEqual(fake.requests.length, 4)
        redis = yield* Effect.promise(() => startRedis(binary!, redis.port))
        // the client reconnects by itself; until it has, requests still go upstream and succeed
        let cachedAgain = false
        for (let i = 0; i < 100 && !cachedAgain; i++) {
          const sent = fake.requests.length
          yield* LlmProvider.chat(ask("back"))
          yield* LlmProvider.chat(ask("back"))
          cachedAgain = fake.requests.length - sent === 1 || fake.requests.length === sent
          if (!cachedAgain) yield* Effect.sleep("100 millis")
        }
        assert.isTrue(cachedAgain)
      }).pipe(Effect.provide(cachedOpenAi("outage:"))),
    60_000
  )
})
