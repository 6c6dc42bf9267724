/**
 * Tool calling with the Promise `Client`, one round: the model asks for a tool, the program runs it and sends the
 * result back, the model answers. For a loop over several rounds with a step limit, see agent.ts.
 *
 * Offline by default (a fake OpenAI-compatible server); OPENAI_API_KEY set: OpenAI.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/tools.ts
 */
import type { ChatMessage, FunctionTool } from "@llm-api-router/core"
import { Client } from "@llm-api-router/providers"
import * as Backend from "./src/backend.js"

await using backend = await Backend.start()
await using client = new Client({
  provider: "openai",
  apiKey: backend.apiKey,
  baseUrl: backend.baseUrl,
  defaultModel: backend.model
})

// The tool's JSON Schema, exactly as in the `openai` package.
const getWeather: FunctionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The current weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
  }
}
// The tool itself: a real program would call a weather service.
const runGetWeather = (args: { readonly city: string }) => ({ city: args.city, temperature_c: 18, conditions: "sunny" })

const messages: Array<ChatMessage> = [{ role: "user", content: "Should I take an umbrella in Lyon today?" }]
const first = await client.chat.completions.create({ messages, tools: [getWeather], tool_choice: "auto" })
const message = first.choices[0]!.message
console.log(`finish_reason: ${first.choices[0]?.finish_reason}`)

// The assistant's turn goes back with its tool calls, then one `tool` message per call.
messages.push({ role: "assistant", content: message.content, tool_calls: message.tool_calls ?? [] })
for (const call of message.tool_calls ?? []) {
  const result = JSON.stringify(runGetWeather(JSON.parse(call.function.arguments)))
  console.log(`tool: ${call.function.name}(${call.function.arguments}) -> ${result}`)
  messages.push({ role: "tool", tool_call_id: call.id, content: result })
}
const answer = await client.chat.completions.create({ messages, tools: [getWeather] })
console.log(`answer: ${answer.choices[0]?.message.content}`)
