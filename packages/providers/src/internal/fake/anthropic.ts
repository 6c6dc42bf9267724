import type { ErrorBody, ResponderOptions, SseOptions, StreamReplyOptions } from "../../FakeAnthropic.js"
import type { Handler, RecordedRequest, Reply } from "../../FakeServer.js"
import { countWords, isRecord, type Json, sampleOf, wordPieces } from "./text.js"

// ---------------------------------------------------------------------------------------------------------------
// framing and replies
// ---------------------------------------------------------------------------------------------------------------

const typeOf = (event: unknown): string | undefined => {
  if (typeof event !== "object" || event === null) return undefined
  const type = (event as { readonly type?: unknown }).type
  return typeof type === "string" ? type : undefined
}

/** @internal */
export const frames = (events: ReadonlyArray<unknown>, options?: SseOptions): Array<string> => {
  const eol = options?.lineEnding ?? "\n"
  const end = eol + eol
  const named = options?.eventLines !== false
  const out: Array<string> = []
  for (const event of events) {
    if (typeof event === "string") {
      out.push(`data: ${event}${end}`)
      continue
    }
    const type = typeOf(event)
    const head = named && type !== undefined ? `event: ${type}${eol}` : ""
    out.push(`${head}data: ${JSON.stringify(event)}${end}`)
  }
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

/** The `error.type` Anthropic sends with each status (protocols §2.5). */
export const errorTypeFor = (status: number): string => {
  switch (status) {
    case 401:
      return "authentication_error"
    case 402:
      return "billing_error"
    case 403:
      return "permission_error"
    case 404:
      return "not_found_error"
    case 413:
      return "request_too_large"
    case 429:
      return "rate_limit_error"
    case 504:
      return "timeout_error"
    case 529:
      return "overloaded_error"
  }
  return status >= 500 ? "api_error" : "invalid_request_error"
}

let requestIds = 0

/** @internal */
export const errorBody = (status: number, error: ErrorBody): Record<string, unknown> => ({
  type: "error",
  error: { type: error.type ?? errorTypeFor(status), message: error.message },
  request_id: `req_fake${++requestIds}`
})

/** @internal */
export const errorReply = (status: number, error: ErrorBody, headers?: Readonly<Record<string, string>>): Reply =>
  jsonReply(errorBody(status, error), status, headers)

// ---------------------------------------------------------------------------------------------------------------
// the auto-responder
// ---------------------------------------------------------------------------------------------------------------

const FILLER: ReadonlyArray<string> = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit"]

/** The text of a message's content: a string, or its text blocks and tool results' texts. */
const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  const texts: Array<string> = []
  for (const block of content) {
    if (!isRecord(block)) continue
    if (block.type === "text" && typeof block.text === "string") texts.push(block.text)
    if (block.type === "tool_result") texts.push(textOf(block.content))
  }
  return texts.join(" ")
}

const hasToolResult = (content: unknown): boolean =>
  Array.isArray(content) && content.some((block) => isRecord(block) && block.type === "tool_result")

const positiveInt = (u: unknown): number | undefined =>
  typeof u === "number" && Number.isInteger(u) && u > 0 ? u : undefined

interface Call {
  readonly name: string
  readonly input: Json
}

/** The tool to call: when the request offers tools, allows them, and the user spoke last without tool results. */
const toolCallFor = (body: Json, last: Json, userText: string): Call | undefined => {
  const tools = body.tools
  const choice = isRecord(body.tool_choice) ? body.tool_choice : undefined
  if (!Array.isArray(tools) || tools.length === 0 || choice?.type === "none") return undefined
  if (last.role !== "user" || hasToolResult(last.content)) return undefined
  const forced = choice?.type === "tool" && typeof choice.name === "string" ? choice.name : undefined
  const tool = tools.find((t) =>
    isRecord(t) && typeof t.name === "string" && (forced === undefined || t.name === forced)
  )
  if (!isRecord(tool)) return undefined
  const input = sampleOf(tool.input_schema ?? {}, userText)
  return { name: tool.name as string, input: isRecord(input) ? input : {} }
}

