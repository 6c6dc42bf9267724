/**
 * A `ResponseCache` storage in Redis, shared by every process that uses the same Redis and prefix.
 *
 * @example
 * ```ts
 * import { ResponseCache } from "@llm-api-router/core"
 * import { RedisCache } from "@llm-api-router/cache-redis"
 *
 * const Cached = ResponseCache.layer.pipe(
 *   Layer.provide(OpenAi.layer({ apiKey, defaultModel: "gpt-4o-mini" })),
 *   Layer.provide(RedisCache.layer({ url: "redis://localhost:6379", prefix: "myapp:llm:", ttl: "1 hour" }))
 * )
 * ```
 *
 * - Keys: `<prefix>e:<sha256>` for entries (set with `PX`), `<prefix>l:<sha256>` for fill locks,
 *   `<prefix>s:hits` / `<prefix>s:misses` for the counters (`INCR`), so every process sees the same hit rate.
 * - Values are JSON `{ v: FORMAT_VERSION, entry }`, the entry encoded with the domain `Schema`: an entry of another
 *   version, or one that does not decode, is a miss.
 * - Redis down or slower than `timeout` (default 50 ms): the cache answers as empty, the request goes upstream and
 *   succeeds; the outage is logged once (and its end once) and every failed command counts in {@link failures}.
 *   Commands fail fast instead of queueing (`enableOfflineQueue: false`, `maxRetriesPerRequest: 0`), and the client
 *   reconnects by itself. A circuit breaker (see {@link BreakerOptions}) stops sending commands once Redis is known
 *   to be down or frozen, so that a call then pays nothing for it ({@link skipped} counts what was not sent).
 * - Closing (the layer's release) sends `QUIT` and disconnects after `closeTimeout` (250 ms) without an answer;
 *   it disconnects at once when Redis is known to be down.
 * - Across processes, the first to miss a key takes its lock (`SET NX PX`); the others poll for the entry, take over
 *   when the lock is released without one, and go upstream themselves after `lockWait`.
 * - `clear` deletes this prefix's keys only, with `SCAN` and `UNLINK` in batches.
 *
 * @since 0.1.0
 */
import { ResponseCache } from "@llm-api-router/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Redis } from "ioredis"
import { randomUUID } from "node:crypto"
import * as internal from "./internal/redis.js"

/**
 * The version of the stored value's format. Entries of another version are misses.
 *
 * @since 0.1.0
 * @category constants
 */
export const FORMAT_VERSION = 1

/**
 * Redis commands that failed or timed out (the cache then answered as empty).
 *
 * @since 0.1.0
 * @category metrics
 */
export const failures: Metric.Metric.Counter<number> = Metric.counter("llm_api_router_cache_redis_failures", {
  description: "Redis cache commands that failed or exceeded their timeout",
  incremental: true
})

/**
 * Redis commands not sent because the circuit breaker was open (the cache answered as empty at once).
 *
 * @since 0.1.0
 * @category metrics
 */
export const skipped: Metric.Metric.Counter<number> = Metric.counter("llm_api_router_cache_redis_skipped", {
  description: "Redis cache commands not sent because Redis was known to be unavailable (circuit open)",
  incremental: true
})

/**
 * The circuit breaker in front of Redis: `failures` consecutive failed or timed-out commands (default 3) open it;
 * while open no command is sent and the cache answers as empty at once; after `cooldown` (default 1 second) one
 * background `PING` probes Redis, never on a caller's time, and closes it or keeps it open for another `cooldown`.
 *
 * @since 0.1.0
 * @category models
 */
