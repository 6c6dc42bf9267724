import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as ChatStream from "../src/ChatStream.js"
import type { ChatCompletionChunk, ChatCompletionDelta, FinishReason, Usage } from "../src/Domain.js"
import { ProviderError } from "../src/LlmError.js"

const chunk = (
  choices: ReadonlyArray<
    { readonly index?: number; readonly delta: ChatCompletionDelta; readonly finish?: FinishReason }
  >,
  extra?: Partial<ChatCompletionChunk>
): ChatCompletionChunk => ({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  created: 1700000000,
  model: "gpt-4o-mini",
  choices: choices.map((c) => ({ index: c.index ?? 0, delta: c.delta, finish_reason: c.finish ?? null })),
  ...extra
})

const usage = (total: number): Usage => ({ prompt_tokens: 1, completion_tokens: total - 1, total_tokens: total })

const fold = (chunks: ReadonlyArray<ChatCompletionChunk>) => ChatStream.toCompletion(Stream.fromIterable(chunks))

describe("ChatStream.toCompletion", () => {
  it.effect("concatenates text exactly, ignoring null deltas, with finish_reason and usage", () =>
    Effect.gen(function*() {
      const completion = yield* fold([
        chunk([{ delta: { role: "assistant", content: "" } }], { provider: "openai" }),
        chunk([{ delta: { content: "Hel" } }]),
        chunk([{ delta: { content: null } }]),
        chunk([{ delta: { content: "lo, 世界 " } }]),
        chunk([{ delta: {}, finish: "length" }]),
        chunk([], { usage: usage(7) })
      ])
      assert.deepStrictEqual(completion, {
        id: "chatcmpl-1",
        object: "chat.completion",
        created: 1700000000,
        model: "gpt-4o-mini",
        choices: [{ index: 0, message: { role: "assistant", content: "Hello, 世界 " }, finish_reason: "length" }],
        usage: usage(7),
        provider: "openai"
      })
    }))

  it.effect("collects reasoning into reasoning_content, and omits it when there was none", () =>
    Effect.gen(function*() {
      const withReasoning = yield* fold([
        chunk([{ delta: { role: "assistant", reasoning_content: "Let me " } }]),
        chunk([{ delta: { reasoning_content: null, content: null } }]),
        chunk([{ delta: { reasoning_content: "think." } }]),
        chunk([{ delta: { content: "42" }, finish: "stop" }])
      ])
      assert.strictEqual(withReasoning.choices[0].message.reasoning_content, "Let me think.")
      assert.strictEqual(withReasoning.choices[0].message.content, "42")
      const without = yield* fold([chunk([{ delta: { content: "42" }, finish: "stop" }])])
      assert.isFalse("reasoning_content" in without.choices[0].message)
      assert.isFalse("refusal" in without.choices[0].message)
    }))

  it.effect("collects refusal text", () =>
    Effect.gen(function*() {
      const completion = yield* fold([
        chunk([{ delta: { role: "assistant", content: null, refusal: "I can't " } }]),
        chunk([{ delta: { refusal: "help with that." }, finish: "stop" }])
      ])
      assert.deepStrictEqual(completion.choices[0].message, {
        role: "assistant",
        content: null,
        refusal: "I can't help with that."
      })
    }))

  it.effect("routes interleaved choices by their index", () =>
    Effect.gen(function*() {
      const completion = yield* fold([
        chunk([{ index: 1, delta: { role: "assistant", content: "B1" } }]),
        chunk([{ index: 0, delta: { role: "assistant", content: "A1" } }]),
        chunk([{ index: 1, delta: { content: " B2" } }, { index: 0, delta: { content: " A2" } }]),
        chunk([{ index: 0, delta: {}, finish: "stop" }]),
        chunk([{ index: 1, delta: {}, finish: "length" }])
      ])
      assert.deepStrictEqual(
        completion.choices.map((c) => [c.index, c.message.content, c.finish_reason]),
        [[0, "A1 A2", "stop"], [1, "B1 B2", "length"]]
      )
    }))

  it.effect("assembles parallel tool calls by index: from 1, a late name, empty arguments as {}", () =>
    Effect.gen(function*() {
      const completion = yield* fold([
        chunk([{ delta: { role: "assistant", content: null } }]),
        chunk([{
          delta: { tool_calls: [{ index: 1, id: "call_a", type: "function", function: { name: "get_weather" } }] }
        }]),
        chunk([{ delta: { tool_calls: [{ index: 2, id: "call_b", type: "function", function: { arguments: "" } }] } }]),
        chunk([{ delta: { tool_calls: [{ index: 1, function: { arguments: "{\"city\":" } }] } }]),
        chunk([{ delta: { tool_calls: [{ index: 3, id: "call_c", function: { name: "now", arguments: "" } }] } }]),
        chunk([{
          delta: { tool_calls: [{ index: 2, function: { name: "get_time", arguments: "{\"tz\":\"UTC\"}" } }] }
        }]),
        chunk([{ delta: { tool_calls: [{ index: 1, function: { arguments: "\"Paris\"}" } }] } }]),
        chunk([{ delta: {}, finish: "stop" }]),
        chunk([], { usage: usage(20) })
      ])
      const choice = completion.choices[0]
      assert.strictEqual(choice.finish_reason, "tool_calls")
      assert.isNull(choice.message.content)
      assert.deepStrictEqual(choice.message.tool_calls, [
        { id: "call_a", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Paris\"}" } },
        { id: "call_b", type: "function", function: { name: "get_time", arguments: "{\"tz\":\"UTC\"}" } },
        { id: "call_c", type: "function", function: { name: "now", arguments: "{}" } }
      ])
    }))

  it.effect("keeps text alongside tool calls, and says tool_calls whatever the chunk said", () =>
    Effect.gen(function*() {
      const completion = yield* fold([
        chunk([{ delta: { role: "assistant", content: "Checking." } }]),
        chunk([{
          delta: {
            tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }]
          },
          finish: "stop"
        }])
      ])
      assert.strictEqual(completion.choices[0].message.content, "Checking.")
      assert.strictEqual(completion.choices[0].finish_reason, "tool_calls")
    }))

  it.effect("usage is the last non-null one", () =>
    Effect.gen(function*() {
      const completion = yield* fold([
        chunk([{ delta: { content: "a" } }], { usage: usage(3) }),
        chunk([{ delta: { content: "b" }, finish: "stop" }], { usage: null }),
        chunk([], { usage: usage(9) }),
        chunk([], { usage: null })
      ])
      assert.deepStrictEqual(completion.usage, usage(9))
    }))

  it.effect("takes id, model and created from the first chunk with an id; says stop if the stream never did", () =>
    Effect.gen(function*() {
      const completion = yield* fold([
        chunk([{ delta: { role: "assistant" } }], { id: "", model: "", created: 0 }),
        chunk([{ delta: { content: "hi" } }], { id: "real", model: "m-1", created: 42 }),
        chunk([{ delta: { content: "!" } }], { id: "later", model: "m-2", created: 43 })
      ])
      assert.strictEqual(completion.id, "real")
      assert.strictEqual(completion.model, "m-1")
      assert.strictEqual(completion.created, 42)
      assert.strictEqual(completion.choices[0].finish_reason, "stop")
      assert.isFalse("usage" in completion)
    }))

  it.effect("a failing stream fails the fold with its error", () =>
    Effect.gen(function*() {
      const error = new ProviderError({ provider: "openai", message: "cut" })
      const result = yield* ChatStream.toCompletion(
        Stream.concat(Stream.make(chunk([{ delta: { content: "a" } }])), Stream.fail(error))
      ).pipe(Effect.flip)
      assert.strictEqual(result, error)
    }))
})

describe("ChatStream.makeAccumulator", () => {
  it("gives the completion so far at any time, and keeps folding afterwards", () => {
    const accumulator = ChatStream.makeAccumulator()
    accumulator.push(chunk([{ delta: { role: "assistant", content: "Hel" } }]))
    assert.strictEqual(accumulator.result().choices[0].message.content, "Hel")
    accumulator.push(chunk([{ delta: { content: "lo" }, finish: "stop" }]))
    const completion = accumulator.result()
    assert.strictEqual(completion.choices[0].message.content, "Hello")
    assert.strictEqual(completion.choices[0].finish_reason, "stop")
  })

  it("folds a long stream of one-character chunks exactly", () => {
    const accumulator = ChatStream.makeAccumulator()
    const text = "abcdefghij".repeat(5000)
    for (const char of text) accumulator.push(chunk([{ delta: { content: char } }]))
    assert.strictEqual(accumulator.result().choices[0].message.content, text)
  })
})
