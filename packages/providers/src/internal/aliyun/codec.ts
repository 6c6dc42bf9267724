/**
 * The DashScope native codec: our request → the wire request (`input.messages` + `parameters`), the wire
 * response, stream events and errors → ours.
 *
 * @internal
 */
import type {
  ChatCompletion,
  ChatCompletionMessage,
  FinishReason,
  LlmProvider,
  ToolCall,
  Usage
} from "@llm-api-router/core"
import {
  AuthenticationError,
  ChunkContract,
  ContentFilterError,
  ContextLengthError,
  InvalidRequestError,
  Json,
  type LlmError,
  PermissionDeniedError,
  ProviderError,
  QuotaExceededError,
  type ResponseDecodeError
} from "@llm-api-router/core"
import * as Either from "effect/Either"
import * as CacheControl from "../cacheControl.js"
import {
  decodeError,
  errorFields,
  type ErrorInfo,
  fromStatus,
  generateId,
  invalidRequest,
  rateLimited,
  snippet,
  truncate
} from "../errors.js"
import * as wire from "./wire.js"

export type { ErrorInfo } from "../errors.js"

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

const contextLengthPattern =
  /range of input length|input (?:tokens? )?length|context[ _-]?length|maximum context|context window|too many tokens|prompt is too long/i

/**
 * DashScope's error table (protocols §5.7). The code decides first: statuses lie here (`Arrearage` is a 400,
 * `InvalidApiKey` can be a 400). Codes come PascalCase natively and snake_case through compatible-mode gateways.
 */
export const classifyError = (info: ErrorInfo): LlmError => {
  const code = info.code ?? ""
  switch (code) {
    case "InvalidApiKey":
    case "invalid_api_key":
      return new AuthenticationError(errorFields(info))
    case "Arrearage":
    case "arrearage":
    case "AllocationQuota.FreeTierOnly":
    case "insufficient_quota":
      return new QuotaExceededError(errorFields(info))
    case "DataInspectionFailed":
    case "data_inspection_failed":
      return new ContentFilterError(errorFields(info))
    case "AccessDenied":
    case "AccessDenied.Unpurchased":
    case "Model.AccessDenied":
    case "access_denied":
      return new PermissionDeniedError(errorFields(info))
    case "ModelNotFound":
    case "model_not_found":
      return invalidRequest(info)
    case "RequestTimeOut":
    case "ServiceUnavailable":
      return new ProviderError(errorFields(info))
  }
  if (code.startsWith("Throttling") || code === "throttling" || code === "rate_limit_exceeded") return rateLimited(info)
  // Before InvalidParameter: a prompt over the model's window is reported as a bad parameter.
  if (
    (info.status === undefined || info.status === 400 || code.includes("InvalidParameter")) &&
    contextLengthPattern.test(info.message)
  ) return new ContextLengthError(errorFields(info))
  if (code.includes("InvalidParameter") || code.startsWith("BadRequest") || code === "InvalidURL") {
    return invalidRequest(info)
  }
  if (code.startsWith("InternalError")) return new ProviderError(errorFields(info))
  return fromStatus(info)
}

interface ParsedError {
  readonly code: string | undefined
  readonly message: string | undefined
  readonly requestId: string | undefined
  readonly status: number | undefined
}

const noError: ParsedError = { code: undefined, message: undefined, requestId: undefined, status: undefined }

const nonEmpty = (s: string | null | undefined): string | undefined =>
  s === null || s === undefined || s === "" ? undefined : s

/** Reads the flat body `{code, message, request_id}`, or the compatible-mode envelope `{error: {...}}`. */
export const readError = (json: unknown): ParsedError => {
  if (typeof json !== "object" || json === null) return noError
  const outer = wire.decodeError(json)
  const inner = "error" in json && typeof (json as { error: unknown }).error === "object"
    ? wire.decodeError((json as { error: unknown }).error)
    : undefined
  const flat = Either.isRight(outer) ? outer.right : undefined
  const nested = inner !== undefined && Either.isRight(inner) ? inner.right : undefined
  const code = nested?.code ?? flat?.code
  return {
    code: code === null || code === undefined || code === "" ? undefined : String(code),
    message: nonEmpty(nested?.message) ?? nonEmpty(flat?.message),
    requestId: nonEmpty(flat?.request_id) ?? nonEmpty(nested?.request_id),
    status: flat?.status_code ?? undefined
  }
}

