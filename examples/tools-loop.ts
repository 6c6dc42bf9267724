/**
 * The tool loop with the Effect API: typed tools (`Tool.make`, parameters and result as Schemas, the handler an
 * Effect), `Toolkit.run` on three providers, and `Toolkit.stream` for a UI that shows each tool call as it happens.
 *
 * Offline by default: each provider is its own fake server, whose "model" calls the tool with the user's text and
 * then answers. With OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY set, that one is the real service.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/tools-loop.ts
 */
import { Tool, Toolkit } from "@llm-api-router/core"
import { Client } from "@llm-api-router/providers"
import { Console, Effect, Schema, Stream } from "effect"
import * as Providers from "./src/providers.js"

const temperatures: Record<string, number> = { Oslo: -2, Paris: 18 }

const GetWeather = Tool.make("get_weather", {
  description: "The current temperature in a city, in °C",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ celsius: Schema.Number }),
  handler: ({ city }) =>
    city in temperatures
      ? Effect.succeed({ celsius: temperatures[city]! })
      // A failure goes back to the model as the tool's result ({"error": …}), so that it can correct itself.
      : Effect.fail(`no weather station in ${city}`)
})
const toolkit = Toolkit.make(GetWeather)
const messages = [{ role: "user" as const, content: "Oslo" }]

for (const name of ["openai", "anthropic", "gemini"] as const) {
  await using target = await Providers.start(name)
  await using client = new Client(target.config)
  const run = await Effect.runPromise(
    Effect.provide(Toolkit.run({ toolkit, messages, maxSteps: 5 }), client.layer)
  )
  const calls = run.steps.flatMap((step) =>
    step.toolCalls.map((call, i) => {
      const result = step.toolResults[i]
      const shown = result?._tag === "ToolResult" ? JSON.stringify(result.result) : result?.message
      return `${call.function.name}(${call.function.arguments}) -> ${shown}`
    })
  )
  console.log(
    `${name}: ${calls.join("; ")}; ${run.steps.length} steps, stopped by ${run.stoppedBy}, ` +
      `${run.usage?.total_tokens} tokens; answer: ${run.completion.choices[0]!.message.content}`
  )
}

// The same loop as a stream of events.
await using openai = await Providers.start("openai", { quiet: true })
await using client = new Client(openai.config)
await Effect.runPromise(
  Toolkit.stream({ toolkit, messages }).pipe(
    Stream.runForEach((event) => {
      switch (event._tag) {
        case "Chunk":
          return Effect.void
        case "ToolCall":
          return Console.log(`event ToolCall ${event.name} ${JSON.stringify(event.arguments)}`)
        case "ToolResult":
          return Console.log(`event ToolResult ${event.name} ${JSON.stringify(event.result)}`)
        case "ToolFailure":
          return Console.log(`event ToolFailure ${event.name}: ${event.message}`)
        case "Finish":
          return Console.log(
            `event Finish (${event.run.stoppedBy}): ${event.run.completion.choices[0]!.message.content}`
          )
      }
    }),
    Effect.provide(client.layer)
  )
)
