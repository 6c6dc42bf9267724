/**
 * Response caching as a decorator over `LlmProvider`: the cached provider is still an `LlmProvider`.
 *
 * Two parts:
 * - the storage, the `ResponseCache` service: `layerMemory({ ttl, maxSize })` here, or `RedisCache.layer(…)` from
 *   `@llm-api-router/cache-redis`;
 * - the decorator, `ResponseCache.layer`, which wraps the `LlmProvider` in context and needs a storage.
 *
 * @example
 * ```ts
 * import { LlmProvider, ResponseCache } from "@llm-api-router/core"
 *
 * const Cached = ResponseCache.layer.pipe(
 *   Layer.provide(OpenAi.layer({ apiKey, defaultModel: "gpt-4o-mini" })),
 *   Layer.provide(ResponseCache.layerMemory({ ttl: "1 hour", maxSize: 1000 }))
 * )
 * // one call: skip the cache, or keep this answer for 10 minutes
 * LlmProvider.chat(request).pipe(ResponseCache.skip)
 * LlmProvider.chat(request).pipe(ResponseCache.withTtl("10 minutes"))
 * ```
 *
 * What it does:
 * - the key is a SHA-256 of the provider, its base URL, the caller's identity fingerprint (an HMAC of its credential
 *   and identity headers, never the key itself: see `Identity`) and the canonical request with its model resolved
 *   (object key order does not matter; `stream`, `stream_options`, `user` and `metadata` do not count). An entry is
 *   served only to a caller with the same credential and identity headers, unless `shareAcrossCredentials`;
 * - concurrent identical requests make one upstream call and share its answer (a failure too, but it is not
 *   stored); when the caller making it is interrupted, another one takes over;
 * - failures, interrupted or failed streams, and answers cut by `length` (unless `cacheLength`) are never stored;
 * - a completed stream is stored as its chunks and replayed chunk for chunk; a stream may be served from a
 *   completion and a completion from a stream; a stream that misses reaches its caller as it arrives;
 * - embeddings are cached too, under keys of their own (the request with its model resolved, `user` left out).
 *
 * @since 0.1.0
 */
import * as Cache from "effect/Cache"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import { globalValue } from "effect/GlobalValue"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as ChatStream from "./ChatStream.js"
import {
  ChatCompletion,
  ChatCompletionChunk,
  type ChatCompletionRequest,
  type EmbeddingRequest,
  EmbeddingResponse
} from "./Domain.js"
import * as internal from "./internal/responseCache.js"
import * as validate from "./internal/validate.js"
import type { InvalidRequestError, LlmError } from "./LlmError.js"
import * as LlmProvider from "./LlmProvider.js"
import * as Telemetry from "./Telemetry.js"

// ---------------------------------------------------------------------------------------------
// storage contract
// ---------------------------------------------------------------------------------------------

/**
 * What a cache holds for one request: the completion of a `chat` call, the chunks of a completed `stream`, or the
 * response of an `embed` call.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Entry = Schema.Union(
  Schema.TaggedStruct("Completion", { completion: ChatCompletion }),
  Schema.TaggedStruct("Chunks", { chunks: Schema.Array(ChatCompletionChunk) }),
  Schema.TaggedStruct("Embeddings", { response: EmbeddingResponse })
)

/**
 * @since 0.1.0
 * @category models
 */
export type Entry = typeof Entry.Type

/**
 * The counters of a cache. `maxSize` is `undefined` when the backend has no bound (Redis); `hitRate` is
 * `hits / (hits + misses)`, 0 before any lookup.
 *
 * @since 0.1.0
 * @category models
 */
export interface CacheStats {
  readonly backend: string
  readonly size: number
  readonly maxSize: number | undefined
  readonly hits: number
  readonly misses: number
  readonly hitRate: number
}

/**
 * The outcome of asking the storage to fill a key: this caller fills it (and calls `release` once stored or
 * failed), another process filled it meanwhile, or no coordination was possible (the caller goes upstream anyway).
 *
 * @since 0.1.0
 * @category models
 */
export type Lock =
  | { readonly _tag: "Acquired"; readonly release: Effect.Effect<void> }
  | { readonly _tag: "Filled"; readonly entry: Entry }
  | { readonly _tag: "Unavailable" }

