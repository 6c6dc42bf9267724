import type { ResponderOptions, StreamReplyOptions } from "../../FakeOllama.js"
import type { Handler, RecordedRequest, Reply } from "../../FakeServer.js"
import * as Embedding from "./embedding.js"
import { countWords, isRecord, type Json, sampleOf, wordPieces } from "./text.js"

// ---------------------------------------------------------------------------------------------------------------
// framing and replies
// ---------------------------------------------------------------------------------------------------------------

const line = (value: unknown): string => `${typeof value === "string" ? value : JSON.stringify(value)}\n`

/** @internal */
export const ndjson = (lines: ReadonlyArray<unknown>): string => lines.map(line).join("")

/** @internal */
export const streamReply = (lines: ReadonlyArray<unknown>, options?: StreamReplyOptions): Reply => ({
  status: options?.status,
  headers: { "content-type": "application/x-ndjson", ...options?.headers },
  chunks: lines.map(line),
  split: options?.split,
  headersDelay: options?.headersDelay,
  chunkDelay: options?.chunkDelay,
  disconnectAfter: options?.disconnectAfter
})

/** @internal */
export const jsonReply = (body: unknown, status = 200, headers?: Readonly<Record<string, string>>): Reply => ({
  status,
  headers: { "content-type": "application/json; charset=utf-8", ...headers },
  body: JSON.stringify(body)
})

/** @internal */
export const errorReply = (status: number, message: string, headers?: Readonly<Record<string, string>>): Reply =>
  jsonReply({ error: message }, status, headers)

/** @internal */
export const errorLine = (message: string): { readonly error: string } => ({ error: message })

/** @internal */
export const notFoundMessage = (model: string): string => `model "${model}" not found, try pulling it first`

// ---------------------------------------------------------------------------------------------------------------
// the auto-responder
// ---------------------------------------------------------------------------------------------------------------

const FILLER: ReadonlyArray<string> = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit"]

const lastUserText = (messages: ReadonlyArray<unknown>): string => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]
    if (isRecord(message) && message.role === "user" && typeof message.content === "string") return message.content
  }
  return ""
}

const positiveInt = (u: unknown): number | undefined =>
  typeof u === "number" && Number.isInteger(u) && u > 0 ? u : undefined

/** @internal */
export const DEFAULT_CHAT_MODEL = "llama3.2:latest"
/** @internal */
export const DEFAULT_EMBEDDING_MODEL = "all-minilm:latest"

/** Ollama's names default their tag to `latest`. */
const withTag = (model: string): string => model.includes(":") ? model : `${model}:latest`

