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
 * Spans are made when a tracer is installed (`@effect/opentelemetry`, `Effect.withTracer`, the DevTools): under
 * Effect's built-in tracer, whose spans are never exported, a call makes none and costs only its metrics.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import type * as MetricKeyType from "effect/MetricKeyType"
import * as MetricLabel from "effect/MetricLabel"
import type * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type { ChatCompletion, ChatCompletionChunk, EmbeddingResponse, Usage } from "./Domain.js"
import { unwrap } from "./internal/stream.js"
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

const latencyBoundaries = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000]

/** What `Metric.timerWithBoundaries` makes, over a key of ours. */
const timer = (key: MetricKey.MetricKey.Histogram) =>
  Metric.mapInput(Metric.tagged(Metric.fromMetricKey(key), "time_unit", "milliseconds"), Duration.toMillis)

// The keys of the metrics below, which the hot path tags and updates directly (see `labelled`).
const keys = {
  requests: MetricKey.counter("llm_requests_total", {
    description: "LLM calls, by provider, model, operation and outcome",
    incremental: true
  }),
  // one boundaries instance per key: histogram keys compare their boundaries by reference
  latency: MetricKey.histogram("llm_request_duration", MetricBoundaries.fromIterable(latencyBoundaries)),
  timeToFirstChunk: MetricKey.histogram("llm_time_to_first_chunk", MetricBoundaries.fromIterable(latencyBoundaries)),
  tokens: MetricKey.counter("llm_tokens_total", { description: "Tokens reported", incremental: true }),
  tokensPerCall: MetricKey.histogram(
    "llm_tokens_per_call",
    MetricBoundaries.exponential({ start: 16, factor: 2, count: 14 })
  ),
  cacheLookups: MetricKey.counter("llm_cache_lookups_total", {
    description: "Response cache lookups",
    incremental: true
  })
}

/**
 * Calls, by `provider`, `model`, `operation` (`chat`, `stream`, `embeddings`) and `outcome`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const requests: Metric.Metric.Counter<number> = Metric.fromMetricKey(keys.requests)

/**
 * The duration of whole calls (a stream: until its end), in milliseconds, by `provider` and `operation`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const latency: Metric.Metric<
  MetricKeyType.MetricKeyType.Histogram,
  Duration.Duration,
  MetricState.MetricState.Histogram
> = timer(keys.latency)

/**
 * The time from the start of a stream to its first chunk, in milliseconds, by `provider`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const timeToFirstChunk: Metric.Metric<
  MetricKeyType.MetricKeyType.Histogram,
  Duration.Duration,
  MetricState.MetricState.Histogram
> = timer(keys.timeToFirstChunk)

/**
 * Tokens reported by providers, by `provider`, `model` and `type` (`input` or `output`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const tokens: Metric.Metric.Counter<number> = Metric.fromMetricKey(keys.tokens)

/**
 * The distribution of tokens per call, by `type`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const tokensPerCall: Metric.Metric.Histogram<number> = Metric.fromMetricKey(keys.tokensPerCall)

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
export const cacheLookups: Metric.Metric.Counter<number> = Metric.fromMetricKey(keys.cacheLookups)

/**
 * Counts one cache lookup and marks the current span with `llm.cache.hit`.
 *
 * @since 0.1.0
 * @category recording
 */
export const recordCacheLookup = (provider: string, hit: boolean): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    lookupCounter(provider, hit).unsafeUpdate(1, fiber.getFiberRef(FiberRef.currentMetricLabels))
    const span = Context.getOption(fiber.getFiberRef(FiberRef.currentContext), Tracer.ParentSpan)
    if (Option.isSome(span) && span.value._tag === "Span") span.value.attribute(attributes.cacheHit, hit)
    return Effect.void
  })

const lookupCounters = new Map<string, Metric.Metric.Counter<number>>()
const lookupCounter = (provider: string, hit: boolean): Metric.Metric.Counter<number> => {
  const key = `${hit}\u0000${provider}`
  let counter = lookupCounters.get(key)
  if (counter === undefined) {
    if (lookupCounters.size > 10_000) lookupCounters.clear()
    counter = labelled(keys.cacheLookups, [["provider", provider], ["result", hit ? "hit" : "miss"]])
    lookupCounters.set(key, counter)
  }
  return counter
}

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
  /** Scrubs the provider's secrets from what the response puts in the span (its id and model); see `Secrets`. */
  readonly scrub?: ((text: string) => string) | undefined
}

const spanAttributes = (call: CallInfo): Record<string, unknown> => ({
  "gen_ai.provider.name": call.provider,
  "gen_ai.system": call.provider,
  "gen_ai.operation.name": call.operation === "embeddings" ? "embeddings" : "chat",
  "gen_ai.request.model": call.model
})

