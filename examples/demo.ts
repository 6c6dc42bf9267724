/**
 * A short tour: a streamed answer as it arrives, a tool call, a rate limit waited out, a fallback to a second
 * provider, and a cache hit with its timing.
 *
 * Offline by default, against fake servers started in-process; with OPENAI_API_KEY set, the stream, the tool call
 * and the cache talk to OpenAI (OPENAI_MODEL, default gpt-4o-mini), while the failures stay scripted on fake servers.
 * Colour when the terminal has it (and NO_COLOR is unset).
 *
 *   pnpm demo
 */
import type { ChatMessage, FunctionTool } from "@llm-api-router/core"
import { Client } from "@llm-api-router/providers"
import type { Handler } from "@llm-api-router/providers/FakeServer"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Backend from "./src/backend.js"

const colour = process.stdout.isTTY === true && (process.env.NO_COLOR ?? "") === ""
const paint = (code: string) => (text: string) => colour ? `\x1b[${code}m${text}\x1b[0m` : text
const bold = paint("1")
const dim = paint("2")
const green = paint("32")
const yellow = paint("33")
const cyan = paint("36")
const red = paint("31")

const started = performance.now()
const clock = () => dim(`+${((performance.now() - started) / 1000).toFixed(2)}s`)
const heading = (title: string) => console.log(`\n${bold(cyan(`=== ${title} ===`))}`)
const user = (text: string) => console.log(`${dim("user:")} ${text}`)

await using backend = await Backend.start({ chunkDelay: 45 })
const config = { provider: "openai", apiKey: backend.apiKey, baseUrl: backend.baseUrl, defaultModel: backend.model }
await using client = new Client(config)

// ---- 1. Streaming: the words appear as they arrive.
heading("Streaming")
const question = "Describe streaming in a dozen words, as they arrive."
user(question)
process.stdout.write(`${dim("assistant:")} `)
const stream = await client.chat.completions.create({ messages: [{ role: "user", content: question }], stream: true })
let usage = ""
for await (const chunk of stream) {
  process.stdout.write(green(chunk.choices[0]?.delta.content ?? ""))
  if (chunk.usage) usage = `${chunk.usage.total_tokens} tokens`
}
console.log(`\n${dim(`(${usage}; usage arrives as the last chunk)`)}`)

// ---- 2. A tool call: the model asks, the program runs the tool, the model answers with its result.
heading("Tool call")
const getWeather: FunctionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The current weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
  }
}
const messages: Array<ChatMessage> = [{ role: "user", content: "What is the weather in Paris right now?" }]
user(messages[0]!.content as string)
const first = await client.chat.completions.create({ messages, tools: [getWeather] })
const call = first.choices[0]?.message.tool_calls?.[0]
if (call === undefined) {
  console.log(`The model answered without the tool: ${first.choices[0]?.message.content}`)
} else {
  console.log(`The model calls ${yellow(`${call.function.name}(${call.function.arguments})`)}`)
  const { city } = JSON.parse(call.function.arguments) as { city: string }
  const result = JSON.stringify({ city, temperature_c: 18, conditions: "sunny" })
  console.log(`The tool returns ${yellow(result)}`)
  messages.push({ role: "assistant", content: null, tool_calls: [call] }, {
    role: "tool",
    tool_call_id: call.id,
    content: result
  })
  const answer = await client.chat.completions.create({ messages, tools: [getWeather] })
  console.log(`Final answer: ${green(answer.choices[0]?.message.content ?? "")}`)
}

// ---- 3. A retry: the server answers 429 with retry-after-ms; the default policy waits that long and retries.
heading("Retry after a rate limit")
{
  let attempt = 0
  const limited: Handler = (request) => {
    attempt++
    if (attempt === 1) {
      console.log(`${clock()} attempt 1 -> ${red("429 Too Many Requests")} (retry-after-ms: 700)`)
      return FakeOpenAi.errorReply(429, { message: "Rate limit reached", code: "rate_limit_exceeded" }, {
        "retry-after-ms": "700"
      })
    }
    console.log(`${clock()} attempt ${attempt} -> ${green("200 OK")}`)
    return FakeOpenAi.responder()(request)
  }
  await using server = await FakeServer.start({ handler: limited }).then((s) => ({
    ...s,
    [Symbol.asyncDispose]: s.close
  }))
  await using limitedClient = new Client({ ...config, apiKey: "sk-offline", baseUrl: server.url })
  const t0 = performance.now()
  const res = await limitedClient.chat.completions.create({ messages: [{ role: "user", content: "Are you there?" }] })
  const waited = ((performance.now() - t0) / 1000).toFixed(1)
  console.log(`Answer: ${green(res.choices[0]?.message.content ?? "")} ${dim(`(${waited} s, ${attempt} attempts)`)}`)
}

// ---- 4. A fallback: the first provider is down, the router moves on to the next one.
heading("Fallback")
{
  const down = await FakeServer.start({ handler: () => FakeOpenAi.errorReply(503, { message: "primary is down" }) })
  const up = await FakeServer.start({ handler: FakeOpenAi.responder() })
  try {
    await using routed = new Client({
      providers: [
        {
          name: "primary",
          provider: "openai",
          apiKey: "sk-offline",
          baseUrl: down.url,
          defaultModel: "gpt-4o-mini",
          retry: false
        },
        { name: "backup", provider: "deepseek", apiKey: "sk-offline", baseUrl: up.url, defaultModel: "deepseek-chat" }
      ],
      strategy: "fallback",
      cooldown: { failures: 2, duration: "30 seconds" }
    })
    for (let i = 1; i <= 3; i++) {
      const before = down.requests.length
      const res = await routed.chat.completions.create({ messages: [{ role: "user", content: `Question ${i}` }] })
      const primary = down.requests.length > before ? red("primary failed (503), fell back") : "primary cooling down"
      console.log(`call ${i}: ${primary} -> ${green(res.choices[0]?.message.content ?? "")} ${dim(`(${res.model})`)}`)
    }
  } finally {
    await down.close()
    await up.close()
  }
}

// ---- 5. A cache hit: the same request again is answered from memory.
heading("Cache")
{
  await using cached = new Client({ ...config, cache: { backend: "memory", ttl: "10 minutes" } })
  const ask = async () => {
    const t0 = performance.now()
    await cached.chat.completions.create({ messages: [{ role: "user", content: "What is an LLM router?" }] })
    return performance.now() - t0
  }
  const miss = await ask()
  const hit = await ask()
  const stats = await cached.cacheStats()
  console.log(`first call (miss): ${miss.toFixed(1)} ms`)
  console.log(`same call (hit):   ${green(`${hit.toFixed(1)} ms`)}`)
  console.log(dim(`cache: ${stats.hits} hit, ${stats.misses} miss, hit rate ${stats.hitRate.toFixed(2)}`))
}

console.log(
  `\n${dim(`Done in ${((performance.now() - started) / 1000).toFixed(1)} s. More in examples/ and README.md.`)}`
)
