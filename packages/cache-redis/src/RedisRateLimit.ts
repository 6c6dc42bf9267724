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
 * Redis is never a single point of failure: every command is bounded by `timeout` (default 100 ms), nothing is
 * queued while the connection is down (`enableOfflineQueue: false`), and a circuit breaker (as `RedisCache`'s)
 * stops sending commands once Redis is known to be down or frozen. What a take does then is `onUnavailable`:
 * - `"fallback"` (default): the limits are kept by an in-process limiter (the same limits, in this process only, so
 *   that N processes may together send up to N times a limit during the outage); each such take counts in
 *   {@link fallbacks}, and the outage is logged once (its end once);
 * - `"fail"`: the take fails at once, and the call with a `ProviderError` saying the rate limit store is
 *   unavailable, before any request is sent.
 *
 * Closing (the layer's release) sends `QUIT` and disconnects after `closeTimeout` (250 ms) without an answer;
 * it disconnects at once when Redis is known to be down.
 *
 * @since 0.1.0
 */
import { RateLimit } from "@llm-api-router/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { Redis } from "ioredis"
import * as internal from "./internal/redis.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `redis://…` (a `Redacted` when it carries a password); ignored when `client` is given. */
  readonly url?: string | Redacted.Redacted<string> | undefined
  /** A client you own (the layer does not close it). */
  readonly client?: Redis | undefined
  /** Prepended to every key. Default `"llm-api-router:ratelimit:"`. */
  readonly prefix?: string | undefined
  /** The bound on one Redis command; default 100 ms. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How long building the layer waits for the first connection (it never fails on it); default 1 second. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** The circuit breaker (as `RedisCache.BreakerOptions`: 3 failures open it, a probe after 1 second). */
  readonly breaker?: { readonly failures?: number | undefined; readonly cooldown?: Duration.DurationInput | undefined }
  /** What a take does while Redis is unavailable: `"fallback"` (default) to an in-process limiter, or `"fail"`. */
  readonly onUnavailable?: "fallback" | "fail" | undefined
  /** How long closing waits for `QUIT` before it disconnects; default 250 ms (at once when Redis is known down). */
  readonly closeTimeout?: Duration.DurationInput | undefined
}

/**
 * Takes served by the in-process limiter because Redis was unavailable (`onUnavailable: "fallback"`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const fallbacks: Metric.Metric.Counter<number> = Metric.counter("llm_api_router_ratelimit_redis_fallbacks", {
  description: "Rate limit takes kept in process because the Redis store was unavailable",
  incremental: true
})

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

interface Scripted {
  llmTokenBucket(key: string, take: number, limit: number, refill: number, overflow: string): Promise<number>
}

/**
 * Builds the limiter on a new Redis connection (closed when the scope closes), or on `client`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<RateLimit.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? "llm-api-router:ratelimit:"
    const onUnavailable = options.onUnavailable ?? "fallback"
    const connection = yield* internal.connect({
      url: options.url,
      client: options.client,
      timeout: options.timeout ?? 100,
      connectTimeout: options.connectTimeout,
      closeTimeout: options.closeTimeout,
      breaker: options.breaker
    })
    const redis = connection.redis as Redis & Partial<Scripted>
    if (redis.llmTokenBucket === undefined) redis.defineCommand("llmTokenBucket", { numberOfKeys: 1, lua: script })
    const scripted = redis as Redis & Scripted
    const local = yield* RateLimit.makeMemory

    let down = false
    const unavailable = (error: internal.Unavailable): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (down || error.reason === "open") return Effect.void
        down = true
        return Effect.logWarning(
          onUnavailable === "fallback"
            ? "Redis rate limit store unavailable: limits are kept in this process until it is back"
            : "Redis rate limit store unavailable: rate-limited calls fail until it is back"
        ).pipe(Effect.annotateLogs({ error: error.message }))
      })
    const available: Effect.Effect<void> = Effect.suspend(() => {
      if (!down) return Effect.void
      down = false
      return Effect.logInfo("Redis rate limit store is back")
    })

    const service: RateLimit.Service = {
      consume: (request) => {
        const { key, limit, onExceeded, tokens, window } = request
        const refill = Math.max(1, Duration.toMillis(Duration.decode(window)) / limit)
        return connection.run(() =>
          scripted.llmTokenBucket(`${prefix}${key}`, tokens, limit, refill, onExceeded === "delay" ? "1" : "0")
        ).pipe(
          Effect.matchEffect({
            onFailure: (error): Effect.Effect<Duration.Duration, RateLimit.Exceeded | RateLimit.StoreFailure> =>
              Effect.zipRight(
                unavailable(error),
                onUnavailable === "fallback"
                  ? Effect.zipRight(Metric.increment(fallbacks), local.consume(request))
                  : Effect.fail(
                    {
                      _tag: "StoreFailure",
                      message: error.reason === "open" ? error.message : `Redis is unavailable: ${error.message}`
                    } as const
                  )
              ),
            onSuccess: (left): Effect.Effect<Duration.Duration, RateLimit.Exceeded> =>
              Effect.zipRight(
                available,
                Effect.suspend(() => {
                  if (left >= 0) return Effect.succeed(Duration.zero)
                  const wait = Duration.millis(Math.ceil(-left * refill))
                  return onExceeded === "delay"
                    ? Effect.succeed(wait)
                    : Effect.fail({ _tag: "Exceeded", retryAfter: wait } as const)
                })
              )
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
