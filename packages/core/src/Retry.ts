/**
 * Retry policies for provider calls, as `Schedule`s over our typed errors.
 *
 * Only retryable errors (`isRetryable`: rate limits, provider failures, timeouts, network failures)
 * are ever retried; a `RateLimitError.retryAfter` replaces the computed delay when longer; a stream is
 * retried only until its first element; running out of retries gives `RetryExhausted`. Everything
 * waits on `Clock`, so `TestClock` drives it in tests.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { unwrap } from "./internal/stream.js"
import { isRetryable, type LlmError, RetryExhausted } from "./LlmError.js"

/**
 * The knobs of the built-in exponential backoff. Every field is optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryConfig {
  /** Retries after the first attempt. Default 3; 0 disables retrying. */
  readonly maxRetries?: number | undefined
  /** The delay before the first retry. Default 1 second. */
  readonly initialDelay?: Duration.DurationInput | undefined
  /** The cap on any computed delay. Default 60 seconds. */
  readonly maxDelay?: Duration.DurationInput | undefined
  /** The factor between two successive delays. Default 2. */
  readonly exponentialBase?: number | undefined
  /** Whether to shorten each delay by a random 0–25 % (spreads out clients that failed together). Default true. */
  readonly jitter?: boolean | undefined
  /** The longest `retryAfter` worth waiting for; a longer one surfaces the `RateLimitError` at once. Default 60 seconds. */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
}

/**
 * A retry policy: any `Schedule` whose input is the error of the failed attempt. It decides the delays
 * and when to stop; errors that are not `isRetryable` are never retried, whatever it says.
 *
 * @since 0.1.0
 * @category models
 */
export type Policy = Schedule.Schedule<unknown, LlmError>

/**
 * What a provider's `retry` option accepts: a `Policy`, a `RetryConfig` for the built-in backoff, or
 * `false` for no retries. `undefined` means `defaultPolicy`.
 *
 * @since 0.1.0
 * @category models
 */
export type RetryOption = Policy | RetryConfig | false

