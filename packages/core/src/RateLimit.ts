/**
 * Client-side rate limits: requests per minute and tokens per minute, checked before a request is sent.
 *
 * A limit is kept by a `Limiter`, in memory by default (`layerMemory`), or shared by many processes through Redis
 * (`RedisRateLimit.layer` from `@llm-api-router/cache-redis`). It is built on `@effect/experimental`'s
 * `RateLimiter` (token buckets), which this module keeps out of the public API.
 *
 * Tokens are estimated before sending as a quarter of the characters of the request's text (message contents,
 * tool arguments and tool definitions, as JSON), the usual rule of thumb for English and code; the completion's
 * tokens, and any underestimate of the prompt, are debited when the provider reports its usage. An overestimate is
 * not refunded.
 *
 * With `onExceeded: "delay"` (the default) a request over the limit waits until it fits (on `Clock`); with
 * `"fail"` it fails at once with a `RateLimitError` whose `code` is `"client_rate_limit"` and whose `retryAfter`
 * says when it would fit, before any I/O.
 *
 * @since 0.1.0
 */
import * as RateLimiter from "@effect/experimental/RateLimiter"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { ChatCompletionRequest, EmbeddingRequest, Usage } from "./Domain.js"
import { ProviderError, RateLimitError } from "./LlmError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Requests per minute. */
  readonly requestsPerMinute?: number | undefined
  /** Tokens per minute (prompt and completion), estimated before sending and corrected by the reported usage. */
  readonly tokensPerMinute?: number | undefined
  /** `"delay"` (default): wait until the request fits. `"fail"`: fail with a `RateLimitError` before any I/O. */
  readonly onExceeded?: "delay" | "fail" | undefined
}

/**
 * The `code` of a `RateLimitError` raised by a client-side limit rather than by a provider.
 *
 * @since 0.1.0
 * @category constants
 */
export const clientRateLimitCode = "client_rate_limit"

/**
 * Where limits are counted. One `Limiter` serves many keys (one per router member or provider).
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Takes `tokens` from the bucket `key` holding `limit` per `window`. With `"delay"` it answers how long to wait
   * (it does not wait); with `"fail"` it fails with the wait when the bucket is short, taking nothing.
   */
  readonly consume: (options: {
    readonly key: string
    readonly limit: number
    readonly window: Duration.DurationInput
    readonly tokens: number
    readonly onExceeded: "delay" | "fail"
  }) => Effect.Effect<Duration.Duration, Exceeded | StoreFailure>
}

/**
 * @since 0.1.0
 * @category errors
 */
export interface Exceeded {
  readonly _tag: "Exceeded"
  readonly retryAfter: Duration.Duration
}

/**
 * @since 0.1.0
 * @category errors
 */
