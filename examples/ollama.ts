/**
 * Ollama, local models over Ollama's native API (`/api/chat` with NDJSON streaming, `/api/embed`): no API key.
 *
 * Offline by default, against a fake Ollama server. With a local Ollama running (`ollama serve`, then
 * `ollama pull llama3.2`), set OLLAMA_HOST (e.g. `127.0.0.1:11434`) and, if you like, OLLAMA_MODEL.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/ollama.ts
 */
import { InvalidRequestError } from "@llm-api-router/core"
import { Client } from "@llm-api-router/providers"
import * as Providers from "./src/providers.js"

await using target = await Providers.start("ollama")
// The config is `{ provider: "ollama", baseUrl: "http://localhost:11434", defaultModel: "llama3.2" }` (the base URL
// is also the default); no `apiKey`.
await using client = new Client(target.config)

const res = await client.chat.completions.create({
  messages: [{ role: "user", content: "你好！请介绍一下你自己。" }]
})
console.log(`chat: ${res.choices[0]?.message.content}`)

process.stdout.write("stream: ")
const stream = await client.chat.completions.create({
  messages: [{ role: "user", content: "写一首关于人工智能的短诗" }],
  stream: true
})
for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta.content ?? "")
console.log()

const emb = await client.embeddings.create({ model: target.embeddingModel, input: ["本地模型", "local models"] })
console.log(`embeddings: ${emb.data.length} vectors of ${emb.data[0]?.embedding.length} dimensions`)

// A model that has not been pulled: Ollama's 404, as an InvalidRequestError whose message says to pull it.
if (target.server !== undefined) target.server.setHandler(Providers.ollamaResponder({ models: ["llama3.2"] }))
try {
  await client.chat.completions.create({ model: "not-pulled-model", messages: [{ role: "user", content: "hi" }] })
} catch (error) {
  if (!(error instanceof InvalidRequestError)) throw error
  console.log(`missing model: InvalidRequestError (${error.status}): ${error.message}`)
}