/** A non-2xx streaming call may answer with an SSE body holding one `data:` error line instead of JSON. */
const jsonOfSseBody = (body: string): unknown => {
  for (const line of body.split(/\r\n|\r|\n/)) {
    if (!line.startsWith("data:")) continue
    const parsed = Json.parse(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5))
    return Either.isRight(parsed) ? parsed.right : undefined
  }
  return undefined
}

/** Maps a non-2xx HTTP response to our error. */
export const errorFromResponse = (
  classify: (info: ErrorInfo) => LlmError,
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
  const json = response.json !== undefined ? response.json : jsonOfSseBody(text)
  const parsed = readError(json)
  const message = parsed.message ??
    (json === undefined && text !== ""
      ? `unexpected ${response.status} response: ${snippet(text)}`
      : `HTTP ${response.status} with no error message`)
  return classify({
    provider,
    model,
    status: response.status,
    message,
    type: undefined,
    code: parsed.code,
    param: undefined,
    requestId: parsed.requestId ?? response.requestId,
    body: text === "" ? undefined : truncate(text),
    headers: response.headers
  })
}

/** A body in DashScope's error shape: a non-empty `code` and no `output`. */
export const isErrorBody = (json: unknown): boolean => {
  if (typeof json !== "object" || json === null || "output" in json) return false
  const code = (json as { code?: unknown }).code
  if (typeof code === "string" ? code !== "" : typeof code === "number") return true
  const error = (json as { error?: unknown }).error
  return typeof error === "object" && error !== null
}

/** Maps an error inside a 200: an `event:error` in a stream, or an error body answering a call. */
export const errorFromEmbedded = (
  classify: (info: ErrorInfo) => LlmError,
  provider: string,
  model: string | undefined,
  json: unknown,
  body: string
): LlmError => {
  const parsed = readError(json)
  return classify({
    provider,
    model,
    status: parsed.status !== undefined && parsed.status >= 400 ? parsed.status : undefined,
    message: parsed.message ?? "the response holds an error",
    type: undefined,
    code: parsed.code,
    param: undefined,
    requestId: parsed.requestId,
    body: truncate(body),
    headers: {}
  })
}

// ---------------------------------------------------------------------------------------------
// finish reasons and usage
// ---------------------------------------------------------------------------------------------

/** `"null"` (a string, while streaming), `null` and `""` all mean "not finished". */
export const isUnfinished = (raw: string | null | undefined): boolean =>
  raw === null || raw === undefined || raw === "" || raw === "null"

/** Maps a wire `finish_reason`, then the domain's rule for tool calls (`ChunkContract.finishReason`). */
export const finishReason = (raw: string, calledTools: boolean): FinishReason =>
  ChunkContract.finishReason(wireFinishReason(raw), calledTools)

/** A wire `finish_reason` mapped to ours, before the rule for tool calls. */
export const wireFinishReason = (raw: string): FinishReason => {
  switch (raw) {
    case "length":
      return "length"
    case "tool_calls":
    case "function_call":
      return "tool_calls"
    case "content_filter":
    case "data_inspection_failed":
    case "DataInspectionFailed":
    case "sensitive":
      return "content_filter"
    default:
      return "stop"
  }
}

/** `input_tokens` → `prompt_tokens`, `output_tokens` → `completion_tokens`; a missing total is their sum. */
export const usage = (u: wire.WireUsage): Usage => {
  const prompt = u.input_tokens ?? 0
  const completion = u.output_tokens ?? 0
  const cached = u.prompt_tokens_details?.cached_tokens
  const reasoning = u.output_tokens_details?.reasoning_tokens
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: u.total_tokens ?? prompt + completion,
    ...(cached != null ? { prompt_tokens_details: { cached_tokens: cached } } : {}),
    ...(reasoning != null ? { completion_tokens_details: { reasoning_tokens: reasoning } } : {})
  }
}