export interface StoreFailure {
  readonly _tag: "StoreFailure"
  readonly message: string
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Limiter extends Context.Tag("@llm-api-router/core/RateLimit/Limiter")<Limiter, Service>() {}

/**
 * A `Limiter` over a `@effect/experimental` `RateLimiterStore` layer (what `RedisRateLimit` passes in).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromStore = <E, R>(
  store: Layer.Layer<RateLimiter.RateLimiterStore, E, R>
): Layer.Layer<Limiter, E, R> =>
  Layer.effect(
    Limiter,
    Effect.map(RateLimiter.make, (limiter): Service => ({
      consume: (options) =>
        limiter.consume({ ...options, algorithm: "token-bucket" }).pipe(
          Effect.map((result) => result.delay),
          Effect.catchTag("RateLimiterError", (error): Effect.Effect<never, Exceeded | StoreFailure> =>
            error.reason === "Exceeded"
              ? Effect.fail({ _tag: "Exceeded", retryAfter: error.retryAfter })
              : Effect.fail({ _tag: "StoreFailure", message: error.message }))
        )
    }))
  ).pipe(Layer.provide(store))

/**
 * An in-memory `Limiter`: limits hold within this process.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Limiter> = layerFromStore(RateLimiter.layerStoreMemory)

/**
 * Builds an in-memory `Limiter` (a fresh one per call).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<Service> = Effect.map(
  Layer.build(layerMemory).pipe(Effect.scoped),
  Context.get(Limiter)
)

const charsOfJson = (value: unknown): number => value === undefined ? 0 : JSON.stringify(value).length

/**
 * The estimated prompt tokens of a chat request: a quarter of the characters of its text, rounded up, at least 1.
 *
 * @since 0.1.0
 * @category estimation
 */
export const estimateChatTokens = (request: ChatCompletionRequest): number => {
  let chars = 0
  for (const message of request.messages) {
    const content = message.content
    if (typeof content === "string") chars += content.length
    else if (Array.isArray(content)) {
      for (const part of content) {
        if (part.type === "text") chars += part.text.length
      }
    }
    if (message.role === "assistant" && message.tool_calls !== undefined) chars += charsOfJson(message.tool_calls)
  }
  if (request.tools !== undefined) chars += charsOfJson(request.tools)
  return Math.max(1, Math.ceil(chars / 4))
}

/**
 * The estimated tokens of an embeddings request: a quarter of the characters of its input, at least 1.
 *
 * @since 0.1.0
 * @category estimation
 */
export const estimateEmbeddingTokens = (request: EmbeddingRequest): number => {
  const input = request.input
  let chars = 0
  if (typeof input === "string") chars = input.length
  else for (const item of input as ReadonlyArray<unknown>) chars += typeof item === "string" ? item.length : 1
  return Math.max(1, Math.ceil(chars / 4))
}

/**
 * The limits of one key (a router member, a provider), over a `Limiter`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Gate {
  /** Waits until a request of `estimate` tokens fits (or fails, with `onExceeded: "fail"`), then takes it. */
  readonly admit: (estimate: number) => Effect.Effect<void, RateLimitError | ProviderError>
  /** Debits what the reported usage shows beyond the estimate. */
  readonly settle: (estimate: number, usage: Usage | null | undefined) => Effect.Effect<void>
}

const minute = Duration.minutes(1)

/**
 * The gate of `key` under `options`. `provider` names who is limited in the `RateLimitError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const gate = (limiter: Service, key: string, provider: string, options: Options): Gate => {
  const onExceeded = options.onExceeded ?? "delay"
  const rpm = options.requestsPerMinute
  const tpm = options.tokensPerMinute

  const exceeded = (what: string, retryAfter: Duration.Duration) =>
    new RateLimitError({
      provider,
      code: clientRateLimitCode,
      retryAfter: Option.some(retryAfter),
      message: `${provider}: client-side ${what} limit reached; it fits again in ${Duration.format(retryAfter)}`
    })

  const take = (what: string, limit: number, suffix: string, tokens: number) =>
    limiter.consume({ key: `${key}:${suffix}`, limit, window: minute, tokens: Math.min(tokens, limit), onExceeded })
      .pipe(
        Effect.catchAll((error): Effect.Effect<never, RateLimitError | ProviderError> =>
          error._tag === "Exceeded"
            ? Effect.fail(exceeded(what, error.retryAfter))
            : Effect.fail(new ProviderError({ provider, message: `rate limit store: ${error.message}` }))
        )
      )

  const admit = (estimate: number): Effect.Effect<void, RateLimitError | ProviderError> =>
    Effect.gen(function*() {
      let delay = Duration.zero
      if (rpm !== undefined) delay = Duration.max(delay, yield* take("requests-per-minute", rpm, "rpm", 1))
      if (tpm !== undefined) delay = Duration.max(delay, yield* take("tokens-per-minute", tpm, "tpm", estimate))
      if (Duration.greaterThan(delay, Duration.zero)) yield* Effect.sleep(delay)
    })

  const settle = (estimate: number, usage: Usage | null | undefined): Effect.Effect<void> => {
    if (tpm === undefined || usage == null) return Effect.void
    const extra = usage.total_tokens - estimate
    if (!(extra > 0)) return Effect.void
    // Debited as an overflow: the next requests wait for it; this one is already done.
    return limiter.consume({
      key: `${key}:tpm`,
      limit: tpm,
      window: minute,
      tokens: Math.min(extra, tpm),
      onExceeded: "delay"
    })
      .pipe(Effect.ignore)
  }

  return { admit, settle }
}

/**
 * Whether `options` limits anything.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isLimited = (options: Options | undefined): options is Options =>
  options !== undefined && (options.requestsPerMinute !== undefined || options.tokensPerMinute !== undefined)
