/**
 * Spans and metrics for every provider call, named after the OpenTelemetry GenAI semantic conventions.
 *
 * `LlmProvider.make` runs each call through {@link trackCall} / {@link trackStream}, so every provider, and every
 * decorator built on providers (the router, the cache), reports the same way:
 *
 * - a span (`LlmProvider.chat`, `LlmProvider.stream`, `LlmProvider.embed`) with `gen_ai.provider.name` (and the
 *   deprecated `gen_ai.system`, for backends that still read it), `gen_ai.operation.name`, `gen_ai.request.model`,
 *   `gen_ai.response.model`, `gen_ai.response.id`, `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`;
 *   the router adds `llm.router.member` and `llm.router.attempt`, the cache `llm.cache.hit`;
 * - the metrics below, tagged with `provider`, `model`, `operation` and, for outcomes, `outcome` (`"ok"`, the
 *   error's tag, or `"interrupted"`).
 *
 * Metrics are Effect `Metric`s: read them with `Metric.value`, or export them with `@effect/opentelemetry`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"
import * as Stream from "effect/Stream"
import type { ChatCompletion, ChatCompletionChunk, EmbeddingResponse, Usage } from "./Domain.js"
import type { LlmError } from "./LlmError.js"

/**
 * Attribute keys of our own, next to the GenAI ones.
 *
 * @since 0.1.0
 * @category attributes
 */
export const attributes = {
  routerName: "llm.router.name",
  routerMember: "llm.router.member",
  routerAttempt: "llm.router.attempt",
  cacheHit: "llm.cache.hit"
} as const

/**
 * Calls, by `provider`, `model`, `operation` (`chat`, `stream`, `embeddings`) and `outcome`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const requests = Metric.counter("llm_requests_total", {
  description: "LLM calls, by provider, model, operation and outcome",
  incremental: true
})

const latencyBoundaries = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000]

/**
 * The duration of whole calls (a stream: until its end), in milliseconds, by `provider` and `operation`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const latency = Metric.timerWithBoundaries("llm_request_duration", latencyBoundaries)

/**
 * The time from the start of a stream to its first chunk, in milliseconds, by `provider`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const timeToFirstChunk = Metric.timerWithBoundaries("llm_time_to_first_chunk", latencyBoundaries)

/**
 * Tokens reported by providers, by `provider`, `model` and `type` (`input` or `output`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const tokens = Metric.counter("llm_tokens_total", { description: "Tokens reported", incremental: true })

/**
 * The distribution of tokens per call, by `type`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const tokensPerCall = Metric.histogram(
  "llm_tokens_per_call",
  MetricBoundaries.exponential({ start: 16, factor: 2, count: 14 })
)

/**
 * Retries made by a provider's retry policy (attempts after the first), by `provider`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const retries = Metric.counter("llm_retries_total", { description: "Retried attempts", incremental: true })

/**
 * Router fallbacks, by `router`, `from` (the member that failed) and `reason` (its error's tag).
 *
 * @since 0.1.0
 * @category metrics
 */
export const fallbacks = Metric.counter("llm_router_fallbacks_total", {
  description: "Router fallbacks to the next member",
  incremental: true
})

/**
 * Hedged requests (a second member asked because the first was slow), by `router` and `member` (the slow one).
 *
 * @since 0.1.0
 * @category metrics
 */
export const hedges = Metric.counter("llm_router_hedges_total", { description: "Hedged requests", incremental: true })

/**
 * Router members put in cooldown, by `router` and `member`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const cooldowns = Metric.counter("llm_router_cooldowns_total", {
  description: "Members put in cooldown",
  incremental: true
})

/**
 * Response cache lookups, by `provider` and `result` (`hit` or `miss`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const cacheLookups = Metric.counter("llm_cache_lookups_total", {
  description: "Response cache lookups",
  incremental: true
})

/**
 * Counts one cache lookup and marks the current span with `llm.cache.hit`.
 *
 * @since 0.1.0
 * @category recording
 */