/** @internal */
export const DEFAULT_MODEL = "fake-claude"

/** @internal */
export const responder = (options?: ResponderOptions): Handler => {
  let sequence = 0

  const messages = (body: Json): Reply => {
    const list = body.messages
    const last = Array.isArray(list) ? list[list.length - 1] : undefined
    if (!isRecord(last)) {
      return errorReply(400, { message: "messages: at least one message is required" })
    }
    const maxTokens = positiveInt(body.max_tokens)
    if (maxTokens === undefined) return errorReply(400, { message: "max_tokens: Field required" })
    const model = options?.model ?? (typeof body.model === "string" ? body.model : DEFAULT_MODEL)
    const id = `msg_fake${++sequence}`
    const userText = textOf(last.content)
    const call = toolCallFor(body, last, userText)
    let input = 0
    for (const message of list as Array<unknown>) {
      if (isRecord(message)) input += countWords(textOf(message.content)) + 3
    }

    let pieces: Array<string> = []
    let stopReason = "end_turn"
    if (call === undefined) {
      pieces = wordPieces(`Echo: ${userText}`)
      const words = options?.words
      if (words !== undefined) {
        if (pieces.length > words) pieces.length = Math.max(0, words)
        for (let i = 0; pieces.length < words; i++) pieces.push(` ${FILLER[i % FILLER.length]}`)
      }
      if (pieces.length > maxTokens) {
        pieces.length = maxTokens
        stopReason = "max_tokens"
      }
    } else {
      stopReason = "tool_use"
    }
    const args = call === undefined ? "" : JSON.stringify(call.input)
    const output = call === undefined ? pieces.length : countWords(args) + 1
    const toolId = `toolu_fake${sequence}`

    if (body.stream !== true) {
      const content = call === undefined
        ? [{ type: "text", text: pieces.join("") }]
        : [{ type: "tool_use", id: toolId, name: call.name, input: call.input }]
      return jsonReply({
        id,
        type: "message",
        role: "assistant",
        model,
        content,
        stop_reason: stopReason,
        stop_sequence: null,
        usage: {
          input_tokens: input,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          output_tokens: output
        }
      })
    }

    const events: Array<unknown> = [
      {
        type: "message_start",
        message: {
          id,
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 }
        }
      }
    ]
    if (call === undefined) {
      events.push({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } })
      events.push({ type: "ping" })
      for (const piece of pieces) {
        events.push({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: piece } })
      }
    } else {
      // The input arrives in fragments cut mid-token, as real streams cut it, so that clients must accumulate.
      const half = args.length >> 1
      events.push({
        type: "content_block_start",
        index: 0,
        content_block: { type: "tool_use", id: toolId, name: call.name, input: {} }
      })
      for (const fragment of ["", args.slice(0, half), args.slice(half)]) {
        events.push({
          type: "content_block_delta",
          index: 0,
          delta: { type: "input_json_delta", partial_json: fragment }
        })
      }
    }
    events.push({ type: "content_block_stop", index: 0 })
    events.push({
      type: "message_delta",
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: output }
    })
    events.push({ type: "message_stop" })
    return streamReply(events, { chunkDelay: options?.chunkDelay })
  }

  return (request: RecordedRequest): Reply => {
    const query = request.path.indexOf("?")
    const path = query < 0 ? request.path : request.path.slice(0, query)
    if (request.method === "POST" && path.endsWith("/messages")) {
      if (request.headers["x-api-key"] === undefined) {
        return errorReply(401, { message: "x-api-key header is required" })
      }
      return isRecord(request.json)
        ? messages(request.json)
        : errorReply(400, { message: "fake server: body is not a JSON object" })
    }
    return errorReply(404, { message: `Not found: ${request.method} ${path}` })
  }
}
