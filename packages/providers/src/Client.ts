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
  EmbeddingResponse,
  InvalidRequestError
} from "@llm-api-router/core"
import { ChatStream, Http, LlmProvider } from "@llm-api-router/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { ChunkIterator, Runner } from "./internal/client.js"
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
 * The response cache's counters.
 *
 * @since 0.1.0
 * @category models
 */
export interface CacheStats {
  readonly backend: string
  readonly size: number
  readonly hits: number
  readonly misses: number
  readonly hitRate: number
}

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
 * @since 0.1.0
 * @category models
 */
export interface Completions {
  create(params: ChatCompletionCreateParamsStreaming, options?: RequestOptions): Promise<ChatCompletionStream>
  create(params: ChatCompletionCreateParamsNonStreaming, options?: RequestOptions): Promise<ChatCompletion>
  create(params: ChatCompletionCreateParams, options?: RequestOptions): Promise<ChatCompletion | ChatCompletionStream>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Embeddings {
  create(params: EmbeddingRequest, options?: RequestOptions): Promise<EmbeddingResponse>
}

// No cache is wired in yet: these are the counters of "no cache".
const noCacheStats: CacheStats = { backend: "none", size: 0, hits: 0, misses: 0, hitRate: 0 }

const makeStream = (iterator: ChunkIterator<ChatCompletionChunk>): ChatCompletionStream => ({
  [Symbol.asyncIterator]: () => iterator,
  toCompletion: async () => {
    const accumulator = ChatStream.makeAccumulator()
    for await (const chunk of iterator) accumulator.push(chunk)
    return accumulator.result()
  }
})

/**
 * A client for one provider.
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
  #layer: Layer.Layer<LlmProvider.LlmProvider, InvalidRequestError> | undefined

  /**
   * @throws InvalidRequestError when the config is invalid (`param` names the field)
   */
  constructor(config: ProviderConfig.ProviderConfig) {
    const resolved = ProviderConfig.validate(config)
    if (Either.isLeft(resolved)) {
      // Built inside a fiber: point the stack at the caller's `new Client(…)` instead.
      Error.captureStackTrace(resolved.left, Client)
      throw resolved.left
    }
    const { baseUrl, defaultModel, http, provider } = resolved.right
    this.provider = { name: provider, baseUrl, defaultModel }
    this.#runtime = ManagedRuntime.make(
      ProviderFactory.fromResolved(resolved.right).pipe(Layer.provide(Http.layer(http)))
    )
    const runner = new Runner(this.#runtime, provider)
    this.#runner = runner

    const create = (
      params: ChatCompletionCreateParams,
      options?: RequestOptions
    ): Promise<ChatCompletion | ChatCompletionStream> => {
      // Plain JS callers may pass anything: what is not an object goes to validation as it is, and is rejected there.
      if (typeof params !== "object" || params === null) return runner.run(LlmProvider.chat(params), options?.signal)
      const { stream, ...request } = params
      if (stream !== true) return runner.run(LlmProvider.chat(request), options?.signal)
      const iterator = new ChunkIterator(runner, LlmProvider.stream(request), options?.signal)
      return iterator.start().then(() => makeStream(iterator))
    }
    this.chat = { completions: { create } as Completions }
    this.embeddings = { create: (params, options) => runner.run(LlmProvider.embed(params), options?.signal) }
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
   * The response cache's counters. No cache is wired in yet, so this is always
   * `{ backend: "none", size: 0, hits: 0, misses: 0, hitRate: 0 }`.
   *
   * @since 0.1.0
   */
  cacheStats(): CacheStats {
    return noCacheStats
  }

  /**
   * Empties the response cache. No cache is wired in yet, so there is nothing to empty.
   *
   * @since 0.1.0
   */
  clearCache(): Promise<void> {
    return Promise.resolve()
  }

  /**
   * Stops the calls and streams in flight, then releases the provider and destroys the connection pool.
   * Idempotent.
   *
   * @since 0.1.0
   */
  close(): Promise<void> {
    return this.#runner.close()
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
