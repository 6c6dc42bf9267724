/**
 * The Promise facade, for plain async code: `new Client(config)` and then the `openai` package's call shapes.
 *
 * It is a thin shell over the Effect API: the config picks a provider layer through `ProviderFactory`, the layer and
 * one connection pool are built once (on first use) into a `ManagedRuntime`, and each call runs
 * `LlmProvider.chat / stream / embed` on it. A rejected promise carries the library's error itself
 * (`AuthenticationError`, `RateLimitError`, …: `instanceof` and `_tag` work), never Effect's `FiberFailure`.
 *
 * @example
 * ```ts
 * import { Client } from "@llm-api-router/providers"
 *
 * await using client = new Client({ provider: "openai", defaultModel: "gpt-4o-mini" }) // reads OPENAI_API_KEY
 * const res = await client.chat.completions.create({ messages: [{ role: "user", content: "hi" }] })
 * const stream = await client.chat.completions.create({ messages, stream: true })
 * for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta.content ?? "")
 * ```
 *
 * @since 0.1.0
 */
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  EmbeddingRequest,
  EmbeddingResponse
} from "@llm-api-router/core"
import {
  ChatStream,
  Http,
  InvalidRequestError,
  isLlmError,
  LlmProvider,
  ResponseCache,
  Structured,
  Tool,
  Toolkit
} from "@llm-api-router/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type * as Stream from "effect/Stream"
import { type CallOptions, ChunkIterator, readOptions, rejection, Runner, splitStream } from "./internal/client.js"
import * as ProviderConfig from "./ProviderConfig.js"
import * as ProviderFactory from "./ProviderFactory.js"

/**
 * A chat request that answers with one `ChatCompletion`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChatCompletionCreateParamsNonStreaming extends ChatCompletionRequest {
  readonly stream?: false | null | undefined
}

/**
 * A chat request that answers with a stream of `ChatCompletionChunk`s.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChatCompletionCreateParamsStreaming extends ChatCompletionRequest {
  readonly stream: true
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ChatCompletionCreateParams extends ChatCompletionRequest {
  readonly stream?: boolean | null | undefined
}

/**
 * Per-call options. Aborting `signal` interrupts the call and closes its HTTP request; the promise (or the
 * stream's iterator) then rejects with the signal's `reason`, by default a `DOMException` named `"AbortError"`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestOptions {
  readonly signal?: AbortSignal | undefined
  /**
   * The response cache for this call: `false` skips it (no read, no write); `{ ttl }` keeps this answer for `ttl`;
   * `{ cacheLength: true }` stores it even when cut by `length`.
   */
  readonly cache?: false | ResponseCache.CallOptions | undefined
}

/**
 * A streamed answer. Iterate it once with `for await`; leaving the loop early (`break`, `return`, a throw) closes
 * the HTTP request. An error after the first chunk is thrown from the iterator, as the library's error itself. The
 * stream is pulled only as it is read: one that is neither read to its end nor left keeps its connection until the
 * signal aborts or the client closes.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChatCompletionStream extends AsyncIterable<ChatCompletionChunk> {
  /**
   * Reads the rest of the stream and folds it into the `ChatCompletion` the non-streaming call would have
   * returned (see `ChatStream.toCompletion`). Call it instead of iterating, not after.
   */
  readonly toCompletion: () => Promise<ChatCompletion>
}

/**
 * The response cache's counters (`backend: "none"` without a cache; `maxSize` is `undefined` for Redis).
 *
 * @since 0.1.0
 * @category models
 */
export interface CacheStats extends ResponseCache.CacheStats {}

/**
 * What the client talks to, from its config.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientInfo {
  readonly name: string
  readonly baseUrl: string | undefined
  readonly defaultModel: string | undefined
}

/**
 * `parse`'s params: a chat request with the `schema` of the answer (an Effect Schema or a Standard Schema) and
 * `Structured.generate`'s options (`jsonSchema`, `schemaName`, `schemaDescription`, `strict`, `repair`, `mode`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChatCompletionParseParams<A> extends Structured.Options<A> {}

/**
 * A completion whose first choice's message carries the decoded answer as `parsed` (`null` on other choices).
 *
 * @since 0.1.0
 * @category models
 */
export interface ParsedChatCompletion<A> extends Omit<ChatCompletion, "choices"> {
  readonly choices: ReadonlyArray<
    Omit<ChatCompletion["choices"][number], "message"> & {
      readonly message: ChatCompletion["choices"][number]["message"] & { readonly parsed: A | null }
    }
  >
}

