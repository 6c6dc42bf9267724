/**
 * The Ollama native codec: our request → the `/api/chat` and `/api/embed` bodies, the NDJSON lines
 * and bodies → our responses and chunks, `{"error": "…"}` → our errors.
 *
 * @internal
 */
import type {
  ChatCompletion,
  ChatCompletionMessage,
  ChatMessage,
  EmbeddingResponse,
  FinishReason,
  LlmProvider,
  ToolCall,
  Usage
} from "@llm-api-router/core"
import {
  ChunkContract,
  ContextLengthError,
  InvalidRequestError,
  Json,
  type LlmError,
  ProviderError,
  type ResponseDecodeError,
  UnsupportedFeatureError
} from "@llm-api-router/core"
import * as Either from "effect/Either"
import { decodeError, errorFields, type ErrorInfo, fromStatus, generateId, snippet, truncate } from "../errors.js"
import * as wire from "./wire.js"

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

/** Ollama's error body is `{"error": "<string>"}`; anything else (a proxy's page) has no message. */
export const errorMessage = (json: unknown): string | undefined => {
  if (typeof json !== "object" || json === null || !("error" in json)) return undefined
  const error = (json as { readonly error: unknown }).error
  if (typeof error === "string") return error
  // A proxy in front of Ollama may speak OpenAI's envelope.
  if (typeof error === "object" && error !== null && "message" in error) {
    const message = (error as { readonly message: unknown }).message
    if (typeof message === "string") return message
  }
  return undefined
}

const contextLengthPattern = /context length|context window|exceeds the context/i
const notFoundPattern = /not found/i
const unsupportedPattern = /does not support (\w+)/i

/**
 * Ollama's error table (protocols §6.7). Ollama has no error codes, only a status and a message, so
 * a few messages decide where the status is ambiguous.
 */
export const classifyError = (info: ErrorInfo): LlmError => {
  const status = info.status
  if (contextLengthPattern.test(info.message)) return new ContextLengthError(errorFields(info))
  if (status === undefined) {
    // An `{"error": …}` line inside a 200 stream: the runner failed after generation started.
    return new ProviderError(errorFields(info))
  }
  if (status === 404) return modelNotFound(info)
  const unsupported = status === 400 ? unsupportedPattern.exec(info.message) : null
  if (unsupported !== null) {
    return new UnsupportedFeatureError({ ...errorFields(info), feature: unsupported[1]!.toLowerCase() })
  }
  return fromStatus(info)
}

/** A model that is not pulled: say how to get it. */
const modelNotFound = (info: ErrorInfo): InvalidRequestError => {
  if (info.model === undefined || !notFoundPattern.test(info.message)) {
    return new InvalidRequestError({ ...errorFields(info), source: "provider" })
  }
  const hinted = { ...info, message: `${info.message} (run \`ollama pull ${info.model}\` to download it)` }
  return new InvalidRequestError({ ...errorFields(hinted), source: "provider", param: "model" })
}

/** Maps a non-2xx response. */
export const errorFromResponse = (
  provider: string,
  response: {
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly body: string
    readonly json: unknown
    readonly requestId: string | undefined
  },
  model: string | undefined
): LlmError => {
  const text = response.body.trim()
  const message = errorMessage(response.json) ??
    (text !== ""
      ? `unexpected ${response.status} response: ${snippet(text)}`
      : `HTTP ${response.status}`)
  return classifyError({
    provider,
    model,
    status: response.status,
    message,
    type: undefined,
    code: undefined,
    param: undefined,
    requestId: response.requestId,
    body: text === "" ? undefined : truncate(text),
    headers: response.headers
  })
}

/** Maps an `{"error": …}` inside a 200: a non-streaming body, or a line of a stream. */
export const errorFromEmbedded = (
  provider: string,
  model: string | undefined,
  json: unknown,
  body: string
): LlmError =>
  classifyError({
    provider,
    model,
    status: undefined,
    message: errorMessage(json) ?? "the response holds an error",
    type: undefined,
    code: undefined,
    param: undefined,
    requestId: undefined,
    body: truncate(body),
    headers: {}
  })

/** Whether a decoded line or body is an error. Checked on every line: Ollama sends errors with status 200. */
export const isError = (json: unknown): boolean =>
  typeof json === "object" && json !== null && "error" in json && (json as { error: unknown }).error != null

// ---------------------------------------------------------------------------------------------
// request
// ---------------------------------------------------------------------------------------------

