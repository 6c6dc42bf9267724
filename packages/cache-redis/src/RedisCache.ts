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
 *   reconnects by itself.
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
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import { randomUUID } from "node:crypto"

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
}

const Stored = Schema.Struct({ v: Schema.Literal(FORMAT_VERSION), entry: ResponseCache.Entry })
const decodeStored = Schema.decodeUnknownEither(Schema.parseJson(Stored))
const encodeStored = Schema.encodeSync(Schema.parseJson(Stored))

const releaseScript =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

const escapeGlob = (s: string): string => s.replace(/[*?[\]\\]/g, "\\$&")

const awaitReady = (redis: Redis, timeout: Duration.Duration): Effect.Effect<void> =>
  redis.status === "ready"
    ? Effect.void
    : Effect.async<void>((resume) => {
      const done = () => resume(Effect.void)
      redis.once("ready", done)
      return Effect.sync(() => redis.off("ready", done))
    }).pipe(Effect.timeoutOption(timeout), Effect.asVoid)

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
    const timeout = Duration.decode(options.timeout ?? 50)
    const lockTtl = Duration.decode(options.lockTtl ?? "30 seconds")
    const lockWait = Duration.toMillis(Duration.decode(options.lockWait ?? lockTtl))
    const pollInterval = Duration.decode(options.pollInterval ?? 50)
    const hitsKey = `${prefix}s:hits`
    const missesKey = `${prefix}s:misses`

    const redis = options.client ?? (yield* Effect.acquireRelease(
      Effect.sync(() => {
        const url = options.url === undefined
          ? "redis://localhost:6379"
          : Redacted.isRedacted(options.url)
          ? Redacted.value(options.url)
          : options.url
        const client = new Redis(url, {
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          connectTimeout: 1000,
          // Keep trying, never more than a second apart: the cache comes back by itself.
          retryStrategy: (times) => Math.min(times * 50, 1000)
        })
        // Errors are reported per command, where they are handled; without a listener ioredis would print them.
        client.on("error", () => {})
        return client
      }),
      (client) => Effect.promise(() => client.quit().catch(() => client.disconnect()))
    ))
    yield* awaitReady(redis, Duration.decode(options.connectTimeout ?? "1 second"))

    // One command, bounded by `timeout` with a plain timer: `Effect.timeoutFail` races two fibers, which cost about
    // 280 µs per command here, several times a Redis round trip.
    const timeoutMillis = Duration.toMillis(timeout)
    const timeoutMessage = `timed out after ${Duration.format(timeout)}`
    const send = <A>(f: () => Promise<A>): Effect.Effect<A, unknown> =>
      Effect.async<A, unknown>((resume) => {
        let settled = false
        const timer = setTimeout(() => {
          if (settled) return
          settled = true
          resume(Effect.fail(new Error(timeoutMessage)))
        }, timeoutMillis)
        const settle = (effect: Effect.Effect<A, unknown>) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          resume(effect)
        }
        try {
          f().then((a) => settle(Effect.succeed(a)), (error) => settle(Effect.fail(error)))
        } catch (error) {
          settle(Effect.fail(error))
        }
        return Effect.sync(() => {
          settled = true
          clearTimeout(timer)
        })
      })

    let down = false
    const run = <A>(command: string, f: () => Promise<A>): Effect.Effect<Option.Option<A>> =>
      send(f).pipe(
        Effect.matchEffect({
          onFailure: (error) =>
            Effect.zipRight(
              Metric.increment(failures),
              Effect.suspend(() => {
                if (down) return Effect.succeedNone
                down = true
                return Effect.as(
                  Effect.logWarning("Redis response cache unavailable: requests go upstream until it is back").pipe(
                    Effect.annotateLogs({ command, error: String(error instanceof Error ? error.message : error) })
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
          redis.incr(hit ? hitsKey : missesKey).catch(() => failures.unsafeUpdate(1, []))
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
