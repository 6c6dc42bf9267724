/**
 * Response caching with the in-memory backend: the second identical request is answered from the cache.
 * Offline: the provider is the fake OpenAI server on a loopback port.
 *
 *   pnpm exec tsx --conditions=source examples/caching.ts
 */
import { Client } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"

const server = await FakeServer.start({ handler: FakeOpenAi.responder() })
try {
  await using client = new Client({
    provider: "openai",
    apiKey: "sk-offline",
    baseUrl: server.url,
    defaultModel: "gpt-4o-mini",
    cache: { backend: "memory", ttl: "10 minutes", maxSize: 1000 }
  })
  const messages = [{ role: "user" as const, content: "What is an LLM router?" }]
  const first = await client.chat.completions.create({ messages })
  const second = await client.chat.completions.create({ messages }) // served from the cache
  console.log("answer:", second.choices[0]?.message.content, "| same answer:", first.id === second.id)
  console.log("requests that reached the provider:", server.requests.length)
  console.log("cache stats:", await client.cacheStats())
  await client.chat.completions.create({ messages }, { cache: false }) // skips the cache for this call
  console.log("after a call with { cache: false }:", server.requests.length, "requests")
} finally {
  await server.close()
}