/**
 * A cache storage. None of its operations fail: a backend that is down answers as an empty cache (a miss, a
 * dropped write), so that requests still go upstream and succeed.
 *
 * - `set`'s `ttl` overrides the storage's default for this entry when it is `Some`.
 * - `lock` coordinates fillers beyond one decorator (other processes); concurrent callers inside one decorator are
 *   already single-flighted by it. A storage without such coordination answers `Acquired` with a no-op `release`.
 * - `record` counts a hit (`true`) or a miss (`false`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly backend: string
  readonly get: (key: string) => Effect.Effect<Option.Option<Entry>>
  readonly set: (key: string, entry: Entry, ttl: Option.Option<Duration.Duration>) => Effect.Effect<void>
  readonly lock: (key: string) => Effect.Effect<Lock>
  readonly record: (hit: boolean) => Effect.Effect<void>
  readonly stats: Effect.Effect<CacheStats>
  readonly clear: Effect.Effect<void>
}

/**
 * The storage tag. Provide one layer of it (`layerMemory`, `RedisCache.layer`) to `ResponseCache.layer`.
 *
 * @since 0.1.0
 * @category tags
 */
export class ResponseCache extends Context.Tag("@llm-api-router/core/ResponseCache")<ResponseCache, Service>() {}

/**
 * The counters of the `ResponseCache` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const stats: Effect.Effect<CacheStats, never, ResponseCache> = Effect.flatMap(ResponseCache, (s) => s.stats)

/**
 * Empties the `ResponseCache` in context and resets its counters.
 *
 * @since 0.1.0
 * @category accessors
 */
export const clear: Effect.Effect<void, never, ResponseCache> = Effect.flatMap(ResponseCache, (s) => s.clear)

/**
 * `hits / (hits + misses)`, 0 before any lookup.
 *
 * @since 0.1.0
 * @category utils
 */
export const hitRate = (hits: number, misses: number): number => hits + misses === 0 ? 0 : hits / (hits + misses)

// ---------------------------------------------------------------------------------------------
// memory storage
// ---------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface MemoryOptions {
  /** How long an entry lives; default 1 hour. */
  readonly ttl?: Duration.DurationInput | undefined
  /** How many entries it keeps, evicting the least recently used; default 1000. */
  readonly maxSize?: number | undefined
}

interface Stored {
  readonly entry: Entry
  readonly ttl: Duration.Duration
}