/** Ollama's `think`: on, off, or an effort level (gpt-oss). */
export type Think = boolean | "low" | "medium" | "high"

/** The provider's own knobs, set once on the layer; a request's own `think` / `keep_alive` win. */
export interface Knobs {
  readonly keepAlive: string | number | undefined
  readonly think: Think | undefined
}

type Request = LlmProvider.ResolvedChatRequest
type Json = Record<string, unknown>

const clientError = (provider: string, model: string, param: string, message: string) =>
  new InvalidRequestError({
    provider,
    model,
    source: "client",
    param,
    message: `invalid request: ${param}: ${message}`
  })

const unsupported = (provider: string, model: string, feature: string, message: string) =>
  new UnsupportedFeatureError({ provider, model, feature, message: `${provider}: ${message}` })

const textOf = (content: string | ReadonlyArray<{ readonly type: string; readonly text?: string }>): string => {
  if (typeof content === "string") return content
  let text = ""
  for (const part of content) {
    if (part.type === "text" && part.text !== undefined) text += text === "" ? part.text : `\n${part.text}`
  }
  return text
}

const dataUrlPrefix = /^data:[^,]*;base64,/

/**
 * Ollama takes images as raw base64, never as URLs: a data URL loses its prefix, an http(s) URL is
 * refused. Fetching it ourselves would hide a network call (and its failures, size and trust) inside a
 * chat call; the caller can fetch it and pass a data URL.
 */
const userMessage = (
  provider: string,
  model: string,
  message: Extract<ChatMessage, { readonly role: "user" }>,
  at: string
): Either.Either<Json, LlmError> => {
  if (typeof message.content === "string") return Either.right({ role: "user", content: message.content })
  let text = ""
  const images: Array<string> = []
  for (let i = 0; i < message.content.length; i++) {
    const part = message.content[i]!
    switch (part.type) {
      case "text":
        text += text === "" ? part.text : `\n${part.text}`
        break
      case "image_url": {
        const url = part.image_url.url
        const prefix = dataUrlPrefix.exec(url)
        if (prefix === null) {
          return Either.left(unsupported(
            provider,
            model,
            "image_url",
            `${at}.content[${i}]: Ollama takes images as base64 data (data:image/…;base64,…), not as URLs; fetch the image and pass it as a data URL`
          ))
        }
        images.push(url.slice(prefix[0].length))
        break
      }
      default:
        return Either.left(
          unsupported(provider, model, part.type, `${at}.content[${i}]: ${part.type} parts are not supported`)
        )
    }
  }
  return Either.right(images.length > 0 ? { role: "user", content: text, images } : { role: "user", content: text })
}

/** Our arguments are a JSON string; Ollama wants the object back. */
const argumentsObject = (
  provider: string,
  model: string,
  args: string,
  at: string
): Either.Either<unknown, LlmError> => {
  if (args.trim() === "") return Either.right({})
  const parsed = Json.parse(args)
  if (Either.isRight(parsed)) {
    const value = parsed.right
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return Either.right(value)
  }
  return Either.left(clientError(provider, model, at, "Ollama needs tool-call arguments that are a JSON object"))
}

const messages = (provider: string, request: Request): Either.Either<Array<Json>, LlmError> => {
  const out: Array<Json> = []
  // Ollama answers a tool result by the tool's name; ours carry only the call's id.
  const toolNames = new Map<string, string>()
  const model = request.model
  for (let i = 0; i < request.messages.length; i++) {
    const message = request.messages[i]!
    const at = `messages[${i}]`
    switch (message.role) {
      case "system":
      case "developer":
        out.push({ role: "system", content: textOf(message.content) })
        break
      case "user": {
        const mapped = userMessage(provider, model, message, at)
        if (Either.isLeft(mapped)) return Either.left(mapped.left)
        out.push(mapped.right)
        break
      }
      case "assistant": {
        const content = message.content == null ? "" : textOf(message.content)
        const wireMessage: Json = { role: "assistant", content }
        if (message.reasoning_content != null && message.reasoning_content !== "") {
          wireMessage.thinking = message.reasoning_content
        }
        const calls = message.tool_calls
        if (calls !== undefined && calls.length > 0) {
          const wireCalls: Array<Json> = []
          for (let j = 0; j < calls.length; j++) {
            const call = calls[j]!
            const args = argumentsObject(
              provider,
              model,
              call.function.arguments,
              `${at}.tool_calls[${j}].function.arguments`
            )
            if (Either.isLeft(args)) return Either.left(args.left)
            toolNames.set(call.id, call.function.name)
            wireCalls.push({ id: call.id, function: { index: j, name: call.function.name, arguments: args.right } })
          }
          wireMessage.tool_calls = wireCalls
        }
        out.push(wireMessage)
        break
      }
      case "tool": {
        const name = toolNames.get(message.tool_call_id)
        out.push({
          role: "tool",
          content: textOf(message.content),
          ...(name !== undefined ? { tool_name: name } : {}),
          tool_call_id: message.tool_call_id
        })
        break
      }
    }
  }
  return Either.right(out)
}

