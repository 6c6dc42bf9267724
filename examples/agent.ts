/**
 * A multi-turn agent loop with the Promise `Client`: `client.chat.completions.runTools` offers the tools, runs the
 * calls the model makes (an `async run` per tool), sends the results back, and repeats until the model answers or
 * `maxSteps` model calls have been made, which stops a model that would call tools forever.
 *
 * Offline by default (a fake OpenAI-compatible server whose "model" looks up one city per turn); OPENAI_API_KEY
 * set: OpenAI.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/agent.ts
 */
import { Client } from "@llm-api-router/providers"
import * as Backend from "./src/backend.js"

await using backend = await Backend.start()
await using client = new Client({
  provider: "openai",
  apiKey: backend.apiKey,
  baseUrl: backend.baseUrl,
  defaultModel: backend.model
})

const tools = [{
  name: "get_weather",
  description: "The current weather in one city",
  // A plain JSON Schema: the arguments are only JSON-parsed. An Effect Schema or a Standard Schema (zod, valibot)
  // would decode them, and a call whose arguments do not decode would go back to the model as an error.
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  run: async (args: { city: string }) => ({ city: args.city, temperature_c: 18, conditions: "sunny" })
}]

const runAgent = async (question: string, maxSteps: number) => {
  const run = await client.chat.completions.runTools({
    messages: [
      { role: "system", content: "Use the tools, one city at a time." },
      { role: "user", content: question }
    ],
    tools,
    maxSteps
  })
  run.steps.forEach((step, i) => {
    step.toolCalls.forEach((call, j) => {
      const result = step.toolResults[j]
      const shown = result === undefined
        ? "(not run: the step limit)"
        : result._tag === "ToolResult"
        ? JSON.stringify(result.result)
        : `error: ${result.message}`
      console.log(`  step ${i + 1}: ${call.function.name}(${call.function.arguments}) -> ${shown}`)
    })
  })
  return run
}

const question = "Compare the weather in Paris, Lyon and Nice."
console.log(`with a limit of 5 steps:`)
const done = await runAgent(question, 5)
console.log(
  done.stoppedBy === "answer"
    ? `answer after ${done.steps.length} steps: ${done.completion.choices[0]!.message.content}`
    : "no answer"
)
console.log(`  (${done.usage?.total_tokens} tokens over ${done.steps.length} calls, ${done.messages.length} messages)`)

console.log(`with a limit of 2 steps:`)
const cut = await runAgent(question, 2)
console.log(
  cut.stoppedBy === "max-steps" ? `stopped at the limit of ${cut.steps.length} steps without an answer` : "answered"
)