/**
 * An in-memory storage on `effect/Cache`: at most `maxSize` entries with least-recently-used eviction, each living
 * `ttl` (measured on Effect's `Clock`, so `TestClock` drives it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (options?: MemoryOptions): Effect.Effect<Service> =>
  Effect.gen(function*() {
    const defaultTtl = Duration.decode(options?.ttl ?? "1 hour")
    const maxSize = options?.maxSize ?? 1000
    const cache = yield* Cache.makeWith<string, Stored, never>({
      capacity: maxSize,
      // Entries only enter through `set`: nothing is ever looked up, so no failure can be cached either.
      lookup: (key) => Effect.dieMessage(`ResponseCache: no entry for ${key}`),
      timeToLive: Exit.match({ onFailure: () => Duration.zero, onSuccess: (stored) => stored.ttl })
    })
    let hits = 0
    let misses = 0
    // `getOption` on an absent key would queue an access for it in the LRU list, and that stale access could later
    // evict the entry stored under the key: check presence first.
    const get = (key: string): Effect.Effect<Option.Option<Entry>> =>
      Effect.flatMap(
        cache.contains(key),
        (has) => has ? Effect.map(cache.getOption(key), Option.map((stored) => stored.entry)) : Effect.succeedNone
      )
    const set = (key: string, entry: Entry, ttl: Option.Option<Duration.Duration>): Effect.Effect<void> =>
      // `set` does not touch the LRU list: the read after it makes the entry the most recent and evicts beyond
      // capacity.
      Effect.zipRight(cache.set(key, { entry, ttl: Option.getOrElse(ttl, () => defaultTtl) }), cache.getOption(key))
    const acquired: Lock = { _tag: "Acquired", release: Effect.void }
    return {
      backend: "memory",
      get,
      set,
      lock: () => Effect.succeed(acquired),
      record: (hit) =>
        Effect.sync(() => {
          if (hit) hits++
          else misses++
        }),
      stats: Effect.map(cache.size, (size) => ({
        backend: "memory",
        size,
        maxSize,
        hits,
        misses,
        hitRate: hitRate(hits, misses)
      })),
      clear: Effect.zipRight(
        cache.invalidateAll,
        Effect.sync(() => {
          hits = 0
          misses = 0
        })
      )
    }
  })

/**
 * The in-memory storage as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options?: MemoryOptions): Layer.Layer<ResponseCache> =>
  Layer.effect(ResponseCache, makeMemory(options))

// ---------------------------------------------------------------------------------------------
// per-call options
// ---------------------------------------------------------------------------------------------

/**
 * Options for the calls inside one effect or stream: `skip` bypasses the cache (no read, no write), `ttl`
 * overrides the storage's time to live for what they store, `cacheLength` stores answers cut by `length`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  readonly skip?: boolean | undefined
  readonly ttl?: Duration.DurationInput | undefined
  readonly cacheLength?: boolean | undefined
}

interface ResolvedCallOptions {
  readonly skip: boolean
  readonly ttl: Option.Option<Duration.Duration>
  readonly cacheLength: Option.Option<boolean>
}

const currentOptions = globalValue(
  Symbol.for("@llm-api-router/core/ResponseCache/currentOptions"),
  () => FiberRef.unsafeMake<ResolvedCallOptions>({ skip: false, ttl: Option.none(), cacheLength: Option.none() })
)

const callOptionFields: Readonly<Record<string, validate.Check>> = {
  skip: validate.boolean,
  ttl: validate.duration,
  cacheLength: validate.boolean
}

/**
 * Checks cache options for one call as `withOptions` does: an unknown field (a misspelt name) or a bad value (a
 * `ttl` that is not a non-negative duration) fails with an `InvalidRequestError` (`source: "client"`) naming it;
 * `path` prefixes the names (`options.cache.ttl`). On success, `ttl` is decoded to a `Duration`.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateCallOptions = (
  options: unknown,
  provider = "response-cache",
  path = ""
): Either.Either<CallOptions, InvalidRequestError> => {
  const issue = validate.struct(options, path, callOptionFields, "cache options { skip, ttl, cacheLength }")
  if (issue !== undefined) return Either.left(validate.invalidConfig(provider, issue))
  const { cacheLength, skip, ttl } = options as CallOptions
  return Either.right({
    ...(skip !== undefined ? { skip } : {}),
    ...(ttl !== undefined ? { ttl: Option.getOrThrow(validate.decodeDuration(ttl)) } : {}),
    ...(cacheLength !== undefined ? { cacheLength } : {})
  })
}

const mergeOptions = (input: CallOptions) => {
  // Checked once, where the options are written: bad options throw the `InvalidRequestError` naming the field at
  // the call site, as a bad config does.
  const checked = validateCallOptions(input)
  if (Either.isLeft(checked)) throw checked.left
  const options = checked.right
  const ttl = options.ttl === undefined ? Option.none() : Option.some(Duration.decode(options.ttl))
  return (current: ResolvedCallOptions): ResolvedCallOptions => ({
    skip: options.skip ?? current.skip,
    ttl: Option.orElse(ttl, () => current.ttl),
    cacheLength: options.cacheLength === undefined ? current.cacheLength : Option.some(options.cacheLength)
  })
}

/**
 * Runs an effect or a stream with cache options for the calls it makes (see {@link CallOptions}). Bad options (see
 * {@link validateCallOptions}) throw their `InvalidRequestError` here, where they are written.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withOptions: {
  (options: CallOptions): <X extends Effect.Effect<any, any, any> | Stream.Stream<any, any, any>>(self: X) => X
  <X extends Effect.Effect<any, any, any> | Stream.Stream<any, any, any>>(self: X, options: CallOptions): X
} = dual(2, (self: Effect.Effect<any, any, any> | Stream.Stream<any, any, any>, options: CallOptions): any => {
  const merge = mergeOptions(options)
  if (Predicate.hasProperty(self, Stream.StreamTypeId)) {
    return Stream.unwrapScoped(Effect.as(Effect.locallyScopedWith(currentOptions, merge), self))
  }
  return Effect.locallyWith(self as Effect.Effect<any, any, any>, currentOptions, merge)
})

/**
 * Runs an effect or a stream without the cache: its calls neither read nor write it.
 *
 * @since 0.1.0
 * @category combinators
 */
export const skip = <X extends Effect.Effect<any, any, any> | Stream.Stream<any, any, any>>(self: X): X =>
  withOptions(self, { skip: true })