/** @internal */
export const responder = (options?: ResponderOptions): Handler => {
  let sequence = 0
  const pulled = options?.models?.map(withTag)
  const notPulled = (model: string): Reply | undefined =>
    pulled !== undefined && !pulled.includes(withTag(model)) ? errorReply(404, notFoundMessage(model)) : undefined

  const chat = (body: Json): Reply => {
    const messages = body.messages
    if (typeof body.model !== "string" || body.model === "") return errorReply(400, "model is required")
    if (!Array.isArray(messages)) return errorReply(400, "messages is required")
    const missing = notPulled(body.model)
    if (missing !== undefined) return missing
    const model = options?.model ?? body.model
    sequence++
    const createdAt = new Date().toISOString()
    const userText = lastUserText(messages)
    const last = messages[messages.length - 1]
    const tools = Array.isArray(body.tools) ? body.tools : []
    const tool = isRecord(last) && last.role === "user" && isRecord(tools[0]) && isRecord(tools[0].function)
      ? tools[0].function
      : undefined
    let promptCount = 0
    for (const message of messages) {
      if (isRecord(message) && typeof message.content === "string") promptCount += countWords(message.content) + 3
    }

    let pieces: Array<string> = []
    let doneReason = "stop"
    let toolCall: Json | undefined = undefined
    if (tool === undefined) {
      // A `format` schema is answered with a value of that schema, spread over several chunks.
      pieces = wordPieces(
        isRecord(body.format) ? JSON.stringify(sampleOf(body.format, userText), null, 1) : `Echo: ${userText}`
      )
      const words = options?.words
      if (words !== undefined) {
        if (pieces.length > words) pieces.length = Math.max(0, words)
        for (let i = 0; pieces.length < words; i++) pieces.push(` ${FILLER[i % FILLER.length]}`)
      }
      const limit = isRecord(body.options) ? positiveInt(body.options.num_predict) : undefined
      if (limit !== undefined && pieces.length > limit) {
        pieces.length = limit
        doneReason = "length"
      }
    } else {
      // Like Ollama: the whole call at once, arguments an object, and done_reason still "stop".
      const args = sampleOf(tool.parameters ?? {}, userText)
      toolCall = { id: `call_fake${sequence}`, function: { index: 0, name: tool.name, arguments: args } }
    }
    const evalCount = toolCall === undefined ? pieces.length : countWords(JSON.stringify(toolCall.function)) + 1
    const metrics = {
      total_duration: 1_000_000,
      load_duration: 100_000,
      prompt_eval_count: promptCount,
      prompt_eval_duration: 200_000,
      eval_count: evalCount,
      eval_duration: 700_000
    }
    const message = (content: string, calls?: Json): Json => ({
      role: "assistant",
      content,
      ...(calls !== undefined ? { tool_calls: [calls] } : {})
    })

    if (body.stream === false) {
      return jsonReply({
        model,
        created_at: createdAt,
        message: message(pieces.join(""), toolCall),
        done: true,
        done_reason: doneReason,
        ...metrics
      })
    }
    const lines: Array<unknown> = []
    if (toolCall !== undefined) {
      lines.push({ model, created_at: createdAt, message: message("", toolCall), done: false })
    }
    for (const piece of pieces) lines.push({ model, created_at: createdAt, message: message(piece), done: false })
    lines.push({ model, created_at: createdAt, message: message(""), done: true, done_reason: doneReason, ...metrics })
    return streamReply(lines, { chunkDelay: options?.chunkDelay })
  }

  const embed = (body: Json): Reply => {
    if (typeof body.model !== "string" || body.model === "") return errorReply(400, "model is required")
    const missing = notPulled(body.model)
    if (missing !== undefined) return missing
    const input = body.input
    const inputs = typeof input === "string" ? [input] : input
    if (!Array.isArray(inputs) || !inputs.every((item) => typeof item === "string")) {
      return errorReply(400, "invalid input type")
    }
    const dimensions = positiveInt(body.dimensions) ?? 8
    let tokens = 0
    const embeddings = (inputs as ReadonlyArray<string>).map((text) => {
      tokens += countWords(text)
      return Array.from(Embedding.vector(text, dimensions))
    })
    return jsonReply({
      model: options?.model ?? body.model,
      embeddings,
      total_duration: 1_000_000,
      load_duration: 100_000,
      prompt_eval_count: tokens
    })
  }

  const tags = (): Reply =>
    jsonReply({
      models: (pulled ?? [DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL]).map((name) => ({
        name,
        model: name,
        modified_at: "2026-01-05T10:00:00.000000001Z",
        size: 1_000_000,
        digest: "0".repeat(64),
        details: {
          format: "gguf",
          family: "fake",
          families: ["fake"],
          parameter_size: "1B",
          quantization_level: "Q4_0"
        }
      }))
    })

  return (request: RecordedRequest): Reply => {
    const query = request.path.indexOf("?")
    const path = query < 0 ? request.path : request.path.slice(0, query)
    if (request.method === "POST" && path.endsWith("/api/chat")) {
      return isRecord(request.json) ? chat(request.json) : errorReply(400, "invalid character in request body")
    }
    if (request.method === "POST" && path.endsWith("/api/embed")) {
      return isRecord(request.json) ? embed(request.json) : errorReply(400, "invalid character in request body")
    }
    if (request.method === "GET" && path.endsWith("/api/tags")) return tags()
    return { status: 404, headers: { "content-type": "text/plain" }, body: "404 page not found" }
  }
}
