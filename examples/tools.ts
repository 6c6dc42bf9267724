/**
 * Tool calling with the Promise `Client`: a loop that runs the tools the model asks for and sends their results
 * back until the model answers.
 *
 *   pnpm exec tsx --conditions=source examples/tools.ts
 */
import type { ChatMessage, Tool } from "@llm-api-router/core"
import { Client } from "@llm-api-router/providers"
import * as Backend from "./src/backend.js"

await using backend = await Backend.start()
await using client = new Client({
  provider: "openai",
  apiKey: backend.apiKey,
  baseUrl: backend.baseUrl,
  defaultModel: backend.model
})

const tools: Array<Tool> = [{
  type: "function",
  function: {
    name: "get_weather",
    description: "The current weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
  }
}]
const implementations: Record<string, (args: Record<string, unknown>) => unknown> = {
  get_weather: (args) => ({ city: args.city, temperature_c: 18, conditions: "sunny" })
}

const messages: Array<ChatMessage> = [{ role: "user", content: "Should I take an umbrella in Lyon today?" }]
for (let turn = 1; turn <= 5; turn++) {
  const res = await client.chat.completions.create({ messages, tools })
  const message = res.choices[0]!.message
  if (!message.tool_calls?.length) {
    console.log(`answer: ${message.content}`)
    break
  }
  messages.push({ role: "assistant", content: message.content, tool_calls: message.tool_calls })
  for (const call of message.tool_calls) {
    const result = JSON.stringify(implementations[call.function.name]?.(JSON.parse(call.function.arguments)))
    console.log(`tool: ${call.function.name}(${call.function.arguments}) -> ${result}`)
    messages.push({ role: "tool", tool_call_id: call.id, content: result })
  }
}
