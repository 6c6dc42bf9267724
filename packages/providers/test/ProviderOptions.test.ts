import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Client, ProviderConfig } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
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

  it("the config's own fields are refused inside options, naming them (they would be overridden)", () => {
    for (const field of ["defaultModel", "baseUrl", "timeout", "apiKey"]) {
      const resolved = ProviderConfig.validate({
        provider: "openai",
        apiKey: "sk-test",
        defaultModel: "gpt-4o-mini",
        options: { [field]: "ignored" }
      })
      assert.isTrue(Either.isLeft(resolved))
      const error = Either.isLeft(resolved) ? resolved.left : undefined
      assert.strictEqual(error?.param, `options.${field}`)
      assert.include(error?.message, "not in options")
    }
  })

  it("a misspelt option, or a value the provider would refuse, is rejected and named", () => {
    const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
      [{ provider: "openai", apiKey: "k", options: { organisation: "org" } }, "options.organisation"],
      [{ provider: "aliyun", apiKey: "k", options: { regoin: "intl" } }, "options.regoin"],
      [{ provider: "aliyun", apiKey: "k", options: { region: "eu" } }, "options.region"],
      [{ provider: "aliyun", apiKey: "k", options: { embeddingBatchSize: 0 } }, "options.embeddingBatchSize"],
      [{ provider: "gemini", apiKey: "k", options: { schemaMode: "openai" } }, "options.schemaMode"],
      [{ provider: "anthropic", apiKey: "k", options: { defaultMaxTokens: 1.5 } }, "options.defaultMaxTokens"],
      [{ provider: "deepseek", apiKey: "k", options: { reasoningReplay: "always" } }, "options.reasoningReplay"],
      [{ provider: "ollama", options: { capabilities: { visoin: false } } }, "options.capabilities.visoin"],
      [{ provider: "zhipu", apiKey: "no-dot", options: { auth: "jwt" } }, "apiKey"],
      [{ provider: "zhipu", apiKey: "id.secret", options: { jwtTtl: 10 } }, "options.jwtTtl"]
    ]
    for (const [config, param] of cases) {
      const resolved = ProviderConfig.validate(config)
      assert.isTrue(Either.isLeft(resolved), JSON.stringify(config))
      if (Either.isLeft(resolved)) assert.strictEqual(resolved.left.param, param, resolved.left.message)
    }
    const good = ProviderConfig.validate({ provider: "zhipu", apiKey: "id.secret", options: { auth: "jwt" } })
    assert.isTrue(Either.isRight(good))
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
