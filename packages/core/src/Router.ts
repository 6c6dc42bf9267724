/**
 * A router over several providers that is itself an `LlmProvider`: fallback, load balancing, cooldowns, hedging
 * and client-side rate limits.
 *
 * @example
 * ```ts
 * import { LlmProvider, Router } from "@llm-api-router/core"
 *
 * const Routed = Router.layer([
 *   Router.member("openai", OpenAi.layer({ apiKey, defaultModel: "gpt-4o-mini" }), {
 *     rateLimit: { requestsPerMinute: 500 },
 *     models: { fast: "gpt-4o-mini", smart: "gpt-4o" }
 *   }),
 *   Router.member("deepseek", DeepSeek.layer({ apiKey: dsKey, defaultModel: "deepseek-v4-flash" }), {
 *     models: { fast: "deepseek-v4-flash", smart: "deepseek-v4-pro" }
 *   })
 * ], { strategy: "fallback", hedge: { after: "p95" } })
 * ```
 *
 * How a call is routed:
 * - models: a request that names a model goes only to the members that serve it (see `MemberOptions.models`),
 *   each under its own name for it (`model: "fast"` is `gpt-4o-mini` at OpenAI, `deepseek-v4-flash` at DeepSeek);
 *   a request without a model goes to every member, each with its default model. A model no member serves fails
 *   with an `InvalidRequestError` (`param: "model"`) before any I/O;
 * - the strategy orders the members: `fallback` (as declared), `round-robin`, `weighted` (random, by `weight`),
 *   `least-latency` (lowest moving average of latency; members not measured yet first), `least-busy` (fewest
 *   requests in flight); the call goes to the first member that is not cooling down;
 * - when it fails with an error `fallbackOn` accepts (default {@link defaultFallbackOn}: retryable errors,
 *   `RetryExhausted`, `RateLimitError`, `QuotaExceededError`, `ResponseDecodeError`, and `ContextLengthError`
 *   towards members whose `contextWindow` is larger), it goes to the next member; otherwise it fails with that
 *   error. A call tries each member at most once;
 * - waiting (`cooldown.maxWait`, default {@link defaultMaxWait}): when the members a call has not tried are all
 *   cooling down or being probed — at the start, or after its attempts failed — it waits for the first of them to
 *   come back (a probe is looked at again every few milliseconds), up to `maxWait` in all, and a cooldown that
 *   ends later is not waited for. When no member is left, the last member's error is the answer; when no member
 *   was tried at all, a `RateLimitError` whose `retryAfter` is the end of the nearest cooldown;
 * - cooldowns: a member that fails `cooldown.failures` times within `cooldown.window` (failures that say something
 *   of its health: retryable errors, `RetryExhausted`, `QuotaExceededError`, `ResponseDecodeError`), or answers a
 *   `RateLimitError` with a `retryAfter`, is skipped until its cooldown ends (`cooldown.duration`, or the
 *   `retryAfter`); then exactly one request probes it (half-open): a success closes the cooldown, a failure opens
 *   it again. While the probe runs — as long as the member takes to answer it, up to its own timeouts — the member
 *   takes no other call: those go to other members, or wait as above. The state is one `Ref` updated atomically:
 *   a member is never admitted on a stale read;
 * - hedging (`hedge`): when the member has not answered after `hedge.after` (a duration, or `"p95"`: the 95th
 *   percentile of its recent latencies), the same request goes to the next member as well; the first answer wins
 *   and the other attempt is interrupted, its connection closed;
 * - streams: fallback and hedging apply until the first chunk; after it a failure ends the stream with its error,
 *   whose `emittedChunks` (and message) say how many chunks had been emitted;
 * - rate limits (`rateLimit` on a member): requests and tokens per minute, checked before sending (see
 *   `RateLimit`); a member over its limit with `onExceeded: "fail"` is passed over for the next one. The limits
 *   are kept by the `RateLimit.Limiter` in context (`RedisRateLimit.layer(…)` shares them between processes),
 *   else in memory.
 *
 * Every attempt runs in a `Router.attempt` span (with `llm.router.member` and `llm.router.attempt`) and feeds
 * `Telemetry.fallbacks`, `Telemetry.hedges` and `Telemetry.cooldowns`.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  EmbeddingRequest,
  EmbeddingResponse,
  Usage
} from "./Domain.js"
import * as Identity from "./Identity.js"
import * as routerModels from "./internal/router/models.js"
import * as routerOptions from "./internal/router/options.js"
import * as state from "./internal/router/state.js"
import { InvalidRequestError, isRetryable, type LlmError, RateLimitError } from "./LlmError.js"
import * as LlmProvider from "./LlmProvider.js"
import * as RateLimit from "./RateLimit.js"
import * as Telemetry from "./Telemetry.js"

// ---------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export type Strategy = "fallback" | "round-robin" | "weighted" | "least-latency" | "least-busy"

/**
 * @since 0.1.0
 * @category models
 */
