import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as ChatStream from "../src/ChatStream.js"
import type { ChatCompletionRequest } from "../src/Domain.js"
import { AuthenticationError, NetworkError, RateLimitError } from "../src/LlmError.js"
import * as LlmProvider from "../src/LlmProvider.js"
import * as Retry from "../src/Retry.js"
import { MockProvider } from "../src/testing.js"

const cut = new NetworkError({ provider: "mock", message: "reset" })

const hi: ChatCompletionRequest = { messages: [{ role: "user", content: "hi there" }] }

// `LlmProvider.make` runs calls in a span, and Effect then hands failures back wrapped in a Proxy
// that carries the span's stack: identity is checked on the original instance.
const same = (actual: unknown, expected: unknown) => assert.strictEqual(Cause.originalError(actual), expected)

const rateLimited = new RateLimitError({
  provider: "mock",
  message: "slow down",
  retryAfter: Option.some(Duration.seconds(2))
})

describe("MockProvider", () => {
  // Written the way a user tests their own retry settings: the mock stands in for OpenAi.layer.
  it.effect("a scripted RateLimitError is retried after its retryAfter on TestClock, then the reply arrives", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(LlmProvider.chat(hi))
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual((yield* MockProvider.calls).length, 1)
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const completion = yield* Fiber.join(fiber)
      assert.strictEqual(completion.choices[0].message.content, "hello")
      const calls = yield* MockProvider.calls
      assert.deepStrictEqual(calls.map((call) => call.method), ["chat", "chat"])
      assert.strictEqual(calls[1].request.model, "mock-model")
    }).pipe(Effect.provide(MockProvider.layer(
      [MockProvider.fail(rateLimited), MockProvider.reply("hello")],
      { retry: Retry.defaultPolicy }
    ))))

  it.effect("by default a mock does not retry: a scripted failure surfaces at once, as itself", () =>
    Effect.gen(function*() {
      const error = yield* LlmProvider.chat(hi).pipe(Effect.flip)
      same(error, rateLimited)
      assert.strictEqual((yield* MockProvider.calls).length, 1)
    }).pipe(Effect.provide(MockProvider.layer([MockProvider.fail(rateLimited), MockProvider.reply("unused")]))))

  it.effect("a reply is a ChatCompletion from the request, with the default model and the provider name", () =>
    Effect.gen(function*() {
      const completion = yield* LlmProvider.chat(hi)
      assert.strictEqual(completion.object, "chat.completion")
      assert.strictEqual(completion.model, "mock-model")
      assert.strictEqual(completion.provider, "fake")
      assert.deepStrictEqual(completion.choices[0], {
        index: 0,
        message: { role: "assistant", content: "hello world" },
        finish_reason: "stop"
      })
      assert.deepStrictEqual(completion.usage, { prompt_tokens: 2, completion_tokens: 2, total_tokens: 4 })
    }).pipe(Effect.provide(MockProvider.layer([MockProvider.reply("hello world")], { name: "fake" }))))

  it.effect("a text stream arrives chunk by chunk on TestClock, then folds to the text, with usage", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const fiber = yield* LlmProvider.stream(hi).pipe(
        Stream.tap((chunk) => Effect.sync(() => seen.push(chunk.choices[0]?.delta.content ?? "<usage>"))),
        ChatStream.toCompletion,
        Effect.fork
      )
      yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual(seen, ["Hello"])
      yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual(seen, ["Hello", " streaming"])
      yield* TestClock.adjust("100 millis")
      const completion = yield* Fiber.join(fiber)
      assert.deepStrictEqual(seen, ["Hello", " streaming", " world", "<usage>"])
      assert.strictEqual(completion.choices[0].message.content, "Hello streaming world")
      assert.strictEqual(completion.choices[0].finish_reason, "stop")
      assert.strictEqual(completion.usage?.completion_tokens, 3)
    }).pipe(
      Effect.provide(MockProvider.layer([MockProvider.stream("Hello streaming world", { delay: "100 millis" })]))
    ))

  it.effect("a stream cut mid-way ends with its error and is not retried, even with retries on", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const error = yield* LlmProvider.stream(hi).pipe(
        Stream.runForEach((chunk) => Effect.sync(() => seen.push(chunk.choices[0]?.delta.content ?? ""))),
        Effect.flip
      )
      same(error, cut)
      assert.deepStrictEqual(seen, ["a", "b"])
      assert.strictEqual((yield* MockProvider.calls).length, 1)
    }).pipe(Effect.provide(MockProvider.layer(
      [MockProvider.stream(["a", "b"], { failWith: cut })],
      { retry: { maxRetries: 3, jitter: false } }
    ))))

  it.effect("a stream failing before its first chunk is retried like a real provider's", () =>
    Effect.gen(function*() {
      const fiber = yield* LlmProvider.stream(hi).pipe(ChatStream.toCompletion, Effect.fork)
      yield* TestClock.adjust("10 millis")
      const completion = yield* Fiber.join(fiber)
      assert.strictEqual(completion.choices[0].message.content, "ok")
      assert.deepStrictEqual((yield* MockProvider.calls).map((call) => call.method), ["stream", "stream"])
    }).pipe(Effect.provide(MockProvider.layer(
      [MockProvider.fail(new NetworkError({ provider: "mock", message: "refused" })), MockProvider.stream("ok")],
      { retry: { initialDelay: "10 millis", jitter: false } }
    ))))

  it.effect("a reply serves a stream call, and a stream step serves a chat call", () =>
    Effect.gen(function*() {
      const toolCall = { id: "call_1", type: "function" as const, function: { name: "f", arguments: "{\"x\":1}" } }
      const fromReply = yield* LlmProvider.stream(hi).pipe(ChatStream.toCompletion)
      assert.deepStrictEqual(fromReply.choices[0].message, {
        role: "assistant",
        content: "calling f",
        tool_calls: [toolCall]
      })
      assert.strictEqual(fromReply.choices[0].finish_reason, "tool_calls")
      const fromStream = yield* LlmProvider.chat(hi)
      assert.strictEqual(fromStream.choices[0].message.content, "streamed")
    }).pipe(Effect.provide(MockProvider.layer([
      MockProvider.reply({
        content: "calling f",
        tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{\"x\":1}" } }]
      }),
      MockProvider.stream(["stream", "ed"])
    ]))))

  it.effect("a step's delay runs on TestClock, so a user's timeout can be tested", () =>
    Effect.gen(function*() {
      const fiber = yield* LlmProvider.chat(hi).pipe(Effect.timeout("5 seconds"), Effect.exit, Effect.fork)
      yield* TestClock.adjust("5 seconds")
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isFailure(exit))
    }).pipe(Effect.provide(MockProvider.layer([MockProvider.reply("late", { delay: "1 minute" })]))))

  it.effect("requests are validated before the script: an invalid one consumes no step", () =>
    Effect.gen(function*() {
      const error = yield* LlmProvider.chat({ messages: [] }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "InvalidRequestError")
      assert.deepStrictEqual(yield* MockProvider.calls, [])
      const completion = yield* LlmProvider.chat({ ...hi, model: "chosen" })
      assert.strictEqual(completion.model, "chosen")
    }).pipe(Effect.provide(MockProvider.layer([MockProvider.reply("fine")]))))

  it.effect("a function script answers from the request, and embeddings come back one per input", () =>
    Effect.gen(function*() {
      const completion = yield* LlmProvider.chat(hi)
      assert.strictEqual(completion.choices[0].message.content, "you said: hi there")
      const embeddings = yield* LlmProvider.embed({ input: ["a", "b"] })
      assert.deepStrictEqual(embeddings.data.map((d) => [d.index, d.embedding]), [[0, [1, 0]], [1, [0, 1]]])
      assert.strictEqual(embeddings.model, "mock-model")
    }).pipe(Effect.provide(MockProvider.layer((call) =>
      call.method === "embed"
        ? MockProvider.embeddings([[1, 0], [0, 1]])
        : MockProvider.reply(`you said: ${call.request.messages[0].content}`)
    ))))

  it.effect("a switched-off capability fails before the script", () =>
    Effect.gen(function*() {
      const error = yield* LlmProvider.embed({ input: "a" }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "UnsupportedFeatureError")
      assert.strictEqual((yield* MockProvider.calls).length, 0)
    }).pipe(Effect.provide(MockProvider.layer([], { capabilities: { embeddings: false } }))))

  it.effect("a call beyond the end of the script is a defect that says so", () =>
    Effect.gen(function*() {
      yield* LlmProvider.chat(hi)
      const exit = yield* LlmProvider.chat(hi).pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(exit) && Exit.isFailure(exit) && String(exit.cause).includes("found none left"))
    }).pipe(Effect.provide(MockProvider.layer([MockProvider.reply("only one")]))))

  it.effect("each layer build starts its script afresh", () =>
    Effect.gen(function*() {
      const layer = MockProvider.layer([
        MockProvider.fail(new AuthenticationError({ provider: "mock", message: "no" }))
      ])
      for (let i = 0; i < 2; i++) {
        const error = yield* LlmProvider.chat(hi).pipe(Effect.flip, Effect.provide(layer))
        assert.strictEqual(error._tag, "AuthenticationError")
      }
    }))
})
