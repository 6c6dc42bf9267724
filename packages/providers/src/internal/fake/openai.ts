import type { ErrorBody, OpenRouterError, ResponderOptions, SseOptions, StreamReplyOptions } from "../../FakeOpenAi.js"
import type { Handler, RecordedRequest, Reply } from "../../FakeServer.js"
import * as Embedding from "./embedding.js"
import { countWords, isRecord, type Json, lastUserText, sampleOf, textOf, wordPieces } from "./text.js"

// ---------------------------------------------------------------------------------------------------------------
// framing and replies
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export const frames = (events: ReadonlyArray<unknown>, options?: SseOptions): Array<string> => {
  const eol = options?.lineEnding ?? "\n"
  const end = eol + eol
  const out: Array<string> = []
  for (let i = 0; i < (options?.leadingBlankLines ?? 0); i++) out.push(eol)
  if (options?.comments !== undefined) {
    for (const comment of options.comments) out.push((comment.startsWith(":") ? comment : `: ${comment}`) + end)
  }
  for (const event of events) out.push(`data: ${typeof event === "string" ? event : JSON.stringify(event)}${end}`)
  if (options?.done !== false) out.push(`data: [DONE]${end}`)
  return out
}

/** @internal */
export const sse = (events: ReadonlyArray<unknown>, options?: SseOptions): string => frames(events, options).join("")

/** @internal */
export const streamReply = (events: ReadonlyArray<unknown>, options?: StreamReplyOptions): Reply => ({
  status: options?.status,
  headers: { "content-type": "text/event-stream", ...options?.headers },
  chunks: frames(events, options),
  split: options?.split,
  headersDelay: options?.headersDelay,
  chunkDelay: options?.chunkDelay,
  disconnectAfter: options?.disconnectAfter
})

/** @internal */
export const jsonReply = (body: unknown, status = 200, headers?: Readonly<Record<string, string>>): Reply => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body)
})

/** @internal */
export const blankLinesJsonReply = (
  body: unknown,
  blankLines: number,
  options?: { readonly status?: number | undefined; readonly chunkDelay?: number | undefined }
): Reply => ({
  status: options?.status ?? 200,
  headers: { "content-type": "application/json" },
  chunks: [...Array.from({ length: blankLines }, () => "\n"), JSON.stringify(body)],
  chunkDelay: options?.chunkDelay
})

/** @internal */
export const openRouterErrorChunk = (
  error: OpenRouterError,
  options?: { readonly id?: string | undefined; readonly model?: string | undefined }
): Record<string, unknown> => ({
  id: options?.id ?? "gen-fake-error",
  object: "chat.completion.chunk",
  created: Math.floor(Date.now() / 1000),
  model: options?.model ?? DEFAULT_CHAT_MODEL,
  provider: "Fake",
  error: {
    ...(error.code !== undefined ? { code: error.code } : {}),
    message: error.message,
    ...(error.metadata !== undefined ? { metadata: error.metadata } : {})
  },
  choices: [{ index: 0, delta: { content: "" }, finish_reason: "error" }]
})

/** @internal */
export const errorReply = (status: number, error: ErrorBody, headers?: Readonly<Record<string, string>>): Reply =>
  jsonReply(
    {
      error: {
        message: error.message,
        type: error.type ?? (status >= 500 ? "server_error" : "invalid_request_error"),
        param: error.param ?? null,
        code: error.code ?? null
      }
    },
    status,
    headers
  )

// ---------------------------------------------------------------------------------------------------------------
// the auto-responder
// ---------------------------------------------------------------------------------------------------------------

const FILLER: ReadonlyArray<string> = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit"]

const promptTokens = (messages: ReadonlyArray<unknown>): number => {
  let n = 0
  for (const message of messages) if (isRecord(message)) n += countWords(textOf(message.content)) + 3
  return n
}

interface ToolCall {
  readonly name: string
  readonly arguments: string
}

/** The tool call to answer with, when the request offers tools and the user spoke last. */
const toolCallFor = (body: Json, messages: ReadonlyArray<unknown>, userText: string): ToolCall | undefined => {
  const tools = body.tools
  if (!Array.isArray(tools) || tools.length === 0 || body.tool_choice === "none") return undefined
  const last = messages[messages.length - 1]
  if (!isRecord(last) || last.role !== "user") return undefined
  const forced = isRecord(body.tool_choice) && isRecord(body.tool_choice.function)
    ? body.tool_choice.function.name
    : undefined
  let tool: Json | undefined = undefined
  for (const candidate of tools) {
    if (!isRecord(candidate) || !isRecord(candidate.function) || typeof candidate.function.name !== "string") continue
    if (forced === undefined || candidate.function.name === forced) {
      tool = candidate.function
      break
    }
  }
  if (tool === undefined) return undefined
  return { name: tool.name as string, arguments: JSON.stringify(sampleOf(tool.parameters ?? {}, userText)) }
}

const positiveInt = (u: unknown): number | undefined =>
  typeof u === "number" && Number.isInteger(u) && u > 0 ? u : undefined

/** @internal */
export const DEFAULT_CHAT_MODEL = "fake-chat-model"
/** @internal */
export const DEFAULT_EMBEDDING_MODEL = "fake-embedding-model"