/**
 * Runs an effect or a stream with a time to live for the answers its calls store.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withTtl: {
  (ttl: Duration.DurationInput): <X extends Effect.Effect<any, any, any> | Stream.Stream<any, any, any>>(self: X) => X
  <X extends Effect.Effect<any, any, any> | Stream.Stream<any, any, any>>(self: X, ttl: Duration.DurationInput): X
} = dual(
  2,
  <X extends Effect.Effect<any, any, any> | Stream.Stream<any, any, any>>(self: X, ttl: Duration.DurationInput): X =>
    withOptions(self, { ttl })
)

// ---------------------------------------------------------------------------------------------
// the decorator
// ---------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Store answers cut by `finish_reason: "length"` too; default `false`. A call may override it. */
  readonly cacheLength?: boolean | undefined
  /**
   * Serve entries to every caller of the same provider and base URL, whatever its credential and identity headers
   * (a cache shared by the keys of one team, say); default `false`: an entry is served only to a caller with the
   * same credential fingerprint and identity headers (see `Identity`). With it, a wrong or revoked key can be
   * served an answer another key paid for.
   */
  readonly shareAcrossCredentials?: boolean | undefined
  /** Headers of the provider that count as identity on top of `Identity.defaultHeaders` (`x-tenant`, …). */
  readonly identityHeaders?: ReadonlyArray<string> | undefined
  /**
   * The HMAC key of identity fingerprints, the same in every process sharing the storage; default a constant of
   * the library (see `Identity`). Give one when the storage's keys are readable by others and a credential has low
   * entropy.
   */
  readonly identitySecret?: Redacted.Redacted<string> | undefined
}

/**
 * The part of the cache key that says whose entries these are: `"shared"` with `shareAcrossCredentials`, else the
 * provider's identity fingerprint (`"anonymous"` for a provider that declares none).
 *
 * @since 0.1.0
 * @category utils
 */
export const scope = (info: LlmProvider.ProviderInfo, options?: Options): string =>
  options?.shareAcrossCredentials === true
    ? "shared"
    : info.identity === undefined
    ? "anonymous"
    : info.identity.fingerprint({ headers: options?.identityHeaders, secret: options?.identitySecret })

/**
 * The cache key of a chat request for a provider: a hex SHA-256 (see the module's description). `options` are the
 * decorator's (they say whose entries are shared).
 *
 * @since 0.1.0
 * @category utils
 */
export const key = (info: LlmProvider.ProviderInfo, request: ChatCompletionRequest, options?: Options): string =>
  internal.requestKey(info.name, info.baseUrl, scope(info, options), request, request.model ?? info.defaultModel)

/**
 * The cache key of an embeddings request for a provider: a hex SHA-256, apart from every chat key.
 *
 * @since 0.1.0
 * @category utils
 */
export const embeddingKey = (info: LlmProvider.ProviderInfo, request: EmbeddingRequest, options?: Options): string =>
  internal.embeddingKey(info.name, info.baseUrl, scope(info, options), request, request.model ?? info.defaultModel)

type Outcome =
  | { readonly _tag: "Done"; readonly entry: Entry }
  | { readonly _tag: "Failed"; readonly error: LlmError }
  | { readonly _tag: "Abandoned" }

type Claim =
  | { readonly _tag: "Hit"; readonly entry: Entry }
  | { readonly _tag: "Miss"; readonly end: (outcome: Outcome) => Effect.Effect<void> }

const abandoned: Outcome = { _tag: "Abandoned" }

const hasLength = (entry: Entry): boolean => {
  switch (entry._tag) {
    case "Completion":
      return entry.completion.choices.some((c) => c.finish_reason === "length")
    case "Chunks":
      return entry.chunks.some((chunk) => chunk.choices.some((c) => c.finish_reason === "length"))
    case "Embeddings":
      return false
  }
}

// Chat and embeddings keys are apart (see `embeddingKey`): a chat key holding embeddings, or the reverse, is a bug.
const mismatch = (entry: Entry): never => {
  throw new Error(`a response cache entry of the wrong kind for its key: ${entry._tag}`)
}

const entryToCompletion = (entry: Entry): ChatCompletion => {
  if (entry._tag === "Completion") return entry.completion
  if (entry._tag === "Embeddings") return mismatch(entry)
  const accumulator = ChatStream.makeAccumulator()
  for (const chunk of entry.chunks) accumulator.push(chunk)
  return accumulator.result()
}

