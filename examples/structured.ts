/**
 * Structured output: an answer in the shape of a Schema, decoded and typed, on three providers that are asked for it
 * in different ways (OpenAI and Gemini natively by JSON Schema, Anthropic through a forced tool); partial values
 * while it streams; a repair when the first answer does not decode; and the Promise `parse`.
 *
 * Offline by default: each provider is its own fake server, which answers a structured request with a value of
 * its schema (every string the user's text). With OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY set, that
 * one is the real service.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/structured.ts
 */
import { LlmProvider, Structured } from "@llm-api-router/core"
import { Client } from "@llm-api-router/providers"
import { FakeOpenAi } from "@llm-api-router/providers/testing"
import { Effect, Schema, Stream } from "effect"
import * as Providers from "./src/providers.js"

const Weather = Schema.Struct({
  city: Schema.String,
  celsius: Schema.Number.annotations({ description: "the temperature now, in °C" })
})
const messages = [
  { role: "system" as const, content: "Give the current weather of the city the user names." },
  { role: "user" as const, content: "Oslo" }
]

// The same program for every provider: the mode is the provider's business (info.capabilities.structuredOutput).
const program = Effect.gen(function*() {
  const info = yield* LlmProvider.info
  const { value } = yield* Structured.generate({ schema: Weather, messages })
  //      ^? { readonly city: string; readonly celsius: number }
  return `${info.name} (${info.capabilities.structuredOutput}): ${value.city}, ${value.celsius} °C`
})

for (const name of ["openai", "anthropic", "gemini"] as const) {
  await using target = await Providers.start(name)
  await using client = new Client(target.config)
  console.log(await Effect.runPromise(Effect.provide(program, client.layer)))
}

await using openai = await Providers.start("openai", { quiet: true })
await using client = new Client(openai.config)

// Streaming: partial values as the JSON grows (not validated), the decoded value last.
const partials = await Effect.runPromise(
  Structured.stream({ schema: Weather, messages }).pipe(
    Stream.runFold({ partials: 0, last: "" }, (acc, part) =>
      part._tag === "Partial"
        ? { ...acc, partials: acc.partials + 1 }
        : part._tag === "Value"
        ? { ...acc, last: JSON.stringify(part.value) }
        : acc),
    Effect.provide(client.layer)
  )
)
console.log(`stream: ${partials.partials} partial values, then ${partials.last}`)

// A first answer that does not decode: with repair: 1 the issue goes back to the model, which tries again.
openai.server?.enqueue(FakeOpenAi.jsonReply({
  id: "chatcmpl-bad",
  object: "chat.completion",
  created: 0,
  model: "gpt-4o-mini",
  choices: [{ index: 0, message: { role: "assistant", content: "{\"city\":\"Oslo\"}" }, finish_reason: "stop" }]
}))
const repaired = await Effect.runPromise(
  Effect.provide(Structured.generate({ schema: Weather, messages, repair: 1 }), client.layer)
)
console.log(`repaired after ${repaired.attempts} requests: celsius ${repaired.value.celsius}`)

// Without repairs, the failure is typed: the raw text and the issue.
openai.server?.enqueue(FakeOpenAi.jsonReply({
  id: "chatcmpl-bad",
  object: "chat.completion",
  created: 0,
  model: "gpt-4o-mini",
  choices: [{
    index: 0,
    message: { role: "assistant", content: "{\"city\":\"Oslo\",\"celsius\":\"cold\"}" },
    finish_reason: "stop"
  }]
}))
const failed = await Effect.runPromise(
  Effect.provide(Effect.flip(Structured.generate({ schema: Weather, messages })), client.layer)
)
if (failed._tag === "StructuredOutputError") {
  console.log(`StructuredOutputError: ${failed.issue} (text: ${failed.text})`)
}

// The Promise facade: `parse`, the value on choices[0].message.parsed.
const completion = await client.chat.completions.parse({ schema: Weather, messages })
const parsed = completion.choices[0]!.message.parsed
console.log(`parse: ${parsed?.city}, ${parsed?.celsius} °C`)