export interface MemberOptions {
  /** The member's share under `weighted` (default 1; 0 means only as a fallback). */
  readonly weight?: number | undefined
  /**
   * The context window of the member's model, in tokens. A `ContextLengthError` falls back only to members with a
   * larger one.
   */
  readonly contextWindow?: number | undefined
  /** Client-side rate limits of this member. */
  readonly rateLimit?: RateLimit.Options | undefined
  /**
   * The models this member serves: a list of its model names (`["gpt-4o-mini", "gpt-4o"]`), or aliases mapped to
   * its own names (`{ fast: "deepseek-v4-flash", smart: "deepseek-v4-pro" }`). A request that names a model goes
   * only to the members that serve it, each under its own name for it; a request without one goes to every member,
   * which uses its default model (always served). A member that declares no `models` serves its default model and
   * every model no other member declares, under the name asked. When every member declares its models, a model none
   * of them serves fails before any I/O with an `InvalidRequestError` (`param: "model"`) naming it.
   */
  readonly models?: ReadonlyArray<string> | Readonly<Record<string, string>> | undefined
}

/**
 * A member: a name, and a provider as a layer (built with the router, released with it) or as a service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Member<E = never, R = never> extends MemberOptions {
  readonly name: string
  readonly provider: Layer.Layer<LlmProvider.LlmProvider, E, R> | LlmProvider.Service
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const member = <E = never, R = never>(
  name: string,
  provider: Layer.Layer<LlmProvider.LlmProvider, E, R> | LlmProvider.Service,
  options?: MemberOptions
): Member<E, R> => ({ ...options, name, provider })

/**
 * @since 0.1.0
 * @category models
 */
export interface CooldownOptions {
  /** Failures within `window` that start a cooldown. Default 3. */
  readonly failures?: number | undefined
  /** Default 1 minute. */
  readonly window?: Duration.DurationInput | undefined
  /** How long a member is skipped. Default 30 seconds (a `RateLimitError.retryAfter` replaces it). */
  readonly duration?: Duration.DurationInput | undefined
  /** Which failures count. Default: retryable errors, `RetryExhausted`, `QuotaExceededError`. */
  readonly countsAsFailure?: ((error: LlmError) => boolean) | undefined
  /**
   * How long a call may wait, in all, for a member it has not tried yet to come back from its cooldown or its
   * probe: when it finds none available at the start, and when its attempts failed while the members it has not
   * tried were cooling down or being probed. A cooldown that ends later than the time left is not waited for: the
   * call fails at once, with the last member's error (or, when no member was tried, the router's
   * `RateLimitError`). Default {@link defaultMaxWait}; `0` never waits.
   */
  readonly maxWait?: Duration.DurationInput | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface HedgeOptions {
  /** When to ask the next member too: a duration, or `"p95"` of the member's recent latencies. */
  readonly after: Duration.DurationInput | "p95"
  /** With `"p95"`: the delay until `minSamples` latencies are known. Default: no hedging until then. */
  readonly initial?: Duration.DurationInput | undefined
  /** With `"p95"`: latencies needed before the p95 is trusted. Default 10. */
  readonly minSamples?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The router's provider name (in `info`, spans and its own errors). Default `"router"`. */
  readonly name?: string | undefined
  /** Default `"fallback"`. */
  readonly strategy?: Strategy | undefined
  /** Which errors send the call on to the next member. Default {@link defaultFallbackOn}. */
  readonly fallbackOn?: ((error: LlmError) => boolean) | undefined
  /** Cooldown thresholds, or `false` to never skip a member. */
  readonly cooldown?: CooldownOptions | false | undefined
  /** Hedged requests; off by default. */
  readonly hedge?: HedgeOptions | undefined
  /** The weight of a new latency in the moving average (0–1). Default 0.3. */
  readonly latencyAlpha?: number | undefined
}

/**
 * A member's health as the router sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemberStatus {
  readonly name: string
  /** The model names the member answers to (aliases and its own names), when it declares them. */
  readonly models: ReadonlyArray<string> | undefined
  readonly state: "available" | "cooling-down" | "probing"
  /** When the cooldown ends (`Clock` milliseconds), while cooling down. */
  readonly cooldownUntil: number | undefined
  readonly inFlight: number
  /** Moving average of latency (a stream's: to its first chunk), in milliseconds. */
  readonly latency: number | undefined
  readonly p95: number | undefined
  readonly requests: number
  readonly successes: number
  readonly failures: number
  readonly cooldowns: number
}