/** @internal */
export const responder = (options?: ResponderOptions): Handler => {
  let sequence = 0

  const chat = (body: Json): Reply => {
    const messages = body.messages
    if (!Array.isArray(messages) || messages.length === 0) {
      return errorReply(400, { message: "fake server: 'messages' must be a non-empty array", param: "messages" })
    }
    const model = options?.model ?? (typeof body.model === "string" ? body.model : DEFAULT_CHAT_MODEL)
    const id = `chatcmpl-fake${++sequence}`
    const created = Math.floor(Date.now() / 1000)
    const userText = lastUserText(messages)
    const toolCall = toolCallFor(body, messages, userText)
    const prompt = promptTokens(messages)

    let pieces: Array<string> = []
    let finishReason = "stop"
    if (toolCall === undefined) {
      const format = isRecord(body.response_format) && body.response_format.type === "json_schema" &&
          isRecord(body.response_format.json_schema)
        ? body.response_format.json_schema.schema
        : undefined
      // A JSON Schema format is answered with a value of that schema, spread over several chunks.
      pieces = wordPieces(
        isRecord(format) ? JSON.stringify(sampleOf(format, userText), null, 1) : `Echo: ${userText}`
      )
      const words = options?.words
      if (words !== undefined) {
        if (pieces.length > words) pieces.length = Math.max(0, words)
        for (let i = 0; pieces.length < words; i++) pieces.push(` ${FILLER[i % FILLER.length]}`)
      }
      const limit = positiveInt(body.max_completion_tokens) ?? positiveInt(body.max_tokens)
      if (limit !== undefined && pieces.length > limit) {
        pieces.length = limit
        finishReason = "length"
      }
    } else {
      finishReason = "tool_calls"
    }
    const completion = toolCall === undefined ? pieces.length : countWords(toolCall.arguments) + 1
    const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
    const callId = `call_fake${sequence}`

    if (body.stream !== true) {
      const message = toolCall === undefined
        ? { role: "assistant", content: pieces.join(""), refusal: null }
        : {
          role: "assistant",
          content: null,
          refusal: null,
          tool_calls: [{ id: callId, type: "function", function: toolCall }]
        }
      return jsonReply({
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
        usage,
        system_fingerprint: "fp_fake"
      })
    }

    const includeUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true
    const chunk = (choices: ReadonlyArray<unknown>, usageField: unknown): Json => {
      const out: Json = { id, object: "chat.completion.chunk", created, model, system_fingerprint: "fp_fake", choices }
      if (includeUsage) out.usage = usageField
      return out
    }
    const delta = (d: Json, finish: string | null = null) =>
      chunk([{ index: 0, delta: d, logprobs: null, finish_reason: finish }], null)

    const events: Array<unknown> = [delta({ role: "assistant", content: "", refusal: null })]
    if (toolCall === undefined) {
      for (const piece of pieces) events.push(delta({ content: piece }))
    } else {
      // The arguments arrive in two fragments, as real streams cut them, so that clients must accumulate.
      const half = toolCall.arguments.length >> 1
      events.push(delta({
        tool_calls: [{ index: 0, id: callId, type: "function", function: { name: toolCall.name, arguments: "" } }]
      }))
      events.push(delta({ tool_calls: [{ index: 0, function: { arguments: toolCall.arguments.slice(0, half) } }] }))
      events.push(delta({ tool_calls: [{ index: 0, function: { arguments: toolCall.arguments.slice(half) } }] }))
    }
    events.push(delta({}, finishReason))
    if (includeUsage) events.push(chunk([], usage))
    return streamReply(events, { chunkDelay: options?.chunkDelay })
  }

  const embeddings = (body: Json): Reply => {
    const inputs = Embedding.inputsOf(body.input)
    if (inputs === undefined) {
      return errorReply(400, {
        message: "fake server: 'input' must be a non-empty string, array of non-empty strings, or token arrays",
        param: "input"
      })
    }
    const dimensions = positiveInt(body.dimensions) ?? 8
    const base64 = body.encoding_format === "base64"
    let tokens = 0
    const data = inputs.map((input, index) => {
      tokens += typeof input === "string" ? countWords(input) : input.length
      const vector = Embedding.vector(input, dimensions)
      return { object: "embedding", index, embedding: base64 ? Embedding.toBase64(vector) : Array.from(vector) }
    })
    return jsonReply({
      object: "list",
      data,
      model: options?.model ?? (typeof body.model === "string" ? body.model : DEFAULT_EMBEDDING_MODEL),
      usage: { prompt_tokens: tokens, total_tokens: tokens }
    })
  }

  return (request: RecordedRequest): Reply => {
    const query = request.path.indexOf("?")
    const path = query < 0 ? request.path : request.path.slice(0, query)
    if (request.method === "POST") {
      if (path.endsWith("/chat/completions")) {
        return isRecord(request.json)
          ? chat(request.json)
          : errorReply(400, { message: "fake server: body is not a JSON object" })
      }
      if (path.endsWith("/embeddings")) {
        return isRecord(request.json)
          ? embeddings(request.json)
          : errorReply(400, { message: "fake server: body is not a JSON object" })
      }
    }
    return errorReply(404, { message: `Invalid URL (${request.method} ${path})` })
  }
}