/**
 * Who is retrying, for the `RetryExhausted` error.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryContext {
  readonly provider: string
  readonly model?: string | undefined
}

// Policies that carry a `maxRetryAfter`: when such a policy stops because a `retryAfter` is too long,
// the RateLimitError is the answer (the provider told us when to come back), not `RetryExhausted`.
const maxRetryAfterOf = new WeakMap<Policy, Duration.Duration>()

const exceedsRetryAfter = (error: LlmError, max: Duration.Duration): boolean =>
  error._tag === "RateLimitError" && Option.isSome(error.retryAfter) &&
  Duration.greaterThan(error.retryAfter.value, max)

/**
 * Makes a policy honour `RateLimitError.retryAfter`: the delay becomes the `retryAfter` when that is
 * longer than what `self` computed, and a `retryAfter` beyond `maxRetryAfter` (default 60 seconds)
 * stops the policy so that the `RateLimitError` surfaces at once, as itself. `fromConfig` policies
 * already do this; use it on a policy of your own.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withRetryAfter = (
  self: Policy,
  options?: { readonly maxRetryAfter?: Duration.DurationInput | undefined }
): Policy => {
  const max = Duration.decode(options?.maxRetryAfter ?? "60 seconds")
  const policy: Policy = self.pipe(
    Schedule.whileInput((error: LlmError) => !exceedsRetryAfter(error, max)),
    Schedule.passthrough,
    Schedule.modifyDelay((error, computed) => {
      if (error._tag !== "RateLimitError" || Option.isNone(error.retryAfter)) return computed
      return Duration.max(computed, error.retryAfter.value)
    })
  )
  maxRetryAfterOf.set(policy, max)
  return policy
}

const nonNegative = (n: number | undefined, fallback: number): number =>
  n === undefined || Number.isNaN(n) ? fallback : Math.max(0, n)

/**
 * Builds the exponential backoff policy: the n-th retry (from 0) waits
 * `min(initialDelay * exponentialBase ** n, maxDelay)`, shortened by up to 25 % when `jitter` is on,
 * or the `RateLimitError.retryAfter` when that is longer; at most `maxRetries` retries, of retryable
 * errors only.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromConfig = (config: RetryConfig = {}): Policy => {
  const maxRetries = Math.floor(nonNegative(config.maxRetries, 3))
  const initialMillis = Duration.toMillis(config.initialDelay ?? "1 second")
  const maxMillis = Duration.toMillis(config.maxDelay ?? "60 seconds")
  const base = nonNegative(config.exponentialBase, 2)
  const jitter = config.jitter ?? true
  // Computed from the retry number rather than from the previous delay, and capped before jittering:
  // no overflow to Infinity after many retries, and a capped delay still gets its jitter.
  const nominal = (n: number): number => Math.min(initialMillis * Math.pow(base, n), maxMillis)
  const backoff = Schedule.recurs(maxRetries).pipe(
    Schedule.modifyDelayEffect((n) =>
      jitter
        ? Effect.map(Random.next, (random) => Duration.millis(nominal(n) * (1 - 0.25 * random)))
        : Effect.succeed(Duration.millis(nominal(n)))
    ),
    Schedule.whileInput((error: LlmError) => isRetryable(error))
  )
  return withRetryAfter(backoff, { maxRetryAfter: config.maxRetryAfter })
}

/**
 * Up to 3 retries, exponential from 1 second, base 2, capped at 60 seconds, with jitter; a
 * `retryAfter` up to 60 seconds is honoured. `fromConfig({})`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultPolicy: Policy = fromConfig({})

interface Resolved {
  // `policy` already refuses non-retryable errors, whatever the user's schedule says.
  readonly policy: Policy
  readonly maxRetryAfter: Duration.Duration | undefined
}

const resolvedCache = new WeakMap<object, Resolved>()

const guard = (policy: Policy): Resolved => ({
  policy: Schedule.whileInput(policy, (error: LlmError) => isRetryable(error)),
  maxRetryAfter: maxRetryAfterOf.get(policy)
})

const resolvedDefault = guard(defaultPolicy)

// Providers resolve their option on every call: the cache keeps that to a WeakMap lookup.
const resolve = (option: RetryOption | undefined): Resolved | undefined => {
  if (option === undefined) return resolvedDefault
  if (option === false) return undefined
  let resolved = resolvedCache.get(option)
  if (resolved === undefined) {
    resolved = guard(Schedule.isSchedule(option) ? option as Policy : fromConfig(option as RetryConfig))
    resolvedCache.set(option, resolved)
  }
  return resolved
}

const finalError = (
  error: LlmError,
  attempts: number,
  resolved: Resolved,
  context: RetryContext
): LlmError => {
  if (attempts < 2 || !isRetryable(error)) return error
  if (resolved.maxRetryAfter !== undefined && exceedsRetryAfter(error, resolved.maxRetryAfter)) return error
  return new RetryExhausted({
    provider: context.provider,
    ...(context.model !== undefined ? { model: context.model } : {}),
    attempts,
    lastError: error,
    message: `${context.provider}: gave up after ${attempts} attempts: ${error.message}`
  })
}

/**
 * Retries an effect by the given option (`undefined`: `defaultPolicy`; `false`: no retries). A
 * non-retryable error passes through untouched; a retryable one that outlives the policy after at
 * least one retry becomes `RetryExhausted`, whose `attempts` counts the first attempt too.
 *
 * @since 0.1.0
 * @category combinators
 */
export const retry = (
  option: RetryOption | undefined,
  context: RetryContext
) =>
<A, R>(self: Effect.Effect<A, LlmError, R>): Effect.Effect<A, LlmError, R> => {
  const resolved = resolve(option)
  if (resolved === undefined) return self
  // The schedule's driver is built only when the first attempt fails, so that a call that succeeds at once (nearly
  // all of them) pays for one `catchAll`. The first error is replayed to the schedule as its first input.
  return Effect.catchAll(self, (first) => {
    let attempts = 1
    let replay: LlmError | undefined = first
    const attempt = Effect.suspend(() => {
      if (replay !== undefined) {
        const error = replay
        replay = undefined
        return Effect.fail(error)
      }
      attempts++
      return self
    })
    return Effect.retry(attempt, resolved.policy).pipe(
      Effect.mapError((error) => finalError(error, attempts, resolved, context))
    )
  })
}

