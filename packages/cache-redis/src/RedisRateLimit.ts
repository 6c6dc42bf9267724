/**
 * Client-side rate limits shared by many processes: a `RateLimit.Limiter` whose token buckets live in Redis.
 *
 * Provide it to a router (or anything that reads `RateLimit.Limiter`) and every process that points at the same
 * Redis and `prefix` draws from the same requests-per-minute and tokens-per-minute budgets.
 *
 * @example
 * ```ts
 * import { Router } from "@llm-api-router/core"
 * import { RedisRateLimit } from "@llm-api-router/cache-redis"
 *
 * const Routed = Router.layer([
 *   Router.member("openai", OpenAiLive, { rateLimit: { requestsPerMinute: 500, tokensPerMinute: 200_000 } })
 * ]).pipe(Layer.provide(RedisRateLimit.layer({ url: "redis://localhost:6379", prefix: "llm:rl:" })))
 * ```
 *
 * Each bucket is one Redis hash updated by one Lua script (atomic across processes), timed by the Redis server's
 * clock, so processes with skewed clocks still agree; it expires once it would be full again.
 *
 * @since 0.1.0
 */
import { RateLimit } from "@llm-api-router/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { Redis } from "ioredis"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `redis://…` (a `Redacted` when it carries a password). */
  readonly url: string | Redacted.Redacted<string>
  /** Prepended to every key. Default `"llm-api-router:ratelimit:"`. */
  readonly prefix?: string | undefined
}

// Token bucket: `limit` tokens, one back every `refill` ms. Returns the tokens left after taking `take` (negative:
// the debt to wait out). With `overflow` the tokens are taken even into debt (a delayed request, a usage
// correction); without, a short bucket is left as it was.
const script = `
local key = KEYS[1]
local take = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local refill = tonumber(ARGV[3])
local overflow = ARGV[4] == "1"
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call("HMGET", key, "tokens", "last")
local tokens = tonumber(state[1])
local last = tonumber(state[2])
if tokens == nil then
  tokens = limit
  last = now
else
  local add = math.floor((now - last) / refill)
  if add > 0 then
    tokens = math.min(limit, tokens + add)
    last = last + add * refill
  end
end
local left = tokens - take
if overflow or left >= 0 then tokens = left end
redis.call("HSET", key, "tokens", tokens, "last", last)
redis.call("PEXPIRE", key, math.ceil((limit - tokens + 1) * refill))
return left
`

interface Scripted extends Redis {
  llmTokenBucket(key: string, take: number, limit: number, refill: number, overflow: string): Promise<number>
}

/**
 * Builds the limiter on a new Redis connection, closed when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options) =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? "llm-api-router:ratelimit:"
    const url = Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url
    const redis = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 }) as Scripted
        client.defineCommand("llmTokenBucket", { numberOfKeys: 1, lua: script })
        // Connection errors surface as command failures; without a listener ioredis would also print them.
        client.on("error", () => {})
        return client
      }),
      (client) => Effect.promise(() => client.quit().catch(() => client.disconnect()))
    )
    const service: RateLimit.Service = {
      consume: ({ key, limit, onExceeded, tokens, window }) => {
        const refill = Math.max(1, Duration.toMillis(window) / limit)
        return Effect.tryPromise({
          try: () => redis.llmTokenBucket(`${prefix}${key}`, tokens, limit, refill, onExceeded === "delay" ? "1" : "0"),
          catch: (error): RateLimit.StoreFailure => ({
            _tag: "StoreFailure",
            message: error instanceof Error ? error.message : String(error)
          })
        }).pipe(
          Effect.flatMap((left): Effect.Effect<Duration.Duration, RateLimit.Exceeded> => {
            if (left >= 0) return Effect.succeed(Duration.zero)
            const wait = Duration.millis(Math.ceil(-left * refill))
            return onExceeded === "delay" ? Effect.succeed(wait) : Effect.fail({ _tag: "Exceeded", retryAfter: wait })
          })
        )
      }
    }
    return service
  })

/**
 * The limiter as a `RateLimit.Limiter` layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<RateLimit.Limiter> =>
  Layer.scoped(RateLimit.Limiter, make(options))
