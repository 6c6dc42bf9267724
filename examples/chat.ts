/**
 * One chat completion with the Promise `Client`, and a typed error caught with `instanceof`.
 *
 * Offline by default (a fake OpenAI-compatible server started in-process); OPENAI_API_KEY set: OpenAI.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/chat.ts
 */
import { AuthenticationError } from "@llm-api-router/core"
import { Client } from "@llm-api-router/providers"
import * as Backend from "./src/backend.js"

await using backend = await Backend.start()
await using client = new Client({
  provider: "openai",
  apiKey: backend.apiKey,
  baseUrl: backend.baseUrl,
  defaultModel: backend.model,
  timeout: "30 seconds"
})

const res = await client.chat.completions.create({
  messages: [
    { role: "system", content: "You are terse." },
    { role: "user", content: "Name three primary colours." }
  ],
  max_tokens: 50
})
console.log(`assistant: ${res.choices[0]?.message.content}`)
console.log(`finish_reason: ${res.choices[0]?.finish_reason}, usage: ${JSON.stringify(res.usage)}`)

// A rejected promise carries the library's own error: `instanceof` and `_tag` work.
backend.server?.enqueue({ status: 401, body: { error: { message: "Incorrect API key", code: "invalid_api_key" } } })
await using wrongKey = new Client({ provider: "openai", apiKey: "sk-wrong", baseUrl: backend.baseUrl })
try {
  await wrongKey.chat.completions.create({ model: backend.model, messages: [{ role: "user", content: "hi" }] })
} catch (error) {
  if (!(error instanceof AuthenticationError)) throw error
  console.log(`${error._tag} (status ${error.status}): ${error.message}`)
}
