import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Client } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"

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
