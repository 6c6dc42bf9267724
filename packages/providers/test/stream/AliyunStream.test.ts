/**
 * The DashScope native stream decoder, result events → chunks, without a socket.
 */
import { assert, describe, it } from "@effect/vitest"
import { NetworkError } from "@llm-api-router/core"
import { classifyError } from "../../src/internal/aliyun/codec.js"
import * as AliyunStream from "../../src/internal/aliyun/stream.js"
import { decodeText, sse } from "./decode.js"

const decode = (events: ReadonlyArray<unknown>) =>
  decodeText(AliyunStream.decoder(classifyError, "dashscope", "qwen", 1), sse(events))

const result = (message: object, finish_reason: string, extra: object = {}) => ({
  request_id: "req_1",
  output: { choices: [{ message: { role: "assistant", ...message }, finish_reason }] },
  ...extra
})

describe("AliyunStream", () => {
  it("cumulative text and arguments: only the new suffix goes out; usage last", () => {
    const { chunks, error } = decode([
      result({ content: "Hel" }, "null"),
      result({ content: "Hello" }, "null"),
      result({
        content: "Hello",
        tool_calls: [{ index: 0, id: "call_1", function: { name: "f", arguments: "{\"a\"" } }]
      }, "null"),
      result(
        {
          content: "Hello",
          tool_calls: [{ index: 0, id: "call_1", function: { arguments: "{\"a\":1}" } }]
        },
        "tool_calls",
        { usage: { input_tokens: 3, output_tokens: 4, total_tokens: 7 } }
      )
    ])
    assert.isUndefined(error)
    assert.deepStrictEqual(chunks.map((c) => c.choices.map((ch) => ch.delta)), [
      [{ role: "assistant", content: "Hel" }],
      [{ content: "lo" }],
      [{ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "{\"a\"" } }] }],
      [{ tool_calls: [{ index: 0, function: { arguments: ":1}" } }] }],
      []
    ])
    assert.strictEqual(chunks[3]!.choices[0]!.finish_reason, "tool_calls")
    assert.strictEqual(chunks.at(-1)!.usage?.total_tokens, 7)
    assert.isTrue(chunks.every((c) => c.id === "req_1"))
  })

  it("incremental text goes out as it comes", () => {
    const { chunks } = decode([result({ content: "Hel" }, "null"), result({ content: "lo" }, "stop")])
    assert.deepStrictEqual(chunks.map((c) => c.choices[0]!.delta.content), ["Hel", "lo"])
  })

  it("a stream without a real finish reason was cut", () => {
    const { error } = decode([result({ content: "Hel" }, "null")])
    assert.instanceOf(error, NetworkError)
  })
})
