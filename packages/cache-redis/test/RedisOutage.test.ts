// Redis trouble never takes the service down: a real redis-server killed, restarted and frozen (SIGSTOP), and a
// listener that accepts connections and never answers.
import { assert, describe, it } from "@effect/vitest"
import { LlmProvider, ResponseCache, Router } from "@llm-api-router/core"
import { MockProvider } from "@llm-api-router/core/testing"
import { Client } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { Redis } from "ioredis"
import { RedisCache, RedisRateLimit } from "../src/index.js"
import { type RedisServer, requireRedis, startRedis, startSilent } from "./redisServer.js"

const binary = requireRedis()

const ask = (content: string) => ({ messages: [{ role: "user" as const, content }] })

// Real time, outside the TestClock: waiting on what a real process does.
const realSleep = (millis: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

const withRedis = Effect.acquireRelease(
  Effect.promise(() => startRedis(binary!)),
  (redis) =>
    Effect.promise(async () => {
      redis.thaw()
      await redis.stop()
    })
)

const admin = (redis: RedisServer) =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(redis.url, { lazyConnect: false })),
    (client) => Effect.sync(() => client.disconnect())
  )

// The commands Redis executed since the last CONFIG RESETSTAT, minus the admin connection's own.
const commandsExecuted = (client: Redis) =>
  Effect.promise(async () => {
    const info = await client.info("commandstats")
    let total = 0
    for (const match of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
      if (!["info", "config|resetstat", "config"].includes(match[1]!)) total += Number(match[2])
    }
    return total
  })

const counter = (metric: Metric.Metric.Counter<number>) => Effect.map(Metric.value(metric), (s) => s.count)

// Releases a scope and reports how long it took (real time); fails when it takes more than `bound`.
const timedClose = (scope: Scope.CloseableScope, bound: Duration.DurationInput) =>
  Effect.gen(function*() {
    const start = Date.now()
    yield* Scope.close(scope, Exit.void).pipe(
      Effect.timeoutFail({
        duration: bound,
        onTimeout: () => new Error(`release took more than ${Duration.format(Duration.decode(bound))}`)
      })
    )
    return Date.now() - start
  })