export interface BreakerOptions {
  readonly failures?: number | undefined
  readonly cooldown?: Duration.DurationInput | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `redis://…`; ignored when `client` is given. Default `redis://localhost:6379`. */
  readonly url?: string | Redacted.Redacted<string> | undefined
  /** A client you own (the layer does not close it). Give it `enableOfflineQueue: false` to fail fast. */
  readonly client?: Redis | undefined
  /** Prepended to every key; default `"llm-api-router:"`. */
  readonly prefix?: string | undefined
  /** How long an entry lives; default 1 hour. */
  readonly ttl?: Duration.DurationInput | undefined
  /** The bound on one Redis command, beyond which the cache is bypassed; default 50 ms. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How long a process may hold a key's fill lock; default 30 seconds. */
  readonly lockTtl?: Duration.DurationInput | undefined
  /** How long waiters poll for another process's fill before going upstream; default `lockTtl`. */
  readonly lockWait?: Duration.DurationInput | undefined
  /** The interval of that polling; default 50 ms. */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** How long building the layer waits for the first connection (it never fails on it); default 1 second. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** The circuit breaker (see {@link BreakerOptions}). */
  readonly breaker?: BreakerOptions | undefined
  /**
   * How long closing waits for `QUIT` before it disconnects (a silent or frozen Redis never answers); default
   * 250 ms; at once when Redis is known to be down. Release never takes much longer.
   */
  readonly closeTimeout?: Duration.DurationInput | undefined
}

const Stored = Schema.Struct({ v: Schema.Literal(FORMAT_VERSION), entry: ResponseCache.Entry })
const decodeStored = Schema.decodeUnknownEither(Schema.parseJson(Stored))
const encodeStored = Schema.encodeSync(Schema.parseJson(Stored))

const releaseScript =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

const escapeGlob = (s: string): string => s.replace(/[*?[\]\\]/g, "\\$&")

