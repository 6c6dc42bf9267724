// A program outside the repository, as a user writes it: .ci/package-check.sh installs the packed tarballs into fresh
// npm and pnpm projects, type-checks this file against the packed .d.ts files (nodenext and bundler resolution,
// strict, exactOptionalPropertyTypes, no skipLibCheck) and runs the output with plain node, against the fake
// servers of `@llm-api-router/providers/testing` on loopback sockets. It uses only the public names of DESIGN §4.
import { AuthenticationError, Http, LlmProvider, RateLimitError, Retry } from "@llm-api-router/core"
import * as LlmError from "@llm-api-router/core/LlmError"
import { Client, OpenAi } from "@llm-api-router/providers"
import { FakeAnthropic, FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import { Effect, Redacted, Stream } from "effect"
import assert from "node:assert/strict"

const openai = await FakeServer.start({ handler: FakeOpenAi.responder() })
const anthropic = await FakeServer.start({ handler: FakeAnthropic.responder() })
const baseUrl = `${openai.url}/v1`
const messages = [{ role: "user" as const, content: "hi" }]

// A subpath export is the same module as the index's namespace: one class per error.
assert.equal(LlmError.AuthenticationError, AuthenticationError)

// ---------------------------------------------------------------------------------------------------------------
// The Effect API, over our pool (no @effect/platform-node installed)
// ---------------------------------------------------------------------------------------------------------------

const program = Effect.gen(function*() {
  const llm = yield* LlmProvider.LlmProvider
  const res = yield* llm.chat({ messages })
  let streamed = ""
  yield* llm.stream({ messages: [{ role: "user", content: "count the words" }] }).pipe(
    Stream.runForEach((chunk) => Effect.sync(() => (streamed += chunk.choices[0]?.delta.content ?? "")))
  )
  const emb = yield* llm.embed({ input: ["a", "b"], dimensions: 4 })
  return { res, streamed, emb, info: llm.info }
})

const out = await program.pipe(
  Effect.provide(OpenAi.layer({ apiKey: Redacted.make("sk-outside"), baseUrl, defaultModel: "outside-model" })),
  Effect.provide(Http.layerDefault),
  Effect.runPromise
)
assert.equal(out.res.choices[0]?.message.content, "Echo: hi")
assert.equal(out.res.model, "outside-model")
assert.equal(out.streamed, "Echo: count the words")
assert.deepEqual(out.emb.data.map((d) => d.embedding.length), [4, 4])
assert.equal(out.info.defaultModel, "outside-model")
assert.equal(openai.requests[0]?.headers.authorization, "Bearer sk-outside")

// A 401 is a typed failure that catchTags handles (never retried, whatever the policy says).
openai.enqueue(FakeOpenAi.errorReply(401, { message: "Incorrect API key provided", code: "invalid_api_key" }))
const caught = await LlmProvider.chat({ messages }).pipe(
  Effect.map(() => "answered"),
  Effect.catchTags({ AuthenticationError: (e) => Effect.succeed(`${e._tag} ${e.status}`) }),
  Effect.provide(OpenAi.layer({
    apiKey: Redacted.make("sk-wrong"),
    baseUrl,
    defaultModel: "outside-model",
    retry: Retry.fromConfig({ maxRetries: 1 })
  })),
  Effect.provide(Http.layerDefault),
  Effect.runPromise
)
assert.equal(caught, "AuthenticationError 401")
console.log("Effect API: chat, stream, embed and a typed AuthenticationError work")

// ---------------------------------------------------------------------------------------------------------------
// The Promise facade
// ---------------------------------------------------------------------------------------------------------------

const client = new Client({
  provider: "openai",
  apiKey: "sk-outside",
  baseUrl,
  defaultModel: "outside-model",
  retry: false
})
try {
  const res = await client.chat.completions.create({ messages: [{ role: "user", content: "你好" }] })
  assert.equal(res.choices[0]?.message.content, "Echo: 你好")

  const stream = await client.chat.completions.create({ messages, stream: true })
  let streamed = ""
  let usage: { readonly total_tokens: number } | undefined = undefined
  for await (const chunk of stream) {
    streamed += chunk.choices[0]?.delta.content ?? ""
    if (chunk.usage) usage = chunk.usage
  }
  assert.equal(streamed, "Echo: hi")
  assert.ok(usage !== undefined && usage.total_tokens > 0, "the stream ends with usage")

  const emb = await client.embeddings.create({ input: ["a", "b"], dimensions: 4 })
  assert.deepEqual(emb.data.map((d) => d.embedding.length), [4, 4])

  // A rejected promise carries our error itself, not a FiberFailure: by instanceof and by _tag.
  openai.enqueue(FakeOpenAi.errorReply(429, { message: "Rate limit reached", code: "rate_limit_exceeded" }))
  const limited = await client.chat.completions.create({ messages }).then(
    () => undefined,
    (error: unknown) => error
  )
  assert.ok(limited instanceof RateLimitError, `a RateLimitError, got ${String(limited)}`)
  assert.equal(limited._tag, "RateLimitError")
  assert.ok(limited instanceof Error)
} finally {
  await client.close()
}

const wrong = new Client({
  provider: "openai-compatible",
  apiKey: "sk-wrong",
  baseUrl,
  defaultModel: "m",
  retry: false
})
openai.enqueue(FakeOpenAi.errorReply(401, { message: "Incorrect API key provided", code: "invalid_api_key" }))
await assert.rejects(
  wrong.chat.completions.create({ messages }),
  (error) => error instanceof AuthenticationError && error._tag === "AuthenticationError" && error.status === 401
)
await wrong.close()

// Another wire protocol, from the same install.
const claude = new Client({
  provider: "anthropic",
  apiKey: "sk-ant-outside",
  baseUrl: anthropic.url,
  defaultModel: "claude-outside"
})
try {
  const res = await claude.chat.completions.create({ messages, max_tokens: 20 })
  assert.equal(res.choices[0]?.message.content, "Echo: hi")
} finally {
  await claude.close()
}

// The optional Redis package is found by the providers package, wherever the package manager put it; with no Redis
// listening, calls go upstream.
const cached = new Client({
  provider: "openai",
  apiKey: "sk-outside",
  baseUrl,
  defaultModel: "outside-model",
  cache: { backend: "redis", url: "redis://127.0.0.1:9", ttl: "1 minute" }
})
try {
  const res = await cached.chat.completions.create({ messages })
  assert.equal(res.choices[0]?.message.content, "Echo: hi")
} finally {
  await cached.close()
}
console.log("Client: chat, stream, embeddings, Anthropic, the Redis package and typed rejections work")

await openai.close()
await anthropic.close()
// No process.exit: the check's timeout fails it if a handle is left open.
