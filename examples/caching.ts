/**
 * Response caching: an identical request is answered from the cache, without reaching the provider, streams
 * included (replayed chunk by chunk). In memory by default; in Redis, shared by every process, when a Redis server
 * is reachable (REDIS_URL, default redis://127.0.0.1:6379), else that part says so and is skipped.
 *
 * Offline by default (a fake OpenAI-compatible server); OPENAI_API_KEY set: OpenAI.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/caching.ts
 */
import { RedisCache } from "@llm-api-router/cache-redis"
import { Client } from "@llm-api-router/providers"
import { connect } from "node:net"
import * as Backend from "./src/backend.js"

await using backend = await Backend.start()
const config = { provider: "openai", apiKey: backend.apiKey, baseUrl: backend.baseUrl, defaultModel: backend.model }
const messages = [{ role: "user" as const, content: "What is an LLM router?" }]
const requests = () => backend.server ? `${backend.server.requests.length}` : "(not counted online)"

const timed = async <A>(f: () => Promise<A>): Promise<[A, string]> => {
  const started = performance.now()
  const a = await f()
  return [a, `${(performance.now() - started).toFixed(1)} ms`]
}

// ---- In memory.
{
  await using client = new Client({ ...config, cache: { backend: "memory", ttl: "10 minutes", maxSize: 1000 } })
  const [first, missTime] = await timed(() => client.chat.completions.create({ messages }))
  const [second, hitTime] = await timed(() => client.chat.completions.create({ messages })) // from the cache
  console.log(`memory: miss ${missTime}, hit ${hitTime}; same answer: ${first.id === second.id}`)
  console.log(`memory: requests that reached the provider: ${requests()}`)
  // A stream is cached too, and replayed as the same chunks.
  for (let i = 0; i < 2; i++) {
    const stream = await client.chat.completions.create({ messages, stream: true })
    let chunks = 0
    for await (const _ of stream) chunks++
    console.log(`memory: stream ${i + 1}, ${chunks} chunks`)
  }
  await client.chat.completions.create({ messages }, { cache: false }) // skips the cache for this call
  await client.chat.completions.create({ messages }, { cache: { ttl: "1 minute" } }) // a TTL of its own
  const stats = await client.cacheStats()
  console.log(`memory: ${stats.hits} hits, ${stats.misses} misses, hit rate ${stats.hitRate.toFixed(2)}`)
  await client.clearCache()
  console.log(`memory: after clearCache, size ${(await client.cacheStats()).size}`)
}

// ---- In Redis: the same, shared by every process using the same Redis and prefix.
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"
const reachable = (url: string) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(url)
    const socket = connect({ host: hostname, port: Number(port || 6379) })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(300, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
  })

if (await reachable(redisUrl)) {
  const prefix = `llm-api-router-example:${process.pid}:`
  // `cache` also takes any ResponseCache storage layer; `{ backend: "redis", url, prefix, ttl }` builds this one.
  await using client = new Client({ ...config, cache: RedisCache.layer({ url: redisUrl, prefix, ttl: "1 minute" }) })
  await client.chat.completions.create({ messages })
  const [, hitTime] = await timed(() => client.chat.completions.create({ messages }))
  const stats = await client.cacheStats()
  console.log(`redis: hit in ${hitTime}; ${stats.hits} hit(s), ${stats.misses} miss(es) at ${redisUrl}`)
  await client.clearCache()
} else {
  console.log(`redis: no Redis server at ${redisUrl} (set REDIS_URL, or start redis-server); skipped.`)
}
