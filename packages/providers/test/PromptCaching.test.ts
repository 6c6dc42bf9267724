/**
 * Prompt caching: Anthropic's `cache_control` on system prompts, content parts, messages and tools reaches
 * Anthropic's wire (and OpenRouter's, which passes it on), is taken out for OpenAI-compatible servers and DashScope,
 * and the cached prompt tokens come back in `usage.prompt_tokens_details.cached_tokens`.
 */
import { describe, expect, it } from "@effect/vitest"
import type { ChatCompletionRequest } from "@llm-api-router/core"
import { Client } from "@llm-api-router/providers/Client"
import { FakeAnthropic, FakeDashScope, FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import { afterAll, beforeAll } from "vitest"

const ephemeral = { type: "ephemeral" as const }

const request: ChatCompletionRequest = {
  messages: [
    {
      role: "system",
      content: [
        { type: "text", text: "You are a careful assistant." },
        { type: "text", text: "A long reference document…", cache_control: { type: "ephemeral", ttl: "1h" } }
      ]
    },
    { role: "user", content: "First question", cache_control: ephemeral },
    { role: "assistant", content: "First answer" },
    { role: "user", content: [{ type: "text", text: "Second question", cache_control: ephemeral }] }
  ],
  tools: [{
    type: "function",
    function: { name: "lookup", parameters: { type: "object", properties: {} } },
    cache_control: ephemeral
  }]
}

let server: FakeServer.FakeServer
beforeAll(async () => {
  server = await FakeServer.start()
})
afterAll(() => server.close())

const clientFor = (provider: string, path: string) =>
  new Client({ provider, apiKey: "sk-test", baseUrl: `${server.url}${path}`, defaultModel: "m", retry: false } as never)

const hasCacheControl = (u: unknown): boolean => JSON.stringify(u).includes("cache_control")

describe("prompt caching", () => {
  it("Anthropic: the markers reach the wire on the system blocks, the messages' last blocks and the tools", async () => {
    server.reset()
    server.setHandler(FakeAnthropic.responder())
    await using client = clientFor("anthropic", "/v1")
    await client.chat.completions.create({ ...request, tool_choice: "none" })
    const body = server.requests[0]!.json as any
    expect(body.system).toEqual([
      { type: "text", text: "You are a careful assistant." },
      { type: "text", text: "A long reference document…", cache_control: { type: "ephemeral", ttl: "1h" } }
    ])
    expect(body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "First question", cache_control: ephemeral }] },
      { role: "assistant", content: "First answer" },
      { role: "user", content: [{ type: "text", text: "Second question", cache_control: ephemeral }] }
    ])
    expect(body.tools[0].cache_control).toEqual(ephemeral)
  })

  it("Anthropic: a plain request is sent as before (a one-block system prompt as a string)", async () => {
    server.reset()
    server.setHandler(FakeAnthropic.responder())
    await using client = clientFor("anthropic", "/v1")
    await client.chat.completions.create({
      messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }]
    })
    const body = server.requests[0]!.json as any
    expect(body.system).toBe("Be brief.")
    expect(body.messages).toEqual([{ role: "user", content: "hi" }])
  })

  it("Anthropic: cached prompt tokens are reported as usage.prompt_tokens_details.cached_tokens", async () => {
    server.reset()
    server.enqueue(FakeAnthropic.jsonReply({
      id: "msg_1",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5",
      content: [{ type: "text", text: "ok" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 10, cache_read_input_tokens: 2000, cache_creation_input_tokens: 0, output_tokens: 3 }
    }))
    await using client = clientFor("anthropic", "/v1")
    const res = await client.chat.completions.create(request)
    expect(res.usage?.prompt_tokens_details?.cached_tokens).toBe(2000)
  })

  it("OpenAI-compatible servers: the markers are taken out of messages, parts and tools", async () => {
    server.reset()
    server.setHandler(FakeOpenAi.responder())
    await using client = clientFor("openai", "/v1")
    await client.chat.completions.create({ ...request, tool_choice: "none" })
    const body = server.requests[0]!.json as any
    expect(hasCacheControl(body)).toBe(false)
    expect(body.messages[0].content[1]).toEqual({ type: "text", text: "A long reference document…" })
    expect(body.messages[1]).toEqual({ role: "user", content: "First question" })
    expect(body.tools[0]).toEqual({ type: "function", function: request.tools![0]!.function })
  })

  it("OpenRouter passes the markers on", async () => {
    server.reset()
    server.setHandler(FakeOpenAi.responder())
    await using client = clientFor("openrouter", "/v1")
    await client.chat.completions.create({ ...request, tool_choice: "none" })
    const body = server.requests[0]!.json as any
    expect(body.messages[0].content[1].cache_control).toEqual({ type: "ephemeral", ttl: "1h" })
    expect(body.messages[1].cache_control).toEqual(ephemeral)
    expect(body.tools[0].cache_control).toEqual(ephemeral)
  })

  it("DashScope: the tools go without markers", async () => {
    server.reset()
    server.setHandler(FakeDashScope.responder())
    await using client = clientFor("aliyun", "/api/v1")
    await client.chat.completions.create({ ...request, tool_choice: "none" })
    expect(hasCacheControl(server.requests[0]!.json)).toBe(false)
  })
})
