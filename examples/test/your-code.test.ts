/**
 * Testing your own code: swap the provider's layer for `MockProvider.layer(script)` and drive time with `TestClock`,
 * so that retries, waits and timeouts take no wall time. This is a file of the examples, run with the test suite.
 */
import { assert, describe, it } from "@effect/vitest"
import { ChatStream, LlmProvider, ProviderError, RateLimitError } from "@llm-api-router/core"
import { MockProvider } from "@llm-api-router/core/testing"
import { Duration, Effect, Fiber, Option, Stream, TestClock } from "effect"

// ---- The code under test: what an application would have.

/** A title for a text, at most `maxWords` words, or "Untitled" when the model is unavailable. */
const title = (text: string, maxWords = 6) =>
  LlmProvider.chat({
    messages: [
      { role: "system", content: `Give a title of at most ${maxWords} words.` },
      { role: "user", content: text }
    ]
  }).pipe(
    Effect.map((res) => (res.choices[0]?.message.content ?? "").split(/\s+/).slice(0, maxWords).join(" ")),
    Effect.catchTags({
      RetryExhausted: () => Effect.succeed("Untitled"),
      ProviderError: () => Effect.succeed("Untitled")
    })
  )

/** The streamed answer, or a timeout error when the model stalls for more than 5 seconds in total. */
const streamedAnswer = (question: string) =>
  ChatStream.toCompletion(LlmProvider.stream({ messages: [{ role: "user", content: question }] })).pipe(
    Effect.map((res) => res.choices[0]?.message.content ?? ""),
    Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "too slow" as const })
  )

// ---- The tests.

describe("title", () => {
  it.effect("cuts the model's answer to the word limit and sends the text", () =>
    Effect.gen(function*() {
      const result = yield* title("A long essay about rivers.", 3)
      assert.strictEqual(result, "Rivers of the")
      const calls = yield* MockProvider.calls
      assert.strictEqual(calls.length, 1)
      const call = calls[0]!
      assert.strictEqual(call.method, "chat")
      if (call.method === "chat") assert.strictEqual(call.request.messages[1]?.content, "A long essay about rivers.")
    }).pipe(Effect.provide(MockProvider.layer([MockProvider.reply("Rivers of the world, explained")]))))

  it.effect("waits out a rate limit on the TestClock, then answers", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(title("text"))
      yield* TestClock.adjust("30 seconds") // the retry-after, in no wall time
      assert.strictEqual(yield* Fiber.join(fiber), "A title")
      assert.strictEqual((yield* MockProvider.calls).length, 2)
    }).pipe(Effect.provide(MockProvider.layer([
      MockProvider.fail(
        new RateLimitError({ provider: "mock", message: "slow down", retryAfter: Option.some(Duration.seconds(30)) })
      ),
      MockProvider.reply("A title")
    ], { retry: { jitter: false } }))))

  it.effect("falls back to \"Untitled\" when the provider stays down", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(title("text"))
      yield* TestClock.adjust("1 minute") // enough for every backoff of the policy
      assert.strictEqual(yield* Fiber.join(fiber), "Untitled")
      assert.strictEqual((yield* MockProvider.calls).length, 3)
    }).pipe(Effect.provide(MockProvider.layer(
      () => MockProvider.fail(new ProviderError({ provider: "mock", message: "overloaded", status: 503 })),
      { retry: { maxRetries: 2, jitter: false } }
    ))))
})

describe("streamedAnswer", () => {
  it.effect("folds the chunks into the answer", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* streamedAnswer("hi"), "Hello there, friend")
    }).pipe(Effect.provide(MockProvider.layer([MockProvider.stream("Hello there, friend")]))))

  it.effect("times out when the model stalls between chunks", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.flip(streamedAnswer("hi")))
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "too slow")
    }).pipe(Effect.provide(MockProvider.layer([
      MockProvider.stream(["Hello", MockProvider.pause("1 minute"), " there"])
    ]))))

  it.effect("delivers each chunk as it comes", () =>
    Effect.gen(function*() {
      const chunks = yield* LlmProvider.stream({ messages: [{ role: "user", content: "hi" }] }).pipe(
        Stream.filter((chunk) => (chunk.choices[0]?.delta.content ?? "") !== ""),
        Stream.runCollect
      )
      assert.strictEqual(chunks.length, 3)
    }).pipe(Effect.provide(MockProvider.layer([MockProvider.stream("one two three")]))))
})
