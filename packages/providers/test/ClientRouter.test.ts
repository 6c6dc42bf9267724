import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Client } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"

describe("Client with several providers", () => {
  let down: FakeServer.FakeServer
  let up: FakeServer.FakeServer

  beforeAll(async () => {
    down = await FakeServer.start({ handler: () => FakeOpenAi.errorReply(503, { message: "down" }) })
    up = await FakeServer.start({ handler: FakeOpenAi.responder() })
  })
  afterAll(async () => {
    await down.close()
    await up.close()
  })

  const config = () => ({
    providers: [
      {
        name: "down",
        provider: "openai",
        apiKey: "sk-a",
        baseUrl: down.url,
        defaultModel: "m-a",
        retry: false as const
      },
      { name: "up", provider: "openai", apiKey: "sk-b", baseUrl: up.url, defaultModel: "m-b", retry: false as const }
    ],
    strategy: "fallback" as const,
    cooldown: { failures: 2 }
  })

  it("falls back from the failing provider, for completions and streams, and cools it down", async () => {
    down.reset()
    up.reset()
    down.setHandler(() => FakeOpenAi.errorReply(503, { message: "down" }))
    up.setHandler(FakeOpenAi.responder())
    await using client = new Client(config())
    assert.strictEqual(client.provider.name, "router")
    const messages = [{ role: "user" as const, content: "hello" }]
    const res = await client.chat.completions.create({ messages })
    assert.strictEqual(res.choices[0]?.message.content, "Echo: hello")
    assert.strictEqual(res.model, "m-b")
    const stream = await client.chat.completions.create({ messages, stream: true })
    const completion = await stream.toCompletion()
    assert.strictEqual(completion.choices[0]?.message.content, "Echo: hello")
    await client.chat.completions.create({ messages })
    // Two failures cooled "down": the third call went straight to "up".
    assert.strictEqual(down.requests.length, 2)
    assert.strictEqual(up.requests.length, 3)
  })

  it("names the bad field of a member, and rejects what belongs to the router", () => {
    const bad = config()
    const wrong = () =>
      new Client({ ...bad, providers: [bad.providers[0]!, { ...bad.providers[1]!, baseUrl: "not a url" }] })
    assert.throws(wrong, /providers\[1\]\.baseUrl/)
    try {
      wrong()
    } catch (error) {
      assert.strictEqual((error as { param?: string }).param, "providers[1].baseUrl")
    }
    assert.throws(() => new Client({ ...bad, strategy: "random" as never }), /strategy/)
    assert.throws(() => new Client({ ...bad, providers: [] }), /providers/)
    assert.throws(
      () => new Client({ ...bad, providers: [{ ...bad.providers[0]!, cache: { backend: "memory" } } as never] }),
      /providers\[0\]\.cache/
    )
  })

  it("sends a model only to the members that serve it, under each member's name, and names a model none serves", async () => {
    down.reset()
    up.reset()
    down.setHandler(() => FakeOpenAi.errorReply(503, { message: "down" }))
    up.setHandler(FakeOpenAi.responder())
    const base = config()
    await using client = new Client({
      ...base,
      cooldown: false,
      providers: [
        { ...base.providers[0]!, models: { fast: "a-fast", only: "a-only" } },
        { ...base.providers[1]!, models: { fast: "b-fast" } }
      ]
    })
    const messages = [{ role: "user" as const, content: "hello" }]
    const res = await client.chat.completions.create({ messages, model: "fast" })
    assert.strictEqual(res.choices[0]?.message.content, "Echo: hello")
    assert.strictEqual(res.model, "b-fast")
    assert.deepStrictEqual(down.requests.map((r) => (r.json as { model?: string }).model), ["a-fast"])
    assert.deepStrictEqual(up.requests.map((r) => (r.json as { model?: string }).model), ["b-fast"])
    // Served by the failing member only: no fallback to a member that does not serve it.
    const only = await client.chat.completions.create({ messages, model: "a-only" }).catch((e: unknown) => e)
    assert.strictEqual((only as { _tag?: string })._tag, "ProviderError")
    assert.strictEqual(up.requests.length, 1)
    const unknown = await client.chat.completions.create({ messages, model: "gpt-4o-mini" }).catch((e: unknown) => e)
    assert.strictEqual((unknown as { _tag?: string })._tag, "InvalidRequestError")
    assert.strictEqual((unknown as { param?: string }).param, "model")
    assert.include((unknown as Error).message, "gpt-4o-mini")
    assert.strictEqual(down.requests.length + up.requests.length, 3)
    assert.throws(
      () => new Client({ ...base, providers: [{ ...base.providers[0]!, models: { fast: 1 as never } }] }),
      /providers\[0\]\.models\.fast/
    )
  })
})