// ---------------------------------------------------------------------------------------------
// request
// ---------------------------------------------------------------------------------------------

/** The generation endpoints, relative to the base URL. */
export const textGenerationPath = "/services/aigc/text-generation/generation"
export const multimodalGenerationPath = "/services/aigc/multimodal-generation/generation"
export const textEmbeddingPath = "/services/embeddings/text-embedding/text-embedding"

// Vision and audio models (qwen-vl-max, qwen2.5-vl-72b-instruct, qvq-max, qwen-audio-turbo) live only on the
// multimodal endpoint, even for a text-only turn.
const multimodalModel = /(?:^|[-.])(?:vl|qvq|audio)(?:[-.]|$)/i

/** Fields with a place of their own on the wire, or no meaning to DashScope. */
const notParameters = new Set([
  "model",
  "messages",
  "stream",
  "stream_options",
  "user",
  "metadata",
  "logit_bias",
  "reasoning_effort",
  "max_completion_tokens"
])

type Message = LlmProvider.ResolvedChatRequest["messages"][number]
type Part = Record<string, string>

const hasMediaPart = (message: Message): boolean =>
  message.role === "user" && typeof message.content !== "string" &&
  message.content.some((part) => part.type === "image_url" || part.type === "input_audio")

/** Whether a request goes to the multimodal endpoint: images or audio in it, or a vision/audio model. */
export const isMultimodal = (request: LlmProvider.ResolvedChatRequest): boolean =>
  multimodalModel.test(request.model) || request.messages.some(hasMediaPart)

const textOfParts = (
  parts: ReadonlyArray<{ readonly type: string; readonly text?: string; readonly refusal?: string }>
) => {
  let text = ""
  for (const part of parts) {
    const piece = part.type === "text" ? part.text : part.type === "refusal" ? part.refusal : undefined
    if (piece !== undefined) text = text === "" ? piece : `${text}\n${piece}`
  }
  return text
}

const unsupportedPart = (provider: string, path: string, what: string) =>
  new InvalidRequestError({
    provider,
    source: "client",
    param: path,
    message: `${provider}: ${path}: ${what} parts are not supported by DashScope's native API`
  })

/**
 * The wire body of a chat request, and whether it goes to the multimodal endpoint. Content becomes a string on
 * the text endpoint and a list of `{text}` / `{image}` / `{audio}` parts on the multimodal one; a tool result
 * carries the function's name beside `tool_call_id` (older models want it).
 */