/**
 * Builds the storage. A client made from `url` is closed with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<ResponseCache.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? "llm-api-router:"
    const defaultTtl = Duration.decode(options.ttl ?? "1 hour")
    const lockTtl = Duration.decode(options.lockTtl ?? "30 seconds")
    const lockWait = Duration.toMillis(Duration.decode(options.lockWait ?? lockTtl))
    const pollInterval = Duration.decode(options.pollInterval ?? 50)
    const hitsKey = `${prefix}s:hits`
    const missesKey = `${prefix}s:misses`

    let down = false
    const connection = yield* internal.connect({
      url: options.url,
      client: options.client,
      timeout: options.timeout ?? 50,
      connectTimeout: options.connectTimeout,
      closeTimeout: options.closeTimeout,
      breaker: options.breaker
    })
    const redis = connection.redis

    const run = <A>(command: string, f: () => Promise<A>): Effect.Effect<Option.Option<A>> =>
      connection.run(f).pipe(
        Effect.matchEffect({
          onFailure: (error) =>
            error.reason === "open"
              ? Effect.sync(() => {
                skipped.unsafeUpdate(1, [])
                return Option.none()
              })
              : Effect.zipRight(
                Metric.increment(failures),
                Effect.suspend(() => {
                  if (down) return Effect.succeedNone
                  down = true
                  return Effect.as(
                    Effect.logWarning("Redis response cache unavailable: requests go upstream until it is back").pipe(
                      Effect.annotateLogs({ command, error: error.message })
                    ),
                    Option.none()
                  )
                })
              ),
          onSuccess: (a) =>
            Effect.suspend(() => {
              if (!down) return Effect.succeedSome(a)
              down = false
              return Effect.as(Effect.logInfo("Redis response cache is back"), Option.some(a))
            })
        })
      )

    const decode = (raw: string | null): Option.Option<ResponseCache.Entry> => {
      if (raw === null) return Option.none()
      const decoded = decodeStored(raw)
      return Either.isRight(decoded) ? Option.some(decoded.right.entry) : Option.none()
    }

    const get = (key: string): Effect.Effect<Option.Option<ResponseCache.Entry>> =>
      Effect.map(run("GET", () => redis.get(`${prefix}e:${key}`)), Option.flatMap(decode))

    const set = (
      key: string,
      entry: ResponseCache.Entry,
      ttl: Option.Option<Duration.Duration>
    ): Effect.Effect<void> => {
      const millis = Duration.toMillis(Option.getOrElse(ttl, () => defaultTtl))
      const value = encodeStored({ v: FORMAT_VERSION, entry })
      const k = `${prefix}e:${key}`
      if (millis <= 0) return Effect.void
      return Effect.asVoid(
        Number.isFinite(millis)
          ? run("SET", () => redis.set(k, value, "PX", Math.max(1, Math.round(millis))))
          : run("SET", () => redis.set(k, value))
      )
    }

    const lockMillis = Math.max(1, Math.round(Duration.toMillis(lockTtl)))
    const lock = (key: string): Effect.Effect<ResponseCache.Lock> =>
      Effect.gen(function*() {
        const lockKey = `${prefix}l:${key}`
        const token = randomUUID()
        const deadline = (yield* Clock.currentTimeMillis) + lockWait
        while (true) {
          const taken = yield* run("SET NX", () => redis.set(lockKey, token, "PX", lockMillis, "NX"))
          if (Option.isNone(taken)) return { _tag: "Unavailable" } as const
          if (taken.value === "OK") {
            return {
              _tag: "Acquired",
              release: Effect.asVoid(run("EVAL", () => redis.eval(releaseScript, 1, lockKey, token)))
            } as const
          }
          if ((yield* Clock.currentTimeMillis) >= deadline) return { _tag: "Unavailable" } as const
          yield* Effect.sleep(pollInterval)
          const found = yield* get(key)
          if (Option.isSome(found)) return { _tag: "Filled", entry: found.value } as const
        }
      })

    const countKeys = (match: string, onBatch: (keys: Array<string>) => Effect.Effect<void>) =>
      Effect.gen(function*() {
        let cursor = "0"
        let count = 0
        do {
          const page = yield* run("SCAN", () => redis.scan(cursor, "MATCH", match, "COUNT", 500))
          if (Option.isNone(page)) return count
          cursor = page.value[0]
          count += page.value[1].length
          if (page.value[1].length > 0) yield* onBatch(page.value[1])
        } while (cursor !== "0")
        return count
      })

    const toCount = (raw: string | null | undefined): number => {
      const n = raw == null ? 0 : Number(raw)
      return Number.isFinite(n) ? n : 0
    }

    const stats: Effect.Effect<ResponseCache.CacheStats> = Effect.gen(function*() {
      const counters = yield* run("MGET", () => redis.mget(hitsKey, missesKey))
      const [hits, misses] = Option.match(counters, {
        onNone: () => [0, 0],
        onSome: (values) => [toCount(values[0]), toCount(values[1])]
      })
      const size = yield* countKeys(`${escapeGlob(prefix)}e:*`, () => Effect.void)
      return { backend: "redis", size, maxSize: undefined, hits, misses, hitRate: ResponseCache.hitRate(hits, misses) }
    })

    const clear: Effect.Effect<void> = Effect.asVoid(
      countKeys(`${escapeGlob(prefix)}*`, (keys) => Effect.asVoid(run("UNLINK", () => redis.unlink(...keys))))
    )

    return {
      backend: "redis",
      get,
      set,
      lock,
      // Not awaited: a lookup does not wait a second round trip for its counter. Commands on one connection run in
      // order, so a later `stats` still sees it; a failure is counted in `failures`.
      record: (hit) =>
        Effect.sync(() => {
          connection.fire(() => redis.incr(hit ? hitsKey : missesKey), () => failures.unsafeUpdate(1, []))
        }),
      stats,
      clear
    } satisfies ResponseCache.Service
  })

/**
 * The Redis storage as a `ResponseCache` layer: `RedisCache.layer({ url, prefix, ttl })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<ResponseCache.ResponseCache> =>
  Layer.scoped(ResponseCache.ResponseCache, make(options))
