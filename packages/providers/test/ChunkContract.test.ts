/**
 * The domain's normalisation rules (`ChunkContract`, DESIGN §5) hold on every provider: each codec's finish-reason
 * mapping, row by row, and over real sockets the cases where providers used to differ (a repeated finish reason,
 * `""` as the content of a message with only tool calls).
 */
import { assert, describe, it } from "@effect/vitest"
import type { ChatCompletionRequest, FinishReason } from "@llm-api-router/core"
import { ChatStream, ChunkContract, Http, LlmProvider } from "@llm-api-router/core"
import { Ollama, OpenRouter } from "@llm-api-router/providers"
import { FakeOllama, FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Aliyun from "../src/internal/aliyun/codec.js"
import * as Anthropic from "../src/internal/anthropic/codec.js"
import * as Gemini from "../src/internal/gemini/codec.js"
import * as OllamaCodec from "../src/internal/ollama/codec.js"
import * as OpenAi from "../src/internal/openai/codec.js"

/** Each protocol's own words for "stopped", "cut by the token limit" and "blocked". */
const protocols: ReadonlyArray<{
  readonly name: string
  readonly finishReason: (raw: string, calledTools: boolean) => FinishReason
  readonly stop: string
  readonly length: string
  readonly filtered: string | undefined
}> = [
  {
    name: "chat-completions",
    finishReason: OpenAi.finishReason,
    stop: "stop",
    length: "length",
    filtered: "content_filter"
  },
  {
    name: "anthropic",
    finishReason: Anthropic.finishReason,
    stop: "end_turn",
    length: "max_tokens",
    filtered: "refusal"
  },
  { name: "gemini", finishReason: Gemini.finishReason, stop: "STOP", length: "MAX_TOKENS", filtered: "SAFETY" },
  {
    name: "dashscope",
    finishReason: Aliyun.finishReason,
    stop: "stop",
    length: "length",
    filtered: "data_inspection_failed"
  },
  { name: "ollama", finishReason: OllamaCodec.finishReason, stop: "stop", length: "length", filtered: undefined }
]

describe("ChunkContract", () => {
  it("finishReason: tool_calls wins over stop only", () => {
    assert.strictEqual(ChunkContract.finishReason("stop", true), "tool_calls")
    assert.strictEqual(ChunkContract.finishReason("length", true), "length")
    assert.strictEqual(ChunkContract.finishReason("content_filter", true), "content_filter")
    assert.strictEqual(ChunkContract.finishReason("stop", false), "stop")
  })

  it("assistantContent: a message with only tool calls has content null", () => {
    assert.strictEqual(ChunkContract.assistantContent("", true), null)
    assert.strictEqual(ChunkContract.assistantContent(undefined, false), null)
    assert.strictEqual(ChunkContract.assistantContent("", false), "")
    assert.strictEqual(ChunkContract.assistantContent("Let me look.", true), "Let me look.")
  })

  describe("every protocol's finish reasons follow it", () => {
    for (const p of protocols) {
      it(p.name, () => {
        assert.strictEqual(p.finishReason(p.stop, false), "stop")
        assert.strictEqual(p.finishReason(p.stop, true), "tool_calls")
        assert.strictEqual(p.finishReason(p.length, false), "length")
        // A tool call cut short by the token limit: its arguments are not valid JSON.
        assert.strictEqual(p.finishReason(p.length, true), "length")
        if (p.filtered !== undefined) assert.strictEqual(p.finishReason(p.filtered, true), "content_filter")
      })
    }
  })

  it("ChatStream.toCompletion folds a tool call cut by the token limit to length", () =>
    Effect.gen(function*() {
      const chunk = (delta: object, finish: FinishReason | null) => ({
        id: "c",
        object: "chat.completion.chunk" as const,
        created: 1,
        model: "m",
        choices: [{ index: 0, delta, finish_reason: finish }]
      })
      const completion = yield* ChatStream.toCompletion(Stream.make(
        chunk({
          role: "assistant",
          tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "{\"ci" } }]
        }, null),
        chunk({}, "length")
      ))
      assert.strictEqual(completion.choices[0]!.finish_reason, "length")
    }).pipe(Effect.runPromise))
})

const ask: ChatCompletionRequest = { model: "m", messages: [{ role: "user", content: "weather in Paris?" }] }
const toolCall = {
  id: "call_1",
  type: "function",
  function: { name: "get_weather", arguments: "{\"city\":\"Paris\"}" }
}

describe("over a socket, where providers used to differ", () => {
  it.scopedLive("OpenRouter: a finish reason repeated on the usage chunk goes out once", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const base = { id: "gen-1", object: "chat.completion.chunk", created: 1, model: "m" }
      server.enqueue(FakeOpenAi.streamReply([
        { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "Hi" }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: { content: "" }, finish_reason: "stop" }] },
        {
          ...base,
          choices: [{ index: 0, delta: { content: "" }, finish_reason: "stop" }],
          usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 }
        }
      ]))
      const chunks = Chunk.toReadonlyArray(
        yield* Effect.flatMap(LlmProvider.LlmProvider, (llm) => Stream.runCollect(llm.stream(ask))).pipe(
          Effect.provide(
            OpenRouter.layer({ apiKey: Redacted.make("sk-or"), baseUrl: `${server.url}/api/v1`, retry: false })
          ),
          Effect.provide(Http.layer())
        )
      )
      const finishes = chunks.flatMap((c) => c.choices.filter((choice) => choice.finish_reason !== null))
      assert.strictEqual(finishes.length, 1)
      assert.deepStrictEqual(chunks.at(-1)!.choices, [])
      assert.strictEqual(chunks.at(-1)!.usage?.total_tokens, 4)
    }))

  it.scopedLive("OpenRouter: a message with only tool calls has content null, not \"\"", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.jsonReply({
        id: "gen-2",
        object: "chat.completion",
        created: 1,
        model: "m",
        choices: [{
          index: 0,
          message: { role: "assistant", content: "", tool_calls: [toolCall] },
          finish_reason: "tool_calls"
        }],
        usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 }
      }))
      const completion = yield* Effect.flatMap(LlmProvider.LlmProvider, (llm) => llm.chat(ask)).pipe(
        Effect.provide(
          OpenRouter.layer({ apiKey: Redacted.make("sk-or"), baseUrl: `${server.url}/api/v1`, retry: false })
        ),
        Effect.provide(Http.layer())
      )
      assert.strictEqual(completion.choices[0]!.message.content, null)
      assert.strictEqual(completion.choices[0]!.finish_reason, "tool_calls")
    }))

  it.scopedLive("Ollama: a message with only tool calls has content null, not \"\"", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOllama.jsonReply({
        model: "m",
        created_at: "2026-12-04T10:00:00Z",
        message: {
          role: "assistant",
          content: "",
          tool_calls: [{ function: { name: "get_weather", arguments: { city: "Paris" } } }]
        },
        done: true,
        done_reason: "stop",
        prompt_eval_count: 3,
        eval_count: 5
      }))
      const completion = yield* Effect.flatMap(LlmProvider.LlmProvider, (llm) => llm.chat(ask)).pipe(
        Effect.provide(Ollama.layer({ baseUrl: server.url, retry: false })),
        Effect.provide(Http.layer())
      )
      assert.strictEqual(completion.choices[0]!.message.content, null)
      assert.strictEqual(completion.choices[0]!.finish_reason, "tool_calls")
    }))
})