export const recordCacheLookup = (provider: string, hit: boolean): Effect.Effect<void> =>
  Effect.zipRight(
    Metric.increment(Metric.tagged(Metric.tagged(cacheLookups, "provider", provider), "result", hit ? "hit" : "miss")),
    Effect.annotateCurrentSpan(attributes.cacheHit, hit)
  )

/**
 * What identifies a call in its span and metrics.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallInfo {
  readonly provider: string
  readonly model: string
  readonly operation: "chat" | "stream" | "embeddings"
}

const spanAttributes = (call: CallInfo): Record<string, unknown> => ({
  "gen_ai.provider.name": call.provider,
  "gen_ai.system": call.provider,
  "gen_ai.operation.name": call.operation === "embeddings" ? "embeddings" : "chat",
  "gen_ai.request.model": call.model
})

const outcomeOf = (exit: Exit.Exit<unknown, LlmError>): string => {
  if (Exit.isSuccess(exit)) return "ok"
  const failure = exit.cause
  // A typed failure names its tag; an interruption (a hedge loser, a caller that left) is its own outcome.
  if (failure._tag === "Fail") return failure.error._tag
  return Exit.isInterrupted(exit) ? "interrupted" : "defect"
}

// Tagging a metric builds and hashes a new key: done once per label set, not once per call.
const memo = new Map<string, any>()
const memoised = <A>(key: string, make: () => A): A => {
  let value = memo.get(key)
  if (value === undefined) {
    if (memo.size > 10_000) memo.clear()
    value = make()
    memo.set(key, value)
  }
  return value
}

const recordOutcome = (call: CallInfo, outcome: string, millis: number): Effect.Effect<void> => {
  const counted = memoised(
    `r\u0000${call.provider}\u0000${call.model}\u0000${call.operation}\u0000${outcome}`,
    () =>
      Metric.increment(
        Metric.taggedWithLabels(requests, [
          MetricLabel.make("provider", call.provider),
          MetricLabel.make("model", call.model),
          MetricLabel.make("operation", call.operation),
          MetricLabel.make("outcome", outcome)
        ])
      )
  )
  const timer = memoised(`l\u0000${call.provider}\u0000${call.operation}`, () =>
    Metric.taggedWithLabels(latency, [
      MetricLabel.make("provider", call.provider),
      MetricLabel.make("operation", call.operation)
    ]))
  return Effect.zipRight(counted, Metric.update(timer, Duration.millis(millis)))
}

const recordUsage = (call: CallInfo, usage: Usage | null | undefined): Effect.Effect<void> => {
  if (usage == null) return Effect.void
  const input = usage.prompt_tokens
  const output = usage.completion_tokens ?? 0
  const metrics = memoised(`u\u0000${call.provider}\u0000${call.model}`, () => {
    const tagged = Metric.tagged(Metric.tagged(tokens, "provider", call.provider), "model", call.model)
    return {
      input: Metric.tagged(tagged, "type", "input"),
      output: Metric.tagged(tagged, "type", "output"),
      perCallInput: Metric.tagged(tokensPerCall, "type", "input"),
      perCallOutput: Metric.tagged(tokensPerCall, "type", "output")
    }
  })
  return Effect.all([
    Metric.incrementBy(metrics.input, input),
    Metric.incrementBy(metrics.output, output),
    Metric.update(metrics.perCallInput, input),
    Metric.update(metrics.perCallOutput, output),
    Effect.annotateCurrentSpan({ "gen_ai.usage.input_tokens": input, "gen_ai.usage.output_tokens": output })
  ], { discard: true })
}

const recordResponse = (
  call: CallInfo,
  response: { readonly id?: string | undefined; readonly model: string; readonly usage?: Usage | null | undefined }
): Effect.Effect<void> =>
  Effect.zipRight(
    Effect.annotateCurrentSpan(
      response.id !== undefined
        ? { "gen_ai.response.model": response.model, "gen_ai.response.id": response.id }
        : { "gen_ai.response.model": response.model }
    ),
    recordUsage(call, response.usage)
  )

/**
 * Counts the attempts of `self` (each run after the first is a retry) into {@link retries}. Put it inside a retry
 * policy: `trackAttempts(call, attempt).pipe(Retry.retry(…))`.
 *
 * @since 0.1.0
 * @category tracking
 */
