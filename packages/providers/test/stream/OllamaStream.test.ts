/**
 * The Ollama stream decoder, NDJSON lines → chunks, without a socket.
 */
import { assert, describe, it } from "@effect/vitest"
import { NetworkError } from "@llm-api-router/core"
import * as OllamaStream from "../../src/internal/ollama/stream.js"
import { decodeText } from "./decode.js"

const decode = (lines: ReadonlyArray<unknown>) =>
  decodeText(OllamaStream.decoder("ollama", "m", 1), lines.map((l) => JSON.stringify(l) + "\n").join(""))

const line = (message: object, extra: object = {}) => ({
  model: "qwen3",
  created_at: "2026-12-04T10:00:00Z",
  message: { role: "assistant", content: "", ...message },
  done: false,
  ...extra
})

describe("OllamaStream", () => {
  it("whole tool calls, the finish tool_calls on the done line, usage last", () => {
    const { chunks, error } = decode([
      line({ thinking: "Hmm" }),
      line({
        tool_calls: [{ function: { name: "f", arguments: { a: 1 } } }, { function: { name: "g", arguments: {} } }]
      }),
      line({}, { done: true, done_reason: "stop", prompt_eval_count: 3, eval_count: 4 })
    ])
    assert.isUndefined(error)
    assert.deepStrictEqual(chunks.map((c) => c.choices.map((ch) => ch.finish_reason)), [
      [null],
      [null],
      ["tool_calls"],
      []
    ])
    const calls = chunks[1]!.choices[0]!.delta.tool_calls!
    assert.deepStrictEqual(calls.map((c) => [c.index, c.function]), [[0, { name: "f", arguments: "{\"a\":1}" }], [1, {
      name: "g",
      arguments: "{}"
    }]])
    assert.isTrue(calls.every((c) => /^call_/.test(c.id!)))
    assert.deepStrictEqual(chunks[0]!.choices[0]!.delta, { role: "assistant", reasoning_content: "Hmm" })
    assert.deepStrictEqual(chunks.at(-1)!.usage, { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 })
    assert.strictEqual(chunks[0]!.created, Date.parse("2026-12-04T10:00:00Z") / 1000)
    assert.strictEqual(chunks[0]!.model, "qwen3")
  })

  it("done_reason length is length, even after a tool call", () => {
    const { chunks } = decode([
      line({ tool_calls: [{ function: { name: "f", arguments: {} } }] }),
      line({}, { done: true, done_reason: "length" })
    ])
    assert.strictEqual(chunks.at(-2)!.choices[0]!.finish_reason, "length")
  })

  it("lines without done: true are a cut stream", () => {
    const { chunks, error } = decode([line({ content: "Hi" })])
    assert.strictEqual(chunks.length, 1)
    assert.instanceOf(error, NetworkError)
  })
})