/**
 * Retries a stream like `retry`, but only while it has not emitted its first element: after that, a
 * failure ends the stream with the error itself, so that no element is ever replayed.
 *
 * @since 0.1.0
 * @category combinators
 */
export const retryStream = (
  option: RetryOption | undefined,
  context: RetryContext,
  options?: {
    /**
     * Says whether the stream has emitted an element, when a stage around it already watches (see
     * `Telemetry.trackStream`'s `onFirstChunk`): then this adds no stage of its own. It must be fresh per run.
     */
    readonly emitted?: (() => boolean) | undefined
  }
) =>
<A, R>(self: Stream.Stream<A, LlmError, R>): Stream.Stream<A, LlmError, R> => {
  const resolved = resolve(option)
  if (resolved === undefined) return self
  const given = options?.emitted
  return Stream.suspend(() => {
    let attempts = 0
    let seen = false
    const emitted = given ?? (() => seen)
    // built on the first failure only (see `retry`)
    let driver: Schedule.ScheduleDriver<unknown, LlmError, never> | undefined = undefined
    const run = Stream.suspend(() => {
      attempts++
      return self
    })
    const attempt = given !== undefined ? run : run.pipe(Stream.mapChunks((chunk) => {
      if (!seen && chunk.length > 0) seen = true
      return chunk
    }))
    // One `catchAll` per attempt: a stream that runs through pays for it (and the `mapChunks` above), per chunk.
    const loop: Stream.Stream<A, LlmError, R> = Stream.catchAll(attempt, (error) => {
      if (emitted()) return Stream.fail(error)
      const next = Effect.flatMap(
        driver === undefined ? Schedule.driver(resolved.policy) : Effect.succeed(driver),
        (current) => {
          driver = current
          return current.next(error)
        }
      )
      return unwrap(Effect.matchEffect(next, {
        onFailure: () => Effect.fail(finalError(error, attempts, resolved, context)),
        onSuccess: () => Effect.succeed(loop)
      }))
    })
    return loop
  })
}

const decimal = /^\s*(?:\d+(?:\.\d*)?|\.\d+)\s*$/
const clockTime = /\d{1,2}:\d{2}:\d{2}/

const lookup = (headers: Readonly<Record<string, string | undefined>>, name: string): string | undefined => {
  const direct = headers[name]
  if (direct !== undefined) return direct
  // Headers from `@effect/platform` are lower-cased already; anything else is searched by hand.
  for (const key in headers) {
    if (key.toLowerCase() === name) return headers[key]
  }
  return undefined
}

const millis = (ms: number): Option.Option<Duration.Duration> =>
  Number.isFinite(ms) && ms >= 0 ? Option.some(Duration.millis(ms)) : Option.none()

/**
 * Reads the wait a throttled response asks for: `retry-after-ms` (milliseconds, possibly fractional)
 * first, else `retry-after` as seconds (possibly fractional) or as an HTTP date, measured from
 * `nowMillis`. A negative, past or unreadable value gives none.
 *
 * @since 0.1.0
 * @category utils
 */
export const retryAfterFromHeaders = (
  headers: Readonly<Record<string, string | undefined>>,
  nowMillis: number
): Option.Option<Duration.Duration> => {
  const ms = lookup(headers, "retry-after-ms")
  if (ms !== undefined && decimal.test(ms)) return millis(Number(ms))
  const value = lookup(headers, "retry-after")
  if (value === undefined) return Option.none()
  if (decimal.test(value)) return millis(Number(value) * 1000)
  // Date.parse accepts much that is no HTTP date; every HTTP date form carries a hh:mm:ss time.
  if (!clockTime.test(value)) return Option.none()
  const date = Date.parse(value)
  return Number.isNaN(date) ? Option.none() : millis(date - nowMillis)
}
