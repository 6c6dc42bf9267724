import type { ErrorBody, ResponderOptions, SseOptions, StreamEvent, StreamReplyOptions } from "../../FakeDashScope.js"
import type { Handler, RecordedRequest, Reply } from "../../FakeServer.js"
import * as Embedding from "./embedding.js"
import { countWords, isRecord, type Json, lastUserText, sampleOf, textOf, wordPieces } from "./text.js"

// ---------------------------------------------------------------------------------------------------------------
// framing and replies
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export interface ErrorEvent {
  readonly status: number
  readonly body: ErrorBody
}

const errorEvents = new WeakSet<object>()

/** @internal */
export const errorEvent = (status: number, body: ErrorBody): StreamEvent => {
  const event: ErrorEvent = { status, body }
  errorEvents.add(event)
  return event
}

let requestCounter = 0
const requestId = () => `fake-${(++requestCounter).toString(16).padStart(8, "0")}-dashscope`

const errorJson = (body: ErrorBody) => ({
  code: body.code,
  message: body.message,
  request_id: body.request_id ?? requestId()
})

/** @internal */
export const frames = (events: ReadonlyArray<StreamEvent>, options?: SseOptions): Array<string> => {
  const eol = options?.lineEnding ?? "\n"
  const out: Array<string> = []
  let id = options?.firstId ?? 1
  for (const event of events) {
    const isError = typeof event === "object" && event !== null && errorEvents.has(event)
    const status = isError ? (event as ErrorEvent).status : 200
    const payload = isError
      ? JSON.stringify(errorJson((event as ErrorEvent).body))
      : typeof event === "string"
      ? event
      : JSON.stringify(event)
    // DashScope writes no space after the colons, and the status as a comment line.
    out.push(
      `id:${id++}${eol}event:${
        isError ? "error" : "result"
      }${eol}:HTTP_STATUS/${status}${eol}data:${payload}${eol}${eol}`
    )
  }
  return out
}

/** @internal */
export const sse = (events: ReadonlyArray<StreamEvent>, options?: SseOptions): string =>
  frames(events, options).join("")