describe.skipIf(binary === undefined)("Redis outages (real redis-server)", () => {
  it.scoped(
    "cache: a frozen Redis is detected after `failures` timeouts, then costs nothing; the breaker's cooldown runs on Clock",
    () =>
      Effect.gen(function*() {
        const redis = yield* withRedis
        const control = yield* admin(redis)
        const store = yield* RedisCache.make({
          url: redis.url,
          prefix: "freeze:",
          timeout: 100,
          breaker: { failures: 3, cooldown: "10 seconds" }
        })
        const mock = yield* MockProvider.make(() => MockProvider.reply("fresh"))
        const cached = ResponseCache.cached(mock.provider, store)
        const upstream = Effect.map(mock.mock.calls, (calls) => calls.length)
        yield* cached.chat(ask("kept"))
        yield* cached.chat(ask("kept"))
        assert.strictEqual(yield* upstream, 1)
        yield* Effect.promise(() => control.config("RESETSTAT"))
        const failedBefore = yield* counter(RedisCache.failures)
        const skippedBefore = yield* counter(RedisCache.skipped)

        redis.freeze()
        for (let i = 0; i < 10; i++) {
          const answer = yield* cached.chat(ask(`frozen ${i}`))
          assert.strictEqual(answer.choices[0]!.message.content, "fresh")
        }
        // even the stored answer is out of reach: the call goes upstream and succeeds
        yield* cached.chat(ask("kept"))
        assert.strictEqual(yield* upstream, 12)
        // Detection costs exactly `failures` timed-out commands; every later command is skipped, not sent.
        assert.strictEqual((yield* counter(RedisCache.failures)) - failedBefore, 3)
        // 10 calls after it opened, each skipping GET, SET NX and SET
        assert.strictEqual((yield* counter(RedisCache.skipped)) - skippedBefore, 30)

        redis.thaw()
        // What reached Redis while it was frozen, now executed: the 3 commands that timed out (GET, SET NX, SET of the
        // first call) and that call's miss counter (INCR, sent without waiting). Without the breaker: 4 per call.
        let executed = 0
        for (let i = 0; i < 50 && executed < 4; i++) {
          executed = yield* commandsExecuted(control)
          if (executed < 4) yield* realSleep(20)
        }
        assert.strictEqual(executed, 4)
        // Redis is back but the breaker is open until its cooldown (TestClock): still nothing is sent.
        yield* cached.chat(ask("kept"))
        assert.strictEqual(yield* upstream, 13)
        assert.strictEqual(yield* commandsExecuted(control), 4)
        // Past the cooldown, a call starts the probe in the background (and passes by, not waiting for it) ...
        yield* TestClock.adjust("10 seconds")
        yield* cached.chat(ask("kept"))
        assert.strictEqual(yield* upstream, 14)
        // ... which closes the breaker: the stored answer is served again.
        let served = false
        for (let i = 0; i < 50 && !served; i++) {
          yield* realSleep(20)
          const before = yield* upstream
          yield* cached.chat(ask("kept"))
          served = (yield* upstream) === before
        }
        assert.isTrue(served)
      }),
    30_000
  )

  it.scopedLive(
    "cache: killed and restarted, calls succeed throughout and the cache comes back by itself",
    () =>
      Effect.gen(function*() {
        let redis = yield* Effect.promise(() => startRedis(binary!))
        yield* Effect.addFinalizer(() => Effect.promise(() => redis.stop()))
        const store = yield* RedisCache.make({ url: redis.url, prefix: "kill:", breaker: { cooldown: "200 millis" } })
        const mock = yield* MockProvider.make(() => MockProvider.reply("fresh"))
        const cached = ResponseCache.cached(mock.provider, store)
        const upstream = Effect.map(mock.mock.calls, (calls) => calls.length)
        yield* cached.chat(ask("kept"))
        const skippedBefore = yield* counter(RedisCache.skipped)
        yield* Effect.promise(() => redis.stop())
        for (let i = 0; i < 20; i++) yield* cached.chat(ask(`down ${i}`))
        assert.strictEqual(yield* upstream, 21)
        // a refused connection fails at once; after 3 the breaker skips the rest
        assert.isAbove((yield* counter(RedisCache.skipped)) - skippedBefore, 0)
        redis = yield* Effect.promise(() => startRedis(binary!, redis.port))
        let cachedAgain = false
        for (let i = 0; i < 100 && !cachedAgain; i++) {
          const before = yield* upstream
          yield* cached.chat(ask("back"))
          yield* cached.chat(ask("back"))
          cachedAgain = (yield* upstream) - before <= 1 && i > 0
          if (!cachedAgain) yield* Effect.sleep("100 millis")
        }
        assert.isTrue(cachedAgain)
      }),
    30_000
  )

  it.live(
    "cache and limiter over a listener that never answers: calls succeed, and release is bounded",
    () =>
      Effect.gen(function*() {
        const silent = yield* Effect.promise(() => startSilent())
        const scope = yield* Scope.make()
        const store = yield* RedisCache.make({ url: silent.url, connectTimeout: 200 }).pipe(Scope.extend(scope))
        const limiter = yield* RedisRateLimit.make({ url: silent.url, connectTimeout: 200 }).pipe(Scope.extend(scope))
        const mock = yield* MockProvider.make(() => MockProvider.reply("fresh"))
        const cached = ResponseCache.cached(mock.provider, store)
        for (let i = 0; i < 5; i++) yield* cached.chat(ask("q"))
        assert.strictEqual((yield* mock.mock.calls).length, 5)
        const fallbacksBefore = yield* counter(RedisRateLimit.fallbacks)
        for (let i = 0; i < 5; i++) {
          yield* limiter.consume({ key: "k", limit: 100, window: "1 minute", tokens: 1, onExceeded: "fail" })
        }
        assert.strictEqual((yield* counter(RedisRateLimit.fallbacks)) - fallbacksBefore, 5)
        // at most closeTimeout (250 ms) per connection, then a disconnect; 5 s is ten times both
        yield* timedClose(scope, "5 seconds")
        yield* Effect.promise(() => silent.close())
      }),
    30_000
  )

  it.scoped(
    "limiter: a frozen Redis falls back to an in-process limiter (counted), which still enforces the limit",
    () =>
      Effect.gen(function*() {
        const redis = yield* withRedis
        const limiter = yield* RedisRateLimit.make({
          url: redis.url,
          prefix: "rl-freeze:",
          timeout: 100,
          breaker: { failures: 3, cooldown: "10 seconds" }
        })
        const take = limiter.consume({ key: "k", limit: 5, window: "1 minute", tokens: 1, onExceeded: "fail" })
        yield* take
        const fallbacksBefore = yield* counter(RedisRateLimit.fallbacks)
        redis.freeze()
        // the in-process bucket is full: 5 takes pass, the 6th is refused by it
        for (let i = 0; i < 5; i++) yield* take
        const refused = yield* Effect.flip(take)
        assert.strictEqual(refused._tag, "Exceeded")
        assert.strictEqual((yield* counter(RedisRateLimit.fallbacks)) - fallbacksBefore, 6)
        redis.thaw()
        // the breaker is open until the cooldown; past it the probe closes it and Redis counts again (its bucket holds
        // the one take made before the freeze)
        yield* TestClock.adjust("10 seconds")
        yield* Effect.ignore(take)
        let back = false
        for (let i = 0; i < 50 && !back; i++) {
          yield* realSleep(20)
          const before = yield* counter(RedisRateLimit.fallbacks)
          const exit = yield* Effect.exit(take)
          back = (yield* counter(RedisRateLimit.fallbacks)) === before && Exit.isSuccess(exit)
        }
        assert.isTrue(back)
      }),
    30_000
  )

  it.scopedLive("limiter with onUnavailable: \"fail\": a routed call fails at once with ProviderError, nothing sent", () =>
    Effect.gen(function*() {
      const redis = yield* withRedis
      yield* Effect.promise(() => redis.stop())
      const mock = yield* MockProvider.make(() => MockProvider.reply("ok"), { name: "a" })
      const context = yield* Layer.build(
        Router.layer([Router.member("a", mock.provider, { rateLimit: { requestsPerMinute: 10 } })]).pipe(
          Layer.provide(RedisRateLimit.layer({ url: redis.url, onUnavailable: "fail", connectTimeout: 100 }))
        )
      )
      for (let i = 0; i < 5; i++) {
        const error = yield* Effect.flip(LlmProvider.chat(ask("hi")).pipe(Effect.provide(context)))
        assert.strictEqual(error._tag, "ProviderError")
        assert.match(error.message, /rate limit store.*Redis/)
      }
      assert.strictEqual((yield* mock.mock.calls).length, 0)
    }))

  it.live(
    "release and client.close() against a frozen Redis finish within a bounded time",
    () =>
      Effect.gen(function*() {
        const redis = yield* Effect.promise(() => startRedis(binary!))
        const fake = yield* Effect.promise(() => FakeServer.start({ handler: FakeOpenAi.responder() }))
        const scope = yield* Scope.make()
        const store = yield* RedisCache.make({ url: redis.url, prefix: "close:" }).pipe(Scope.extend(scope))
        const limiter = yield* RedisRateLimit.make({ url: redis.url }).pipe(Scope.extend(scope))
        const client = new Client({
          provider: "openai",
          apiKey: "sk",
          baseUrl: fake.url,
          defaultModel: "m",
          retry: false,
          cache: RedisCache.layer({ url: redis.url, prefix: "close-client:" })
        })
        yield* Effect.promise(() => client.chat.completions.create(ask("before")))
        yield* store.get("x")
        yield* limiter.consume({ key: "k", limit: 10, window: "1 minute", tokens: 1, onExceeded: "fail" })
        redis.freeze()
        // a command in flight when it froze, and one after
        const answer = yield* Effect.promise(() => client.chat.completions.create(ask("during")))
        assert.strictEqual(answer.choices[0]!.message.content, "Echo: during")
        const released = yield* timedClose(scope, "5 seconds")
        const start = Date.now()
        yield* Effect.promise(() => client.close()).pipe(
          Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("client.close() took more than 5 s") })
        )
        const closed = Date.now() - start
        redis.thaw()
        yield* Effect.promise(() => redis.stop())
        yield* Effect.promise(() => fake.close())
        // the figures, for the record (the bounds above are the test)
        yield* Effect.logDebug(`release ${released} ms, client.close() ${closed} ms`)
      }),
    30_000
  )
})
