/**
 * The Gemini stream decoder, streamed responses → chunks, without a socket.
 */
import { assert, describe, it } from "@effect/vitest"
import { ContentFilterError, NetworkError, RateLimitError } from "@llm-api-router/core"
import { classifyError } from "../../src/internal/gemini/codec.js"
import * as GeminiStream from "../../src/internal/gemini/stream.js"
import { decodeText, sse } from "./decode.js"

const decode = (body: string) => decodeText(GeminiStream.decoder(classifyError, "gemini", "m", 1), body)

const response = (candidates: ReadonlyArray<unknown>, extra: object = {}) => ({
  candidates,
  modelVersion: "gemini-x",
  responseId: "resp_1",
  ...extra
})

describe("GeminiStream", () => {
  it("two candidates: each its role, parts, whole calls and one finish; usage last", () => {
    const { chunks, error } = decode(sse([
      response([
        { index: 0, content: { parts: [{ text: "Hm", thought: true }, { text: "Hi" }] } },
        { index: 1, content: { parts: [{ functionCall: { name: "f", args: { a: 1 } } }] } }
      ]),
      response([{ index: 0, content: { parts: [{ text: "!" }] }, finishReason: "STOP" }, {
        index: 1,
        finishReason: "STOP"
      }], { usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 4, totalTokenCount: 7 } })
    ]))
    assert.isUndefined(error)
    assert.deepStrictEqual(chunks[0]!.choices.map((c) => c.delta.role), ["assistant", "assistant"])
    assert.deepStrictEqual(chunks[0]!.choices[0]!.delta, { role: "assistant", reasoning_content: "Hm", content: "Hi" })
    const call = chunks[0]!.choices[1]!.delta.tool_calls![0]!
    assert.deepStrictEqual([call.index, call.function], [0, { name: "f", arguments: "{\"a\":1}" }])
    assert.deepStrictEqual(chunks[1]!.choices.map((c) => [c.index, c.finish_reason]), [[0, "stop"], [1, "tool_calls"]])
    assert.deepStrictEqual(chunks.at(-1)!.choices, [])
    assert.strictEqual(chunks.at(-1)!.usage?.total_tokens, 7)
    assert.isTrue(chunks.every((c) => c.id === "resp_1" && c.model === "gemini-x"))
  })

  it("a candidate that never finished: the stream was cut", () => {
    const { error } = decode(sse([response([{ index: 0, content: { parts: [{ text: "Hi" }] } }])]))
    assert.instanceOf(error, NetworkError)
    assert.include(error!.message, "no finishReason")
  })

  it("a blocked prompt is a ContentFilterError", () => {
    const { error } = decode(sse([{ promptFeedback: { blockReason: "SAFETY" } }]))
    assert.instanceOf(error, ContentFilterError)
  })

  it("a bare error body after the last event fails typed", () => {
    const { error } = decode(
      sse([response([{ index: 0, content: { parts: [{ text: "Hi" }] } }])]) +
        JSON.stringify({ error: { code: 429, message: "quota", status: "RESOURCE_EXHAUSTED" } })
    )
    assert.instanceOf(error, RateLimitError)
  })
})