/**
 * A tool for `runTools`: `parameters` an Effect Schema, a Standard Schema (with `jsonSchema` beside it unless it
 * exposes one) or a plain JSON Schema; `run` an async function of the decoded arguments.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunnableTool<A = any> extends Tool.AsyncOptions<A> {
  readonly name: string
}

/**
 * `runTools`' params: a chat request, its `tools`, and `Toolkit.run`'s options.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunToolsParams extends Omit<Toolkit.RunOptions<ReadonlyArray<Tool.Any>>, "toolkit"> {
  readonly tools: ReadonlyArray<RunnableTool>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Completions {
  create(params: ChatCompletionCreateParamsStreaming, options?: RequestOptions): Promise<ChatCompletionStream>
  create(params: ChatCompletionCreateParamsNonStreaming, options?: RequestOptions): Promise<ChatCompletion>
  create(params: ChatCompletionCreateParams, options?: RequestOptions): Promise<ChatCompletion | ChatCompletionStream>
  /** `Structured.generate`: the answer decoded by `schema`, as `choices[0].message.parsed`. */
  parse<A>(params: ChatCompletionParseParams<A>, options?: RequestOptions): Promise<ParsedChatCompletion<A>>
  /** `Toolkit.run` over `tools`: the same result. */
  runTools(params: RunToolsParams, options?: RequestOptions): Promise<Toolkit.RunResult>
}

const parsedCompletion = <A>(result: Structured.Result<A>): ParsedChatCompletion<A> => ({
  ...result.completion,
  choices: result.completion.choices.map((choice, i) => ({
    ...choice,
    message: { ...choice.message, parsed: i === 0 ? result.value : null }
  }))
})

// What is not a list of tools, or not a tool, is passed on as it is, for the toolkit's check to reject.
const toolkitOf = (tools: ReadonlyArray<RunnableTool>): Toolkit.Toolkit =>
  Array.isArray(tools)
    ? Toolkit.make(
      ...tools.map((tool) =>
        typeof tool === "object" && tool !== null ? Tool.makeAsync(tool.name, tool) : tool as never
      )
    )
    : { _tag: "Toolkit", tools: tools as never }

/**
 * @since 0.1.0
 * @category models
 */
export interface Embeddings {
  create(params: EmbeddingRequest, options?: RequestOptions): Promise<EmbeddingResponse>
}

const noCacheStats: CacheStats = { backend: "none", size: 0, maxSize: 0, hits: 0, misses: 0, hitRate: 0 }

// The optional Redis package, loaded only when a config asks for it.
const redisPackage = "@llm-api-router/cache-redis"

const cacheStorage = (
  provider: string,
  cache: ProviderConfig.ResolvedCache
): Layer.Layer<ResponseCache.ResponseCache, InvalidRequestError> => {
  if (Layer.isLayer(cache)) return cache as Layer.Layer<ResponseCache.ResponseCache, InvalidRequestError>
  if (cache.backend === "memory") return ResponseCache.layerMemory({ ttl: cache.ttl, maxSize: cache.maxSize })
  const options = { url: cache.url, prefix: cache.prefix, ttl: cache.ttl }
  return Layer.unwrapEffect(
    Effect.tryPromise({
      try: () =>
        import(redisPackage) as Promise<
          { readonly RedisCache: { readonly layer: (o: typeof options) => Layer.Layer<ResponseCache.ResponseCache> } }
        >,
      catch: (error) =>
        new InvalidRequestError({
          provider,
          source: "client",
          param: "cache",
          message: `cache.backend "redis" needs the optional package ${redisPackage}, which could not be loaded ` +
            `(install it: pnpm add ${redisPackage}): ${error instanceof Error ? error.message : String(error)}`
        })
    }).pipe(Effect.map((module) => module.RedisCache.layer(options)))
  )
}

const cacheOptions = (cache: ProviderConfig.ResolvedCache): ResponseCache.Options | undefined =>
  Layer.isLayer(cache) ? undefined : {
    shareAcrossCredentials: cache.shareAcrossCredentials,
    identityHeaders: cache.identityHeaders,
    identitySecret: cache.identitySecret
  }

// The options are checked (see `readOptions`): `withOptions` cannot throw here.
const withCacheOptions = <X extends Effect.Effect<any, any, any> | Stream.Stream<any, any, any>>(
  self: X,
  options: CallOptions
): X => {
  const cache = options.cache
  if (cache === undefined) return self
  return cache === false ? ResponseCache.skip(self) : ResponseCache.withOptions(self, cache)
}

// Params read while building the call (a tool list, a schema) may be hostile: a throw there rejects, as our error.
const safely = <A>(provider: string, f: () => Promise<A>): Promise<A> => {
  try {
    return f()
  } catch (e) {
    return Promise.reject(
      isLlmError(e) ? e : new InvalidRequestError({
        provider,
        source: "client",
        message: "invalid request: the params could not be read"
      })
    )
  }
}

