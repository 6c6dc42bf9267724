/**
 * Prompt caching on Anthropic: a `cache_control` marker on the long part of the prompt (here the system prompt's
 * reference text) asks Anthropic to keep that prefix; the next request that starts with it is billed for it as
 * cached tokens, reported as `usage.prompt_tokens_details.cached_tokens`. The markers go on content parts, messages
 * and tools; providers without such a thing never receive them.
 *
 * Offline by default: Anthropic's fake server, scripted to answer the second request as a cache hit (the fake does
 * not cache anything itself). With ANTHROPIC_API_KEY set, the real service (the prefix must be at least 1,024 tokens
 * long for Anthropic to cache it).
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/prompt-caching.ts
 */
import type { ChatMessage } from "@llm-api-router/core"
import { Client } from "@llm-api-router/providers"
import { FakeAnthropic } from "@llm-api-router/providers/testing"
import * as Providers from "./src/providers.js"

await using target = await Providers.start("anthropic")
await using client = new Client(target.config)

const reference = "The library routes one OpenAI-shaped request to many providers. ".repeat(200)
const messages = (question: string): Array<ChatMessage> => [
  {
    role: "system",
    content: [
      { type: "text", text: "Answer from the reference below, in one sentence." },
      { type: "text", text: reference, cache_control: { type: "ephemeral" } }
    ]
  },
  { role: "user", content: question }
]

const answer = (text: string, cacheRead: number, cacheWrite: number) =>
  FakeAnthropic.jsonReply({
    id: "msg_example",
    type: "message",
    role: "assistant",
    model: "claude-3-5-haiku-latest",
    content: [{ type: "text", text }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: {
      input_tokens: 12,
      cache_creation_input_tokens: cacheWrite,
      cache_read_input_tokens: cacheRead,
      output_tokens: 9
    }
  })

// What the real service answers: the first call writes the prefix to the cache, the second reads it.
target.server?.enqueue(answer("It routes requests.", 0, 2400), answer("Many providers.", 2400, 0))

for (const question of ["What does the library do?", "To how many providers?"]) {
  const res = await client.chat.completions.create({ messages: messages(question) })
  const usage = res.usage
  console.log(
    `${question} -> ${res.choices[0]?.message.content} ` +
      `(prompt ${usage?.prompt_tokens} tokens, cached ${usage?.prompt_tokens_details?.cached_tokens ?? 0})`
  )
}
const sent = target.server?.requests[0]?.json as {
  readonly system?: ReadonlyArray<{ readonly cache_control?: unknown }>
}
if (sent !== undefined) {
  console.log(
    `the system prompt went as blocks, the marker on the last: ${JSON.stringify(sent.system?.[1]?.cache_control)}`
  )
}
