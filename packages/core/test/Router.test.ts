import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import type { ChatCompletionRequest } from "../src/Domain.js"
import {
  ContextLengthError,
  InvalidRequestError,
  NetworkError,
  ProviderError,
  QuotaExceededError,
  RateLimitError,
  ResponseDecodeError
} from "../src/LlmError.js"
import * as RateLimit from "../src/RateLimit.js"
import * as Router from "../src/Router.js"
import * as Telemetry from "../src/Telemetry.js"
import { MockProvider } from "../src/testing.js"
import { recordingTracer } from "./tracing.js"

const hi: ChatCompletionRequest = { messages: [{ role: "user", content: "hi there" }] }

const down = (name: string) => new ProviderError({ provider: name, message: "503 overloaded", status: 503 })

const mock = (name: string, script: MockProvider.Script) => MockProvider.make(script, { name })

const always = (step: MockProvider.Step): MockProvider.Script => () => step

const contentOf = (
  completion: { readonly choices: ReadonlyArray<{ readonly message: { readonly content: unknown } }> }
) => completion.choices[0]!.message.content

describe("Router", () => {
  describe("fallback", () => {
    it.scoped("a retryable failure goes on to the next member, and is counted as a fallback", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", [MockProvider.fail(down("a"))])
        const b = yield* mock("b", [MockProvider.reply("from b")])
        const { provider } = yield* Router.make([
          Router.member("a", a.provider),
          Router.member("b", b.provider)
        ], { name: "fb-1" })
        const fallbacks = Metric.tagged(
          Metric.tagged(Metric.tagged(Telemetry.fallbacks, "router", "fb-1"), "from", "a"),
          "reason",
          "ProviderError"
        )
        const before = (yield* Metric.value(fallbacks)).count
        const completion = yield* provider.chat(hi)
        assert.strictEqual(contentOf(completion), "from b")
        assert.strictEqual((yield* a.mock.calls).length, 1)
        assert.strictEqual((yield* Metric.value(fallbacks)).count - before, 1)
      }))

    it.scoped("an error the predicate refuses is the answer: the next member is not asked", () =>
      Effect.gen(function*() {
        const bad = new InvalidRequestError({ provider: "a", message: "bad temperature" })
        const a = yield* mock("a", [MockProvider.fail(bad)])
        const b = yield* mock("b", [])
        const { provider } = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)])
        const error = yield* Effect.flip(provider.chat(hi))
        assert.strictEqual(error._tag, "InvalidRequestError")
        assert.strictEqual((yield* b.mock.calls).length, 0)
      }))

    it.scoped("when every member fails, the last member's error is the answer", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", [MockProvider.fail(down("a"))])
        const b = yield* mock("b", [MockProvider.fail(new QuotaExceededError({ provider: "b", message: "no credit" }))])
        const { provider } = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)])
        const error = yield* Effect.flip(provider.chat(hi))
        assert.strictEqual(error._tag, "QuotaExceededError")
        assert.strictEqual(error.provider, "b")
      }))

    it.scoped("a ContextLengthError falls back only to a member with a larger context window", () =>
      Effect.gen(function*() {
        const small = yield* mock("small", [
          MockProvider.fail(new ContextLengthError({ provider: "small", message: "too long" }))
        ])
        const unmarked = yield* mock("unmarked", [])
        const smaller = yield* mock("smaller", [])
        const large = yield* mock("large", [MockProvider.reply("large enough")])
        const { provider } = yield* Router.make([
          Router.member("small", small.provider, { contextWindow: 8_000 }),
          Router.member("unmarked", unmarked.provider),
          Router.member("smaller", smaller.provider, { contextWindow: 4_000 }),
          Router.member("large", large.provider, { contextWindow: 128_000 })
        ])
        assert.strictEqual(contentOf(yield* provider.chat(hi)), "large enough")
        assert.strictEqual((yield* unmarked.mock.calls).length, 0)
        assert.strictEqual((yield* smaller.mock.calls).length, 0)
      }))
  })

  describe("cooldowns", () => {
    it.scoped("a member that failed N times in the window is skipped until its cooldown ends, then probed once", () =>
      Effect.gen(function*() {
        let aHealthy = false
        const a = yield* mock("a", () => aHealthy ? MockProvider.reply("a is back") : MockProvider.fail(down("a")))
        const b = yield* mock("b", always(MockProvider.reply("from b")))
        const { provider, router } = yield* Router.make([
          Router.member("a", a.provider),
          Router.member("b", b.provider)
        ], { cooldown: { failures: 3, window: "1 minute", duration: "30 seconds" } })
        for (let i = 0; i < 3; i++) assert.strictEqual(contentOf(yield* provider.chat(hi)), "from b")
        assert.strictEqual((yield* a.mock.calls).length, 3)
        assert.strictEqual((yield* router.members)[0]!.state, "cooling-down")
        // In cooldown: a is not asked at all.
        for (let i = 0; i < 5; i++) yield* provider.chat(hi)
        assert.strictEqual((yield* a.mock.calls).length, 3)
        yield* TestClock.adjust("29999 millis")
        yield* provider.chat(hi)
        assert.strictEqual((yield* a.mock.calls).length, 3)
        yield* TestClock.adjust("1 millis")
        aHealthy = true
        assert.strictEqual(contentOf(yield* provider.chat(hi)), "a is back")
        assert.strictEqual((yield* a.mock.calls).length, 4)
        assert.strictEqual((yield* router.members)[0]!.state, "available")
      }))

    it.scoped("failures older than the window do not count", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", always(MockProvider.fail(down("a"))))
        const b = yield* mock("b", always(MockProvider.reply("from b")))
        const { provider, router } = yield* Router.make([
          Router.member("a", a.provider),
          Router.member("b", b.provider)
        ], { cooldown: { failures: 2, window: "10 seconds" } })
        yield* provider.chat(hi)
        yield* TestClock.adjust("11 seconds")
        yield* provider.chat(hi)
        assert.strictEqual((yield* router.members)[0]!.state, "available")
        yield* provider.chat(hi)
        assert.strictEqual((yield* router.members)[0]!.state, "cooling-down")
      }))

    it.scoped("a failed probe opens the cooldown again", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", always(MockProvider.fail(down("a"))))
        const b = yield* mock("b", always(MockProvider.reply("from b")))
        const { provider, router } = yield* Router.make([
          Router.member("a", a.provider),
          Router.member("b", b.provider)
        ], { cooldown: { failures: 1, duration: "10 seconds" } })
        yield* provider.chat(hi)
        yield* TestClock.adjust("10 seconds")
        yield* provider.chat(hi)
        assert.strictEqual((yield* a.mock.calls).length, 2)
        const status = (yield* router.members)[0]!
        assert.strictEqual(status.state, "cooling-down")
        assert.strictEqual(status.cooldowns, 2)
      }))

    it.scoped("a RateLimitError with retryAfter cools the member down for exactly that long", () =>
      Effect.gen(function*() {
        const limited = new RateLimitError({
          provider: "a",
          message: "429",
          retryAfter: Option.some(Duration.seconds(90))
        })
        const a = yield* mock("a", [MockProvider.fail(limited), MockProvider.reply("a again")])
        const b = yield* mock("b", always(MockProvider.reply("from b")))
        const { provider, router } = yield* Router.make([
          Router.member("a", a.provider),
          Router.member("b", b.provider)
        ])
        assert.strictEqual(contentOf(yield* provider.chat(hi)), "from b")
        assert.strictEqual((yield* router.members)[0]!.cooldownUntil, 90_000)
        yield* TestClock.adjust("89 seconds")
        assert.strictEqual(contentOf(yield* provider.chat(hi)), "from b")
        yield* TestClock.adjust("1 second")
        assert.strictEqual(contentOf(yield* provider.chat(hi)), "a again")
      }))

    it.scoped("while a probe is in flight, the other calls skip the member: one probe only", () =>
      Effect.gen(function*() {
        let first = true
        const a = yield* mock("a", () => {
          if (first) {
            first = false
            return MockProvider.fail(down("a"))
          }
          return MockProvider.reply("probe ok", { delay: "5 seconds" })
        })
        const b = yield* mock("b", always(MockProvider.reply("from b")))
        const { provider } = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)], {
          cooldown: { failures: 1, duration: "10 seconds" }
        })
        yield* provider.chat(hi)
        yield* TestClock.adjust("10 seconds")
        const fibers = yield* Effect.forEach(Array.from({ length: 10 }), () => Effect.fork(provider.chat(hi)))
        yield* TestClock.adjust("5 seconds")
        const answers = yield* Effect.forEach(fibers, Fiber.join)
        assert.strictEqual((yield* a.mock.calls).length, 2)
        assert.strictEqual(answers.filter((c) => contentOf(c) === "probe ok").length, 1)
        assert.strictEqual(answers.filter((c) => contentOf(c) === "from b").length, 9)
      }))

    it.scoped("exact under concurrency: after the threshold, no call reaches the member", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", always(MockProvider.fail(down("a"), { delay: "1 second" })))
        const b = yield* mock("b", always(MockProvider.reply("from b")))
        const { provider, router } = yield* Router.make([
          Router.member("a", a.provider),
          Router.member("b", b.provider)
        ], {
          cooldown: { failures: 3, duration: "1 minute" }
        })
        // 20 calls in flight at once are all admitted (a is healthy when they start)...
        const fibers = yield* Effect.forEach(Array.from({ length: 20 }), () => Effect.fork(provider.chat(hi)))
        yield* TestClock.adjust("1 second")
        yield* Effect.forEach(fibers, Fiber.join)
        assert.strictEqual((yield* a.mock.calls).length, 20)
        assert.strictEqual((yield* router.members)[0]!.state, "cooling-down")
        assert.strictEqual((yield* router.members)[0]!.cooldowns, 1)
        // ...but once the cooldown is open, 200 concurrent calls never touch a.
        yield* Effect.forEach(Array.from({ length: 200 }), () => provider.chat(hi), { concurrency: "unbounded" })
        assert.strictEqual((yield* a.mock.calls).length, 20)
      }))

    it.scoped("when every member is cooling down, a RateLimitError says when the first comes back", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", always(MockProvider.fail(down("a"))))
        const b = yield* mock("b", always(MockProvider.fail(down("b"))))
        const { provider } = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)], {
          name: "pair",
          cooldown: { failures: 1, duration: "20 seconds" }
        })
        yield* Effect.flip(provider.chat(hi))
        yield* TestClock.adjust("5 seconds")
        const error = yield* Effect.flip(provider.chat(hi))
        assert.strictEqual(error._tag, "RateLimitError")
        assert.strictEqual(error.provider, "pair")
        if (error._tag === "RateLimitError") {
          assert.deepStrictEqual(Option.map(error.retryAfter, Duration.toMillis), Option.some(15_000))
        }
      }))
  })

  describe("waiting for a member to come back", () => {
    const throttled = (seconds: number) =>
      new RateLimitError({ provider: "a", message: "429", retryAfter: Option.some(Duration.seconds(seconds)) })

    it.scoped("a call whose attempt failed while the other member cools down waits for it, then tries it", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", [MockProvider.fail(throttled(2)), MockProvider.reply("a is back")])
        const b = yield* mock("b", [MockProvider.reply("from b"), MockProvider.fail(down("b"))])
        const { provider } = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)])
        assert.strictEqual(contentOf(yield* provider.chat(hi)), "from b")
        // a cools down for 2 s; the next call finds it cooling, fails on b, and waits for a (default maxWait 5 s).
        const fiber = yield* Effect.fork(provider.chat(hi))
        yield* TestClock.adjust("1999 millis")
        assert.strictEqual((yield* b.mock.calls).length, 2)
        assert.strictEqual((yield* a.mock.calls).length, 1)
        assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(contentOf(yield* Fiber.join(fiber)), "a is back")
        assert.strictEqual((yield* a.mock.calls).length, 2)
      }))

    it.scoped("a cooldown that ends after maxWait is not waited for: the last member's error, at once", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", [MockProvider.fail(throttled(6))])
        const b = yield* mock("b", [MockProvider.reply("from b"), MockProvider.fail(down("b"))])
        const { provider } = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)])
        yield* provider.chat(hi)
        const error = yield* Effect.flip(provider.chat(hi))
        assert.strictEqual(error._tag, "ProviderError")
        assert.strictEqual(error.provider, "b")
        assert.strictEqual((yield* a.mock.calls).length, 1)
      }))

    it.scoped("a member that already failed this call is not tried again after the wait", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", [MockProvider.fail(throttled(1))])
        const b = yield* mock("b", always(MockProvider.fail(down("b"))))
        const { provider } = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)], {
          cooldown: { failures: 100 }
        })
        const fiber = yield* Effect.fork(provider.chat(hi))
        yield* TestClock.adjust("10 seconds")
        const error = yield* Effect.flip(Fiber.join(fiber))
        assert.strictEqual(error._tag, "ProviderError")
        assert.strictEqual((yield* a.mock.calls).length, 1)
        assert.strictEqual((yield* b.mock.calls).length, 1)
      }))

    it.scoped("while a member's probe runs, a call whose other member failed waits for the probe's answer", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", [
          MockProvider.fail(throttled(1)),
          MockProvider.reply("probe ok", { delay: "3 seconds" }),
          MockProvider.reply("after the probe")
        ])
        const b = yield* mock("b", [MockProvider.reply("from b"), MockProvider.fail(down("b"))])
        const { provider, router } = yield* Router.make([
          Router.member("a", a.provider),
          Router.member("b", b.provider)
        ], { strategy: "fallback" })
        yield* provider.chat(hi)
        yield* TestClock.adjust("1 second")
        const probe = yield* Effect.fork(provider.chat(hi))
        yield* TestClock.adjust("1 millis")
        assert.strictEqual((yield* router.members)[0]!.state, "probing")
        // This call skips a (probed), fails on b, and waits: it does not fail while the probe may still succeed.
        const waiting = yield* Effect.fork(provider.chat(hi))
        yield* TestClock.adjust("2 seconds")
        assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)))
        yield* TestClock.adjust("1 second")
        assert.strictEqual(contentOf(yield* Fiber.join(probe)), "probe ok")
        yield* TestClock.adjust("20 millis")
        assert.strictEqual(contentOf(yield* Fiber.join(waiting)), "after the probe")
      }))

    it.scoped("maxWait: 0 fails at once, as before", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", [MockProvider.fail(throttled(1))])
        const b = yield* mock("b", [MockProvider.reply("from b"), MockProvider.fail(down("b"))])
        const { provider } = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)], {
          cooldown: { maxWait: 0 }
        })
        yield* provider.chat(hi)
        const error = yield* Effect.flip(provider.chat(hi))
        assert.strictEqual(error._tag, "ProviderError")
      }))

    it.scoped("a ResponseDecodeError falls back by default; fallbackOn can make it the answer", () =>
      Effect.gen(function*() {
        const garbled = new ResponseDecodeError({ provider: "a", message: "Expected JSON" })
        const a = yield* mock("a", always(MockProvider.fail(garbled)))
        const b = yield* mock("b", always(MockProvider.reply("from b")))
        const routed = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)])
        assert.strictEqual(contentOf(yield* routed.provider.chat(hi)), "from b")
        const strict = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)], {
          fallbackOn: (error) => error._tag !== "ResponseDecodeError" && Router.defaultFallbackOn(error)
        })
        assert.strictEqual((yield* Effect.flip(strict.provider.chat(hi)))._tag, "ResponseDecodeError")
      }))
  })

  describe("hedging", () => {
    it.scoped("a slow member is hedged after the delay; the first answer wins and the loser is interrupted", () =>
      Effect.gen(function*() {
        let interrupted = 0
        const slow = MockProvider.make([MockProvider.reply("slow", { delay: "10 seconds" })], { name: "a" })
        const a = yield* slow
        const aService = {
          ...a.provider,
          chat: (request: ChatCompletionRequest) =>
            a.provider.chat(request).pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted++)))
        }
        const b = yield* mock("b", [MockProvider.reply("fast", { delay: "1 second" })])
        const { provider } = yield* Router.make([Router.member("a", aService), Router.member("b", b.provider)], {
          hedge: { after: "2 seconds" }
        })
        const fiber = yield* Effect.fork(provider.chat(hi))
        yield* TestClock.adjust("1999 millis")
        assert.strictEqual((yield* b.mock.calls).length, 0)
        yield* TestClock.adjust("1 millis")
        assert.strictEqual((yield* b.mock.calls).length, 1)
        yield* TestClock.adjust("1 second")
        const completion = yield* Fiber.join(fiber)
        assert.strictEqual(contentOf(completion), "fast")
        assert.strictEqual(interrupted, 1)
      }))

    it.scoped("a call interrupted while hedged twice interrupts every attempt and leaves nothing in flight", () =>
      Effect.gen(function*() {
        const interrupted: Array<string> = []
        const slow = (name: string) =>
          Effect.map(mock(name, always(MockProvider.reply(name, { delay: "10 seconds" }))), (m) => ({
            ...m.provider,
            chat: (request: ChatCompletionRequest) =>
              m.provider.chat(request).pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted.push(name))))
          }))
        const { provider, router } = yield* Router.make([
          Router.member("a", yield* slow("a")),
          Router.member("b", yield* slow("b")),
          Router.member("c", yield* slow("c"))
        ], { hedge: { after: "1 second" } })
        const fiber = yield* Effect.fork(provider.chat(hi))
        yield* TestClock.adjust("2 seconds") // a, then b after 1 s, then c after 2 s
        assert.deepStrictEqual((yield* router.members).map((m) => m.inFlight), [1, 1, 1])
        yield* Fiber.interrupt(fiber)
        assert.deepStrictEqual(interrupted.slice().sort(), ["a", "b", "c"])
        assert.deepStrictEqual((yield* router.members).map((m) => m.inFlight), [0, 0, 0])
      }))

    it.scoped("when the first member wins a twice-hedged race, both later attempts are interrupted", () =>
      Effect.gen(function*() {
        const interrupted: Array<string> = []
        const make = (name: string, delay: Duration.DurationInput) =>
          Effect.map(mock(name, always(MockProvider.reply(name, { delay }))), (m) => ({
            ...m.provider,
            chat: (request: ChatCompletionRequest) =>
              m.provider.chat(request).pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted.push(name))))
          }))
        const { provider, router } = yield* Router.make([
          Router.member("a", yield* make("a", "2500 millis")),
          Router.member("b", yield* make("b", "10 seconds")),
          Router.member("c", yield* make("c", "10 seconds"))
        ], { hedge: { after: "1 second" } })
        const fiber = yield* Effect.fork(provider.chat(hi))
        yield* TestClock.adjust("2500 millis")
        assert.strictEqual(contentOf(yield* Fiber.join(fiber)), "a")
        assert.deepStrictEqual(interrupted.slice().sort(), ["b", "c"])
        assert.deepStrictEqual((yield* router.members).map((m) => m.inFlight), [0, 0, 0])
      }))

    it.scoped("no hedge when the member answers before the delay", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", [MockProvider.reply("a", { delay: "1 second" })])
        const b = yield* mock("b", [])
        const { provider } = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)], {
          hedge: { after: "2 seconds" }
        })
        const fiber = yield* Effect.fork(provider.chat(hi))
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(contentOf(yield* Fiber.join(fiber)), "a")
        assert.strictEqual((yield* b.mock.calls).length, 0)
      }))

    it.scoped("with after: p95, the delay is the member's observed p95", () =>
      Effect.gen(function*() {
        // 10 answers: nine in 100 ms, one in 1 s; then one that takes 5 s.
        const script = [
          ...Array.from({ length: 9 }, () => MockProvider.reply("a", { delay: "100 millis" })),
          MockProvider.reply("a", { delay: "1 second" }),
          MockProvider.reply("a slow", { delay: "5 seconds" })
        ]
        const a = yield* mock("a", script)
        const b = yield* mock("b", [MockProvider.reply("b")])
        const { provider } = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)], {
          hedge: { after: "p95", minSamples: 10 }
        })
        for (const step of script.slice(0, 10)) {
          const fiber = yield* Effect.fork(provider.chat(hi))
          yield* TestClock.adjust(step._tag === "Reply" ? step.delay! : 0)
          yield* Fiber.join(fiber)
        }
        assert.strictEqual((yield* b.mock.calls).length, 0)
        const fiber = yield* Effect.fork(provider.chat(hi))
        yield* TestClock.adjust("999 millis")
        assert.strictEqual((yield* b.mock.calls).length, 0)
        yield* TestClock.adjust("1 millis")
        assert.strictEqual((yield* b.mock.calls).length, 1)
        assert.strictEqual(contentOf(yield* Fiber.join(fiber)), "b")
      }))
  })

  describe("streams", () => {
    it.scoped("a failure before the first chunk falls back; the stream comes whole from the next member", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", [MockProvider.fail(new NetworkError({ provider: "a", message: "reset" }))])
        const b = yield* mock("b", [MockProvider.stream(["one", " two"])])
        const { provider } = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)])
        const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(provider.stream(hi)))
        const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")
        assert.strictEqual(text, "one two")
      }))

    it.scoped("after the first chunk, a failure ends the stream with its error, which says how much was emitted", () =>
      Effect.gen(function*() {
        const cut = new NetworkError({ provider: "a", message: "connection reset" })
        const a = yield* mock("a", [MockProvider.stream(["one", " two", " three"], { failWith: cut })])
        const b = yield* mock("b", [])
        const { provider } = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)])
        const seen: Array<string> = []
        const result = yield* provider.stream(hi).pipe(
          Stream.runForEach((c) => Effect.sync(() => seen.push(c.choices[0]?.delta.content ?? ""))),
          Effect.either
        )
        assert.deepStrictEqual(seen, ["one", " two", " three"])
        assert.isTrue(Either.isLeft(result))
        if (Either.isLeft(result)) {
          const error = result.left
          assert.strictEqual(error._tag, "NetworkError")
          assert.strictEqual(error.emittedChunks, 3)
          assert.include(error.message, "after 3 chunks")
        }
        assert.strictEqual((yield* b.mock.calls).length, 0)
      }))

    it.scoped("a slow first chunk is hedged; the losing stream is interrupted", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", [MockProvider.stream(["slow"], { delay: "10 seconds" })])
        const b = yield* mock("b", [MockProvider.stream(["fast", " answer"])])
        const { provider, router } = yield* Router.make([
          Router.member("a", a.provider),
          Router.member("b", b.provider)
        ], {
          hedge: { after: "1 second" }
        })
        const fiber = yield* Effect.fork(Stream.runCollect(provider.stream(hi)))
        yield* TestClock.adjust("1 second")
        const chunks = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
        assert.strictEqual(chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), "fast answer")
        const statuses = yield* router.members
        assert.deepStrictEqual(statuses.map((s) => s.inFlight), [0, 0])
      }))
  })

  describe("strategies", () => {
    const three = Effect.gen(function*() {
      const a = yield* mock("a", always(MockProvider.reply("a")))
      const b = yield* mock("b", always(MockProvider.reply("b")))
      const c = yield* mock("c", always(MockProvider.reply("c")))
      return [a, b, c] as const
    })

    it.scoped("round-robin takes the members in turn", () =>
      Effect.gen(function*() {
        const [a, b, c] = yield* three
        const { provider } = yield* Router.make([
          Router.member("a", a.provider),
          Router.member("b", b.provider),
          Router.member("c", c.provider)
        ], { strategy: "round-robin" })
        const answers: Array<unknown> = []
        for (let i = 0; i < 6; i++) answers.push(contentOf(yield* provider.chat(hi)))
        assert.deepStrictEqual(answers, ["a", "b", "c", "a", "b", "c"])
      }))

    it.scoped("weighted follows the weights, and a weight of 0 is only a fallback", () =>
      Effect.gen(function*() {
        const [a, b, c] = yield* three
        const { provider } = yield* Router.make([
          Router.member("a", a.provider, { weight: 3 }),
          Router.member("b", b.provider, { weight: 1 }),
          Router.member("c", c.provider, { weight: 0 })
        ], { strategy: "weighted" })
        const counts: Record<string, number> = { a: 0, b: 0, c: 0 }
        for (let i = 0; i < 400; i++) counts[contentOf(yield* provider.chat(hi)) as string]!++
        assert.strictEqual(counts.c, 0)
        assert.isAbove(counts.a!, 250)
        assert.isBelow(counts.a!, 350)
      }))

    it.scoped("least-latency prefers the member with the lowest moving average", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", always(MockProvider.reply("a", { delay: "300 millis" })))
        const b = yield* mock("b", always(MockProvider.reply("b", { delay: "100 millis" })))
        const { provider } = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)], {
          strategy: "least-latency"
        })
        const run = Effect.gen(function*() {
          const fiber = yield* Effect.fork(provider.chat(hi))
          yield* TestClock.adjust("300 millis")
          return contentOf(yield* Fiber.join(fiber))
        })
        // Unmeasured members go first (a, then b); then b is the faster one.
        assert.strictEqual(yield* run, "a")
        assert.strictEqual(yield* run, "b")
        for (let i = 0; i < 5; i++) assert.strictEqual(yield* run, "b")
      }))

    it.scoped("least-busy sends to the member with the fewest requests in flight", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", always(MockProvider.reply("a", { delay: "10 seconds" })))
        const b = yield* mock("b", always(MockProvider.reply("b", { delay: "10 seconds" })))
        const { provider, router } = yield* Router.make([
          Router.member("a", a.provider),
          Router.member("b", b.provider)
        ], {
          strategy: "least-busy"
        })
        const fibers = yield* Effect.forEach(Array.from({ length: 6 }), () => Effect.fork(provider.chat(hi)))
        yield* TestClock.adjust("1 millis")
        assert.deepStrictEqual((yield* router.members).map((m) => m.inFlight), [3, 3])
        yield* TestClock.adjust("10 seconds")
        yield* Effect.forEach(fibers, Fiber.join)
        assert.deepStrictEqual((yield* router.members).map((m) => m.inFlight), [0, 0])
      }))
  })

  describe("rate limits", () => {
    it.scoped("onExceeded: fail raises a client-side RateLimitError before any I/O, and the router moves on", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", always(MockProvider.reply("a")))
        const b = yield* mock("b", always(MockProvider.reply("b")))
        const { provider, router } = yield* Router.make([
          Router.member("a", a.provider, { rateLimit: { requestsPerMinute: 2, onExceeded: "fail" } }),
          Router.member("b", b.provider)
        ], { name: "rl-fail" })
        assert.deepStrictEqual([
          contentOf(yield* provider.chat(hi)),
          contentOf(yield* provider.chat(hi)),
          contentOf(yield* provider.chat(hi))
        ], ["a", "a", "b"])
        assert.strictEqual((yield* a.mock.calls).length, 2)
        // The local limit says nothing of a's health.
        assert.strictEqual((yield* router.members)[0]!.state, "available")
        yield* TestClock.adjust("30 seconds")
        assert.strictEqual(contentOf(yield* provider.chat(hi)), "a")
      }))

    it.scoped("a lone member over its limit fails with the RateLimitError, code client_rate_limit", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", always(MockProvider.reply("a")))
        const { provider } = yield* Router.make([
          Router.member("a", a.provider, { rateLimit: { requestsPerMinute: 1, onExceeded: "fail" } })
        ])
        yield* provider.chat(hi)
        const error = yield* Effect.flip(provider.chat(hi))
        assert.strictEqual(error._tag, "RateLimitError")
        assert.strictEqual(error.code, RateLimit.clientRateLimitCode)
        assert.strictEqual((yield* a.mock.calls).length, 1)
      }))

    it.scoped("onExceeded: delay waits on the Clock until the request fits", () =>
      Effect.gen(function*() {
        const a = yield* mock("a", always(MockProvider.reply("a")))
        const { provider } = yield* Router.make([
          Router.member("a", a.provider, { rateLimit: { requestsPerMinute: 2 } })
        ])
        yield* provider.chat(hi)
        yield* provider.chat(hi)
        const fiber = yield* Effect.fork(provider.chat(hi))
        yield* TestClock.adjust("29 seconds")
        assert.strictEqual((yield* a.mock.calls).length, 2)
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(fiber)
        assert.strictEqual((yield* a.mock.calls).length, 3)
      }))

    it.scoped("tokens per minute: the estimate is taken before, the reported usage corrects it after", () =>
      Effect.gen(function*() {
        const usage = { prompt_tokens: 10, completion_tokens: 90, total_tokens: 100 }
        const a = yield* mock("a", always(MockProvider.reply({ content: "x", usage })))
        const { provider } = yield* Router.make([
          Router.member("a", a.provider, { rateLimit: { tokensPerMinute: 150, onExceeded: "fail" } })
        ])
        yield* provider.chat(hi) // an estimate of 3 tokens is taken, then 97 more from the usage: 100
        yield* provider.chat(hi) // 100 + 3 fits; then 97 more: 200 taken of 150
        const error = yield* Effect.flip(provider.chat(hi))
        assert.strictEqual(error._tag, "RateLimitError")
        assert.strictEqual((yield* a.mock.calls).length, 2)
        assert.strictEqual(
          RateLimit.estimateChatTokens({ messages: [{ role: "user", content: "x".repeat(400) }] }),
          100
        )
      }))
  })

  describe("telemetry", () => {
    it.scoped("a stream records its time to first chunk and, at its end, its outcome and latency", () =>
      Effect.gen(function*() {
        const b = yield* mock("ttfc-b", [MockProvider.stream(["one", " two"], { delay: "250 millis" })])
        const { provider } = yield* Router.make([Router.member("b", b.provider)])
        const fiber = yield* Effect.fork(Stream.runDrain(provider.stream(hi)))
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(fiber)
        const ttfc = yield* Metric.value(Metric.tagged(Telemetry.timeToFirstChunk, "provider", "ttfc-b"))
        assert.strictEqual(ttfc.count, 1)
        assert.strictEqual(ttfc.sum, 250)
        const latency = yield* Metric.value(
          Metric.tagged(Metric.tagged(Telemetry.latency, "provider", "ttfc-b"), "operation", "stream")
        )
        assert.strictEqual(latency.count, 1)
        assert.strictEqual(latency.sum, 500)
      }))

    it.scoped("spans carry the GenAI attributes and the router's member and attempt", () =>
      Effect.gen(function*() {
        const { spans, tracer } = yield* recordingTracer
        const usage = { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 }
        const a = yield* mock("span-a", [MockProvider.fail(down("span-a"))])
        const b = yield* mock("span-b", [MockProvider.reply({ content: "ok", usage })])
        const { provider } = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)], {
          name: "spans"
        })
        yield* provider.chat(hi).pipe(Effect.withTracer(tracer))
        const attempts = spans.filter((s) => s.name === "Router.attempt")
        assert.deepStrictEqual(
          attempts.map((s) => [s.attributes.get("llm.router.member"), s.attributes.get("llm.router.attempt")]),
          [
            ["a", 1],
            ["b", 2]
          ]
        )
        const calls = spans.filter((s) => s.name === "LlmProvider.chat")
        assert.strictEqual(calls.length, 2)
        const ok = calls[1]!.attributes
        assert.strictEqual(ok.get("gen_ai.provider.name"), "span-b")
        assert.strictEqual(ok.get("gen_ai.operation.name"), "chat")
        assert.strictEqual(ok.get("gen_ai.request.model"), "mock-model")
        assert.strictEqual(ok.get("gen_ai.response.model"), "mock-model")
        assert.strictEqual(ok.get("gen_ai.response.id"), "mock-1")
        assert.strictEqual(ok.get("gen_ai.usage.input_tokens"), 7)
        assert.strictEqual(ok.get("gen_ai.usage.output_tokens"), 5)
        assert.strictEqual(spans.find((s) => s.name === "Router.chat")?.attributes.get("llm.router.name"), "spans")
      }))
    it.scoped("every member call is counted by provider and outcome, with its tokens", () =>
      Effect.gen(function*() {
        const usage = { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 }
        const a = yield* mock("tel-a", [MockProvider.fail(down("tel-a"))])
        const b = yield* mock("tel-b", [MockProvider.reply({ content: "ok", usage })])
        const { provider } = yield* Router.make([Router.member("a", a.provider), Router.member("b", b.provider)])
        yield* provider.chat(hi)
        const requests = (p: string, outcome: string) =>
          Metric.value(
            Metric.tagged(
              Metric.tagged(
                Metric.tagged(Metric.tagged(Telemetry.requests, "provider", p), "model", "mock-model"),
                "operation",
                "chat"
              ),
              "outcome",
              outcome
            )
          )
        assert.strictEqual((yield* requests("tel-a", "ProviderError")).count, 1)
        assert.strictEqual((yield* requests("tel-b", "ok")).count, 1)
        const output = Metric.tagged(
          Metric.tagged(Metric.tagged(Telemetry.tokens, "provider", "tel-b"), "model", "mock-model"),
          "type",
          "output"
        )
        assert.strictEqual((yield* Metric.value(output)).count, 5)
      }))
  })
})
