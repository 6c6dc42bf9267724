/**
 * Connection pool and timeouts: one undici pool per client whose connections are reused, and timeouts per phase
 * (connect, first byte, idle gap between stream chunks, total), each failing with `TimeoutError` and its `phase`.
 *
 * Always offline: the slow replies are scripted on a fake OpenAI-compatible server.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/pool.ts
 */
import { Http, LlmProvider, TimeoutError } from "@llm-api-router/core"
import { Client, OpenAi } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import { Console, Effect, Redacted } from "effect"

const server = await FakeServer.start({ handler: FakeOpenAi.responder() })
console.log(`Offline: the slow replies are scripted on a fake OpenAI-compatible server at ${server.url}.`)
const messages = [{ role: "user" as const, content: "hi" }]

// ---- The Client: the pool in `http`, the timeouts in `timeout`.
{
  await using client = new Client({
    provider: "openai",
    apiKey: "sk-offline",
    baseUrl: server.url,
    defaultModel: "gpt-4o-mini",
    retry: false, // so that each timeout shows as it is, not as RetryExhausted
    http: { connections: 4, keepAliveTimeout: "30 seconds", connectTimeout: "5 seconds" },
    timeout: { firstByte: "1 second", idle: "300 millis", total: "10 seconds" }
  })
  // Ten calls, four at a time at most: the pool opens at most four connections and reuses them.
  await Promise.all(Array.from({ length: 10 }, () => client.chat.completions.create({ messages })))
  console.log(`10 calls over ${server.totalSockets()} connection(s) (pool of at most 4)`)

  // Headers that take longer than `firstByte`.
  server.enqueue({ hang: true })
  try {
    await client.chat.completions.create({ messages })
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error
    console.log(`slow headers: TimeoutError, phase ${error.phase}`)
  }

  // A stream that stalls longer than `idle` between two chunks: the chunks before it are delivered, then it fails.
  server.setHandler(FakeOpenAi.responder({ chunkDelay: 1_000 }))
  let received = 0
  try {
    const stream = await client.chat.completions.create({ messages, stream: true })
    for await (const _ of stream) received++
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error
    console.log(`stalled stream: TimeoutError, phase ${error.phase}, after ${received} chunk(s)`)
  }
  server.setHandler(FakeOpenAi.responder())
}

// ---- Effect: the timeouts are the provider layer's, the pool is a layer that replaces NodeHttpClient.layerUndici.
const ProviderLive = OpenAi.layer({
  apiKey: Redacted.make("sk-offline"),
  baseUrl: server.url,
  defaultModel: "gpt-4o-mini",
  retry: false,
  timeout: "200 millis" // a bare duration bounds the whole call
})
const PoolLive = Http.layer({ connections: 8, keepAliveTimeout: "10 seconds" })

server.enqueue({ hang: true })
await LlmProvider.chat({ messages }).pipe(
  Effect.catchTag("TimeoutError", (e) => Console.log(`Effect, timeout "200 millis": TimeoutError, phase ${e.phase}`)),
  Effect.provide(ProviderLive),
  Effect.provide(PoolLive),
  Effect.runPromise
)
await server.close()