const outcomeOf = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "ok"
  const failure = exit.cause
  // A typed failure names its tag; an interruption (a hedge loser, a caller that left) is its own outcome.
  if (failure._tag === "Fail") return (failure.error as LlmError)._tag
  return Exit.isInterrupted(exit) ? "interrupted" : "defect"
}

// --- the hot path ---
//
// `Metric.tagged` builds a new label array on every update, which misses the registry's hook cache and builds and
// hashes a new metric key each time. So each label set gets its metric made once, straight from its full key (equal
// to the key that `Metric.tagged(requests, …)` reads), and every update of a call happens in one synchronous step.
// Spans are made only under a tracer other than Effect's built-in one, whose spans nobody can see.

const labelled = <Type extends MetricKeyType.MetricKeyType<any, any>>(
  key: MetricKey.MetricKey<Type>,
  labels: ReadonlyArray<readonly [string, string]>
) => Metric.fromMetricKey(MetricKey.taggedWithLabels(key, labels.map(([k, v]) => MetricLabel.make(k, v))))

const milliseconds = ["time_unit", "milliseconds"] as const

/** The metrics of one provider, model and operation, each made once. */
class CallMetrics {
  readonly latency
  readonly timeToFirstChunk
  readonly inputTokens
  readonly outputTokens
  readonly inputPerCall
  readonly outputPerCall
  private readonly outcomes = new Map<string, Metric.Metric.Counter<number>>()
  constructor(readonly call: CallInfo) {
    const { model, operation, provider } = call
    this.latency = labelled(keys.latency, [milliseconds, ["provider", provider], ["operation", operation]])
    this.timeToFirstChunk = labelled(keys.timeToFirstChunk, [milliseconds, ["provider", provider]])
    this.inputTokens = labelled(keys.tokens, [["provider", provider], ["model", model], ["type", "input"]])
    this.outputTokens = labelled(keys.tokens, [["provider", provider], ["model", model], ["type", "output"]])
    this.inputPerCall = labelled(keys.tokensPerCall, [["type", "input"]])
    this.outputPerCall = labelled(keys.tokensPerCall, [["type", "output"]])
  }
  outcome(outcome: string): Metric.Metric.Counter<number> {
    let counter = this.outcomes.get(outcome)
    if (counter === undefined) {
      const { model, operation, provider } = this.call
      counter = labelled(keys.requests, [
        ["provider", provider],
        ["model", model],
        ["operation", operation],
        ["outcome", outcome]
      ])
      this.outcomes.set(outcome, counter)
    }
    return counter
  }
}

const callMetrics = new Map<string, CallMetrics>()
const metricsOf = (call: CallInfo): CallMetrics => {
  const key = `${call.provider}\u0000${call.model}\u0000${call.operation}`
  let metrics = callMetrics.get(key)
  if (metrics === undefined) {
    // models come from callers: keep the table bounded
    if (callMetrics.size > 10_000) callMetrics.clear()
    metrics = new CallMetrics(call)
    callMetrics.set(key, metrics)
  }
  return metrics
}

const builtInTracer = Effect.runSync(Effect.tracer)

