/**
 * Fallback across providers with the Router: the first fake server is down (503), so every call falls back to the
 * second; after three failures the first is cooled down and no longer asked.
 *
 * Always offline: both providers are fake OpenAI-compatible servers on loopback ports.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/router.ts
 */
import { Client } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"

const primary = await FakeServer.start({ handler: () => FakeOpenAi.errorReply(503, { message: "primary is down" }) })
const backup = await FakeServer.start({ handler: FakeOpenAi.responder() })
console.log(
  `Offline: two fake OpenAI-compatible servers, the primary (down) at ${primary.url}, the backup at ${backup.url}.`
)
try {
  await using client = new Client({
    providers: [
      { name: "primary", provider: "openai", apiKey: "sk-offline", baseUrl: primary.url, retry: false },
      { name: "backup", provider: "openai", apiKey: "sk-offline", baseUrl: backup.url, defaultModel: "backup-model" }
    ],
    strategy: "fallback",
    cooldown: { failures: 3, duration: "30 seconds" }
  })
  const messages = [{ role: "user" as const, content: "Which provider answers?" }]
  for (let i = 1; i <= 5; i++) {
    const res = await client.chat.completions.create({ model: "gpt-4o-mini", messages })
    console.log(`call ${i}: ${res.choices[0]?.message.content} (primary asked ${primary.requests.length} times)`)
  }
  const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true })
  let text = ""
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
  console.log("stream:", text)
  console.log("requests: primary", primary.requests.length, "| backup", backup.requests.length)
} finally {
  await primary.close()
  await backup.close()
}