/**
 * The router's handle, next to its `LlmProvider`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly name: string
  readonly members: Effect.Effect<ReadonlyArray<MemberStatus>>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Router extends Context.Tag("@llm-api-router/core/Router")<Router, Service>() {}

/**
 * The members' health, from the `Router` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const members: Effect.Effect<ReadonlyArray<MemberStatus>, never, Router> = Effect.flatMap(
  Router,
  (router) => router.members
)

/**
 * Retryable errors, `RetryExhausted`, `RateLimitError`, `QuotaExceededError`, `ResponseDecodeError` (a member that
 * answers a body it cannot decode has failed) and `ContextLengthError` (which the router sends only to members with
 * a larger `contextWindow`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const defaultFallbackOn = (error: LlmError): boolean =>
  isRetryable(error) || error._tag === "RetryExhausted" || error._tag === "QuotaExceededError" ||
  error._tag === "ResponseDecodeError" || error._tag === "ContextLengthError"

// A body the member's own protocol cannot decode says as much about its health as a 5xx does.
const defaultCountsAsFailure = (error: LlmError): boolean =>
  isRetryable(error) || error._tag === "RetryExhausted" || error._tag === "QuotaExceededError" ||
  error._tag === "ResponseDecodeError"

/**
 * The default `cooldown.maxWait`: long enough for a member's probe to answer or a short `Retry-After` to pass,
 * short next to the default cooldown (30 seconds), which a call does not wait for.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultMaxWait: Duration.Duration = Duration.seconds(5)

// ---------------------------------------------------------------------------------------------
// constructors
// ---------------------------------------------------------------------------------------------

type ErrorOf<M> = M extends { readonly provider: Layer.Layer<any, infer E, any> } ? E : never
type ContextOf<M> = M extends { readonly provider: Layer.Layer<any, any, infer R> } ? R : never

interface Built {
  readonly name: string
  readonly index: number
  readonly service: LlmProvider.Service
  readonly weight: number
  readonly contextWindow: number | undefined
  readonly models: routerModels.Models | undefined
  readonly gate: RateLimit.Gate | undefined
}

interface Won<A> {
  readonly value: A
  readonly index: number
}

interface Call<A> {
  readonly operation: "chat" | "stream" | "embeddings"
  /** Per member, its own name for the requested model (`undefined`: it does not serve it); absent: all serve it. */
  readonly models: ReadonlyArray<string | undefined> | undefined
  readonly estimate: number
  readonly run: (member: Built) => Effect.Effect<A, LlmError>
  /** Whether the member stays in flight after the attempt succeeded (a stream: until its end). */
  readonly keepsLease: boolean
  /** With `keepsLease`: frees the answer of an attempt that succeeded but lost a race, or whose call left. */
  readonly discard: (won: Won<A>) => Effect.Effect<void>
  /** With `keepsLease`: takes charge of the winning answer (run uninterruptibly, as the route ends). */
  readonly keep: (won: Won<A>) => Effect.Effect<void>
  readonly usage: (value: A) => Usage | null | undefined
}

interface Opened {
  readonly first: Chunk.Chunk<ChatCompletionChunk>
  readonly pull: Effect.Effect<Chunk.Chunk<ChatCompletionChunk>, Option.Option<LlmError>>
  readonly scope: Scope.CloseableScope
  readonly done: boolean
}

const probeRecheckMillis = 10

const isService = (u: unknown): u is LlmProvider.Service => !Layer.isLayer(u)

/**
 * Checks router options as `make` does: an unknown field (a misspelt name) or a bad value fails with an
 * `InvalidRequestError` (`source: "client"`) whose `param` names it (`cooldown.duration`, `hedge.after`, …).
 *
 * @since 0.1.0
 * @category validation
 */
export const validateOptions: (options: unknown) => Either.Either<Options, InvalidRequestError> =
  routerOptions.validateOptions

/**
 * Checks a member's options (`weight`, `contextWindow`, `rateLimit`) as `make` does: `router` names the router in
 * the error, `path` prefixes the field names (`providers[1]`).
 *
 * @since 0.1.0
 * @category validation
 */
export const validateMemberOptions: (
  options: unknown,
  router?: string,
  path?: string
) => Either.Either<MemberOptions, InvalidRequestError> = routerOptions.validateMemberOptions

