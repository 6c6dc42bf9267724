import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { AuthenticationError, type LlmError, ProviderError, RateLimitError, RetryExhausted } from "../src/LlmError.js"
import * as Retry from "../src/Retry.js"

const context = { provider: "openai", model: "gpt-4o-mini" }

const rateLimit = (retryAfter?: Duration.DurationInput) =>
  new RateLimitError({
    provider: "openai",
    message: "slow down",
    retryAfter: retryAfter === undefined ? Option.none() : Option.some(Duration.decode(retryAfter))
  })
const providerError = new ProviderError({ provider: "openai", message: "503 overloaded", status: 503 })
const authError = new AuthenticationError({ provider: "openai", message: "bad key", status: 401 })

/**
 * An effect that fails with the scripted errors in turn, then succeeds with "ok"; it records the
 * Clock time of every attempt.
 */
const scripted = (errors: ReadonlyArray<LlmError>, options?: { readonly forever?: boolean }) => {
  const times: Array<number> = []
  const effect: Effect.Effect<string, LlmError> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    times.push(now)
    const error = errors[times.length - 1] ?? (options?.forever ? errors[errors.length - 1] : undefined)
    return error === undefined ? Effect.succeed("ok") : Effect.fail(error)
  })
  return { effect, times }
}

const permanent = (error: LlmError) => scripted([error], { forever: true })

const gaps = (times: ReadonlyArray<number>): Array<number> => times.slice(1).map((t, i) => t - times[i])

