/**
 * Error handling: every failure is a typed error with a `_tag`. From Effect, `catchTags` handles some and leaves
 * the rest in the type; from the Promise `Client`, the rejected value is the same error object, so `instanceof`
 * works.
 *
 * Always offline: the failures are scripted on a fake OpenAI-compatible server (and a fake Anthropic one).
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/errors.ts
 */
import {
  AuthenticationError,
  ContextLengthError,
  InvalidRequestError,
  isRetryable,
  LlmProvider,
  QuotaExceededError,
  RateLimitError,
  RetryExhausted,
  UnsupportedFeatureError
} from "@llm-api-router/core"
import { Http } from "@llm-api-router/core"
import { Client, ProviderFactory } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import { Console, Effect, Layer, Option } from "effect"
import * as Providers from "./src/providers.js"

const server = await FakeServer.start({ handler: FakeOpenAi.responder() })
console.log(`Offline: the failures are scripted on a fake OpenAI-compatible server at ${server.url}.`)
const config = {
  provider: "openai",
  apiKey: "sk-offline",
  baseUrl: server.url,
  defaultModel: "gpt-4o-mini",
  retry: { maxRetries: 1, initialDelay: "10 millis", jitter: false }
} as const

// ---- From Effect: catchTags over the tags; whatever is not handled stays in the error type.
const ProviderLive = ProviderFactory.layer(config).pipe(Layer.provide(Http.layerDefault))

const ask = (content: string) =>
  LlmProvider.chat({ messages: [{ role: "user", content }] }).pipe(
    Effect.map((res) => `answer: ${res.choices[0]?.message.content}`),
    Effect.catchTags({
      AuthenticationError: (e) => Effect.succeed(`AuthenticationError (${e.status}): check the key`),
      QuotaExceededError: (e) => Effect.succeed(`QuotaExceededError (${e.code}): top up the account`),
      ContextLengthError: () => Effect.succeed("ContextLengthError: shorten the conversation"),
      RateLimitError: (e) =>
        Effect.succeed(`RateLimitError: retry after ${Option.getOrElse(Option.map(e.retryAfter, String), () => "?")}`),
      RetryExhausted: (e) => Effect.succeed(`RetryExhausted after ${e.attempts} attempts: ${e.lastError._tag}`)
    }),
    // What is left: InvalidRequestError, ProviderError, TimeoutError, … : the compiler knows.
    Effect.catchAll((e) => Effect.succeed(`${e._tag}: ${e.message}`))
  )

const program = Effect.gen(function*() {
  yield* Console.log("== Effect, catchTags")
  server.enqueue(FakeOpenAi.errorReply(401, { message: "Incorrect API key", code: "invalid_api_key" }))
  yield* Console.log(yield* ask("hi"))
  server.enqueue(FakeOpenAi.errorReply(429, { message: "You exceeded your quota", code: "insufficient_quota" }))
  yield* Console.log(yield* ask("hi"))
  server.enqueue(
    FakeOpenAi.errorReply(400, { message: "maximum context length exceeded", code: "context_length_exceeded" })
  )
  yield* Console.log(yield* ask("a very long prompt"))
  // Two 503s and a policy of one retry: RetryExhausted, carrying the last error.
  server.enqueue(
    FakeOpenAi.errorReply(503, { message: "overloaded" }),
    FakeOpenAi.errorReply(503, { message: "again" })
  )
  yield* Console.log(yield* ask("hi"))
  // Rejected before anything is sent: no request reaches the server.
  const before = server.requests.length
  const invalid = yield* LlmProvider.chat({ messages: [] }).pipe(Effect.flip)
  yield* Console.log(
    `${invalid._tag} (source ${invalid._tag === "InvalidRequestError" ? invalid.source : "?"}): ${invalid.message}; ` +
      `requests sent: ${server.requests.length - before}`
  )
})
await Effect.runPromise(program.pipe(Effect.provide(ProviderLive)))

// ---- From plain async code: the same error objects, with instanceof.
console.log("== Client, instanceof")
await using client = new Client(config)
const attempt = async (label: string, call: () => Promise<unknown>) => {
  try {
    await call()
    console.log(`${label}: ok`)
  } catch (error) {
    if (error instanceof AuthenticationError) console.log(`${label}: AuthenticationError, status ${error.status}`)
    else if (error instanceof RateLimitError) console.log(`${label}: RateLimitError, retryable ${isRetryable(error)}`)
    else if (error instanceof QuotaExceededError) console.log(`${label}: QuotaExceededError`)
    else if (error instanceof ContextLengthError) console.log(`${label}: ContextLengthError`)
    else if (error instanceof RetryExhausted) console.log(`${label}: RetryExhausted (${error.lastError._tag})`)
    else if (error instanceof UnsupportedFeatureError) {
      console.log(`${label}: UnsupportedFeatureError: ${error.message}`)
    } else if (error instanceof InvalidRequestError) console.log(`${label}: InvalidRequestError, param ${error.param}`)
    else throw error
  }
}
server.enqueue(FakeOpenAi.errorReply(401, { message: "Incorrect API key", code: "invalid_api_key" }))
await attempt("wrong key", () => client.chat.completions.create({ messages: [{ role: "user", content: "hi" }] }))
await attempt(
  "bad temperature",
  () => client.chat.completions.create({ messages: [{ role: "user", content: "hi" }], temperature: 7 })
)

// Anthropic has no embeddings API: the call fails before any I/O, with the same class on every provider.
await using anthropic = await Providers.start("anthropic", { quiet: true })
await using claude = new Client(anthropic.config)
await attempt("embeddings on anthropic", () => claude.embeddings.create({ input: ["a"] }))
await server.close()
