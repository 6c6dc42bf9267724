/**
 * The stream contract (DESIGN §5), clause by clause, on the builder alone: no socket, no protocol.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ChunkBuilder from "../src/ChunkBuilder.js"
import type { ChatCompletionChunk } from "../src/Domain.js"
import { NetworkError } from "../src/LlmError.js"

const make = (options: Partial<ChunkBuilder.Options> = {}) =>
  ChunkBuilder.make({ provider: "acme", model: "m", created: 100, id: "s1", endMarker: "finish_reason", ...options })

const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }

/** Every choice of every chunk, in order. */
const choicesOf = (chunks: ReadonlyArray<ChatCompletionChunk>) => chunks.flatMap((c) => c.choices)

describe("ChunkBuilder", () => {
  it("the first chunk of each choice carries the role, and no other", () => {
    const b = make()
    const out: Array<ChatCompletionChunk> = []
    b.text(0, "a")
    b.text(1, "x")
    b.flush(out)
    b.text(0, "b")
    b.text(1, "y")
    b.flush(out)
    assert.deepStrictEqual(out.map((c) => c.choices.map((ch) => ch.delta)), [
      [{ role: "assistant", content: "a" }, { role: "assistant", content: "x" }],
      [{ content: "b" }, { content: "y" }]
    ])
  })

  it("an opened choice sends its role alone; a flush with nothing new sends no chunk", () => {
    const b = make()
    const out: Array<ChatCompletionChunk> = []
    b.open(0)
    b.flush(out)
    b.open(0)
    b.text(0, "")
    b.reasoning(0, "")
    b.flush(out)
    b.flush(out)
    assert.deepStrictEqual(out.map((c) => c.choices), [[{
      index: 0,
      delta: { role: "assistant" },
      finish_reason: null
    }]])
  })

  it("what one flush gathers goes out as one chunk: deltas of a choice concatenated, choices in order", () => {
    const b = make()
    const out: Array<ChatCompletionChunk> = []
    b.text(2, "x")
    b.text(0, "a")
    b.text(0, "b")
    b.reasoning(0, "r")
    b.refusal(2, "no")
    b.field(0, "thinking_blocks", [{ type: "thinking" }])
    b.flush(out)
    assert.strictEqual(out.length, 1)
    assert.deepStrictEqual(out[0]!.choices, [
      { index: 2, delta: { role: "assistant", content: "x", refusal: "no" }, finish_reason: null },
      {
        index: 0,
        delta: {
          role: "assistant",
          content: "ab",
          reasoning_content: "r",
          thinking_blocks: [{ type: "thinking" }]
        } as never,
        finish_reason: null
      }
    ])
  })

  it("tool calls get dense indices from 0 per choice: id and name once, then argument fragments", () => {
    const b = make()
    const out: Array<ChatCompletionChunk> = []
    // the wire numbers them from 3 and 7, as some servers do
    b.toolCall(0, 3, "call_a", "f", "")
    b.toolCall(0, 7, "call_b", "g", "{\"y\"")
    b.flush(out)
    b.toolCall(0, 3, undefined, undefined, "{\"x\":1}")
    b.toolCall(0, 7, "", undefined, ":2}")
    b.toolCall(1, 0, "call_c", "h", "{}")
    b.flush(out)
    assert.deepStrictEqual(out.map((c) => c.choices.map((ch) => ch.delta.tool_calls)), [
      [[
        { index: 0, id: "call_a", type: "function", function: { name: "f", arguments: "" } },
        { index: 1, id: "call_b", type: "function", function: { name: "g", arguments: "{\"y\"" } }
      ]],
      [
        [{ index: 0, function: { arguments: "{\"x\":1}" } }, { index: 1, function: { arguments: ":2}" } }],
        [{ index: 0, id: "call_c", type: "function", function: { name: "h", arguments: "{}" } }]
      ]
    ])
    assert.strictEqual(b.toolCalls(0), 2)
    assert.strictEqual(b.toolCalls(1), 1)
  })

  it("a piece without index or id continues the latest call; one with a name starts a new call", () => {
    const b = make()
    const out: Array<ChatCompletionChunk> = []
    b.toolCall(0, undefined, "call_a", "f", "{")
    b.toolCall(0, undefined, undefined, undefined, "}")
    b.toolCall(0, undefined, undefined, "g", "{}")
    b.flush(out)
    const calls = out[0]!.choices[0]!.delta.tool_calls!
    assert.deepStrictEqual(calls.map((c) => [c.index, c.function]), [
      [0, { name: "f", arguments: "{" }],
      [0, { arguments: "}" }],
      [1, { name: "g", arguments: "{}" }]
    ])
    assert.deepStrictEqual(calls.map((c) => c.id !== undefined), [true, false, true])
    // the generated id of a call without one is well-formed
    assert.match(calls[2]!.id!, /^call_[a-z0-9]+$/)
  })

  it("a call named after its first piece is named once; a piece that adds nothing is not sent", () => {
    const b = make()
    const out: Array<ChatCompletionChunk> = []
    b.toolCall(0, 0, "call_a", undefined, "")
    b.toolCall(0, 0, undefined, "f", "")
    b.toolCall(0, 0, undefined, "f", "")
    b.toolCall(0, 0, undefined, undefined, "{}")
    b.flush(out)
    assert.deepStrictEqual(out[0]!.choices[0]!.delta.tool_calls, [
      { index: 0, id: "call_a", type: "function", function: { arguments: "" } },
      { index: 0, function: { name: "f", arguments: "" } },
      { index: 0, function: { arguments: "{}" } }
    ])
  })

  it("a later piece can name its call by an id learnt on the way", () => {
    const b = make()
    const out: Array<ChatCompletionChunk> = []
    b.toolCall(0, 0, undefined, "f", "{")
    b.toolCall(0, 0, "call_late", undefined, "")
    b.toolCall(0, undefined, "call_late", undefined, "}")
    b.flush(out)
    assert.deepStrictEqual(out[0]!.choices[0]!.delta.tool_calls!.map((c) => c.index), [0, 0])
    assert.strictEqual(b.toolCalls(0), 1)
  })

  it("a whole call carries fields of the provider's own", () => {
    const b = make()
    const out: Array<ChatCompletionChunk> = []
    b.startToolCall(0, "call_a", "f", "{}", undefined, undefined, { extra_content: { google: { s: "sig" } } })
    b.flush(out)
    assert.deepStrictEqual(out[0]!.choices[0]!.delta.tool_calls, [
      {
        index: 0,
        id: "call_a",
        type: "function",
        function: { name: "f", arguments: "{}" },
        extra_content: { google: { s: "sig" } }
      } as never
    ])
  })

  it("exactly one finish reason per choice: a repeated one is dropped", () => {
    const b = make()
    const out: Array<ChatCompletionChunk> = []
    b.text(0, "Hi")
    b.finish(0, "stop")
    b.flush(out)
    b.finish(0, "stop") // OpenRouter repeats it on its usage chunk
    b.finish(0, "length")
    b.usage(usage)
    b.flush(out)
    assert.isUndefined(b.end(out))
    assert.deepStrictEqual(choicesOf(out).map((c) => c.finish_reason), ["stop"])
    assert.isTrue(b.finished(0))
    assert.isFalse(b.finished(1))
  })

  it("finish reasons follow ChunkContract: tool_calls wins over stop only", () => {
    const finishOf = (reason: "stop" | "length" | "content_filter", calls: boolean) => {
      const b = make()
      const out: Array<ChatCompletionChunk> = []
      if (calls) b.startToolCall(0, "call_a", "f", "{\"ci")
      b.finish(0, reason)
      b.flush(out)
      return choicesOf(out).find((c) => c.finish_reason !== null)!.finish_reason
    }
    assert.strictEqual(finishOf("stop", false), "stop")
    assert.strictEqual(finishOf("stop", true), "tool_calls")
    // a tool call cut short by the token limit: its arguments are not valid JSON
    assert.strictEqual(finishOf("length", true), "length")
    assert.strictEqual(finishOf("content_filter", true), "content_filter")
  })

  it("usage goes out last, on a chunk of its own with no choices; the last report wins", () => {
    const b = make()
    const out: Array<ChatCompletionChunk> = []
    b.usage({ prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 })
    b.text(0, "Hi")
    b.flush(out)
    b.usage(usage)
    b.finish(0, "stop")
    b.flush(out)
    assert.isUndefined(b.end(out))
    assert.strictEqual(out.length, 3)
    assert.isTrue(out.slice(0, -1).every((c) => c.usage === undefined))
    const last = out.at(-1)!
    assert.deepStrictEqual(last.choices, [])
    assert.deepStrictEqual(last.usage, usage)
    assert.strictEqual(last.id, out[0]!.id)
  })

  it("no usage reported, no usage chunk", () => {
    const b = make()
    const out: Array<ChatCompletionChunk> = []
    b.finish(0, "stop")
    assert.isUndefined(b.end(out))
    assert.deepStrictEqual(out.map((c) => c.choices.length), [1])
  })

  it("a stream that ends before every choice finished is a NetworkError naming what never came", () => {
    const b = make({ endMarker: "message_stop" })
    const out: Array<ChatCompletionChunk> = []
    b.text(0, "a")
    b.text(1, "b")
    b.finish(0, "stop")
    b.usage(usage)
    assert.isFalse(b.complete)
    const error = b.end(out)
    assert.instanceOf(error, NetworkError)
    assert.strictEqual(error!.message, "acme: the stream ended before the response was complete (no message_stop)")
    assert.strictEqual(error!.provider, "acme")
    // what was decoded before the cut is still delivered; the usage of an incomplete answer is not
    assert.strictEqual(out.length, 1)
    assert.isTrue(out.every((c) => c.usage === undefined))
  })

  it("a stream with nothing in it is incomplete, unless its end marker came", () => {
    assert.instanceOf(make().end([]), NetworkError)
    const b = make()
    b.markDone()
    const out: Array<ChatCompletionChunk> = []
    assert.isUndefined(b.end(out))
    assert.deepStrictEqual(out, [])
  })

  it("after the end marker, a choice that gave no finish reason gets stop (tool_calls after a call), once", () => {
    const b = make()
    const out: Array<ChatCompletionChunk> = []
    b.text(0, "a")
    b.startToolCall(1, "call_a", "f", "{}")
    b.flush(out)
    b.markDone()
    assert.isTrue(b.complete)
    assert.isUndefined(b.end(out))
    assert.deepStrictEqual(
      choicesOf(out).filter((c) => c.finish_reason !== null).map((c) => [c.index, c.finish_reason]),
      [[0, "stop"], [1, "tool_calls"]]
    )
  })

  it("the id: the provider's first, else the fallback, else a generated one; the same on every chunk", () => {
    const b = make()
    const out: Array<ChatCompletionChunk> = []
    b.setId("")
    b.setId("resp_1")
    b.setId("resp_2")
    b.setModel("")
    b.setModel("m-2025")
    b.setCreated(0)
    b.setCreated(1700000000)
    b.text(0, "a")
    b.finish(0, "stop")
    b.usage(usage)
    b.flush(out)
    b.end(out)
    assert.deepStrictEqual(out.map((c) => [c.id, c.model, c.created, c.provider, c.object]), [
      ["resp_1", "m-2025", 1700000000, "acme", "chat.completion.chunk"],
      ["resp_1", "m-2025", 1700000000, "acme", "chat.completion.chunk"]
    ])

    const fallback = make()
    const first: Array<ChatCompletionChunk> = []
    fallback.text(0, "a")
    fallback.flush(first)
    assert.isTrue(fallback.hasId)
    fallback.setId("too_late") // chunks already went out with the fallback
    fallback.text(0, "b")
    fallback.flush(first)
    assert.deepStrictEqual(first.map((c) => c.id), ["s1", "s1"])

    const generated = make({ id: undefined })
    const third: Array<ChatCompletionChunk> = []
    generated.text(0, "a")
    generated.flush(third)
    assert.match(third[0]!.id, /^chatcmpl-[a-z0-9]+$/)
  })
})
