/**
 * A tour: chat, streaming, a tool call round trip, embeddings, and a rate limit answered by waiting.
 *
 * Offline by default, against a fake OpenAI-compatible server started in-process; with OPENAI_API_KEY set it talks
 * to OpenAI (OPENAI_MODEL, default gpt-4o-mini). The Effect API behind the same calls is in effect.ts.
 *
 *   pnpm demo
 */
import type { ChatMessage, Tool } from "@llm-api-router/core"
import { Client } from "@llm-api-router/providers"
import { FakeOpenAi } from "@llm-api-router/providers/testing"
import * as Backend from "./src/backend.js"

await using backend = await Backend.start({ chunkDelay: 60 })
// Disposed before the backend: `await using` releases in reverse order.
await using client = new Client({
  provider: "openai",
  apiKey: backend.apiKey,
  baseUrl: backend.baseUrl,
  defaultModel: backend.model
})

const heading = (title: string) => console.log(`\n=== ${title} ===`)

heading("Chat")
const res = await client.chat.completions.create({
  messages: [{ role: "user", content: "Say hello to a new user in one sentence." }]
})
console.log(res.choices[0]?.message.content)
console.log(`(model ${res.model}, ${res.usage?.total_tokens} tokens)`)

heading("Streaming")
const stream = await client.chat.completions.create({
  messages: [{ role: "user", content: "Describe streaming in a dozen words, as they arrive." }],
  stream: true
})
for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta.content ?? "")
console.log()

heading("Tool call")
const getWeather: Tool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The current weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", description: "The city, e.g. Paris" } },
      required: ["city"]
    }
  }
}
// The tool itself: a real program would call a weather service here.
const runGetWeather = (args: { readonly city: string }) =>
  JSON.stringify({ city: args.city, temperature_c: 18, conditions: "sunny" })

const messages: Array<ChatMessage> = [{ role: "user", content: "What is the weather in Paris right now?" }]
const first = await client.chat.completions.create({ messages, tools: [getWeather] })
const call = first.choices[0]?.message.tool_calls?.[0]
if (call === undefined) {
  console.log(`The model answered without calling the tool: ${first.choices[0]?.message.content}`)
} else {
  console.log(`The model calls ${call.function.name}(${call.function.arguments})`)
  const result = runGetWeather(JSON.parse(call.function.arguments))
  console.log(`The tool returns ${result}`)
  messages.push(
    { role: "assistant", content: null, tool_calls: [call] },
    { role: "tool", tool_call_id: call.id, content: result }
  )
  const answer = await client.chat.completions.create({ messages, tools: [getWeather] })
  console.log(`Final answer: ${answer.choices[0]?.message.content}`)
}

heading("Embeddings")
const emb = await client.embeddings.create({ model: backend.embeddingModel, input: ["Paris", "Tokyo"] })
for (const item of emb.data) {
  const start = item.embedding.slice(0, 3).map((x) => x.toFixed(4)).join(", ")
  console.log(`input ${item.index}: ${item.embedding.length} dimensions, starts [${start}, …]`)
}

const server = backend.server
if (server !== undefined) {
  heading("Rate limit, then success")
  // The next request is refused with a 429 that says when to come back; the default retry policy waits that long.
  server.enqueue(FakeOpenAi.errorReply(429, { message: "Rate limit reached", code: "rate_limit_exceeded" }, {
    "retry-after-ms": "1500"
  }))
  const before = server.requests.length
  const started = performance.now()
  const retried = await client.chat.completions.create({ messages: [{ role: "user", content: "Are you there?" }] })
  const waited = ((performance.now() - started) / 1000).toFixed(1)
  console.log(`The server answered 429 with retry-after-ms: 1500; the client waited ${waited} s and retried.`)
  console.log(`Answer: ${retried.choices[0]?.message.content}`)
  console.log(`Attempts the server saw: ${server.requests.length - before}`)
}