describe("Retry.retry", () => {
  it.effect("a 429 with retryAfter 30 s is not retried at 29 s, and is at 31 s", () =>
    Effect.gen(function*() {
      const { effect, times } = scripted([rateLimit("30 seconds")])
      const fiber = yield* Effect.fork(effect.pipe(Retry.retry(undefined, context)))
      yield* TestClock.adjust("29 seconds")
      assert.strictEqual(times.length, 1)
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      assert.deepStrictEqual(times, [0, 30_000])
    }))

  it.effect("an AuthenticationError is attempted exactly once and surfaces as itself", () =>
    Effect.gen(function*() {
      const { effect, times } = permanent(authError)
      const error = yield* effect.pipe(Retry.retry(undefined, context), Effect.flip)
      assert.strictEqual(error, authError)
      assert.strictEqual(times.length, 1)
    }))

  it.effect("a permanent ProviderError gives RetryExhausted after 4 attempts by default", () =>
    Effect.gen(function*() {
      const { effect, times } = permanent(providerError)
      const fiber = yield* Effect.fork(effect.pipe(Retry.retry(undefined, context), Effect.flip))
      yield* TestClock.adjust("10 minutes")
      const error = yield* Fiber.join(fiber)
      assert.instanceOf(error, RetryExhausted)
      if (error._tag !== "RetryExhausted") return
      assert.strictEqual(error.attempts, 4)
      assert.strictEqual(times.length, 4)
      assert.strictEqual(error.lastError, providerError)
      assert.strictEqual(error.provider, "openai")
      assert.strictEqual(error.model, "gpt-4o-mini")
      assert.strictEqual(error.message, "openai: gave up after 4 attempts: 503 overloaded")
    }))

  it.effect("RetryExhausted counts maxRetries + 1 attempts", () =>
    Effect.gen(function*() {
      for (const maxRetries of [1, 2, 5]) {
        const { effect, times } = permanent(providerError)
        const fiber = yield* Effect.fork(effect.pipe(Retry.retry({ maxRetries }, { provider: "p" }), Effect.flip))
        yield* TestClock.adjust("1 hour")
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error._tag, "RetryExhausted")
        assert.strictEqual(error._tag === "RetryExhausted" && error.attempts, maxRetries + 1)
        assert.strictEqual(times.length, maxRetries + 1)
        assert.isFalse("model" in error)
      }
    }))

  it.effect("attempts are counted per call, never shared between calls", () =>
    Effect.gen(function*() {
      const { effect } = permanent(providerError)
      const retried = effect.pipe(Retry.retry({ maxRetries: 2, jitter: false }, context), Effect.flip)
      const fiber = yield* Effect.fork(Effect.all([retried, retried], { concurrency: 2 }))
      yield* TestClock.adjust("1 hour")
      const errors = yield* Fiber.join(fiber)
      assert.deepStrictEqual(errors.map((e) => e._tag === "RetryExhausted" ? e.attempts : -1), [3, 3])
    }))

  it.effect("a retryAfter above maxRetryAfter surfaces the RateLimitError at once, after 1 attempt", () =>
    Effect.gen(function*() {
      const tooLong = rateLimit("61 seconds")
      const { effect, times } = permanent(tooLong)
      const error = yield* effect.pipe(Retry.retry(undefined, context), Effect.flip)
      assert.strictEqual(error, tooLong)
      assert.strictEqual(times.length, 1)
    }))

  it.effect("a too-long retryAfter after earlier retries still surfaces as the RateLimitError", () =>
    Effect.gen(function*() {
      const tooLong = rateLimit("2 hours")
      const { effect, times } = scripted([providerError, tooLong])
      const fiber = yield* Effect.fork(
        effect.pipe(Retry.retry({ maxRetryAfter: "1 hour", jitter: false }, context), Effect.flip)
      )
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), tooLong)
      assert.deepStrictEqual(times, [0, 1000])
    }))

  it.effect("a retryAfter shorter than the computed delay does not shorten it", () =>
    Effect.gen(function*() {
      const { effect, times } = scripted([rateLimit("10 millis")])
      const fiber = yield* Effect.fork(effect.pipe(Retry.retry({ jitter: false }, context)))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      assert.deepStrictEqual(times, [0, 1000])
    }))

  it.effect("without jitter the delays are exact, exponential and capped at maxDelay", () =>
    Effect.gen(function*() {
      const { effect, times } = permanent(providerError)
      const policy: Retry.RetryConfig = {
        maxRetries: 6,
        initialDelay: "100 millis",
        maxDelay: "1 second",
        exponentialBase: 3,
        jitter: false
      }
      const fiber = yield* Effect.fork(effect.pipe(Retry.retry(policy, context), Effect.flip))
      yield* TestClock.adjust("1 hour")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "RetryExhausted")
      assert.deepStrictEqual(gaps(times), [100, 300, 900, 1000, 1000, 1000])
    }))

  it.effect("with jitter each delay lies in [75 %, 100 %] of the nominal one, which grows and is capped", () =>
    Effect.gen(function*() {
      const { effect, times } = permanent(providerError)
      const fiber = yield* Effect.fork(
        effect.pipe(Retry.retry({ maxRetries: 8, maxDelay: "20 seconds" }, context), Effect.flip)
      )
      yield* TestClock.adjust("1 hour")
      yield* Fiber.join(fiber)
      const nominal = [1000, 2000, 4000, 8000, 16_000, 20_000, 20_000, 20_000]
      const observed = gaps(times)
      assert.strictEqual(observed.length, nominal.length)
      observed.forEach((gap, i) => {
        assert.isAtMost(gap, nominal[i])
        assert.isAtLeast(gap, nominal[i] * 0.75)
      })
      assert.isAbove(observed[4], observed[0] * 8)
    }))

  it.effect("the default policy waits about 1 s, 2 s, 4 s", () =>
    Effect.gen(function*() {
      const { effect, times } = permanent(providerError)
      const fiber = yield* Effect.fork(effect.pipe(Retry.retry(Retry.defaultPolicy, context), Effect.flip))
      yield* TestClock.adjust("1 hour")
      yield* Fiber.join(fiber)
      const observed = gaps(times)
      assert.strictEqual(observed.length, 3)
      ;[1000, 2000, 4000].forEach((nominal, i) => {
        assert.isAtMost(observed[i], nominal)
        assert.isAtLeast(observed[i], nominal * 0.75)
      })
    }))

  it.effect("false passes errors through as themselves, attempted once", () =>
    Effect.gen(function*() {
      const { effect, times } = permanent(providerError)
      const error = yield* effect.pipe(Retry.retry(false, context), Effect.flip)
      assert.strictEqual(error, providerError)
      assert.strictEqual(times.length, 1)
    }))

  it.effect("maxRetries: 0 passes errors through as themselves, attempted once", () =>
    Effect.gen(function*() {
      const limited = rateLimit("1 second")
      const { effect, times } = permanent(limited)
      const error = yield* effect.pipe(Retry.retry({ maxRetries: 0 }, context), Effect.flip)
      assert.strictEqual(error, limited)
      assert.strictEqual(times.length, 1)
    }))

  it.effect("a custom Schedule decides the delays and when to stop", () =>
    Effect.gen(function*() {
      const policy = Schedule.spaced("10 millis").pipe(Schedule.compose(Schedule.recurs(1)))
      const { effect, times } = permanent(rateLimit("30 seconds"))
      const fiber = yield* Effect.fork(effect.pipe(Retry.retry(policy, context), Effect.flip))
      yield* TestClock.adjust("9 millis")
      assert.strictEqual(times.length, 1)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual(times, [0, 10])
      assert.strictEqual(error._tag, "RetryExhausted")
      assert.strictEqual(error._tag === "RetryExhausted" && error.attempts, 2)
    }))

  it.effect("a custom Schedule never retries a non-retryable error", () =>
    Effect.gen(function*() {
      const { effect, times } = permanent(authError)
      const error = yield* effect.pipe(Retry.retry(Schedule.forever, context), Effect.flip)
      assert.strictEqual(error, authError)
      assert.strictEqual(times.length, 1)
    }))

  it.effect("a custom Schedule that stops at once passes the error through as itself", () =>
    Effect.gen(function*() {
      const { effect, times } = permanent(providerError)
      const error = yield* effect.pipe(Retry.retry(Schedule.stop, context), Effect.flip)
      assert.strictEqual(error, providerError)
      assert.strictEqual(times.length, 1)
    }))

  it.effect("withRetryAfter makes a custom Schedule honour retryAfter", () =>
    Effect.gen(function*() {
      const policy = Retry.withRetryAfter(Schedule.spaced("10 millis").pipe(Schedule.compose(Schedule.recurs(3))))
      const { effect, times } = scripted([rateLimit("5 seconds"), providerError])
      const fiber = yield* Effect.fork(effect.pipe(Retry.retry(policy, context)))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      assert.deepStrictEqual(times, [0, 5000, 5010])
    }))

  it.effect("an error that changes from retryable to not stops the retries with that error", () =>
    Effect.gen(function*() {
      const { effect, times } = scripted([providerError, authError])
      const fiber = yield* Effect.fork(effect.pipe(Retry.retry({ jitter: false }, context), Effect.flip))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* Fiber.join(fiber), authError)
      assert.strictEqual(times.length, 2)
    }))
})