// The params' own fields, read once (a Proxy or an accessor that throws does so here, inside `safely`); what is not an
// object becomes an empty one, which validation then rejects for its missing messages.
const readParams = (params: unknown): any => typeof params === "object" && params !== null ? { ...params } : {}

// Validation must not throw out of the constructor with anything but our error.
const validateConfig = (
  config: unknown
): Either.Either<ProviderConfig.Resolved | ProviderConfig.ResolvedRouter, InvalidRequestError> => {
  try {
    return ProviderConfig.isRouterConfig(config)
      ? ProviderConfig.validateRouter(config)
      : ProviderConfig.validate(config)
  } catch {
    return Either.left(
      new InvalidRequestError({
        provider: "client",
        source: "client",
        message: "invalid config: it could not be read"
      })
    )
  }
}

const makeStream = (iterator: ChunkIterator<ChatCompletionChunk>): ChatCompletionStream => ({
  [Symbol.asyncIterator]: () => iterator,
  toCompletion: async () => {
    const accumulator = ChatStream.makeAccumulator()
    for await (const chunk of iterator) accumulator.push(chunk)
    return accumulator.result()
  }
})

/**
 * A client for one provider, or, with `providers: [configA, configB]` and a `strategy`, for several behind a
 * `Router` (fallback, balancing, cooldowns, hedging, rate limits: see `ProviderConfig.RouterConfig`).
 *
 * - The constructor validates the config synchronously and throws the `InvalidRequestError` naming the bad field
 *   (`param`); it builds nothing.
 * - The provider layer and the connection pool (`Http.layer(config.http)`, with `timeout.connect` as its connect
 *   timeout) are built once, on the first call, into one `ManagedRuntime` that every call reuses.
 * - `close()` (or `await using`) stops the calls in flight and destroys the pool; later calls reject with an
 *   `InvalidRequestError` saying the client is closed.
 *
 * @since 0.1.0
 * @category constructors
 */
export class Client implements AsyncDisposable {
  /**
   * `client.chat.completions.create(params, { signal })`: a `ChatCompletion`, or with `stream: true` a
   * {@link ChatCompletionStream}, resolved once the response has started (so a refused key rejects `create`).
   *
   * @since 0.1.0
   */
  readonly chat: { readonly completions: Completions }

  /**
   * `client.embeddings.create(params, { signal })`.
   *
   * @since 0.1.0
   */
  readonly embeddings: Embeddings

  /**
   * The provider's name, base URL (when one is set) and default model.
   *
   * @since 0.1.0
   */
  readonly provider: ClientInfo

  readonly #runner: Runner
  readonly #runtime: ManagedRuntime.ManagedRuntime<LlmProvider.LlmProvider, InvalidRequestError>
  readonly #cache: ManagedRuntime.ManagedRuntime<ResponseCache.ResponseCache, InvalidRequestError> | undefined
  #layer: Layer.Layer<LlmProvider.LlmProvider, InvalidRequestError> | undefined

