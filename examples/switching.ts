/**
 * Switching provider is a config change: the same program runs against OpenAI, Anthropic, Gemini, Alibaba
 * (DashScope), Ollama, DeepSeek, Zhipu and OpenRouter; only `provider` (and the address and model) differ. The request,
 * the answer, the stream chunks and the errors have the same shapes for all of them.
 *
 * Offline by default: each provider is its own fake server, speaking that provider's wire protocol. With a
 * provider's key in the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, DASHSCOPE_API_KEY,
 * DEEPSEEK_API_KEY, ZHIPUAI_API_KEY, OPENROUTER_API_KEY; OLLAMA_HOST for a local Ollama) that one is the real service.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/switching.ts
 */
import type { ProviderConfig } from "@llm-api-router/providers"
import { Client } from "@llm-api-router/providers"
import * as Providers from "./src/providers.js"

// The program knows nothing of the provider: it takes a config.
const ask = async (config: ProviderConfig.ProviderConfig) => {
  await using client = new Client(config)
  const res = await client.chat.completions.create({
    messages: [
      { role: "system", content: "Answer in one short sentence." },
      { role: "user", content: "你好, what is an LLM router?" }
    ],
    max_tokens: 100
  })
  let streamed = 0
  const stream = await client.chat.completions.create({
    messages: [{ role: "user", content: "Count to three." }],
    stream: true
  })
  for await (const chunk of stream) if (chunk.choices[0]?.delta.content) streamed++
  return { answer: res.choices[0]?.message.content, finish: res.choices[0]?.finish_reason, streamed }
}

const names: ReadonlyArray<Providers.Name> = [
  "openai",
  "anthropic",
  "gemini",
  "aliyun",
  "ollama",
  "deepseek",
  "zhipu",
  "openrouter"
]
console.log(
  "Offline: by default each provider runs against a fake server on a loopback port (\"fake server\" below; set its"
    + " API key to use the real service)."
)
for (const name of names) {
  await using target = await Providers.start(name, { quiet: true })
  const { answer, finish, streamed } = await ask(target.config)
  const where = target.offline ? "fake server" : "real service"
  console.log(`${name.padEnd(10)} (${where}): ${answer} [${finish}; ${streamed} streamed chunks]`)
}