/** Whether a span made now would reach anyone: a tracer other than the built-in one, and tracing on. */
const tracing = (fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean =>
  Context.get(fiber.currentDefaultServices, Tracer.Tracer) !== builtInTracer &&
  fiber.getFiberRef(FiberRef.currentTracerEnabled)

/** What one call records, its clock and metric labels read once, at its start. */
class Recorder {
  readonly start: number
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  readonly clock: Clock.Clock
  span: Tracer.Span | undefined = undefined
  constructor(
    readonly metrics: CallMetrics,
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    readonly scrub: ((text: string) => string) | undefined
  ) {
    this.clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
    this.start = this.clock.unsafeCurrentTimeMillis()
    this.labels = fiber.getFiberRef(FiberRef.currentMetricLabels)
  }
  firstChunk(): void {
    this.metrics.timeToFirstChunk.unsafeUpdate(this.clock.unsafeCurrentTimeMillis() - this.start, this.labels)
  }
  response(
    response: { readonly id?: string | undefined; readonly model: string; readonly usage?: Usage | null | undefined }
  ): void {
    const span = this.span
    if (span !== undefined) {
      // read from the response: a server may have put anything there
      const scrub = this.scrub
      span.attribute("gen_ai.response.model", scrub === undefined ? response.model : scrub(response.model))
      if (response.id !== undefined) {
        span.attribute("gen_ai.response.id", scrub === undefined ? response.id : scrub(response.id))
      }
    }
    const usage = response.usage
    if (usage == null) return
    const input = usage.prompt_tokens
    const output = usage.completion_tokens ?? 0
    const { labels, metrics } = this
    metrics.inputTokens.unsafeUpdate(input, labels)
    metrics.outputTokens.unsafeUpdate(output, labels)
    metrics.inputPerCall.unsafeUpdate(input, labels)
    metrics.outputPerCall.unsafeUpdate(output, labels)
    if (span !== undefined) {
      span.attribute("gen_ai.usage.input_tokens", input)
      span.attribute("gen_ai.usage.output_tokens", output)
    }
  }
  end(exit: Exit.Exit<unknown, unknown>): void {
    const { labels, metrics } = this
    metrics.outcome(outcomeOf(exit)).unsafeUpdate(1, labels)
    metrics.latency.unsafeUpdate(this.clock.unsafeCurrentTimeMillis() - this.start, labels)
  }
}

const spanOptions = (call: CallInfo): Tracer.SpanOptions => ({
  kind: "client",
  captureStackTrace: false,
  attributes: spanAttributes(call)
})

/**
 * Counts the attempts of `self` (each run after the first is a retry) into {@link retries}. Put it inside a retry
 * policy: `trackAttempts(call, attempt).pipe(Retry.retry(…))`, and make one per call: the count belongs to the value.
 *
 * @since 0.1.0
 * @category tracking
 */
export const trackAttempts = <A, E, R>(call: CallInfo, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  // The count belongs to this value, not to a run of it: a retry policy runs the same value again.
  let attempts = 0
  return Effect.suspend(() => ++attempts > 1 ? Effect.zipRight(retried(call), self) : self)
}

const retried = (call: CallInfo): Effect.Effect<void> =>
  Metric.increment(Metric.tagged(retries, "provider", call.provider))

/**
 * The stream form of {@link trackAttempts}: every run of `self` after the first is a retry.
 *
 * @since 0.1.0
 * @category tracking
 */
export const trackStreamAttempts = <A, E, R>(call: CallInfo, self: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> => {
  let attempts = 0
  // The first run (nearly every run) is `self` as it is; a retry counts itself first. (Not `Stream.zipRight`, which
  // zips element-wise and would cut the retried stream to one element.)
  return Stream.suspend(() => ++attempts > 1 ? unwrap(Effect.as(retried(call), self)) : self)
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
  Effect.withFiberRuntime((fiber) => {
    const recorder = new Recorder(metricsOf(call), fiber, call.scrub)
    const tracked = Effect.onExit(self, (exit) => {
      if (Exit.isSuccess(exit)) recorder.response(exit.value as ChatCompletion)
      recorder.end(exit)
      return Effect.void
    })
    if (!tracing(fiber)) return tracked
    return Effect.useSpan(
      `LlmProvider.${call.operation === "embeddings" ? "embed" : "chat"}`,
      spanOptions(call),
      (span) => {
        recorder.span = span
        return Effect.withParentSpan(tracked, span)
      }
    )
  })

/**
 * Runs a stream in its span and records its time to first chunk, its outcome and duration (at its end, failure
 * or interruption) and the usage of its usage chunk. Per batch of chunks it costs a loop of comparisons.
 *
 * @since 0.1.0
 * @category tracking
 */
export const trackStream = <R>(
  call: CallInfo,
  self: Stream.Stream<ChatCompletionChunk, LlmError, R>,
  options?: {
    /** Called in the stage that watches the chunks, at the first one of each run (see `Retry.retryStream`). */
    readonly onFirstChunk?: (() => void) | undefined
  }
): Stream.Stream<ChatCompletionChunk, LlmError, R> => {
  const onFirstChunk = options?.onFirstChunk
  const metrics = metricsOf(call)
  const tracked = (
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    span: Tracer.Span | undefined
  ): Stream.Stream<ChatCompletionChunk, LlmError, R> => {
    const recorder = new Recorder(metrics, fiber, call.scrub)
    recorder.span = span
    let first = true
    let annotated = span === undefined
    return self.pipe(
      Stream.mapChunks((chunks) => {
        for (const chunk of chunks) {
          if (first) {
            first = false
            recorder.firstChunk()
            if (onFirstChunk !== undefined) onFirstChunk()
          }
          if (chunk.usage != null) {
            annotated = true
            recorder.response(chunk)
          } else if (!annotated) {
            annotated = true
            recorder.response({ id: chunk.id, model: chunk.model })
          }
        }
        return chunks
      }),
      Stream.ensuringWith((exit) => {
        recorder.end(exit)
        return Effect.void
      })
    )
  }
  return unwrap(Effect.withFiberRuntime<Stream.Stream<ChatCompletionChunk, LlmError, R>>((fiber) => {
    if (!tracing(fiber)) return Effect.succeed(tracked(fiber, undefined))
    const inSpan = unwrap(Effect.withFiberRuntime<Stream.Stream<ChatCompletionChunk, LlmError, R>>((inner) => {
      const span = Context.getOption(inner.getFiberRef(FiberRef.currentContext), Tracer.ParentSpan)
      return Effect.succeed(
        tracked(inner, Option.isSome(span) && span.value._tag === "Span" ? span.value : undefined)
      )
    }))
    return Effect.succeed(Stream.withSpan(inSpan, "LlmProvider.stream", spanOptions(call)))
  }))
}
