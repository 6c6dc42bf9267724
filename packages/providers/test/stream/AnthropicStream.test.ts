/**
 * The Anthropic stream decoder, typed events → chunks, without a socket.
 */
import { assert, describe, it } from "@effect/vitest"
import { NetworkError, ResponseDecodeError } from "@llm-api-router/core"
import * as AnthropicStream from "../../src/internal/anthropic/stream.js"
import { decodeText, sse } from "./decode.js"

const decode = (events: ReadonlyArray<unknown>, structured = false) =>
  decodeText(AnthropicStream.decoder("anthropic", "claude", 1, structured), sse(events, true))

const start = {
  type: "message_start",
  message: { id: "msg_1", model: "claude-x", content: [], usage: { input_tokens: 10, output_tokens: 1 } }
}
const stop = [
  { type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 7 } },
  { type: "message_stop" }
]

describe("AnthropicStream", () => {
  it("message_start gives the role alone; blocks give deltas; message_stop the finish, then usage", () => {
    const { chunks, error } = decode([
      start,
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hi" } },
      { type: "content_block_stop", index: 0 },
      {
        type: "content_block_start",
        index: 1,
        content_block: { type: "tool_use", id: "toolu_1", name: "f", input: {} }
      },
      { type: "content_block_stop", index: 1 },
      ...stop
    ])
    assert.isUndefined(error)
    assert.deepStrictEqual(chunks.map((c) => c.choices), [
      [{ index: 0, delta: { role: "assistant" }, finish_reason: null }],
      [{ index: 0, delta: { content: "Hi" }, finish_reason: null }],
      [{
        index: 0,
        delta: { tool_calls: [{ index: 0, id: "toolu_1", type: "function", function: { name: "f", arguments: "" } }] },
        finish_reason: null
      }],
      [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: "{}" } }] }, finish_reason: null }],
      [{ index: 0, delta: {}, finish_reason: "tool_calls" }],
      []
    ])
    assert.deepStrictEqual(chunks.at(-1)!.usage, { prompt_tokens: 10, completion_tokens: 7, total_tokens: 17 })
    assert.isTrue(chunks.every((c) => c.id === "msg_1" && c.model === "claude-x"))
  })

  it("a server-side tool block and its input_json_deltas give nothing", () => {
    const { chunks, error } = decode([
      start,
      {
        type: "content_block_start",
        index: 0,
        content_block: { type: "server_tool_use", id: "srvtoolu_1", name: "web_search" }
      },
      { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: "{\"query\":" } },
      { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: "\"x\"}" } },
      { type: "content_block_stop", index: 0 },
      {
        type: "content_block_start",
        index: 1,
        content_block: { type: "web_search_tool_result", tool_use_id: "srvtoolu_1", content: [] }
      },
      { type: "content_block_stop", index: 1 },
      { type: "message_delta", delta: { stop_reason: "end_turn" } },
      { type: "message_stop" }
    ])
    assert.isUndefined(error)
    assert.deepStrictEqual(chunks.map((c) => c.choices.map((ch) => [ch.delta, ch.finish_reason])), [
      [[{ role: "assistant" }, null]],
      [[{}, "stop"]],
      []
    ])
  })

  it("an input_json_delta for a text block still fails: it is not a block we skip", () => {
    const { error } = decode([
      start,
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: "{" } }
    ])
    assert.instanceOf(error, ResponseDecodeError)
  })

  it("a tool call cut by max_tokens finishes length", () => {
    const { chunks } = decode([
      start,
      {
        type: "content_block_start",
        index: 0,
        content_block: { type: "tool_use", id: "toolu_1", name: "f", input: {} }
      },
      { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: "{\"a\": [1, " } },
      { type: "message_delta", delta: { stop_reason: "max_tokens" } },
      { type: "message_stop" }
    ])
    assert.deepStrictEqual(chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter((f) => f !== null), [
      "length"
    ])
  })

  it("the signed thinking block travels on delta.thinking_blocks when its block stops", () => {
    const { chunks } = decode([
      start,
      { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "", signature: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "Hmm" } },
      { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "sig" } },
      { type: "content_block_stop", index: 0 },
      ...stop
    ])
    assert.deepStrictEqual(chunks.map((c): unknown => c.choices[0]?.delta), [
      { role: "assistant" },
      { reasoning_content: "Hmm" },
      { thinking_blocks: [{ type: "thinking", thinking: "Hmm", signature: "sig" }] } as never,
      {},
      undefined
    ])
  })

  it("a stream without message_stop was cut, even with a stop reason", () => {
    const { error } = decode([start, { type: "message_delta", delta: { stop_reason: "end_turn" } }])
    assert.instanceOf(error, NetworkError)
    assert.include(error!.message, "no message_stop")
  })
})
