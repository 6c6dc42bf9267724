/**
 * Structured output and the tool loop on every provider, over a real socket to its fake server: the same schema and
 * the same toolkit, through the Effect API (`Structured`, `Toolkit` on the client's layer) and through `Client`
 * (`parse`, `runTools`).
 */
import { describe, expect, it } from "@effect/vitest"
import { LlmProvider, Structured, Tool, Toolkit } from "@llm-api-router/core"
import { Client } from "@llm-api-router/providers/Client"
import {
  FakeAnthropic,
  FakeDashScope,
  FakeGemini,
  FakeOllama,
  FakeOpenAi,
  FakeServer
} from "@llm-api-router/providers/testing"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { afterAll, beforeAll } from "vitest"

interface Case {
  readonly provider: string
  readonly mode: LlmProvider.StructuredOutputMode
  readonly path: string
  readonly handler: FakeServer.Handler
  /** Where the request carries the structured-output instruction, checked on the wire. */
  readonly structured: (body: any) => unknown
  readonly wire: unknown
  /** The fake cannot answer by itself (JSON mode carries the schema in prose): the scripted answer's reply. */
  readonly scripted?: (json: string) => FakeServer.Reply
}

const openAiAnswer = (json: string) =>
  FakeOpenAi.jsonReply({
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1,
    model: "glm-4.6",
    choices: [{ index: 0, message: { role: "assistant", content: json }, finish_reason: "stop" }],
    usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 }
  })

const cases: ReadonlyArray<Case> = [
  {
    provider: "openai",
    mode: "json-schema",
    path: "/v1",
    handler: FakeOpenAi.responder(),
    structured: (body) => body.response_format.json_schema.strict,
    wire: true
  },
  {
    provider: "openrouter",
    mode: "json-schema",
    path: "/v1",
    handler: FakeOpenAi.responder(),
    structured: (body) => body.response_format.type,
    wire: "json_schema"
  },
  {
    provider: "deepseek",
    mode: "tool",
    path: "",
    handler: FakeOpenAi.responder(),
    structured: (body) => body.tool_choice.function.name,
    wire: "structured_output"
  },
  {
    provider: "zhipu",
    mode: "json-object",
    path: "/v1",
    handler: FakeOpenAi.responder(),
    structured: (body) => body.response_format.type,
    wire: "json_object",
    scripted: openAiAnswer
  },
  {
    provider: "anthropic",
    mode: "tool",
    path: "/v1",
    handler: FakeAnthropic.responder(),
    structured: (body) => body.tool_choice,
    wire: { type: "tool", name: "structured_output" }
  },
  {
    provider: "gemini",
    mode: "json-schema",
    path: "/v1beta",
    handler: FakeGemini.responder(),
    structured: (body) => body.generationConfig.responseMimeType,
    wire: "application/json"
  },
  {
    provider: "aliyun",
    mode: "json-schema",
    path: "/api/v1",
    handler: FakeDashScope.responder(),
    structured: (body) => body.parameters.response_format.type,
    wire: "json_schema"
  },
  {
    provider: "ollama",
    mode: "json-schema",
    path: "",
    handler: FakeOllama.responder(),
    structured: (body) => body.format.required,
    wire: ["city", "celsius"]
  }
]

const Weather = Schema.Struct({ city: Schema.String, celsius: Schema.Number })
const question = "Paris"
const messages = [{ role: "user" as const, content: question }]

const GetWeather = Tool.make("get_weather", {
  description: "Current weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ celsius: Schema.Number }),
  handler: ({ city }) => Effect.succeed({ celsius: city === question ? 18 : 0 })
})
const toolkit = Toolkit.make(GetWeather)

let server: FakeServer.FakeServer
beforeAll(async () => {
  server = await FakeServer.start()
})
afterAll(() => server.close())

const clientFor = (c: Case) =>
  new Client({
    provider: c.provider,
    apiKey: "sk-test",
    baseUrl: `${server.url}${c.path}`,
    defaultModel: "fake-model",
    retry: false
  } as never)

const prepare = (c: Case) => {
  server.reset()
  server.setHandler(c.handler)
}

/** What the fakes answer to a structured request: the schema's value, every string the user's text. */
const expected = { city: question, celsius: 1 }

