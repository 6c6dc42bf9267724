/**
 * Where the examples send their requests: OpenAI when `OPENAI_API_KEY` is set, otherwise a fake OpenAI-compatible
 * server started in-process on the loopback interface, so that every example runs offline by default.
 *
 * The fake server's "model" echoes the user, calls tools, and reads tool results back; it is `FakeOpenAi.responder`
 * plus a few lines that make the tool round trip read naturally.
 */
import type { FakeServer as Server, RecordedRequest, Reply } from "@llm-api-router/providers/FakeServer"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"

export interface Backend extends AsyncDisposable {
  /** `true` against the fake server, `false` against OpenAI. */
  readonly offline: boolean
  readonly baseUrl: string
  readonly apiKey: string
  readonly model: string
  readonly embeddingModel: string
  /** The fake server, to script faults and count requests; `undefined` against OpenAI. */
  readonly server: Server | undefined
  readonly close: () => Promise<void>
}

export interface Options {
  /** Milliseconds between streamed chunks from the fake server, so that streaming is visible. */
  readonly chunkDelay?: number | undefined
}

/**
 * Starts the fake server unless `OPENAI_API_KEY` is set, and says which of the two it is using. `close` (or
 * `await using`) stops the fake server.
 */
export const start = async (options: Options = {}): Promise<Backend> => {
  const apiKey = process.env.OPENAI_API_KEY
  if (apiKey !== undefined && apiKey !== "") {
    const backend: Backend = {
      offline: false,
      baseUrl: process.env.OPENAI_BASE_URL ?? "https://api.openai.com/v1",
      apiKey,
      model: process.env.OPENAI_MODEL ?? "gpt-4o-mini",
      embeddingModel: "text-embedding-3-small",
      server: undefined,
      close: () => Promise.resolve(),
      [Symbol.asyncDispose]: () => Promise.resolve()
    }
    console.log(`Using OpenAI (${backend.baseUrl}, model ${backend.model}): OPENAI_API_KEY is set.`)
    return backend
  }
  const server = await FakeServer.start({ handler: fakeModel(options.chunkDelay) })
  console.log(`Offline: using a fake OpenAI-compatible server at ${server.url} (set OPENAI_API_KEY to use OpenAI).`)
  return {
    offline: true,
    baseUrl: `${server.url}/v1`,
    apiKey: "sk-offline",
    model: "fake-chat-model",
    embeddingModel: "fake-embedding-model",
    server,
    close: () => server.close(),
    [Symbol.asyncDispose]: () => server.close()
  }
}

type Json = Record<string, unknown>

const isRecord = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const completion = (model: unknown, message: Json, finishReason: string): Reply =>
  FakeOpenAi.jsonReply({
    id: "chatcmpl-example",
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: typeof model === "string" ? model : "fake-chat-model",
    choices: [{ index: 0, message: { role: "assistant", refusal: null, ...message }, finish_reason: finishReason }],
    usage: { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 }
  })

const readToolResult = (content: string): string => {
  try {
    const result: unknown = JSON.parse(content)
    if (isRecord(result) && typeof result.city === "string" && typeof result.temperature_c === "number") {
      return `It is ${result.temperature_c} °C and ${String(result.conditions ?? "clear")} in ${result.city}.`
    }
  } catch {
    // not JSON: quote it as it is
  }
  return `The tool reports: ${content}`
}

// The cities a user message asks about: the capitalised words after "in" ("the weather in Paris, Lyon and Nice").
const citiesOf = (text: string): Array<string> => {
  const after = /\bin ([\s\S]*)$/u.exec(text)?.[1] ?? ""
  return Array.from(after.matchAll(/\b([A-Z][\p{L}-]+)/gu), (m) => m[1]!)
}

// Non-streaming tool requests get one tool call per city asked about, one city per turn (the `city` is the next one
// not looked up yet); once every city has its tool result, the answer quotes them. Everything else goes to the
// stock responder.
const fakeModel = (chunkDelay: number | undefined) => {
  const responder = FakeOpenAi.responder({ chunkDelay })
  return (request: RecordedRequest): Reply | undefined => {
    const body = request.json
    if (!isRecord(body) || body.stream === true || !Array.isArray(body.messages)) return responder(request)
    const messages = body.messages.filter(isRecord)
    const last = messages[messages.length - 1]
    const user = messages.filter((m) => m.role === "user").pop()
    if (last === undefined || user === undefined || typeof user.content !== "string") return responder(request)
    const results = messages.slice(messages.indexOf(user) + 1).filter((m) => m.role === "tool")
    const cities = citiesOf(user.content)
    const tools = Array.isArray(body.tools) ? body.tools : []
    if (
      tools.length > 0 && results.length < Math.max(1, cities.length) && (last.role === "user" || last.role === "tool")
    ) {
      const city = cities[results.length] ?? "Paris"
      const tool: unknown = tools[0]
      const name = isRecord(tool) && isRecord(tool.function) ? tool.function.name : "get_weather"
      const call = {
        id: `call_${results.length + 1}`,
        type: "function",
        function: { name, arguments: JSON.stringify({ city }) }
      }
      return completion(body.model, { content: null, tool_calls: [call] }, "tool_calls")
    }
    if (last.role === "tool") {
      const answer = results.map((m) => readToolResult(typeof m.content === "string" ? m.content : "")).join(" ")
      return completion(body.model, { content: answer }, "stop")
    }
    return responder(request)
  }
}
