/**
 * Streaming with the Promise `Client`: `for await` over chunks, folding a stream into one completion, and
 * stopping a stream with an `AbortSignal`.
 *
 * Offline by default (a fake OpenAI-compatible server started in-process); OPENAI_API_KEY set: OpenAI.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/stream.ts
 */
import { Client } from "@llm-api-router/providers"
import * as Backend from "./src/backend.js"

await using backend = await Backend.start({ chunkDelay: 40 })
await using client = new Client({
  provider: "openai",
  apiKey: backend.apiKey,
  baseUrl: backend.baseUrl,
  defaultModel: backend.model
})
const messages = [{ role: "user" as const, content: "Write one sentence about rivers." }]

// Chunks in OpenAI's shape; the last one has `choices: []` and the usage.
const stream = await client.chat.completions.create({ messages, stream: true })
for await (const chunk of stream) {
  process.stdout.write(chunk.choices[0]?.delta.content ?? "")
  if (chunk.usage) console.log(`\n(usage: ${chunk.usage.total_tokens} tokens)`)
}

// The same stream folded into the ChatCompletion the non-streaming call would have returned.
const folded = await (await client.chat.completions.create({ messages, stream: true })).toCompletion()
console.log(`folded: ${folded.choices[0]?.message.content} [${folded.choices[0]?.finish_reason}]`)

// Aborting the signal stops the stream and closes its HTTP request; the loop throws the signal's reason.
const controller = new AbortController()
let received = 0
try {
  const aborted = await client.chat.completions.create({ messages, stream: true }, { signal: controller.signal })
  for await (const chunk of aborted) {
    if (chunk.choices[0]?.delta.content) received++
    if (received === 2) controller.abort()
  }
} catch (error) {
  console.log(`aborted after ${received} content chunks: ${(error as Error).name}`)
}