  /**
   * @throws InvalidRequestError when the config is invalid (`param` names the field)
   */
  constructor(config: ProviderConfig.ProviderConfig | ProviderConfig.RouterConfig) {
    const resolved = validateConfig(config)
    if (Either.isLeft(resolved)) {
      // Built inside a fiber: point the stack at the caller's `new Client(…)` instead.
      Error.captureStackTrace(resolved.left, Client)
      throw resolved.left
    }
    const { baseUrl, defaultModel, http, provider } = resolved.right
    this.provider = { name: provider, baseUrl, defaultModel }
    const providerLayer = ("members" in resolved.right
      ? ProviderFactory.routerLayer(resolved.right)
      : ProviderFactory.fromResolved(resolved.right)).pipe(Layer.provide(Http.layer(http)))
    if (resolved.right.cache === undefined) {
      this.#runtime = ManagedRuntime.make(providerLayer)
    } else {
      // The storage gets its own runtime, so that `cacheStats` / `clearCache` need not build the provider.
      const cache = ManagedRuntime.make(cacheStorage(provider, resolved.right.cache))
      this.#cache = cache
      this.#runtime = ManagedRuntime.make(
        ResponseCache.layerWith(cacheOptions(resolved.right.cache)).pipe(
          Layer.provide(providerLayer),
          Layer.provide(Layer.effect(
            ResponseCache.ResponseCache,
            cache.runtimeEffect.pipe(
              Effect.map((runtime) => Context.get(runtime.context, ResponseCache.ResponseCache))
            )
          ))
        )
      )
    }
    const runner = new Runner(this.#runtime, provider)
    this.#runner = runner

    // Plain JS callers may pass anything, and nothing they pass makes a method throw: bad options reject at once, a
    // bad request is rejected by validation (which runs before anything else), as an `InvalidRequestError`.
    const create = (params: unknown, options?: unknown): Promise<ChatCompletion | ChatCompletionStream> => {
      const checked = readOptions(provider, options)
      if (Either.isLeft(checked)) return Promise.reject(checked.left)
      const { signal } = checked.right
      const split = splitStream(provider, params)
      if (split === undefined) return runner.run(LlmProvider.chat(params as ChatCompletionRequest), signal)
      if (Either.isLeft(split)) return Promise.reject(split.left)
      const request = split.right.request as ChatCompletionRequest
      if (!split.right.stream) return runner.run(withCacheOptions(LlmProvider.chat(request), checked.right), signal)
      const iterator = new ChunkIterator(runner, withCacheOptions(LlmProvider.stream(request), checked.right), signal)
      return iterator.start().then(() => makeStream(iterator))
    }
    const parse = <A>(params: ChatCompletionParseParams<A>, options?: unknown) => {
      const checked = readOptions(provider, options)
      if (Either.isLeft(checked)) return Promise.reject(checked.left)
      return safely(provider, () =>
        runner.run(
          withCacheOptions(
            Effect.map(Structured.generate(readParams(params)), parsedCompletion),
            checked.right
          ),
          checked.right.signal
        ))
    }
    const runTools = (params: RunToolsParams, options?: unknown) => {
      const checked = readOptions(provider, options)
      if (Either.isLeft(checked)) return Promise.reject(checked.left)
      return safely(provider, () => {
        const { tools, ...rest } = readParams(params)
        return runner.run(
          withCacheOptions(Toolkit.run({ ...rest, toolkit: toolkitOf(tools) }), checked.right),
          checked.right.signal
        )
      })
    }
    this.chat = { completions: { create, parse, runTools } as Completions }
    this.embeddings = {
      create: (params: unknown, options?: unknown) => {
        const checked = readOptions(provider, options)
        if (Either.isLeft(checked)) return Promise.reject(checked.left)
        return runner.run(
          withCacheOptions(LlmProvider.embed(params as EmbeddingRequest), checked.right),
          checked.right.signal
        )
      }
    }
  }

  /**
   * The client's provider as a layer, for code that mixes in the Effect API: it shares this client's runtime (one
   * provider, one pool) and is usable until the client is closed. The same value on every access, so that layers
   * memoise it.
   *
   * @since 0.1.0
   */
  get layer(): Layer.Layer<LlmProvider.LlmProvider, InvalidRequestError> {
    return this.#layer ??= Layer.effect(
      LlmProvider.LlmProvider,
      Effect.map(this.#runtime.runtimeEffect, (runtime) => Context.get(runtime.context, LlmProvider.LlmProvider))
    )
  }

  /**
   * The response cache's counters: `{ backend, size, maxSize, hits, misses, hitRate }`. A promise, because a Redis
   * cache keeps them in Redis (shared by every process). Without a cache: `backend: "none"` and zeros.
   *
   * @since 0.1.0
   */
  cacheStats(): Promise<CacheStats> {
    return this.#onCache(ResponseCache.stats, noCacheStats)
  }

  /**
   * Empties the response cache and resets its counters (for Redis: this prefix's keys only).
   *
   * @since 0.1.0
   */
  clearCache(): Promise<void> {
    return this.#onCache(ResponseCache.clear, undefined)
  }

  // Runs on the cache's own runtime; a failure (the cache's layer could not be built) rejects with our error itself.
  #onCache<A>(effect: Effect.Effect<A, never, ResponseCache.ResponseCache>, none: A): Promise<A> {
    const cache = this.#cache
    if (cache === undefined) return Promise.resolve(none)
    if (this.#runner.closed) return Promise.reject(this.#runner.closedError())
    return cache.runPromiseExit(effect).then((exit) =>
      Exit.isSuccess(exit) ? exit.value : Promise.reject(rejection(exit.cause, undefined))
    )
  }

  /**
   * Stops the calls and streams in flight, then releases the provider and destroys the connection pool.
   * Idempotent.
   *
   * @since 0.1.0
   */
  close(): Promise<void> {
    const cache = this.#cache
    return this.#runner.close().then(() => cache?.dispose())
  }

  /**
   * `await using client = new Client(…)` closes it at the end of the block.
   *
   * @since 0.1.0
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /**
   * @since 0.1.0
   */
  toJSON(): unknown {
    return {
      _id: "Client",
      provider: this.provider.name,
      baseUrl: this.provider.baseUrl,
      defaultModel: this.provider.defaultModel
    }
  }

  /**
   * @since 0.1.0
   */
  toString(): string {
    return `Client(${this.provider.name})`
  }

  /**
   * @since 0.1.0
   */
  [NodeInspectSymbol](): unknown {
    return this.toJSON()
  }
}