describe.each(cases)("$provider ($mode)", (c) => {
  it("declares its structured-output mode", async () => {
    await using client = clientFor(c)
    const info = await Effect.runPromise(Effect.provide(LlmProvider.info, client.layer))
    expect(info.capabilities.structuredOutput).toBe(c.mode)
  })

  it("Structured.generate: the wire request asks for the schema and the answer decodes", async () => {
    prepare(c)
    if (c.scripted) server.enqueue(c.scripted(JSON.stringify(expected)))
    await using client = clientFor(c)
    const result = await Effect.runPromise(
      Effect.provide(Structured.generate({ schema: Weather, messages }), client.layer)
    )
    expect(result.value).toEqual(expected)
    expect(JSON.parse(result.completion.choices[0]!.message.content!)).toEqual(expected)
    expect(result.completion.choices[0]!.message.tool_calls).toBeUndefined()
    expect(result.completion.choices[0]!.finish_reason).toBe("stop")
    const body = server.requests[0]!.json as any
    expect(c.structured(body)).toEqual(c.wire)
  })

  it("Structured.stream: chunks, partial values, the value last", async () => {
    prepare(c)
    if (c.scripted) server.enqueue(FakeOpenAi.streamReply(scriptedChunks(JSON.stringify(expected))))
    await using client = clientFor(c)
    const parts = Chunk.toArray(
      await Effect.runPromise(
        Effect.provide(Stream.runCollect(Structured.stream({ schema: Weather, messages })), client.layer)
      )
    )
    const last = parts[parts.length - 1]!
    expect(last._tag).toBe("Value")
    expect(last._tag === "Value" ? last.value : undefined).toEqual(expected)
    expect(parts.some((p) => p._tag === "Partial")).toBe(true)
    expect(parts.filter((p) => p._tag === "Chunk").length).toBeGreaterThan(1)
  })

  it("Toolkit.run: the model calls the tool, gets its result back, and answers", async () => {
    prepare(c)
    await using client = clientFor(c)
    const run = await Effect.runPromise(Effect.provide(Toolkit.run({ toolkit, messages }), client.layer))
    expect(run.stoppedBy).toBe("answer")
    expect(run.steps.length).toBe(2)
    const [first] = run.steps
    expect(first!.toolCalls.map((call) => call.function.name)).toEqual(["get_weather"])
    expect(first!.toolResults).toEqual([
      { _tag: "ToolResult", id: first!.toolCalls[0]!.id, name: "get_weather", result: { celsius: 18 } }
    ])
    expect(run.completion.choices[0]!.message.content).toEqual(expect.any(String))
    expect(run.usage?.total_tokens).toBeGreaterThan(0)
    expect(server.requests.length).toBe(2)
    // The result went back over the wire, answering the model's call.
    const second = server.requests[1]!.body
    expect(second).toContain("celsius")
    expect(second).toContain("18")
    expect(run.messages.map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant"])
  })

  it("client.chat.completions.parse: choices[0].message.parsed is the decoded value", async () => {
    prepare(c)
    if (c.scripted) server.enqueue(c.scripted(JSON.stringify(expected)))
    await using client = clientFor(c)
    const completion = await client.chat.completions.parse({ schema: Weather, messages })
    const parsed: { readonly city: string; readonly celsius: number } | null = completion.choices[0]!.message.parsed
    expect(parsed).toEqual(expected)
    expect(c.structured(server.requests[0]!.json)).toEqual(c.wire)
  })

  it("client.chat.completions.runTools: async tools with a plain JSON Schema, the same result as Toolkit.run", async () => {
    prepare(c)
    await using client = clientFor(c)
    const seen: Array<unknown> = []
    const run = await client.chat.completions.runTools({
      messages,
      maxSteps: 4,
      tools: [{
        name: "get_weather",
        description: "Current weather in a city",
        parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        run: async (args) => {
          seen.push(args)
          return { celsius: 18 }
        }
      }]
    })
    expect(seen).toEqual([{ city: question }])
    expect(run.stoppedBy).toBe("answer")
    expect(run.steps.length).toBe(2)
    expect(run.steps[0]!.toolResults[0]).toMatchObject({ _tag: "ToolResult", result: { celsius: 18 } })
  })

  it("Toolkit.stream: chunks, the tool events and Finish", async () => {
    prepare(c)
    await using client = clientFor(c)
    const events = Chunk.toArray(
      await Effect.runPromise(Effect.provide(Stream.runCollect(Toolkit.stream({ toolkit, messages })), client.layer))
    )
    const tags = events.map((e) => e._tag).filter((tag, i, all) => tag !== "Chunk" || all[i - 1] !== "Chunk")
    expect(tags).toEqual(["Chunk", "ToolCall", "ToolResult", "Chunk", "Finish"])
    const call = events.find((e) => e._tag === "ToolCall")
    expect(call?._tag === "ToolCall" ? call.arguments : undefined).toEqual({ city: question })
    const finish = events[events.length - 1]!
    expect(finish._tag === "Finish" ? finish.run.stoppedBy : undefined).toBe("answer")
  })
})

/** A JSON answer as OpenAI-style stream chunks, cut in three. */
const scriptedChunks = (json: string) => {
  const base = { id: "chatcmpl-s", object: "chat.completion.chunk", created: 1, model: "glm-4.6" }
  const third = Math.ceil(json.length / 3)
  return [
    { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] },
    ...[0, 1, 2].map((i) => ({
      ...base,
      choices: [{ index: 0, delta: { content: json.slice(i * third, (i + 1) * third) }, finish_reason: null }]
    })),
    { ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }
  ]
}

describe("a failed tool call on the wire", () => {
  const Broken = Tool.make("get_weather", {
    parameters: Schema.Struct({ city: Schema.String }),
    handler: () => Effect.fail("the station is down")
  })
  const run = (c: Case) => {
    prepare(c)
    const client = clientFor(c)
    return Effect.runPromise(
      Effect.provide(Toolkit.run({ toolkit: Toolkit.make(Broken), messages }), client.layer)
    ).finally(() => client.close())
  }

  it("Anthropic gets the error as a tool_result with is_error: true", async () => {
    const result = await run(cases.find((c) => c.provider === "anthropic")!)
    expect(result.steps[0]!.toolResults[0]!._tag).toBe("ToolFailure")
    const body = server.requests[1]!.json as any
    const toolResult = body.messages[body.messages.length - 1].content[0]
    expect(toolResult).toMatchObject({
      type: "tool_result",
      is_error: true,
      content: "{\"error\":\"the station is down\"}"
    })
  })

  it("OpenAI gets it as the tool message's content, without Anthropic's flag", async () => {
    await run(cases.find((c) => c.provider === "openai")!)
    const body = server.requests[1]!.json as any
    expect(body.messages[body.messages.length - 1]).toEqual({
      role: "tool",
      tool_call_id: expect.any(String),
      content: "{\"error\":\"the station is down\"}"
    })
  })
})
