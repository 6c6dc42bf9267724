/**
 * The embeddings contract (DESIGN §5), kept once by `LlmProvider.make` for every provider: exactly one vector per
 * input, in input order, and a large input split by the provider's per-call limit. Over real sockets.
 */
import { assert, describe, it } from "@effect/vitest"
import { Http, LlmProvider } from "@llm-api-router/core"
import { Aliyun, Gemini, Ollama, OpenAi, Zhipu } from "@llm-api-router/providers"
import { FakeDashScope, FakeGemini, FakeOllama, FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"

const apiKey = Redacted.make("sk-embeddings-test")

const embedWith = (
  provider: Layer.Layer<LlmProvider.LlmProvider, unknown, Http.HttpClient>,
  input: ReadonlyArray<string>,
  model?: string
) =>
  Effect.flatMap(LlmProvider.LlmProvider, (llm) => Effect.either(llm.embed({ input, ...(model ? { model } : {}) })))
    .pipe(Effect.provide(provider), Effect.provide(Http.layer()))

const texts = (n: number) => Array.from({ length: n }, (_, i) => `text number ${i}`)

const vectorList = (indices: ReadonlyArray<number>) => ({
  object: "list",
  data: indices.map((index) => ({ object: "embedding", index, embedding: [index, 0.5] })),
  model: "text-embedding-3-small",
  usage: { prompt_tokens: 4, total_tokens: 4 }
})

describe("embeddings: one vector per input, in input order", () => {
  it.scopedLive("OpenAI family: a short list is a ResponseDecodeError naming the counts", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.jsonReply(vectorList([0])))
      const result = yield* embedWith(
        OpenAi.layer({ apiKey, baseUrl: `${server.url}/v1`, defaultModel: "text-embedding-3-small", retry: false }),
        texts(2)
      )
      assert.strictEqual(result._tag, "Left")
      if (result._tag === "Left") {
        const error = result.left as { _tag: string; message: string }
        assert.strictEqual(error._tag, "ResponseDecodeError")
        assert.include(error.message, "expected 2 embeddings (one per input), got 1")
      }
    }))

  it.scopedLive("OpenAI family: vectors sent out of order come back in input order", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.jsonReply(vectorList([2, 0, 1])))
      const result = yield* embedWith(
        OpenAi.layer({ apiKey, baseUrl: `${server.url}/v1`, defaultModel: "text-embedding-3-small", retry: false }),
        texts(3)
      )
      assert.strictEqual(result._tag, "Right")
      if (result._tag === "Right") {
        assert.deepStrictEqual(result.right.data.map((e) => [e.index, e.embedding[0]]), [[0, 0], [1, 1], [2, 2]])
      }
    }))

  it.scopedLive("OpenAI family: duplicated indices are a ResponseDecodeError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOpenAi.jsonReply(vectorList([0, 0])))
      const result = yield* embedWith(
        OpenAi.layer({ apiKey, baseUrl: `${server.url}/v1`, defaultModel: "text-embedding-3-small", retry: false }),
        texts(2)
      )
      assert.strictEqual(result._tag === "Left" && (result.left as { _tag: string })._tag, "ResponseDecodeError")
    }))

  it.scopedLive("Ollama: a short list is a ResponseDecodeError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeOllama.jsonReply({ model: "all-minilm", embeddings: [[0.1, 0.2]], prompt_eval_count: 4 }))
      const result = yield* embedWith(
        Ollama.layer({ baseUrl: server.url, defaultModel: "all-minilm", retry: false }),
        texts(3)
      )
      assert.strictEqual(result._tag === "Left" && (result.left as { _tag: string })._tag, "ResponseDecodeError")
    }))
})

describe("embeddings: a large input is split by the provider's per-call limit", () => {
  const splits = [
    {
      name: "Zhipu (embedding-3: 64 per call)",
      inputs: 70,
      expected: [64, 6],
      make: (server: FakeServer.FakeServer) => {
        server.setHandler(FakeOpenAi.responder())
        return Zhipu.layer({ apiKey: Redacted.make("id.secret"), baseUrl: `${server.url}/api/paas/v4`, retry: false })
      }
    },
    {
      name: "DashScope (text-embedding-v4: 10 per call)",
      inputs: 23,
      expected: [10, 10, 3],
      make: (server: FakeServer.FakeServer) => {
        server.setHandler(FakeDashScope.responder())
        return Aliyun.layer({ apiKey, baseUrl: `${server.url}/api/v1`, retry: false })
      }
    },
    {
      name: "Gemini (100 per call)",
      inputs: 205,
      expected: [100, 100, 5],
      make: (server: FakeServer.FakeServer) => {
        server.setHandler(FakeGemini.responder())
        return Gemini.layer({
          apiKey,
          baseUrl: `${server.url}/v1beta`,
          defaultModel: "gemini-embedding-001",
          retry: false
        })
      }
    }
  ]
  for (const split of splits) {
    it.scopedLive(split.name, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        const inputs = texts(split.inputs)
        const result = yield* embedWith(split.make(server), inputs)
        assert.strictEqual(result._tag, "Right")
        const sizes = server.requests.map((request) => {
          const body = request.json as {
            input?: ReadonlyArray<string> | { texts: ReadonlyArray<string> }
            requests?: ReadonlyArray<unknown>
          }
          if (body.requests !== undefined) return body.requests.length
          return Array.isArray(body.input)
            ? body.input.length
            : (body.input as { texts: ReadonlyArray<string> }).texts.length
        })
        assert.deepStrictEqual(sizes, split.expected)
        if (result._tag === "Right") {
          assert.strictEqual(result.right.data.length, split.inputs)
          assert.deepStrictEqual(result.right.data.map((e) => e.index), inputs.map((_, i) => i))
        }
      }))
  }
})