/** @internal */
export const streamReply = (events: ReadonlyArray<StreamEvent>, options?: StreamReplyOptions): Reply => ({
  status: options?.status,
  headers: { "content-type": "text/event-stream;charset=UTF-8", ...options?.headers },
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
export const errorReply = (status: number, error: ErrorBody, headers?: Readonly<Record<string, string>>): Reply =>
  jsonReply(errorJson(error), status, headers)

// ---------------------------------------------------------------------------------------------------------------
// the auto-responder
// ---------------------------------------------------------------------------------------------------------------

const FILLER: ReadonlyArray<string> = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit"]

const toolCallFor = (
  parameters: Json,
  messages: ReadonlyArray<unknown>,
  userText: string
): { readonly name: string; readonly arguments: string } | undefined => {
  const tools = parameters.tools
  if (!Array.isArray(tools) || tools.length === 0 || parameters.tool_choice === "none") return undefined
  const last = messages[messages.length - 1]
  if (!isRecord(last) || last.role !== "user") return undefined
  const forced = isRecord(parameters.tool_choice) && isRecord(parameters.tool_choice.function)
    ? parameters.tool_choice.function.name
    : undefined
  for (const candidate of tools) {
    if (!isRecord(candidate) || !isRecord(candidate.function) || typeof candidate.function.name !== "string") continue
    if (forced !== undefined && candidate.function.name !== forced) continue
    return {
      name: candidate.function.name,
      arguments: JSON.stringify(sampleOf(candidate.function.parameters ?? {}, userText))
    }
  }
  return undefined
}

const positiveInt = (u: unknown): number | undefined =>
  typeof u === "number" && Number.isInteger(u) && u > 0 ? u : undefined

const invalidParameter = (message: string) => errorReply(400, { code: "InvalidParameter", message })

/** @internal */
export const responder = (options?: ResponderOptions): Handler => {
  let sequence = 0

  const generation = (request: RecordedRequest, body: Json, multimodal: boolean): Reply => {
    const input = body.input
    const messages = isRecord(input) ? input.messages : undefined
    if (!Array.isArray(messages) || messages.length === 0) {
      return invalidParameter(`Either "prompt" or "messages" must exist and cannot both be none`)
    }
    if (typeof body.model !== "string" || body.model === "") {
      return errorReply(400, {
        code: "BadRequest.EmptyModel",
        message: "Required parameter \"model\" missing from request."
      })
    }
    const parameters = isRecord(body.parameters) ? body.parameters : {}
    const id = `fake-dashscope-${++sequence}`
    const userText = lastUserText(messages)
    const toolCall = toolCallFor(parameters, messages, userText)
    let prompt = 0
    for (const message of messages) if (isRecord(message)) prompt += countWords(textOf(message.content)) + 3

    let pieces: Array<string> = []
    let finishReason = "stop"
    if (toolCall === undefined) {
      const format = isRecord(parameters.response_format) && parameters.response_format.type === "json_schema" &&
          isRecord(parameters.response_format.json_schema)
        ? parameters.response_format.json_schema.schema
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
      const limit = positiveInt(parameters.max_tokens)
      if (limit !== undefined && pieces.length > limit) {
        pieces.length = limit
        finishReason = "length"
      }
    } else {
      finishReason = "tool_calls"
    }
    const callId = `call_fake${sequence}`
    const textFormat = parameters.result_format === "text"
    const content = (text: string) => multimodal ? (text === "" ? [] : [{ text }]) : text
    const usage = (output: number) => ({ input_tokens: prompt, output_tokens: output, total_tokens: prompt + output })
    const result = (message: Json, finish: string, text: string, output: number): Json =>
      textFormat
        ? { output: { text, finish_reason: finish }, usage: usage(output), request_id: id }
        : { output: { choices: [{ message, finish_reason: finish }] }, usage: usage(output), request_id: id }

    const headers = request.headers
    const streaming = headers["x-dashscope-sse"] === "enable" || (headers["accept"] ?? "").includes("text/event-stream")
    if (!streaming) {
      if (toolCall === undefined) {
        const text = pieces.join("")
        return jsonReply(result({ role: "assistant", content: content(text) }, finishReason, text, pieces.length))
      }
      const message = {
        role: "assistant",
        content: content(""),
        tool_calls: [{ index: 0, id: callId, type: "function", function: toolCall }]
      }
      return jsonReply(result(message, finishReason, "", countWords(toolCall.arguments) + 1))
    }

    // Like the real server: deltas with `incremental_output: true`, the whole text so far otherwise.
    const incremental = parameters.incremental_output === true
    const events: Array<StreamEvent> = []
    if (toolCall === undefined) {
      let sofar = ""
      for (let i = 0; i < pieces.length; i++) {
        sofar += pieces[i]
        const text = incremental ? pieces[i]! : sofar
        const last = i === pieces.length - 1
        events.push(result({ role: "assistant", content: content(text) }, last ? finishReason : "null", text, i + 1))
      }
      if (pieces.length === 0) events.push(result({ role: "assistant", content: content("") }, finishReason, "", 0))
    } else {
      const half = toolCall.arguments.length >> 1
      const fragments = ["", toolCall.arguments.slice(0, half), toolCall.arguments.slice(half)]
      let sofar = ""
      for (let i = 0; i < fragments.length; i++) {
        sofar += fragments[i]
        const first = i === 0 || !incremental
        const call = {
          index: 0,
          id: first ? callId : "",
          type: "function",
          function: { ...(first ? { name: toolCall.name } : {}), arguments: incremental ? fragments[i] : sofar }
        }
        events.push(result({ role: "assistant", content: content(""), tool_calls: [call] }, "null", "", i + 1))
      }
      events.push(result({ role: "assistant", content: content("") }, finishReason, "", fragments.length + 1))
    }
    return streamReply(events, { chunkDelay: options?.chunkDelay })
  }

  const embeddings = (body: Json): Reply => {
    const input = body.input
    const texts = isRecord(input) ? input.texts : undefined
    if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === "string" && t !== "")) {
      return invalidParameter("input.texts should be a non-empty list of non-empty strings")
    }
    const model = typeof body.model === "string" ? body.model : ""
    const limit = /^text-embedding-v[12](?:$|[^0-9])/.test(model) ? 25 : 10
    if (texts.length > limit) {
      return invalidParameter(`batch size is invalid, it should not be larger than ${limit}.`)
    }
    const parameters = isRecord(body.parameters) ? body.parameters : {}
    const dimension = positiveInt(parameters.dimension) ?? 8
    let tokens = 0
    const out = (texts as ReadonlyArray<string>).map((text, index) => {
      tokens += countWords(text)
      return { text_index: index, embedding: Array.from(Embedding.vector(text, dimension)) }
    })
    return jsonReply({
      output: { embeddings: out },
      usage: { total_tokens: tokens },
      request_id: `fake-embed-${++sequence}`
    })
  }

  return (request: RecordedRequest): Reply => {
    const query = request.path.indexOf("?")
    const path = query < 0 ? request.path : request.path.slice(0, query)
    if (request.method === "POST") {
      const body = request.json
      const known = path.endsWith("/services/aigc/text-generation/generation") ||
        path.endsWith("/services/aigc/multimodal-generation/generation") ||
        path.endsWith("/services/embeddings/text-embedding/text-embedding")
      if (known && !isRecord(body)) return invalidParameter("the request body is not a JSON object")
      if (path.endsWith("/services/aigc/text-generation/generation")) return generation(request, body as Json, false)
      if (path.endsWith("/services/aigc/multimodal-generation/generation")) {
        return generation(request, body as Json, true)
      }
      if (path.endsWith("/services/embeddings/text-embedding/text-embedding")) return embeddings(body as Json)
    }
    return errorReply(404, { code: "InvalidURL", message: `Invalid URL (${request.method} ${path})` })
  }
}