describe("Retry.retryStream", () => {
  /** Attempt n (from 1) runs the n-th stream of the list (the last one again after the end). */
  const attempts = (streams: ReadonlyArray<Stream.Stream<string, LlmError>>) => {
    let count = 0
    const stream = Stream.suspend(() => streams[Math.min(count++, streams.length - 1)])
    return { stream, count: () => count }
  }

  it.effect("retries a stream that fails before its first element", () =>
    Effect.gen(function*() {
      const { count, stream } = attempts([Stream.fail(providerError), Stream.make("a", "b")])
      const fiber = yield* Effect.fork(Stream.runCollect(stream.pipe(Retry.retryStream({ jitter: false }, context))))
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(count(), 1)
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(Array.from(yield* Fiber.join(fiber)), ["a", "b"])
      assert.strictEqual(count(), 2)
    }))

  it.effect("does not retry after the first element: the error ends the stream, nothing is replayed", () =>
    Effect.gen(function*() {
      const { count, stream } = attempts([
        Stream.concat(Stream.make("a"), Stream.fail(providerError)),
        Stream.make("x")
      ])
      const seen: Array<string> = []
      const fiber = yield* Effect.fork(
        stream.pipe(
          Retry.retryStream(undefined, context),
          Stream.runForEach((s) => Effect.sync(() => seen.push(s))),
          Effect.flip
        )
      )
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* Fiber.join(fiber), providerError)
      assert.deepStrictEqual(seen, ["a"])
      assert.strictEqual(count(), 1)
    }))

  it.effect("a stream failing before its first element on every attempt gives RetryExhausted", () =>
    Effect.gen(function*() {
      const { count, stream } = attempts([Stream.fail(providerError)])
      const fiber = yield* Effect.fork(
        stream.pipe(Retry.retryStream({ maxRetries: 2 }, context), Stream.runDrain, Effect.flip)
      )
      yield* TestClock.adjust("1 hour")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "RetryExhausted")
      assert.strictEqual(error._tag === "RetryExhausted" && error.attempts, 3)
      assert.strictEqual(count(), 3)
    }))

  it.effect("a stream that was retried and then fails mid-way ends with the error itself", () =>
    Effect.gen(function*() {
      const { count, stream } = attempts([
        Stream.fail(providerError),
        Stream.concat(Stream.make("a"), Stream.fail(providerError))
      ])
      const fiber = yield* Effect.fork(
        stream.pipe(Retry.retryStream({ jitter: false }, context), Stream.runDrain, Effect.flip)
      )
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* Fiber.join(fiber), providerError)
      assert.strictEqual(count(), 2)
    }))

  it.effect("false and non-retryable errors pass through as themselves", () =>
    Effect.gen(function*() {
      const first = attempts([Stream.fail(providerError)])
      assert.strictEqual(
        yield* first.stream.pipe(Retry.retryStream(false, context), Stream.runDrain, Effect.flip),
        providerError
      )
      assert.strictEqual(first.count(), 1)
      const second = attempts([Stream.fail(authError)])
      assert.strictEqual(
        yield* second.stream.pipe(Retry.retryStream(undefined, context), Stream.runDrain, Effect.flip),
        authError
      )
      assert.strictEqual(second.count(), 1)
    }))
})