const entryToChunks = (entry: Entry): ReadonlyArray<ChatCompletionChunk> => {
  switch (entry._tag) {
    case "Chunks":
      return entry.chunks
    case "Completion":
      return internal.completionToChunks(entry.completion)
    case "Embeddings":
      return mismatch(entry)
  }
}

const entryToEmbeddings = (entry: Entry): EmbeddingResponse =>
  entry._tag === "Embeddings" ? entry.response : mismatch(entry)

const exitOutcome = <A>(exit: Exit.Exit<A, LlmError>, entry: () => Entry | undefined): Outcome => {
  if (Exit.isSuccess(exit)) {
    const done = entry()
    return done === undefined ? abandoned : { _tag: "Done", entry: done }
  }
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) ? { _tag: "Failed", error: failure.value } : abandoned
}

/**
 * Wraps a provider with a cache storage.
 *
 * @since 0.1.0
 * @category constructors
 */
export const cached = (provider: LlmProvider.Service, store: Service, options?: Options): LlmProvider.Service => {
  const info = provider.info
  const defaultCacheLength = options?.cacheLength ?? false
  // Whose entries these are, computed once: the keys of every call below are made with it.
  const callerScope = scope(info, options)
  const chatKey = (request: ChatCompletionRequest) =>
    internal.requestKey(info.name, info.baseUrl, callerScope, request, request.model ?? info.defaultModel)
  const embedKey = (request: EmbeddingRequest) =>
    internal.embeddingKey(info.name, info.baseUrl, callerScope, request, request.model ?? info.defaultModel)
  // The fills in flight in this process, by key: waiters share the outcome of the one caller filling it.
  const inflight = new Map<string, Deferred.Deferred<Outcome>>()
  // Counted in the store (its stats) and in the metrics (`Telemetry.cacheLookups`).
  const record = (hit: boolean) => Effect.zipRight(store.record(hit), Telemetry.recordCacheLookup(info.name, hit))

  const claim = (key: string): Effect.Effect<Claim, LlmError> =>
    Effect.suspend((): Effect.Effect<Claim, LlmError> => {
      const waiting = inflight.get(key)
      if (waiting !== undefined) {
        return Effect.flatMap(Deferred.await(waiting), (outcome): Effect.Effect<Claim, LlmError> => {
          switch (outcome._tag) {
            case "Done":
              return Effect.as(record(true), { _tag: "Hit", entry: outcome.entry })
            case "Failed":
              return Effect.zipRight(record(false), Effect.fail(outcome.error))
            case "Abandoned":
              // The filler was interrupted: the next waiter in line fills it.
              return claim(key)
          }
        })
      }
      const deferred = Deferred.unsafeMake<Outcome>(FiberId.none)
      inflight.set(key, deferred)
      const publish = (outcome: Outcome) =>
        Effect.suspend(() => {
          if (inflight.get(key) === deferred) inflight.delete(key)
          return Deferred.succeed(deferred, outcome)
        })
      return Effect.gen(function*() {
        const found = yield* store.get(key)
        if (Option.isSome(found)) {
          yield* publish({ _tag: "Done", entry: found.value })
          yield* record(true)
          return { _tag: "Hit", entry: found.value } as const
        }
        const lock = yield* store.lock(key)
        if (lock._tag === "Filled") {
          yield* publish({ _tag: "Done", entry: lock.entry })
          yield* record(true)
          return { _tag: "Hit", entry: lock.entry } as const
        }
        yield* record(false)
        const release = lock._tag === "Acquired" ? lock.release : Effect.void
        return { _tag: "Miss", end: (outcome: Outcome) => Effect.zipRight(release, publish(outcome)) } as const
      }).pipe(Effect.onInterrupt(() => publish(abandoned)))
    })

  const storeIfAllowed = (key: string, entry: Entry, call: ResolvedCallOptions): Effect.Effect<void> =>
    Option.getOrElse(call.cacheLength, () => defaultCacheLength) || !hasLength(entry)
      ? store.set(key, entry, call.ttl)
      : Effect.void

  // A call answered from `k` on a hit, else upstream and stored. Between a claim and the installation of what ends
  // it, nothing may interrupt: waiters would wait forever.
  const through = <A>(
    k: string,
    call: ResolvedCallOptions,
    upstream: Effect.Effect<A, LlmError>,
    fromEntry: (entry: Entry) => A,
    toEntry: (a: A) => Entry
  ): Effect.Effect<A, LlmError> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(restore(claim(k)), (claimed) => {
        if (claimed._tag === "Hit") return Effect.sync(() => fromEntry(claimed.entry))
        let entry: Entry | undefined
        return restore(upstream).pipe(
          Effect.tap((a) => {
            entry = toEntry(a)
            return storeIfAllowed(k, entry, call)
          }),
          Effect.onExit((exit) => claimed.end(exitOutcome(exit, () => entry)))
        )
      })
    )

  // Validation comes first: no key is computed from, and no claim made for, a request the provider would refuse.
  const chat = (input: ChatCompletionRequest): Effect.Effect<ChatCompletion, LlmError> =>
    Effect.flatMap(FiberRef.get(currentOptions), (call) => {
      const checked = LlmProvider.validateChatRequest(info.name, input)
      if (Either.isLeft(checked)) return Effect.fail(checked.left)
      const request = checked.right
      return call.skip
        ? provider.chat(request)
        : through(chatKey(request), call, provider.chat(request), entryToCompletion, (completion) => ({
          _tag: "Completion",
          completion
        }))
    })

  const stream = (input: ChatCompletionRequest): Stream.Stream<ChatCompletionChunk, LlmError> =>
    Stream.unwrapScoped(Effect.flatMap(FiberRef.get(currentOptions), (call) => {
      const checked = LlmProvider.validateChatRequest(info.name, input)
      if (Either.isLeft(checked)) return Effect.fail(checked.left)
      const request = checked.right
      if (call.skip) return Effect.succeed(provider.stream(request))
      const k = chatKey(request)
      return Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(claim(k)), (claimed) => {
          if (claimed._tag === "Hit") return Effect.succeed(Stream.fromIterable(entryToChunks(claimed.entry)))
          const chunks: Array<ChatCompletionChunk> = []
          let entry: Entry | undefined
          let error: LlmError | undefined
          return Effect.as(
            Effect.addFinalizer(() =>
              claimed.end(
                entry !== undefined
                  ? { _tag: "Done", entry }
                  : error !== undefined
                  ? { _tag: "Failed", error }
                  : abandoned
              )
            ),
            provider.stream(request).pipe(
              Stream.mapChunks((chunk) => {
                for (const item of chunk) chunks.push(item)
                return chunk
              }),
              Stream.tapError((e) => Effect.sync(() => error = e)),
              // Only a stream read to its end is stored; one its caller left early is not known to be complete.
              Stream.concat(Stream.execute(Effect.suspend(() => {
                entry = { _tag: "Chunks", chunks }
                return storeIfAllowed(k, entry, call)
              })))
            )
          )
        })
      )
    }))

  const embed = (input: EmbeddingRequest): Effect.Effect<EmbeddingResponse, LlmError> =>
    Effect.flatMap(FiberRef.get(currentOptions), (call) => {
      const checked = LlmProvider.validateEmbeddingRequest(info.name, input)
      if (Either.isLeft(checked)) return Effect.fail(checked.left)
      const request = checked.right
      return call.skip
        ? provider.embed(request)
        : through(embedKey(request), call, provider.embed(request), entryToEmbeddings, (response) => ({
          _tag: "Embeddings",
          response
        }))
    })

  return { info, chat, stream, embed }
}

/**
 * Wraps the `LlmProvider` in context with the `ResponseCache` storage in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: Options
): Effect.Effect<LlmProvider.Service, never, LlmProvider.LlmProvider | ResponseCache> =>
  Effect.map(
    Effect.all([LlmProvider.LlmProvider, ResponseCache]),
    ([provider, store]) => cached(provider, store, options)
  )

/**
 * The decorator as a layer with options: an `LlmProvider` that caches the `LlmProvider` it is given.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options?: Options
): Layer.Layer<LlmProvider.LlmProvider, never, LlmProvider.LlmProvider | ResponseCache> =>
  Layer.effect(LlmProvider.LlmProvider, make(options))

/**
 * The decorator as a layer: `ResponseCache.layer.pipe(Layer.provide(providerLayer),
 * Layer.provide(ResponseCache.layerMemory()))`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<LlmProvider.LlmProvider, never, LlmProvider.LlmProvider | ResponseCache> = layerWith()