/**
 * Builds a router (its member layers are built in the current scope) and its handle. Its options are checked first
 * (see {@link validateOptions}): bad options are a defect carrying the `InvalidRequestError` that names the field.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const Members extends ReadonlyArray<Member<any, any>>>(
  members: Members,
  options?: Options
): Effect.Effect<
  { readonly provider: LlmProvider.Service; readonly router: Service },
  ErrorOf<Members[number]>,
  ContextOf<Members[number]> | Scope.Scope
> =>
  Effect.gen(function*() {
    const name = options?.name ?? "router"
    if (members.length === 0) return yield* Effect.dieMessage("Router.make: a router needs at least one member")
    const invalid = routerOptions.checkMembers(members, options)
    if (invalid !== undefined) return yield* Effect.die(invalid)
    const limited = members.some((m) => RateLimit.isLimited(m.rateLimit))
    const limiter = limited
      ? Option.getOrUndefined(yield* Effect.serviceOption(RateLimit.Limiter)) ?? (yield* RateLimit.makeMemory)
      : undefined
    const built: Array<Built> = []
    for (const [index, m] of members.entries()) {
      const service: LlmProvider.Service = isService(m.provider)
        ? m.provider
        : Context.get(yield* Layer.build(m.provider as Layer.Layer<LlmProvider.LlmProvider>), LlmProvider.LlmProvider)
      built.push({
        name: m.name,
        index,
        service,
        weight: Math.max(0, m.weight ?? 1),
        contextWindow: m.contextWindow,
        models: m.models,
        gate: limiter !== undefined && RateLimit.isLimited(m.rateLimit)
          ? RateLimit.gate(limiter, `${name}:${m.name}`, m.name, m.rateLimit)
          : undefined
      })
    }
    return makeRouter(name, built, options ?? {})
  }) as any

/**
 * The router as a layer: an `LlmProvider` and its `Router` handle. Member layers are built with it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <const Members extends ReadonlyArray<Member<any, any>>>(
  members: Members,
  options?: Options
): Layer.Layer<LlmProvider.LlmProvider | Router, ErrorOf<Members[number]>, ContextOf<Members[number]>> =>
  Layer.scopedContext(
    Effect.map(
      make(members, options),
      ({ provider, router }) => Context.make(LlmProvider.LlmProvider, provider).pipe(Context.add(Router, router))
    )
  )

// ---------------------------------------------------------------------------------------------
// the router
// ---------------------------------------------------------------------------------------------

const withEmitted = (error: LlmError, emitted: number): LlmError => {
  const Class = error.constructor as new(props: object, disableValidation?: boolean) => LlmError
  return new Class({
    ...error,
    emittedChunks: emitted,
    message: `${error.message} (the stream failed after ${emitted} chunk${emitted === 1 ? "" : "s"} had been emitted)`
  }, true)
}

const retryAfterMillis = (error: LlmError): number | undefined => {
  const source = error._tag === "RetryExhausted" ? error.lastError : error
  return source._tag === "RateLimitError" && Option.isSome(source.retryAfter)
    ? Duration.toMillis(source.retryAfter.value)
    : undefined
}

const makeRouter = (
  name: string,
  built: ReadonlyArray<Built>,
  options: Options
): { readonly provider: LlmProvider.Service; readonly router: Service } => {
  const strategy = options.strategy ?? "fallback"
  const fallbackOn = options.fallbackOn ?? defaultFallbackOn
  const cooldown = options.cooldown
  const config: state.Config = {
    threshold: cooldown === false ? Number.POSITIVE_INFINITY : Math.max(1, cooldown?.failures ?? 3),
    windowMillis: Duration.toMillis(cooldown === false ? 0 : cooldown?.window ?? "1 minute"),
    cooldownMillis: Duration.toMillis(cooldown === false ? 0 : cooldown?.duration ?? "30 seconds"),
    alpha: options.latencyAlpha ?? 0.3,
    sampleSize: 64
  }
  const countsAsFailure = cooldown === false ? () => false : cooldown?.countsAsFailure ?? defaultCountsAsFailure
  const maxWaitMillis = cooldown === false ? 0 : Duration.toMillis(cooldown?.maxWait ?? defaultMaxWait)
  const hedge = options.hedge
  const hedgeFixed = hedge !== undefined && hedge.after !== "p95" ? Duration.toMillis(hedge.after) : undefined
  const hedgeInitial = hedge?.initial !== undefined ? Duration.toMillis(hedge.initial) : undefined
  const minSamples = hedge?.minSamples ?? 10

  const states = Ref.unsafeMake<ReadonlyArray<state.MemberState>>(built.map(() => state.initial))
  const modelTable = routerModels.make(
    built.map((m) => ({ models: m.models, defaultModel: m.service.info.defaultModel }))
  )
  const rotation = Ref.unsafeMake(0)

  const fallbackCounter = Metric.tagged(Telemetry.fallbacks, "router", name)
  const hedgeCounter = Metric.tagged(Telemetry.hedges, "router", name)
  const cooldownCounter = Metric.tagged(Telemetry.cooldowns, "router", name)

  // --- ordering --------------------------------------------------------------------------------

  const declared = built.map((m) => m.index)

  const weightedOrder: Effect.Effect<ReadonlyArray<number>> = Effect.gen(function*() {
    const pool = built.filter((m) => m.weight > 0)
    const order: Array<number> = []
    while (pool.length > 0) {
      const total = pool.reduce((sum, m) => sum + m.weight, 0)
      let point = (yield* Random.next) * total
      let pick = pool.length - 1
      for (let i = 0; i < pool.length; i++) {
        point -= pool[i]!.weight
        if (point < 0) {
          pick = i
          break
        }
      }
      order.push(pool[pick]!.index)
      pool.splice(pick, 1)
    }
    for (const m of built) if (m.weight === 0) order.push(m.index)
    return order
  })

  const order: Effect.Effect<ReadonlyArray<number>> = (() => {
    switch (strategy) {
      case "fallback":
        return Effect.succeed(declared)
      case "round-robin":
        return Effect.map(
          Ref.getAndUpdate(rotation, (n) => (n + 1) % built.length),
          (start) => declared.map((_, i) => (start + i) % built.length)
        )
      case "weighted":
        return weightedOrder
      case "least-latency":
        return Effect.map(
          Ref.get(states),
          (snapshot) =>
            declared.slice().sort((a, b) =>
              (snapshot[a]!.ewma ?? Number.NEGATIVE_INFINITY) - (snapshot[b]!.ewma ?? Number.NEGATIVE_INFINITY) || a - b
            )
        )
      case "least-busy":
        return Effect.map(
          Ref.get(states),
          (snapshot) => declared.slice().sort((a, b) => snapshot[a]!.inFlight - snapshot[b]!.inFlight || a - b)
        )
    }
  })()

  // --- state transitions -----------------------------------------------------------------------

  const report = (member: Built, probe: boolean, outcome: state.Outcome): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.flatMap(
        Ref.modify(states, (s) => state.report(s, member.index, probe, outcome, now, config)),
        (opened) => opened ? Metric.increment(Metric.tagged(cooldownCounter, "member", member.name)) : Effect.void
      ))

  const release = (index: number): Effect.Effect<void> => Ref.update(states, (s) => state.release(s, index))

  const outcomeOf = (exit: Exit.Exit<unknown, LlmError>, latency: number, limited: boolean): state.Outcome => {
    if (Exit.isSuccess(exit)) return { _tag: "Success", latencyMillis: latency }
    const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
    if (failure === undefined) return { _tag: "Abandoned" }
    // A client-side limit says nothing of the member's health.
    if (limited || !countsAsFailure(failure)) return { _tag: "Neutral" }
    return { _tag: "Failure", retryAfterMillis: retryAfterMillis(failure) }
  }

  // --- one attempt -----------------------------------------------------------------------------

  /**
   * An admission in the member's state (a request in flight, maybe the half-open probe) that its attempt must
   * report and release. Until the attempt has taken it, whoever admitted it answers for it: an interruption in
   * between (a hedge that lost, a caller that left) would otherwise leave the member with a request in flight
   * forever, or stuck half-open.
   */
  interface Lease {
    taken: boolean
  }

  const abandon = (member: Built, probe: boolean, lease: Lease): Effect.Effect<void> =>
    lease.taken
      ? Effect.void
      : Effect.zipRight(report(member, probe, { _tag: "Abandoned" }), release(member.index))

  const attempt = <A>(
    member: Built,
    probe: boolean,
    number: number,
    call: Call<A>,
    lease: Lease,
    ctx: Context
  ): Effect.Effect<A, LlmError> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        // From here on, this attempt reports and releases its admission, whatever happens.
        lease.taken = true
        let limited = false
        if (member.gate !== undefined) {
          const admitted = yield* Effect.exit(restore(member.gate.admit(call.estimate)))
          if (Exit.isFailure(admitted)) {
            limited = true
            yield* report(member, probe, outcomeOf(admitted, 0, true))
            yield* release(member.index)
            return yield* Effect.failCause(admitted.cause)
          }
        }
        const start = yield* Clock.currentTimeMillis
        const exit = yield* Effect.exit(restore(call.run(member)))
        const end = yield* Clock.currentTimeMillis
        yield* report(member, probe, outcomeOf(exit, end - start, limited))
        if (Exit.isSuccess(exit) && member.gate !== undefined) {
          yield* member.gate.settle(call.estimate, call.usage(exit.value))
        }
        if (!(call.keepsLease && Exit.isSuccess(exit))) yield* release(member.index)
        // An answer that holds its member (a stream) is the route's to keep or free, from this point on: between
        // here and the race that should receive it, an interruption (a hedge that lost) would lose it.
        else (ctx.held ??= []).push({ value: exit.value, index: member.index })
        return yield* exit
      })
    ).pipe(
      Effect.withSpan("Router.attempt", {
        captureStackTrace: false,
        attributes: {
          [Telemetry.attributes.routerName]: name,
          [Telemetry.attributes.routerMember]: member.name,
          [Telemetry.attributes.routerAttempt]: number
        }
      })
    )

  // --- the chain of members --------------------------------------------------------------------

  interface Context {
    waited: number
    attempts: number
    lastError: LlmError | undefined
    /** The earliest end of a cooldown among the members skipped in this pass (a probe's: now). */
    coolingUntil: number
    /** The members skipped in this pass because they were cooling down or probed: the ones worth waiting for. */
    skipped: Array<number> | undefined
    /** Answers that hold their member (streams opened), winners and losers alike: see `route`. */
    held: Array<Won<any>> | undefined
  }

  const allCooling = (ctx: Context, now: number) =>
    new RateLimitError({
      provider: name,
      retryAfter: Option.some(Duration.millis(Math.max(0, ctx.coolingUntil - now))),
      message: `${name}: every member is cooling down`
    })

  const hedgeDelay = (index: number): Effect.Effect<number | undefined> =>
    hedgeFixed !== undefined
      ? Effect.succeed(hedgeFixed)
      : Effect.map(Ref.get(states), (s) => state.p95(s[index]!, minSamples) ?? hedgeInitial)

  const largerContext = (index: number, than: number | undefined): boolean => {
    const window = built[index]!.contextWindow
    return window !== undefined && (than === undefined || window > than)
  }

  const chain = <A>(
    queue: ReadonlyArray<number>,
    ctx: Context,
    minContext: number | "none",
    call: Call<A>
  ): Effect.Effect<Won<A>, LlmError> =>
    Effect.suspend((): Effect.Effect<Won<A>, LlmError> => {
      const [index, ...rest] = queue
      if (index === undefined) return waitForSkipped(ctx, minContext, call)
      if (minContext !== "none" && !largerContext(index, minContext === -1 ? undefined : minContext)) {
        return chain(rest, ctx, minContext, call)
      }
      const member = built[index]!
      return Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const admission = Ref.modify(states, (s) => state.admit(s, index, now))
          return Effect.flatMap(admission, (admitted): Effect.Effect<Won<A>, LlmError> => {
            if (admitted._tag === "Cooling") {
              ctx.coolingUntil = ctx.coolingUntil === 0 ? admitted.until : Math.min(ctx.coolingUntil, admitted.until)
              ;(ctx.skipped ??= []).push(index)
              return restore(chain(rest, ctx, minContext, call))
            }
            const lease: Lease = { taken: false }
            return restore(admittedTo(member, index, admitted.probe, lease, rest, ctx, minContext, call)).pipe(
              Effect.onExit(() => abandon(member, admitted.probe, lease))
            )
          })
        })
      )
    })

  // Every member this call may still use was skipped (cooling down, or probed): wait for the first to come back,
  // then try those that are back, each member at most once per call. A member being probed answers soon: look
  // again shortly rather than at the end of a cooldown.
  const waitForSkipped = <A>(
    ctx: Context,
    minContext: number | "none",
    call: Call<A>
  ): Effect.Effect<Won<A>, LlmError> => {
    const skipped = ctx.skipped
    const giveUp = (now: number) => Effect.fail(ctx.lastError ?? allCooling(ctx, now))
    if (skipped === undefined) return Effect.flatMap(Clock.currentTimeMillis, giveUp)
    return Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const wait = Math.max(probeRecheckMillis, ctx.coolingUntil - now)
      if (ctx.waited + wait > maxWaitMillis) return giveUp(now)
      ctx.waited += wait
      ctx.coolingUntil = 0
      ctx.skipped = undefined
      return Effect.zipRight(
        Effect.sleep(Duration.millis(wait)),
        Effect.flatMap(order, (queue) => chain(queue.filter((i) => skipped.includes(i)), ctx, minContext, call))
      )
    })
  }

  const admittedTo = <A>(
    member: Built,
    index: number,
    probe: boolean,
    lease: Lease,
    rest: ReadonlyArray<number>,
    ctx: Context,
    minContext: number | "none",
    call: Call<A>
  ): Effect.Effect<Won<A>, LlmError> =>
    Effect.suspend(() => {
      const run = Effect.map(attempt(member, probe, ++ctx.attempts, call, lease, ctx), (value) => ({ value, index }))
      const onFailure = (error: LlmError): Effect.Effect<Won<A>, LlmError> => {
        if (!fallbackOn(error)) return Effect.fail(error)
        ctx.lastError = error
        const next = error._tag === "ContextLengthError"
          ? member.contextWindow ?? -1
          : minContext
        return Effect.zipRight(
          Metric.increment(
            Metric.tagged(Metric.tagged(fallbackCounter, "from", member.name), "reason", error._tag)
          ),
          chain(rest, ctx, next, call)
        )
      }
      if (hedge === undefined || rest.length === 0) return Effect.catchAll(run, onFailure)
      return Effect.flatMap(hedgeDelay(index), (delay) =>
        delay === undefined
          ? Effect.catchAll(run, onFailure)
          : hedged(run, delay, member, rest, ctx, minContext, call, onFailure))
    })

  const hedged = <A>(
    run: Effect.Effect<Won<A>, LlmError>,
    delay: number,
    member: Built,
    rest: ReadonlyArray<number>,
    ctx: Context,
    minContext: number | "none",
    call: Call<A>,
    onFailure: (error: LlmError) => Effect.Effect<Won<A>, LlmError>
  ): Effect.Effect<Won<A>, LlmError> =>
    Effect.raceWith(run, Effect.sleep(Duration.millis(delay)), {
      onSelfDone: (exit, sleeper) =>
        Effect.zipRight(
          Fiber.interrupt(sleeper),
          Exit.matchEffect(exit, {
            onFailure: (cause) => cause._tag === "Fail" ? onFailure(cause.error) : Effect.failCause(cause),
            onSuccess: Effect.succeed
          })
        ),
      // The primary attempt's fiber is handed over here: a fiber that joins it does not stop it when interrupted,
      // so it is interrupted (and waited for) by name whenever this race ends without it, or is itself
      // interrupted. Otherwise a losing attempt would unwind after the call returned, its member still in flight.
      onOtherDone: (_, primary) =>
        Effect.zipRight(
          Metric.increment(Metric.tagged(hedgeCounter, "member", member.name)),
          Effect.raceWith(Fiber.join(primary), chain(rest, ctx, minContext, call), {
            onSelfDone: (exit, other) => settleRace(exit, other, call, true),
            onOtherDone: (exit, joiner) =>
              Effect.zipRight(Fiber.interrupt(joiner), settleRace(exit, primary, call, false))
          })
        ).pipe(Effect.onInterrupt(() => Fiber.interrupt(primary)))
    })

  // The first success wins and the other attempt is interrupted; a failure waits for the other attempt, except a
  // failure of the first member that must not fall back, which is the answer.
  const settleRace = <A>(
    exit: Exit.Exit<Won<A>, LlmError>,
    other: Fiber.Fiber<Won<A>, LlmError>,
    call: Call<A>,
    primary: boolean
  ): Effect.Effect<Won<A>, LlmError> => {
    // What the other attempt won, if it got that far, is freed by the route.
    const stop = Fiber.interrupt(other)
    if (Exit.isSuccess(exit)) return Effect.as(stop, exit.value)
    const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
    if (failure === undefined) return Effect.zipRight(stop, Effect.failCause(exit.cause))
    if (primary && !fallbackOn(failure)) return Effect.zipRight(stop, Effect.fail(failure))
    return Effect.onInterrupt(Fiber.join(other), () => Fiber.interrupt(other))
  }

  const route = <A>(call: Call<A>): Effect.Effect<Won<A>, LlmError> =>
    Effect.suspend(() => {
      const ctx: Context = {
        waited: 0,
        attempts: 0,
        lastError: undefined,
        coolingUntil: 0,
        skipped: undefined,
        held: undefined
      }
      const models = call.models
      const routed = Effect.flatMap(
        order,
        (queue) => chain(models === undefined ? queue : queue.filter((i) => models[i] !== undefined), ctx, "none", call)
      )
      return call.keepsLease ? Effect.onExit(routed, (exit) => settleHeld(ctx, exit, call)) : routed
    })

  // The winner is kept; every other answer that holds its member is freed, whatever ended the route.
  const settleHeld = <A>(ctx: Context, exit: Exit.Exit<Won<A>, LlmError>, call: Call<A>): Effect.Effect<void> => {
    const winner = Exit.isSuccess(exit) ? exit.value : undefined
    const losers = (ctx.held ?? []).filter((won) => won.value !== winner?.value)
    const freed = Effect.forEach(losers, (won) => call.discard(won as Won<A>), { discard: true })
    return winner === undefined ? freed : Effect.zipRight(call.keep(winner), freed)
  }

  const routerSpan = (operation: string) =>
    Effect.withSpan(`Router.${operation}`, {
      captureStackTrace: false,
      attributes: { [Telemetry.attributes.routerName]: name, "llm.router.strategy": strategy }
    })

  // --- the service -----------------------------------------------------------------------------

  // Which members serve the requested model, under which names; `undefined` when every member serves it as asked.
  const modelsFor = (model: string | undefined): ReadonlyArray<string | undefined> | undefined | InvalidRequestError =>
    model === undefined || modelTable === undefined ? undefined : routerModels.route(name, modelTable, model)

  const renamed = <R extends { readonly model?: string | undefined }>(
    request: R,
    models: ReadonlyArray<string | undefined> | undefined,
    index: number
  ): R => {
    const own = models?.[index]
    return own === undefined || own === request.model ? request : { ...request, model: own }
  }

  // Validation comes first: a request no member would accept is neither estimated, nor routed, nor counted against
  // a member's limits; each member still resolves its own default model.
  const chat = (input: ChatCompletionRequest): Effect.Effect<ChatCompletion, LlmError> =>
    Effect.suspend(() => {
      const checked = LlmProvider.validateChatRequest(name, input)
      if (Either.isLeft(checked)) return Effect.fail(checked.left)
      const request = checked.right
      const models = modelsFor(request.model)
      if (models instanceof InvalidRequestError) return Effect.fail(models)
      return route<ChatCompletion>({
        operation: "chat",
        models,
        estimate: RateLimit.estimateChatTokens(request),
        run: (member) => member.service.chat(renamed(request, models, member.index)),
        keepsLease: false,
        discard: () => Effect.void,
        keep: () => Effect.void,
        usage: (completion) => completion.usage
      })
    }).pipe(Effect.map((won) => won.value), routerSpan("chat"))

  const embed = (input: EmbeddingRequest): Effect.Effect<EmbeddingResponse, LlmError> =>
    Effect.suspend(() => {
      const checked = LlmProvider.validateEmbeddingRequest(name, input)
      if (Either.isLeft(checked)) return Effect.fail(checked.left)
      const request = checked.right
      const models = modelsFor(request.model)
      if (models instanceof InvalidRequestError) return Effect.fail(models)
      return route<EmbeddingResponse>({
        operation: "embeddings",
        models,
        estimate: RateLimit.estimateEmbeddingTokens(request),
        run: (member) => member.service.embed(renamed(request, models, member.index)),
        keepsLease: false,
        discard: () => Effect.void,
        keep: () => Effect.void,
        usage: (response) => response.usage === undefined ? undefined : { ...response.usage, completion_tokens: 0 }
      })
    }).pipe(Effect.map((won) => won.value), routerSpan("embed"))

  const open = (member: Built, request: ChatCompletionRequest): Effect.Effect<Opened, LlmError> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Scope.make(), (scope) =>
        restore(Effect.gen(function*() {
          const pull = yield* Scope.extend(Stream.toPull(member.service.stream(request)), scope)
          while (true) {
            const next = yield* Effect.either(pull)
            if (next._tag === "Left") {
              if (Option.isNone(next.left)) return { first: Chunk.empty(), pull, scope, done: true }
              return yield* Effect.fail(next.left.value)
            }
            if (Chunk.isNonEmpty(next.right)) return { first: next.right, pull, scope, done: false }
          }
        })).pipe(Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, exit))))
    )

  const stream = (input: ChatCompletionRequest): Stream.Stream<ChatCompletionChunk, LlmError> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const request = yield* LlmProvider.validateChatRequest(name, input)
      const models = modelsFor(request.model)
      if (models instanceof InvalidRequestError) return yield* Effect.fail(models)
      const estimate = RateLimit.estimateChatTokens(request)
      const streamScope = yield* Effect.scope
      const call: Call<Opened> = {
        operation: "stream",
        models,
        estimate,
        run: (member) => open(member, renamed(request, models, member.index)),
        keepsLease: true,
        discard: (won) => Effect.zipRight(Scope.close(won.value.scope, Exit.void), release(won.index)),
        keep: (won) =>
          Scope.addFinalizerExit(
            streamScope,
            (exit) => Effect.zipRight(Scope.close(won.value.scope, exit), release(won.index))
          ),
        usage: () => undefined
      }
      const won = yield* route(call).pipe(routerSpan("stream"))
      const member = built[won.index]!
      const { done, first, pull } = won.value
      let emitted = first.length
      const settle = (chunk: ChatCompletionChunk) =>
        chunk.usage != null && member.gate !== undefined ? member.gate.settle(estimate, chunk.usage) : Effect.void
      const tail = done ? Stream.empty : Stream.repeatEffectChunkOption(pull).pipe(
        Stream.mapChunks((chunk) => {
          emitted += chunk.length
          return chunk
        }),
        Stream.catchAll((error) =>
          Stream.fromEffect(
            Effect.zipRight(
              report(member, false, outcomeOf(Exit.fail(error), 0, false)),
              Effect.fail(withEmitted(error, emitted))
            )
          )
        )
      )
      const body = Stream.concat(Stream.fromChunk(first), tail)
      return member.gate === undefined ? body : Stream.tap(body, settle)
    }))

  const capabilities: LlmProvider.Capabilities = {
    streaming: built.some((m) => m.service.info.capabilities.streaming),
    tools: built.some((m) => m.service.info.capabilities.tools),
    embeddings: built.some((m) => m.service.info.capabilities.embeddings),
    vision: built.some((m) => m.service.info.capabilities.vision),
    jsonSchema: built.some((m) => m.service.info.capabilities.jsonSchema),
    // A structured request is built once for every member: a JSON Schema format only when all take it, else a forced
    // tool when all have tools.
    structuredOutput:
      built.every((m) => LlmProvider.structuredOutputMode(m.service.info.capabilities) === "json-schema")
        ? "json-schema"
        : built.every((m) => m.service.info.capabilities.tools)
        ? "tool"
        : "json-object"
  }

  const provider: LlmProvider.Service = {
    info: {
      name,
      defaultModel: built[0]!.service.info.defaultModel,
      capabilities,
      // Any member may answer: a cache over the router keys its entries by all of them.
      identity: Identity.combine(built.map((m) => m.service.info))
    },
    chat,
    stream,
    embed
  }

  const snapshot: Effect.Effect<ReadonlyArray<MemberStatus>> = Effect.flatMap(
    Clock.currentTimeMillis,
    (now) =>
      Effect.map(Ref.get(states), (s) =>
        s.map((m, i): MemberStatus => ({
          name: built[i]!.name,
          models: routerModels.servedBy(modelTable, i),
          state: m.circuit._tag === "HalfOpen"
            ? "probing"
            : m.circuit._tag === "Open" && m.circuit.until > now
            ? "cooling-down"
            : "available",
          cooldownUntil: m.circuit._tag === "Open" && m.circuit.until > now ? m.circuit.until : undefined,
          inFlight: m.inFlight,
          latency: m.ewma,
          p95: state.p95(m, 1),
          requests: m.requests,
          successes: m.successes,
          failures: m.failuresTotal,
          cooldowns: m.cooldowns
        })))
  )

  return { provider, router: { name, members: snapshot } }
}