describe("Retry.retryAfterFromHeaders", () => {
  const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT")
  const millisOf = (headers: Record<string, string | undefined>) =>
    Option.map(Retry.retryAfterFromHeaders(headers, now), Duration.toMillis)

  it("reads retry-after-ms as (fractional) milliseconds, before retry-after", () => {
    assert.deepStrictEqual(millisOf({ "retry-after-ms": "1500.5" }), Option.some(1500.5))
    assert.deepStrictEqual(millisOf({ "retry-after-ms": "200", "retry-after": "5" }), Option.some(200))
  })

  it("reads retry-after as (fractional) seconds", () => {
    assert.deepStrictEqual(millisOf({ "retry-after": "2" }), Option.some(2000))
    assert.deepStrictEqual(millisOf({ "retry-after": "0.25" }), Option.some(250))
    assert.deepStrictEqual(millisOf({ "retry-after": "0" }), Option.some(0))
    assert.deepStrictEqual(millisOf({ "Retry-After": "3" }), Option.some(3000))
  })

  it("reads retry-after as an HTTP date, relative to now", () => {
    assert.deepStrictEqual(millisOf({ "retry-after": "Wed, 21 Oct 2015 07:28:30 GMT" }), Option.some(30_000))
    assert.deepStrictEqual(millisOf({ "retry-after": "Wed, 21 Oct 2015 07:27:00 GMT" }), Option.none())
  })

  it("gives none for missing, negative or garbage values", () => {
    for (
      const value of ["", "soon", "-5", "1e3", "0x10", "Infinity", "NaN", "5 seconds", "Wed, 99 Foo 2015", "12abc"]
    ) {
      assert.deepStrictEqual(millisOf({ "retry-after": value }), Option.none(), value)
    }
    assert.deepStrictEqual(millisOf({ "retry-after-ms": "-1" }), Option.none())
    assert.deepStrictEqual(millisOf({}), Option.none())
  })

  it.prop("integer seconds give exactly that many seconds", [FastCheck.integer({ min: 0, max: 86_400 })], ([secs]) => {
    assert.deepStrictEqual(millisOf({ "retry-after": String(secs) }), Option.some(secs * 1000))
  })
})
