/**
 * The OpenAI-compatible stream decoder, wire events → chunks, without a socket.
 */
import { assert, describe, it } from "@effect/vitest"
import { NetworkError, ProviderError } from "@llm-api-router/core"
import { classifyError } from "../../src/internal/openai/codec.js"
import * as OpenAiStream from "../../src/internal/openai/stream.js"
import { decodeText, sse } from "./decode.js"

const base = { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1700000000, model: "gpt-x" }
const wireChunk = (choices: ReadonlyArray<unknown>, extra: object = {}) => ({ ...base, choices, ...extra })
const decode = (body: string) => decodeText(OpenAiStream.decoder(classifyError, "openai", "m", 1), body)

describe("OpenAiStream", () => {
  it("text: role on the first chunk, content after, the finish once, usage last", () => {
    const { chunks, error } = decode(sse([
      wireChunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]),
      wireChunk([{ index: 0, delta: { content: "Hi" }, finish_reason: null }]),
      wireChunk([{ index: 0, delta: {}, finish_reason: "stop" }]),
      // OpenRouter repeats the finish reason on its usage chunk
      wireChunk([{ index: 0, delta: { content: "" }, finish_reason: "stop" }], {
        usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 }
      }),
      "[DONE]"
    ]))
    assert.isUndefined(error)
    assert.deepStrictEqual(chunks.map((c) => c.choices), [
      [{ index: 0, delta: { role: "assistant" }, finish_reason: null }],
      [{ index: 0, delta: { content: "Hi" }, finish_reason: null }],
      [{ index: 0, delta: {}, finish_reason: "stop" }],
      []
    ])
    assert.deepStrictEqual(chunks[3]!.usage, { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 })
    assert.deepStrictEqual(
      chunks.map((c) => [c.id, c.model, c.created]),
      Array(4).fill(["chatcmpl-1", "gpt-x", 1700000000])
    )
  })

  it("tool calls numbered from 1 on the wire are numbered from 0; the finish is tool_calls", () => {
    const { chunks } = decode(sse([
      wireChunk([{
        index: 0,
        delta: { tool_calls: [{ index: 1, id: "call_a", type: "function", function: { name: "f", arguments: "" } }] },
        finish_reason: null
      }]),
      wireChunk([{
        index: 0,
        delta: { tool_calls: [{ index: 1, function: { arguments: "{}" } }] },
        finish_reason: null
      }]),
      wireChunk([{ index: 0, delta: {}, finish_reason: "stop" }]),
      "[DONE]"
    ]))
    assert.deepStrictEqual(chunks.map((c) => c.choices[0]!.delta.tool_calls), [
      [{ index: 0, id: "call_a", type: "function", function: { name: "f", arguments: "" } }],
      [{ index: 0, function: { arguments: "{}" } }],
      undefined
    ])
    assert.strictEqual(chunks[2]!.choices[0]!.finish_reason, "tool_calls")
  })

  it("a tool call cut by the token limit finishes length", () => {
    const { chunks } = decode(sse([
      wireChunk([{
        index: 0,
        delta: { tool_calls: [{ index: 0, id: "call_a", function: { name: "f", arguments: "{\"ci" } }] },
        finish_reason: "length"
      }]),
      "[DONE]"
    ]))
    assert.strictEqual(chunks[0]!.choices[0]!.finish_reason, "length")
  })

  it("[DONE] without a finish reason: the choice finishes stop, once", () => {
    const { chunks, error } = decode(
      sse([wireChunk([{ index: 0, delta: { content: "Hi" }, finish_reason: null }]), "[DONE]"])
    )
    assert.isUndefined(error)
    assert.deepStrictEqual(chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)), [null, "stop"])
  })

  it("a stream cut before its finish and [DONE] is a NetworkError, after what came", () => {
    const { chunks, error } = decode(sse([wireChunk([{ index: 0, delta: { content: "Hi" }, finish_reason: null }])]))
    assert.strictEqual(chunks.length, 1)
    assert.instanceOf(error, NetworkError)
    assert.include(error!.message, "no finish_reason and no [DONE]")
  })

  it("an error event fails the stream typed", () => {
    const { error } = decode(sse([{ error: { message: "overloaded", type: "server_error" } }]))
    assert.instanceOf(error, ProviderError)
  })
})