export const chatBody = (
  provider: string,
  request: LlmProvider.ResolvedChatRequest,
  stream: boolean
): Either.Either<{ readonly body: Record<string, unknown>; readonly multimodal: boolean }, InvalidRequestError> => {
  const multimodal = isMultimodal(request)
  const text = (s: string): string | ReadonlyArray<Part> => multimodal ? [{ text: s }] : s
  const toolNames = new Map<string, string>()
  const messages: Array<Record<string, unknown>> = []
  for (let i = 0; i < request.messages.length; i++) {
    const m = request.messages[i]!
    switch (m.role) {
      case "system":
      case "developer": {
        messages.push({
          role: "system",
          content: text(typeof m.content === "string" ? m.content : textOfParts(m.content))
        })
        break
      }
      case "user": {
        if (typeof m.content === "string") {
          messages.push({ role: "user", content: text(m.content) })
          break
        }
        if (!multimodal) {
          messages.push({ role: "user", content: textOfParts(m.content) })
          break
        }
        const parts: Array<Part> = []
        for (let j = 0; j < m.content.length; j++) {
          const part = m.content[j]!
          switch (part.type) {
            case "text":
              parts.push({ text: part.text })
              break
            case "image_url":
              parts.push({ image: part.image_url.url })
              break
            case "input_audio":
              parts.push({ audio: `data:audio/${part.input_audio.format};base64,${part.input_audio.data}` })
              break
            case "file":
              return Either.left(unsupportedPart(provider, `messages[${i}].content[${j}]`, "file"))
          }
        }
        messages.push({ role: "user", content: parts })
        break
      }
      case "assistant": {
        const content = m.content === undefined || m.content === null
          ? ""
          : typeof m.content === "string"
          ? m.content
          : textOfParts(m.content)
        const out: Record<string, unknown> = { role: "assistant", content: text(content) }
        if (m.tool_calls !== undefined && m.tool_calls.length > 0) {
          out.tool_calls = m.tool_calls.map((call) => {
            toolNames.set(call.id, call.function.name)
            return {
              id: call.id,
              type: "function",
              function: {
                name: call.function.name,
                arguments: call.function.arguments === "" ? "{}" : call.function.arguments
              }
            }
          })
        }
        messages.push(out)
        break
      }
      case "tool": {
        const name = toolNames.get(m.tool_call_id)
        messages.push({
          role: "tool",
          tool_call_id: m.tool_call_id,
          ...(name !== undefined ? { name } : {}),
          content: text(typeof m.content === "string" ? m.content : textOfParts(m.content))
        })
        break
      }
    }
  }

  const parameters: Record<string, unknown> = {}
  // The tools go on as they are, but for prompt-caching markers, which DashScope does not know.
  const fields = CacheControl.strip(request) as unknown as Record<string, unknown>
  for (const key in fields) {
    const value = fields[key]
    if (value === null || value === undefined || notParameters.has(key)) continue
    parameters[key] = value
  }
  if (parameters.max_tokens === undefined && request.max_completion_tokens != null) {
    parameters.max_tokens = request.max_completion_tokens
  }
  // DashScope knows "auto", "none" and a named function; "required" with one tool means that tool.
  if (request.tool_choice === "required" && request.tools !== undefined && request.tools.length === 1) {
    parameters.tool_choice = { type: "function", function: { name: request.tools[0]!.function.name } }
  }
  parameters.result_format = fields.result_format ?? "message"
  if (stream) parameters.incremental_output = fields.incremental_output ?? true
  return Either.right({ body: { model: request.model, input: { messages }, parameters }, multimodal })
}

// ---------------------------------------------------------------------------------------------
// non-streaming response
// ---------------------------------------------------------------------------------------------

/** The text of a message's content, a string or parts. */
export const contentText = (content: wire.WireMessage["content"]): string | undefined => {
  if (content === null || content === undefined) return undefined
  if (typeof content === "string") return content
  let text = ""
  for (const part of content) if (part.text != null) text += part.text
  return text
}

/** Tool-call arguments as text: some models send them as an object. */
export const argumentsText = (args: string | Readonly<Record<string, unknown>> | null | undefined): string =>
  args === null || args === undefined ? "" : typeof args === "string" ? args : JSON.stringify(args)

const toolCalls = (calls: ReadonlyArray<wire.WireToolCall> | null | undefined): Array<ToolCall> | undefined => {
  if (!calls || calls.length === 0) return undefined
  return calls.map((call) => {
    const args = argumentsText(call.function?.arguments)
    return {
      id: call.id || generateId("call_"),
      type: "function" as const,
      function: { name: call.function?.name ?? "", arguments: args === "" ? "{}" : args }
    }
  })
}