const tools = (request: Request): Array<Json> | undefined => {
  const all = request.tools
  if (all === undefined || all.length === 0) return undefined
  const choice = request.tool_choice
  // Ollama has no tool_choice: "none" is kept by not offering tools, a named function by offering
  // only it ("required" cannot be enforced).
  if (choice === "none") return undefined
  const offered = typeof choice === "object" ? all.filter((t) => t.function.name === choice.function.name) : all
  return offered.map((tool) => ({
    type: "function",
    function: {
      name: tool.function.name,
      ...(tool.function.description !== undefined ? { description: tool.function.description } : {}),
      parameters: tool.function.parameters ?? { type: "object", properties: {} }
    }
  }))
}

const format = (request: Request): unknown => {
  const rf = request.response_format
  if (rf === undefined) return undefined
  switch (rf.type) {
    case "json_object":
      return "json"
    case "json_schema":
      return rf.json_schema.schema ?? "json"
    default:
      return undefined
  }
}

/** Our sampling fields → Ollama's `options` (Modelfile names); `stop` must be an array there. */
const options = (request: Request): Json | undefined => {
  const out: Json = {}
  if (request.temperature != null) out.temperature = request.temperature
  if (request.top_p != null) out.top_p = request.top_p
  const maxTokens = request.max_completion_tokens ?? request.max_tokens
  if (maxTokens != null) out.num_predict = maxTokens
  if (request.stop != null) out.stop = typeof request.stop === "string" ? [request.stop] : request.stop
  if (request.seed != null) out.seed = request.seed
  if (request.presence_penalty != null) out.presence_penalty = request.presence_penalty
  if (request.frequency_penalty != null) out.frequency_penalty = request.frequency_penalty
  // Ollama's own options (num_ctx, top_k, …) given on the request win over the mapped ones.
  const raw = (request as { readonly options?: unknown }).options
  if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) Object.assign(out, raw)
  return Object.keys(out).length > 0 ? out : undefined
}

const isThink = (u: unknown): u is Think => typeof u === "boolean" || u === "low" || u === "medium" || u === "high"

const think = (request: Request, knobs: Knobs): Think | undefined => {
  const own = (request as { readonly think?: unknown }).think
  if (isThink(own)) return own
  const effort = request.reasoning_effort
  if (effort === "none") return false
  if (isThink(effort)) return effort
  return knobs.think
}

/** The wire body of `/api/chat`. Fails before any I/O on what Ollama cannot take. */
export const chatBody = (
  provider: string,
  request: Request,
  stream: boolean,
  knobs: Knobs
): Either.Either<Json, LlmError> => {
  if (request.n != null && request.n > 1) {
    return Either.left(unsupported(provider, request.model, "n", "Ollama returns one choice per request (n > 1)"))
  }
  const wireMessages = messages(provider, request)
  if (Either.isLeft(wireMessages)) return Either.left(wireMessages.left)
  const body: Json = { model: request.model, messages: wireMessages.right, stream }
  const wireTools = tools(request)
  if (wireTools !== undefined) body.tools = wireTools
  const wireFormat = format(request)
  if (wireFormat !== undefined) body.format = wireFormat
  const wireOptions = options(request)
  if (wireOptions !== undefined) body.options = wireOptions
  const wireThink = think(request, knobs)
  if (wireThink !== undefined) body.think = wireThink
  const ownKeepAlive = (request as { readonly keep_alive?: unknown }).keep_alive
  const keepAlive = typeof ownKeepAlive === "string" || typeof ownKeepAlive === "number"
    ? ownKeepAlive
    : knobs.keepAlive
  if (keepAlive !== undefined) body.keep_alive = keepAlive
  return Either.right(body)
}

