/**
 * The Effect API: a provider is a layer, failures are typed, retries are a Schedule, a stream is a Stream.
 *
 * Offline by default (a fake OpenAI-compatible server started in-process); OPENAI_API_KEY set: OpenAI.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/effect.ts
 */
import { NodeHttpClient } from "@effect/platform-node"
import { LlmProvider } from "@llm-api-router/core"
import { OpenAi } from "@llm-api-router/providers"
import { Console, Effect, Redacted, Schedule, Stream } from "effect"
import * as Backend from "./src/backend.js"

const backend = await Backend.start()

const program = Effect.gen(function*() {
  const llm = yield* LlmProvider.LlmProvider

  yield* Console.log("\n== chat")
  const res = yield* llm.chat({ messages: [{ role: "user", content: "Say hello in five words." }] })
  yield* Console.log(res.choices[0]?.message.content)

  yield* Console.log("\n== stream")
  yield* llm.stream({ messages: [{ role: "user", content: "Count from one to five." }] }).pipe(
    Stream.runForEach((chunk) => Effect.sync(() => process.stdout.write(chunk.choices[0]?.delta.content ?? "")))
  )
  yield* Console.log("")

  yield* Console.log("\n== embeddings")
  const emb = yield* llm.embed({ model: backend.embeddingModel, input: ["a", "b"] })
  yield* Console.log(`${emb.data.length} vectors of ${emb.data[0]?.embedding.length} dimensions`)

  const server = backend.server
  if (server !== undefined) {
    yield* Console.log("\n== retry")
    server.enqueue({ status: 503, body: { error: { message: "The server is overloaded" } } })
    const before = server.requests.length
    const retried = yield* llm.chat({ messages: [{ role: "user", content: "Are you there?" }] })
    yield* Console.log(`${retried.choices[0]?.message.content} (after ${server.requests.length - before} attempts)`)
  }
})

// A retry policy is any Schedule over the error: here 3 quick retries (only retryable errors are retried).
const retry = Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(3)))

const OpenAiLive = OpenAi.layer({
  apiKey: Redacted.make(backend.apiKey),
  baseUrl: backend.baseUrl,
  defaultModel: backend.model,
  retry
})

// A wrong key fails with AuthenticationError, which the compiler makes us handle (or pass on).
const wrongKey = Effect.gen(function*() {
  yield* Console.log("\n== errors")
  backend.server?.enqueue({ status: 401, body: { error: { message: "Incorrect API key", code: "invalid_api_key" } } })
  yield* LlmProvider.chat({ messages: [{ role: "user", content: "hi" }] }).pipe(
    Effect.catchTags({
      AuthenticationError: (e) => Console.log(`AuthenticationError (status ${e.status}): ${e.message}`),
      RetryExhausted: (e) => Console.log(`gave up after ${e.attempts} attempts: ${e.lastError.message}`)
    }),
    Effect.provide(
      OpenAi.layer({ apiKey: Redacted.make("sk-wrong"), baseUrl: backend.baseUrl, defaultModel: backend.model })
    )
  )
})

await program.pipe(
  Effect.zipRight(wrongKey),
  Effect.provide(OpenAiLive),
  Effect.provide(NodeHttpClient.layerUndici),
  Effect.ensuring(Effect.promise(backend.close)),
  Effect.runPromise
)
