import { assert, describe, it } from "@effect/vitest"
import { LlmProvider, Router } from "@llm-api-router/core"
import { MockProvider } from "@llm-api-router/core/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { afterAll, beforeAll } from "vitest"
import { RedisRateLimit } from "../src/index.js"
import { type RedisServer, requireRedis, startRedis } from "./redisServer.js"

const binary = requireRedis()

describe.skipIf(binary === undefined)("RedisRateLimit (real redis-server)", () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedis(binary!)
  })
  afterAll(async () => {
    await redis?.stop()
  })

  it.scopedLive("two limiters on separate connections draw from one budget", () =>
    Effect.gen(function*() {
      const one = yield* RedisRateLimit.make({ url: redis.url, prefix: "shared:" })
      const two = yield* RedisRateLimit.make({ url: redis.url, prefix: "shared:" })
      const take = (limiter: typeof one) =>
        limiter.consume({ key: "k", limit: 3, window: "1 minute", tokens: 1, onExceeded: "fail" })
      yield* take(one)
      yield* take(two)
      yield* take(one)
      const refused = yield* Effect.flip(take(two))
      assert.strictEqual(refused._tag, "Exceeded")
      if (refused._tag === "Exceeded") {
        // One token comes back every 20 seconds.
        assert.isAbove(Duration.toMillis(refused.retryAfter), 0)
        assert.isAtMost(Duration.toMillis(refused.retryAfter), 20_000)
      }
      // "delay" takes the token anyway and says how long to wait.
      const wait = yield* one.consume({ key: "k", limit: 3, window: "1 minute", tokens: 1, onExceeded: "delay" })
      assert.isAbove(Duration.toMillis(wait), 0)
    }))

  it.scopedLive("behind a router, members of two routers share their Redis budget; fail raises before any call", () =>
    Effect.gen(function*() {
      const build = Effect.gen(function*() {
        const mock = yield* MockProvider.make(() => MockProvider.reply("ok"), { name: "a" })
        const scope = yield* Effect.scope
        const context = yield* Layer.buildWithScope(
          Router.layer(
            [Router.member("a", mock.provider, { rateLimit: { requestsPerMinute: 2, onExceeded: "fail" } })],
            {
              name: "shared-router"
            }
          ).pipe(Layer.provide(RedisRateLimit.layer({ url: redis.url, prefix: "router:" }))),
          scope as Scope.Scope
        )
        return { context, mock }
      })
      const first = yield* build
      const second = yield* build
      const ask = (ctx: typeof first.context) =>
        LlmProvider.chat({ messages: [{ role: "user", content: "hi" }] }).pipe(Effect.provide(ctx))
      yield* ask(first.context)
      yield* ask(second.context)
      const error = yield* Effect.flip(ask(first.context))
      assert.strictEqual(error._tag, "RateLimitError")
      assert.strictEqual(error.code, "client_rate_limit")
      assert.strictEqual((yield* first.mock.mock.calls).length, 1)
      assert.strictEqual((yield* second.mock.mock.calls).length, 1)
    }))
})