/** Maps a generation body (`result_format` `"message"` or `"text"`). */
export const completion = (
  provider: string,
  model: string,
  json: unknown,
  nowSeconds: number
): Either.Either<ChatCompletion, ResponseDecodeError> => {
  const decoded = wire.decodeGeneration(json)
  if (Either.isLeft(decoded)) {
    return Either.left(decodeError(provider, model, "the generation does not match the protocol", decoded.left.message))
  }
  const body = decoded.right
  const output = body.output
  let choices: Array<ChatCompletion["choices"][number]>
  if (output?.choices != null && output.choices.length > 0) {
    choices = output.choices.map((choice, i) => {
      const m = choice.message
      const calls = toolCalls(m?.tool_calls)
      const content = contentText(m?.content)
      const reasoning = m?.reasoning_content
      const message: ChatCompletionMessage = {
        role: "assistant",
        content: calls !== undefined && (content === undefined || content === "") ? null : content ?? null,
        ...(calls ? { tool_calls: calls } : {}),
        ...(reasoning != null && reasoning !== "" ? { reasoning_content: reasoning } : {})
      }
      const raw = choice.finish_reason
      return {
        index: choice.index ?? i,
        message,
        finish_reason: finishReason(isUnfinished(raw) ? "stop" : raw!, calls !== undefined),
        logprobs: null
      }
    })
  } else if (output?.text != null) {
    const raw = output.finish_reason
    choices = [{
      index: 0,
      message: { role: "assistant", content: output.text },
      finish_reason: finishReason(isUnfinished(raw) ? "stop" : raw!, false),
      logprobs: null
    }]
  } else {
    return Either.left(decodeError(provider, model, "the generation has no output", truncate(JSON.stringify(json))))
  }
  return Either.right({
    id: body.request_id || generateId("chatcmpl-"),
    object: "chat.completion",
    created: nowSeconds,
    model,
    choices,
    ...(body.usage ? { usage: usage(body.usage) } : {}),
    provider
  })
}

// ---------------------------------------------------------------------------------------------
// embeddings
// ---------------------------------------------------------------------------------------------

/** Fields of our embeddings request with a place of their own on the wire, or no meaning to DashScope. */
const notEmbeddingParameters = new Set(["model", "input", "dimensions", "encoding_format", "user"])

/**
 * The most texts one call may carry: 25 for `text-embedding-v1`/`v2`, 10 for `v3`/`v4` and anything unknown.
 */
export const embeddingBatchSize = (model: string): number => /^text-embedding-v[12](?:$|[^0-9])/.test(model) ? 25 : 10

/** The wire body of one batch. Extra request fields (`text_type`, `output_type`, `instruct`) go to `parameters`. */
export const embeddingBody = (
  request: LlmProvider.ResolvedEmbeddingRequest,
  texts: ReadonlyArray<string>
): Record<string, unknown> => {
  const parameters: Record<string, unknown> = {}
  const fields = request as unknown as Record<string, unknown>
  for (const key in fields) {
    const value = fields[key]
    if (value === null || value === undefined || notEmbeddingParameters.has(key)) continue
    parameters[key] = value
  }
  if (request.dimensions !== undefined) parameters.dimension = request.dimensions
  return { model: request.model, input: { texts }, parameters }
}

/** One batch's vectors, in the order of its texts (the server keys them by `text_index`), and its tokens. */
export const embeddingBatch = (
  provider: string,
  model: string,
  json: unknown,
  count: number
): Either.Either<{ readonly vectors: Array<ReadonlyArray<number>>; readonly tokens: number }, ResponseDecodeError> => {
  const decoded = wire.decodeEmbeddingResponse(json)
  if (Either.isLeft(decoded)) {
    return Either.left(
      decodeError(provider, model, "the embeddings response does not match the protocol", decoded.left.message)
    )
  }
  const body = decoded.right
  const vectors = new Array<ReadonlyArray<number>>(count)
  const items = body.output.embeddings
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!
    const at = item.text_index ?? i
    if (at < 0 || at >= count || vectors[at] !== undefined) {
      return Either.left(decodeError(provider, model, "an embedding has a bad or repeated text_index", String(at)))
    }
    vectors[at] = item.embedding
  }
  if (items.length !== count) {
    return Either.left(
      decodeError(
        provider,
        model,
        "the embeddings response has the wrong number of vectors",
        `${items.length} for ${count} texts`
      )
    )
  }
  return Either.right({ vectors, tokens: body.usage?.total_tokens ?? body.usage?.input_tokens ?? 0 })
}