export const trackAttempts = <A, E, R>(call: CallInfo, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const retried = Metric.increment(Metric.tagged(retries, "provider", call.provider))
  return Effect.suspend(() => {
    let attempts = 0
    return Effect.suspend(() => ++attempts > 1 ? Effect.zipRight(retried, self) : self)
  }) as Effect.Effect<A, E, R>
}

/**
 * The stream form of {@link trackAttempts}: every run of `self` after the first is a retry.
 *
 * @since 0.1.0
 * @category tracking
 */
export const trackStreamAttempts = <A, E, R>(call: CallInfo, self: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> => {
  const retried = Metric.increment(Metric.tagged(retries, "provider", call.provider))
  let attempts = 0
  // (not `Stream.zipRight`, which zips element-wise and would cut the retried stream to one element)
  return Stream.unwrap(Effect.suspend(() => ++attempts > 1 ? Effect.as(retried, self) : Effect.succeed(self)))
}

/**
 * Runs a chat or embeddings call in its span and records its outcome, duration and usage.
 *
 * @since 0.1.0
 * @category tracking
 */
export const trackCall = <A extends ChatCompletion | EmbeddingResponse, R>(
  call: CallInfo,
  self: Effect.Effect<A, LlmError, R>
): Effect.Effect<A, LlmError, R> =>
  Effect.flatMap(Clock.currentTimeMillis, (start) =>
    self.pipe(
      Effect.tap((response) => recordResponse(call, response as ChatCompletion)),
      Effect.onExit((exit) =>
        Effect.flatMap(Clock.currentTimeMillis, (end) => recordOutcome(call, outcomeOf(exit), end - start))
      )
    )).pipe(
      Effect.withSpan(`LlmProvider.${call.operation === "embeddings" ? "embed" : "chat"}`, {
        kind: "client",
        captureStackTrace: false,
        attributes: spanAttributes(call)
      })
    )

/**
 * Runs a stream in its span and records its time to first chunk, its outcome and duration (at its end, failure
 * or interruption) and the usage of its usage chunk. Per chunk it costs one comparison.
 *
 * @since 0.1.0
 * @category tracking
 */
export const trackStream = <R>(
  call: CallInfo,
  self: Stream.Stream<ChatCompletionChunk, LlmError, R>
): Stream.Stream<ChatCompletionChunk, LlmError, R> =>
  Stream.unwrap(Effect.map(Clock.currentTimeMillis, (start) => {
    let first = true
    let annotated = false
    return self.pipe(
      // One look per batch; an effect only for the batches that hold the first chunk or the usage chunk.
      Stream.mapChunksEffect((chunks) => {
        let effect: Effect.Effect<void> | undefined = undefined
        for (const chunk of chunks) {
          let step: Effect.Effect<void> | undefined = undefined
          if (first) {
            first = false
            annotated = true
            step = Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.zipRight(
                Metric.update(Metric.tagged(timeToFirstChunk, "provider", call.provider), Duration.millis(now - start)),
                chunk.usage != null ? recordResponse(call, chunk) : Effect.annotateCurrentSpan(responseOf(chunk))
              ))
          } else if (chunk.usage != null) {
            step = recordResponse(call, chunk)
          } else if (!annotated) {
            annotated = true
            step = Effect.annotateCurrentSpan(responseOf(chunk))
          }
          if (step !== undefined) effect = effect === undefined ? step : Effect.zipRight(effect, step)
        }
        return effect === undefined ? Effect.succeed(chunks) : Effect.as(effect, chunks)
      }),
      Stream.ensuringWith((exit) =>
        Effect.flatMap(
          Clock.currentTimeMillis,
          (end) => recordOutcome(call, outcomeOf(exit as Exit.Exit<unknown, LlmError>), end - start)
        )
      )
    )
  })).pipe(Stream.withSpan("LlmProvider.stream", { kind: "client", attributes: spanAttributes(call) }))

const responseOf = (chunk: ChatCompletionChunk): Record<string, unknown> => ({
  "gen_ai.response.model": chunk.model,
  "gen_ai.response.id": chunk.id
})
