/**
 * Every one of our error tags becomes its AiError kind, through `@effect/ai`'s own calls, with our error as the cause.
 */
import * as EmbeddingModel from "@effect/ai/EmbeddingModel"
import * as LanguageModel from "@effect/ai/LanguageModel"
import { assert, describe, it } from "@effect/vitest"
import {
  AuthenticationError,
  ContentFilterError,
  ContextLengthError,
  InvalidRequestError,
  LlmError,
  NetworkError,
  PermissionDeniedError,
  ProviderError,
  QuotaExceededError,
  RateLimitError,
  ResponseDecodeError,
  RetryExhausted,
  StructuredOutputError,
  TimeoutError,
  ToolError,
  UnsupportedFeatureError
} from "@llm-api-router/core"
import { MockProvider } from "@llm-api-router/core/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { layerEmbeddingModel, layerLanguageModel, toAiError } from "../src/index.js"

const provider = "mock"
const body = "{\"error\":{\"message\":\"no\"}}"
const network = new NetworkError({ provider, message: "mock: connection reset" })
const throttled = new RateLimitError({
  provider,
  status: 429,
  message: "mock: slow down",
  retryAfter: Option.some(Duration.seconds(2)),
  body
})

type Expected = "HttpResponseError" | "HttpRequestError" | "MalformedOutput" | "MalformedInput" | "UnknownError"

const table: ReadonlyArray<readonly [LlmError, Expected, number?]> = [
  [new AuthenticationError({ provider, status: 401, message: "bad key", body }), "HttpResponseError", 401],
  [new PermissionDeniedError({ provider, status: 403, message: "no access" }), "HttpResponseError", 403],
  [throttled, "HttpResponseError", 429],
  [new RateLimitError({ provider, message: "client-side limit", retryAfter: Option.none() }), "UnknownError"],
  [new QuotaExceededError({ provider, status: 402, message: "no credit" }), "HttpResponseError", 402],
  [new InvalidRequestError({ provider, status: 400, message: "bad param" }), "HttpResponseError", 400],
  [new InvalidRequestError({ provider, source: "client", message: "invalid request: messages" }), "MalformedInput"],
  [new ContextLengthError({ provider, status: 400, message: "too long" }), "HttpResponseError", 400],
  [new ContentFilterError({ provider, status: 400, message: "blocked" }), "HttpResponseError", 400],
  [new ProviderError({ provider, status: 503, message: "overloaded" }), "HttpResponseError", 503],
  [new ProviderError({ provider, message: "an error event inside the stream" }), "UnknownError"],
  [new TimeoutError({ provider, phase: "first-byte", message: "no headers in 10 s" }), "HttpRequestError"],
  [network, "HttpRequestError"],
  [new ResponseDecodeError({ provider, status: 200, message: "not JSON" }), "MalformedOutput"],
  [new UnsupportedFeatureError({ provider, feature: "embeddings", message: "no embeddings" }), "MalformedInput"],
  [new RetryExhausted({ provider, attempts: 4, lastError: network, message: "gave up" }), "HttpRequestError"],
  [new RetryExhausted({ provider, attempts: 4, lastError: throttled, message: "gave up" }), "HttpResponseError", 429],
  [
    new StructuredOutputError({
      provider,
      message: "does not match",
      text: "{}",
      issue: "city is missing",
      completion: { id: "c", object: "chat.completion", created: 0, model: "m", choices: [] }
    }),
    "MalformedOutput"
  ],
  [
    new ToolError({ provider, toolName: "t", toolCallId: "c", reason: "UnknownTool", message: "no such tool" }),
    "UnknownError"
  ]
]

const check = (aiError: any, error: LlmError, expected: Expected, status: number | undefined) => {
  assert.strictEqual(aiError._tag, expected, `${error._tag}: ${error.message}`)
  // The cause is our error (as Effect hands it over: the same fields, possibly behind a span-carrying proxy).
  assert.isTrue(Equal.equals(aiError.cause, error), `${error._tag} is the cause`)
  assert.strictEqual(aiError.cause._tag, error._tag)
  assert.strictEqual(aiError.module, "LlmApiRouter")
  assert.include(aiError.description, error.message)
  if (expected === "HttpResponseError") {
    assert.strictEqual(aiError.response.status, status)
    assert.strictEqual(aiError.reason, "StatusCode")
  }
  if (expected === "HttpRequestError") assert.strictEqual(aiError.reason, "Transport")
}

describe("error mapping", () => {
  it("the table covers every tag of LlmError", () => {
    const tags = new Set(LlmError.members.map((member) => (member as unknown as { _tag: string })._tag))
    assert.deepStrictEqual(new Set(table.map(([error]) => error._tag)), tags)
  })

  it("toAiError keeps the body of a status error and never the request's headers", () => {
    const aiError = toAiError(table[0]![0], { method: "generateText", url: "https://api.example.com/v1" })
    assert.strictEqual(aiError._tag, "HttpResponseError")
    if (aiError._tag !== "HttpResponseError") return
    assert.strictEqual(aiError.body, body)
    assert.strictEqual(aiError.request.url, "https://api.example.com/v1")
    assert.deepStrictEqual(aiError.request.headers, {})
    assert.include(aiError.message, "401")
  })

  for (const [error, expected, status] of table) {
    it.effect(`${error._tag} (${error.message}) -> ${expected}: generateText, streamText, embed`, () =>
      Effect.gen(function*() {
        const generated = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(Effect.flip)
        check(generated, error, expected, status)
        assert.strictEqual((generated as any).method, "generateText")
        const streamed = yield* LanguageModel.streamText({ prompt: "hi" }).pipe(Stream.runDrain, Effect.flip)
        check(streamed, error, expected, status)
        assert.strictEqual((streamed as any).method, "streamText")
        const embedder = yield* EmbeddingModel.EmbeddingModel
        const embedded = yield* embedder.embed("hi").pipe(Effect.flip)
        check(embedded, error, expected, status)
        assert.strictEqual((embedded as any).method, "embedMany")
      }).pipe(Effect.provide(
        Layer.mergeAll(layerLanguageModel, layerEmbeddingModel()).pipe(
          Layer.provide(MockProvider.layer(() => MockProvider.fail(error)))
        )
      )))
  }
})