/** The wire body of `/api/embed`: `input` always an array, so the answer always has one vector per item. */
export const embedBody = (request: LlmProvider.ResolvedEmbeddingRequest, knobs: Knobs): Json => {
  const body: Json = {
    model: request.model,
    input: typeof request.input === "string" ? [request.input] : request.input
  }
  if (request.dimensions !== undefined) body.dimensions = request.dimensions
  const ownKeepAlive = (request as { readonly keep_alive?: unknown }).keep_alive
  const keepAlive = typeof ownKeepAlive === "string" || typeof ownKeepAlive === "number"
    ? ownKeepAlive
    : knobs.keepAlive
  if (keepAlive !== undefined) body.keep_alive = keepAlive
  const truncateInput = (request as { readonly truncate?: unknown }).truncate
  if (typeof truncateInput === "boolean") body.truncate = truncateInput
  return body
}

// ---------------------------------------------------------------------------------------------
// responses
// ---------------------------------------------------------------------------------------------

/**
 * Maps `done_reason`. Ollama says `stop` even when the model called tools, and `load`/`unload`/absent
 * for a model (un)loaded or a runner that closed: only `length` means something else.
 */
export const finishReason = (doneReason: string | null | undefined, calledTools: boolean): FinishReason =>
  ChunkContract.finishReason(doneReason === "length" ? "length" : "stop", calledTools)

/** Ollama leaves out zero counts (and the prompt count when the prompt was cached): absent is 0. */
export const usage = (line: wire.WireChatResponse): Usage => {
  const prompt = line.prompt_eval_count ?? 0
  const completion = line.eval_count ?? 0
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
}

/** `created_at` is RFC 3339 with nanoseconds and maybe an offset; `Date.parse` takes it whole. */
export const createdSeconds = (createdAt: string | null | undefined, nowSeconds: number): number => {
  if (createdAt == null || createdAt === "") return nowSeconds
  const millis = Date.parse(createdAt)
  return Number.isNaN(millis) ? nowSeconds : Math.floor(millis / 1000)
}

/** Tool-call arguments as text: Ollama sends an object; none is `{}`. */
export const argumentsText = (args: wire.WireToolCall["function"]["arguments"]): string =>
  args == null ? "{}" : typeof args === "string" ? (args === "" ? "{}" : args) : JSON.stringify(args)

const toolCall = (call: wire.WireToolCall): ToolCall => ({
  id: call.id || generateId("call_"),
  type: "function",
  function: { name: call.function.name ?? "", arguments: argumentsText(call.function.arguments) }
})

/** Maps a non-streaming `/api/chat` body. */
export const completion = (
  provider: string,
  model: string,
  json: unknown,
  nowSeconds: number
): Either.Either<ChatCompletion, ResponseDecodeError> => {
  const decoded = wire.decodeChatResponse(json)
  if (Either.isLeft(decoded)) {
    return Either.left(
      decodeError(provider, model, "the chat response does not match the protocol", decoded.left.message)
    )
  }
  const body = decoded.right
  const m = body.message
  const calls = m?.tool_calls != null && m.tool_calls.length > 0 ? m.tool_calls.map(toolCall) : undefined
  const message: ChatCompletionMessage = {
    role: "assistant",
    content: ChunkContract.assistantContent(m?.content ?? "", calls !== undefined),
    ...(calls !== undefined ? { tool_calls: calls } : {}),
    ...(m?.thinking != null && m.thinking !== "" ? { reasoning_content: m.thinking } : {})
  }
  return Either.right({
    id: generateId("chatcmpl-"),
    object: "chat.completion",
    created: createdSeconds(body.created_at, nowSeconds),
    model: body.model || model,
    choices: [{
      index: 0,
      message,
      finish_reason: finishReason(body.done_reason, calls !== undefined),
      logprobs: null
    }],
    usage: usage(body),
    provider
  })
}

// ---------------------------------------------------------------------------------------------
// embeddings
// ---------------------------------------------------------------------------------------------

/** Maps an `/api/embed` body; usage from `prompt_eval_count` (absent is 0). */
export const embeddings = (
  provider: string,
  model: string,
  json: unknown
): Either.Either<EmbeddingResponse, ResponseDecodeError> => {
  const decoded = wire.decodeEmbedResponse(json)
  if (Either.isLeft(decoded)) {
    return Either.left(
      decodeError(provider, model, "the embeddings response does not match the protocol", decoded.left.message)
    )
  }
  const body = decoded.right
  const prompt = body.prompt_eval_count ?? 0
  return Either.right({
    object: "list",
    data: body.embeddings.map((embedding, index) => ({ object: "embedding" as const, index, embedding })),
    model: body.model || model,
    usage: { prompt_tokens: prompt, total_tokens: prompt },
    provider
  })
}
