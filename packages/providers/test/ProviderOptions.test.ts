import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Client, ProviderConfig } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

// A provider's own knobs reach its layer through `ProviderConfig.options`.
describe("ProviderConfig.options", () => {
  let server: FakeServer.FakeServer
  beforeAll(async () => {
    server = await FakeServer.start({ handler: FakeOpenAi.responder() })
  })
  afterAll(() => server.close())

  it("OpenRouter's attribution options become its headers", async () => {
    server.reset()
    server.setHandler(FakeOpenAi.responder())
    await using client = new Client({
      provider: "openrouter",
      apiKey: "sk-or-test",
      baseUrl: `${server.url}/api/v1`,
      defaultModel: "openai/gpt-4o-mini",
      options: { appName: "Router Tests", appUrl: "https://example.test" }
    })
    await client.chat.completions.create({ messages: [{ role: "user", content: "hi" }] })
    const headers = server.requests[0]!.headers
    assert.strictEqual(headers["x-title"], "Router Tests")
    assert.strictEqual(headers["http-referer"], "https://example.test")
  })

  it("OpenAI's organization option becomes its header", async () => {
    server.reset()
    server.setHandler(FakeOpenAi.responder())
    await using client = new Client({
      provider: "openai",
      apiKey: "sk-test",
      baseUrl: `${server.url}/v1`,
      defaultModel: "gpt-4o-mini",
      options: { organization: "org-42" }
    })
    await client.chat.completions.create({ messages: [{ role: "user", content: "hi" }] })
    assert.strictEqual(server.requests[0]!.headers["openai-organization"], "org-42")
  })

  it("the config's own fields win over the same names in options", async () => {
    server.reset()
    server.setHandler(FakeOpenAi.responder())
    await using client = new Client({
      provider: "openai",
      apiKey: "sk-test",
      baseUrl: `${server.url}/v1`,
      defaultModel: "gpt-4o-mini",
      options: { defaultModel: "ignored" }
    })
    await client.chat.completions.create({ messages: [{ role: "user", content: "hi" }] })
    assert.strictEqual((server.requests[0]!.json as { model: string }).model, "gpt-4o-mini")
  })
})

describe("ProviderConfig: the key from the environment", () => {
  const resolveWith = (env: Record<string, string>) =>
    ProviderConfig.resolve({ provider: "gemini" }).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
    )

  it.effect("Gemini reads GEMINI_API_KEY, else GOOGLE_API_KEY", () =>
    Effect.gen(function*() {
      const both = yield* resolveWith({ GEMINI_API_KEY: "gem-key", GOOGLE_API_KEY: "google-key" })
      assert.strictEqual(Redacted.value(both.apiKey!), "gem-key")
      const googleOnly = yield* resolveWith({ GOOGLE_API_KEY: "google-key" })
      assert.strictEqual(Redacted.value(googleOnly.apiKey!), "google-key")
    }))

  it.effect("without either, the error names both variables", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(resolveWith({}))
      assert.strictEqual(error.param, "apiKey")
      assert.include(error.message, "GEMINI_API_KEY or GOOGLE_API_KEY")
    }))
})
