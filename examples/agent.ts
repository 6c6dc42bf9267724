/**
 * A multi-turn agent loop with the Promise `Client`: the model may call tools over several turns; the program runs
 * them and sends their results back until the model answers, or until the step limit, which stops a model that
 * would call tools forever.
 *
 * Offline by default (a fake OpenAI-compatible server whose "model" looks up one city per turn); OPENAI_API_KEY
 * set: OpenAI.
 *
 *   pnpm exec tsx --conditions=source examples/agent.ts
 */
import type { ChatCompletion, ChatMessage, FunctionTool } from "@llm-api-router/core"
import { Client } from "@llm-api-router/providers"
import * as Backend from "./src/backend.js"

await using backend = await Backend.start()
await using client = new Client({
  provider: "openai",
  apiKey: backend.apiKey,
  baseUrl: backend.baseUrl,
  defaultModel: backend.model
})

const tools: Array<FunctionTool> = [{
  type: "function",
  function: {
    name: "get_weather",
    description: "The current weather in one city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
  }
}]
const implementations: Record<string, (args: Record<string, unknown>) => unknown> = {
  get_weather: (args) => ({ city: args.city, temperature_c: 18, conditions: "sunny" })
}

type Outcome =
  | { readonly _tag: "Answer"; readonly text: string; readonly steps: number }
  | { readonly _tag: "StepLimit"; readonly steps: number }

const runAgent = async (question: string, maxSteps: number): Promise<Outcome> => {
  const messages: Array<ChatMessage> = [
    { role: "system", content: "Use the tools, one city at a time." },
    { role: "user", content: question }
  ]
  for (let step = 1; step <= maxSteps; step++) {
    const res: ChatCompletion = await client.chat.completions.create({ messages, tools })
    const message = res.choices[0]!.message
    if (!message.tool_calls?.length) return { _tag: "Answer", text: message.content ?? "", steps: step }
    messages.push({ role: "assistant", content: message.content, tool_calls: message.tool_calls })
    for (const call of message.tool_calls) {
      const impl = implementations[call.function.name]
      // An unknown tool or bad arguments go back to the model as the tool's result, so that it can correct itself.
      let result: string
      try {
        result = impl === undefined
          ? `unknown tool ${call.function.name}`
          : JSON.stringify(impl(JSON.parse(call.function.arguments)))
      } catch (error) {
        result = `error: ${String(error)}`
      }
      console.log(`  step ${step}: ${call.function.name}(${call.function.arguments}) -> ${result}`)
      messages.push({ role: "tool", tool_call_id: call.id, content: result })
    }
  }
  return { _tag: "StepLimit", steps: maxSteps }
}

const question = "Compare the weather in Paris, Lyon and Nice."
console.log(`with a limit of 5 steps:`)
const done = await runAgent(question, 5)
console.log(done._tag === "Answer" ? `answer after ${done.steps} steps: ${done.text}` : "no answer")

console.log(`with a limit of 2 steps:`)
const cut = await runAgent(question, 2)
console.log(cut._tag === "StepLimit" ? `stopped at the limit of ${cut.steps} steps without an answer` : cut.text)
