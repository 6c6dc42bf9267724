/**
 * The Gemini codec: our OpenAI-shaped request → a `GenerateContentRequest`; a `GenerateContentResponse` (whole, or
 * streamed chunk by chunk) → our completion and chunks; Google's error envelope → our errors; embeddings in
 * `batchEmbedContents` batches.
 *
 * @internal
 */
import type {
  ChatCompletion,
  ChatCompletionChoice,
  ChatMessage,
  FinishReason,
  LlmProvider,
  ToolCall,
  Usage,
  UserContentPart
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
  RateLimitError,
  type ResponseDecodeError,
  Retry
} from "@llm-api-router/core"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { decodeError, errorFields, type ErrorInfo, generateId, snippet, truncate } from "../errors.js"
import * as CallId from "./callId.js"
import * as JsonSchema from "./schema.js"
import * as wire from "./wire.js"

type Json = Record<string, unknown>

const isRecord = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

/** What Google's envelope tells beyond the common facts. */
export interface GeminiErrorInfo extends ErrorInfo {
  /** `ErrorInfo.reason` from `details` (`API_KEY_INVALID`). */
  readonly reason: string | undefined
  /** `RetryInfo.retryDelay` from `details`, parsed. */
  readonly retryDelay: Option.Option<Duration.Duration>
}

/** A protobuf Duration in JSON: `"34.4s"`, `"1s"`, `"0.250s"`. */
export const parseRetryDelay = (text: string): Option.Option<Duration.Duration> => {
  if (!text.endsWith("s")) return Option.none()
  const seconds = Number(text.slice(0, -1))
  return Number.isFinite(seconds) && seconds >= 0
    ? Option.some(Duration.millis(Math.round(seconds * 1000)))
    : Option.none()
}

/** The inner error object of a body: `{"error":{…}}`, the same inside an array (non-SSE streams), or bare. */
const innerError = (json: unknown): unknown => {
  const first = Array.isArray(json) ? json[0] : json
  return isRecord(first) && "error" in first ? first.error : first
}

/** Whether a decoded body or stream event is Google's error envelope. */
export const isErrorEnvelope = (json: unknown): boolean => {
  const first = Array.isArray(json) ? json[0] : json
  return isRecord(first) && isRecord(first.error)
}

/** Gathers the facts of an error body; `status` is the HTTP status, or for an error inside a 200 its `code`. */
export const errorInfo = (
  provider: string,
  model: string | undefined,
  httpStatus: number | undefined,
  json: unknown,
  body: string,
  requestId: string | undefined,
  headers: Readonly<Record<string, string>>
): GeminiErrorInfo => {
  const inner = innerError(json)
  const decoded = isRecord(inner) ? wire.decodeError(inner) : undefined
  const error = decoded !== undefined && Either.isRight(decoded) ? decoded.right : undefined
  let reason: string | undefined = undefined
  let retryDelay: Option.Option<Duration.Duration> = Option.none()
  for (const detail of error?.details ?? []) {
    if (detail.reason != null && reason === undefined) reason = detail.reason
    if (detail.retryDelay != null && Option.isNone(retryDelay)) retryDelay = parseRetryDelay(detail.retryDelay)
  }
  const code = error?.code == null ? undefined : Number(error.code)
  const status = httpStatus ??
    (code !== undefined && Number.isInteger(code) && code >= 400 && code < 600 ? code : undefined)
  const text = body.trim()
  const message = error?.message ??
    (typeof inner === "string"
      ? inner
      : json === undefined && text !== ""
      ? `unexpected ${httpStatus ?? ""} response: ${snippet(text)}`
      : `HTTP ${httpStatus ?? "?"} with no error message`)
  return {
    provider,
    model,
    status,
    message,
    type: error?.status ?? undefined,
    code: error?.status ?? undefined,
    param: undefined,
    requestId,
    body: text === "" ? undefined : truncate(text),
    headers,
    reason,
    retryDelay
  }
}

const contextLengthPattern = /input token count|exceeds the maximum number of tokens|context window|too many tokens/i
const unregisteredCaller = /unregistered callers|API key not valid|API key expired/i

/**
 * Google's error table (protocols §3.6). The canonical `status` decides first, then the key-specific `reason`
 * (a bad key is a 400 INVALID_ARGUMENT on this API), then the HTTP status.
 */
export const classifyError = (info: GeminiErrorInfo): LlmError => {
  const reason = info.reason
  if (
    reason === "API_KEY_INVALID" || reason === "API_KEY_EXPIRED" || info.type === "UNAUTHENTICATED" ||
    info.status === 401 || unregisteredCaller.test(info.message)
  ) return new AuthenticationError(errorFields(info))
  switch (info.type) {
    case "RESOURCE_EXHAUSTED":
      return rateLimit(info)
    // FAILED_PRECONDITION: the free tier is not offered in the caller's region, or billing is required; access is
    // refused and retrying cannot help
    case "PERMISSION_DENIED":
    case "FAILED_PRECONDITION":
      return new PermissionDeniedError(errorFields(info))
    case "INVALID_ARGUMENT":
    case "OUT_OF_RANGE":
      return invalidArgument(info)
    case "NOT_FOUND":
      return invalidRequest(info)
    case "UNAVAILABLE":
    case "INTERNAL":
    case "DEADLINE_EXCEEDED":
    case "ABORTED":
    case "UNKNOWN":
    case "CANCELLED":
      return new ProviderError(errorFields(info))
  }
  const status = info.status
  if (status === undefined) return new ProviderError(errorFields(info))
  switch (status) {
    case 400:
      return invalidArgument(info)
    case 403:
      return new PermissionDeniedError(errorFields(info))
    case 408:
    case 409:
      return new ProviderError(errorFields(info))
    case 429:
      return rateLimit(info)
  }
  return status >= 500 ? new ProviderError(errorFields(info)) : invalidRequest(info)
}

const invalidArgument = (info: GeminiErrorInfo): LlmError =>
  contextLengthPattern.test(info.message) ? new ContextLengthError(errorFields(info)) : invalidRequest(info)

const invalidRequest = (info: GeminiErrorInfo): InvalidRequestError =>
  new InvalidRequestError({ ...errorFields(info), source: "provider" })

const rateLimit = (info: GeminiErrorInfo): RateLimitError =>
  new RateLimitError({
    ...errorFields(info),
    retryAfter: Option.orElse(info.retryDelay, () => Retry.retryAfterFromHeaders(info.headers, Date.now()))
  })

// ---------------------------------------------------------------------------------------------
// request
// ---------------------------------------------------------------------------------------------

/** How JSON Schemas go on the wire: lowered to the OpenAPI subset, or as JSON Schema in the `*JsonSchema` fields. */
export type SchemaMode = "openapi" | "json-schema"

/** @internal */
export interface RequestOptions {
  readonly schemaMode: SchemaMode
  readonly includeThoughts: boolean
  /** Put on the first replayed call of a model turn that has no signature at all; `undefined` sends none. */
  readonly signatureFallback: string | undefined
}

const clientError = (provider: string, model: string, param: string, message: string) =>
  new InvalidRequestError({
    provider,
    model,
    source: "client",
    param,
    message: `invalid request: ${param}: ${message}`
  })

const textOf = (content: string | ReadonlyArray<{ readonly type: string; readonly text?: string }>): string => {
  if (typeof content === "string") return content
  let out = ""
  for (const part of content) if (typeof part.text === "string") out += part.text
  return out
}

const extensionMime: Readonly<Record<string, string>> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  heic: "image/heic",
  heif: "image/heif",
  pdf: "application/pdf",
  mp3: "audio/mp3",
  wav: "audio/wav",
  mp4: "video/mp4",
  txt: "text/plain"
}

const mimeFromName = (name: string): string | undefined => {
  const clean = name.split(/[?#]/)[0]!
  const dot = clean.lastIndexOf(".")
  return dot === -1 ? undefined : extensionMime[clean.slice(dot + 1).toLowerCase()]
}

/** `data:<mime>;base64,<data>` (or a percent-encoded data URL) → inline bytes. */
const dataUrl = (url: string): { readonly mimeType: string; readonly data: string } | undefined => {
  if (!url.startsWith("data:")) return undefined
  const comma = url.indexOf(",")
  if (comma === -1) return undefined
  const meta = url.slice(5, comma)
  const payload = url.slice(comma + 1)
  const base64 = meta.endsWith(";base64")
  const mimeType = (base64 ? meta.slice(0, -7) : meta).split(";")[0] || "application/octet-stream"
  return {
    mimeType,
    data: base64 ? payload : Buffer.from(decodeURIComponent(payload), "utf8").toString("base64")
  }
}

const userPart = (part: UserContentPart): Json => {
  switch (part.type) {
    case "text":
      return { text: part.text }
    case "image_url": {
      const inline = dataUrl(part.image_url.url)
      if (inline !== undefined) return { inlineData: inline }
      const mimeType = mimeFromName(part.image_url.url)
      return { fileData: { ...(mimeType !== undefined ? { mimeType } : {}), fileUri: part.image_url.url } }
    }
    case "input_audio":
      return {
        inlineData: {
          mimeType: part.input_audio.format === "mp3" ? "audio/mp3" : "audio/wav",
          data: part.input_audio.data
        }
      }
    case "file": {
      const file = part.file
      if (file.file_data !== undefined) {
        const inline = dataUrl(file.file_data)
        if (inline !== undefined) return { inlineData: inline }
        return {
          inlineData: {
            mimeType: (file.filename !== undefined ? mimeFromName(file.filename) : undefined) ?? "application/pdf",
            data: file.file_data
          }
        }
      }
      const mimeType = file.filename !== undefined ? mimeFromName(file.filename) : undefined
      return { fileData: { ...(mimeType !== undefined ? { mimeType } : {}), fileUri: file.file_id ?? "" } }
    }
  }
}

/** Google's OpenAI-compatibility convention, read as a second source: `tool_calls[].extra_content.google`. */
const extraSignature = (call: ToolCall): string | undefined => {
  const extra = (call as { readonly extra_content?: unknown }).extra_content
  if (!isRecord(extra) || !isRecord(extra.google)) return undefined
  const signature = extra.google.thought_signature
  return typeof signature === "string" && signature !== "" ? signature : undefined
}

interface Content {
  readonly role: "user" | "model"
  readonly parts: Array<Json>
}

interface KnownCall {
  readonly name: string
  readonly geminiId: string | undefined
}

const reasoningBudget: Readonly<Record<string, number>> = { minimal: 512, low: 1024, medium: 8192, high: 24576 }

/**
 * The wire body of a chat request, or the reason it cannot be sent (tool-call arguments that are not a JSON object,
 * a tool result answering no earlier call).
 */
export const chatBody = (
  provider: string,
  request: LlmProvider.ResolvedChatRequest,
  options: RequestOptions
): Either.Either<Json, InvalidRequestError> => {
  const model = request.model
  const system: Array<Json> = []
  const contents: Array<Content> = []
  const calls = new Map<string, KnownCall>()

  // Gemini wants strictly alternating turns, and every functionResponse of a turn in one content.
  const push = (role: Content["role"], parts: Array<Json>): void => {
    if (parts.length === 0) return
    const last = contents[contents.length - 1]
    if (last !== undefined && last.role === role) last.parts.push(...parts)
    else contents.push({ role, parts })
  }

  const messages: ReadonlyArray<ChatMessage> = request.messages
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!
    switch (message.role) {
      case "system":
      case "developer": {
        const text = textOf(message.content)
        if (text !== "") system.push({ text })
        break
      }
      case "user": {
        push(
          "user",
          typeof message.content === "string" ? [{ text: message.content }] : message.content.map(userPart)
        )
        break
      }
      case "assistant": {
        const parts: Array<Json> = []
        const content = message.content
        if (content != null) {
          if (typeof content === "string") {
            if (content !== "") parts.push({ text: content })
          } else {
            for (const part of content) {
              const text = part.type === "text" ? part.text : part.refusal
              if (text !== "") parts.push({ text })
            }
          }
        }
        const toolCalls = message.tool_calls ?? []
        let signed = false
        const firstCall = parts.length
        for (let j = 0; j < toolCalls.length; j++) {
          const call = toolCalls[j]!
          const raw = call.function.arguments.trim()
          let args: unknown = {}
          if (raw !== "") {
            const parsed = Json.parse(raw)
            args = Either.isRight(parsed) ? parsed.right : undefined
          }
          if (!isRecord(args)) {
            return Either.left(
              clientError(
                provider,
                model,
                `messages[${i}].tool_calls[${j}].function.arguments`,
                "Gemini takes function arguments as a JSON object"
              )
            )
          }
          const decoded = CallId.decode(call.id)
          const signature = decoded.signature ?? extraSignature(call)
          calls.set(call.id, { name: call.function.name, geminiId: decoded.geminiId })
          if (decoded.base !== call.id && !calls.has(decoded.base)) {
            calls.set(decoded.base, { name: call.function.name, geminiId: decoded.geminiId })
          }
          const part: Json = {
            functionCall: {
              ...(decoded.geminiId !== undefined ? { id: decoded.geminiId } : {}),
              name: call.function.name,
              args
            }
          }
          if (signature !== undefined) {
            part.thoughtSignature = signature
            signed = true
          }
          parts.push(part)
        }
        // Gemini 3 rejects a replayed call turn without a signature (history from another model, or a caller that
        // rebuilt the ids): the documented placeholder on its first call skips the check.
        if (toolCalls.length > 0 && !signed && options.signatureFallback !== undefined) {
          parts[firstCall]!.thoughtSignature = options.signatureFallback
        }
        push("model", parts)
        break
      }
      case "tool": {
        const known = calls.get(message.tool_call_id) ?? calls.get(CallId.decode(message.tool_call_id).base)
        if (known === undefined) {
          return Either.left(
            clientError(
              provider,
              model,
              `messages[${i}].tool_call_id`,
              `no earlier assistant tool call has the id ${JSON.stringify(message.tool_call_id)} (Gemini needs the ` +
                "function's name, taken from that call)"
            )
          )
        }
        push("user", [{
          functionResponse: {
            ...(known.geminiId !== undefined ? { id: known.geminiId } : {}),
            name: known.name,
            response: { output: textOf(message.content) }
          }
        }])
        break
      }
    }
  }

  const body: Json = { contents }
  if (system.length > 0) body.systemInstruction = { parts: system }

  if (request.tools !== undefined && request.tools.length > 0) {
    body.tools = [{
      functionDeclarations: request.tools.map((tool) => {
        const fn = tool.function
        const declaration: Json = { name: fn.name }
        if (fn.description !== undefined) declaration.description = fn.description
        if (fn.parameters !== undefined) {
          if (options.schemaMode === "json-schema") {
            declaration.parametersJsonSchema = JsonSchema.jsonSchema(fn.parameters)
          } else {
            const parameters = JsonSchema.parameters(fn.parameters)
            if (parameters !== undefined) declaration.parameters = parameters
          }
        }
        return declaration
      })
    }]
  }
  const choice = request.tool_choice
  if (choice !== undefined) {
    body.toolConfig = {
      functionCallingConfig: typeof choice === "string"
        ? { mode: choice === "auto" ? "AUTO" : choice === "required" ? "ANY" : "NONE" }
        : { mode: "ANY", allowedFunctionNames: [choice.function.name] }
    }
  }

  const config: Json = {}
  if (request.temperature != null) config.temperature = request.temperature
  if (request.top_p != null) config.topP = request.top_p
  const maxTokens = request.max_completion_tokens ?? request.max_tokens
  if (maxTokens != null) config.maxOutputTokens = maxTokens
  if (request.stop != null) {
    const stop = typeof request.stop === "string" ? [request.stop] : request.stop
    if (stop.length > 0) config.stopSequences = stop
  }
  if (request.seed != null) config.seed = request.seed
  if (request.n != null) config.candidateCount = request.n
  if (request.presence_penalty != null) config.presencePenalty = request.presence_penalty
  if (request.frequency_penalty != null) config.frequencyPenalty = request.frequency_penalty
  if (request.logprobs != null) config.responseLogprobs = request.logprobs
  if (request.top_logprobs != null) config.logprobs = request.top_logprobs
  const format = request.response_format
  if (format !== undefined && format.type !== "text") {
    config.responseMimeType = "application/json"
    const schema = format.type === "json_schema" ? format.json_schema.schema : undefined
    if (schema !== undefined) {
      if (options.schemaMode === "json-schema") config.responseJsonSchema = JsonSchema.jsonSchema(schema)
      else config.responseSchema = JsonSchema.lower(schema)
    }
  }
  let thinking: Json | undefined = options.includeThoughts ? { includeThoughts: true } : undefined
  const effort = request.reasoning_effort
  if (effort != null) {
    thinking = effort === "none"
      ? { thinkingBudget: 0 }
      : {
        ...thinking,
        includeThoughts: true,
        ...(effort in reasoningBudget ? { thinkingBudget: reasoningBudget[effort] } : {})
      }
  }
  // Gemini's own knobs, passed through when the caller adds them to the request
  const extra = request as unknown as Json
  if (isRecord(extra.thinkingConfig)) thinking = { ...thinking, ...extra.thinkingConfig }
  if (thinking !== undefined) config.thinkingConfig = thinking
  const merged = isRecord(extra.generationConfig) ? { ...config, ...extra.generationConfig } : config
  if (Object.keys(merged).length > 0) body.generationConfig = merged
  if (Array.isArray(extra.safetySettings)) body.safetySettings = extra.safetySettings
  if (typeof extra.cachedContent === "string") body.cachedContent = extra.cachedContent
  return Either.right(body)
}

/** `models/gemini-2.5-flash` and `gemini-2.5-flash` name the same model; the path wants the bare id. */
export const modelPath = (model: string): string => model.startsWith("models/") ? model.slice(7) : model

// ---------------------------------------------------------------------------------------------
// finish reasons and usage
// ---------------------------------------------------------------------------------------------

/**
 * Maps Gemini's `finishReason`, then the domain's rule for tool calls (`ChunkContract.finishReason`): Gemini says
 * `STOP` when a function was called.
 */
export const finishReason = (raw: string, calledTools: boolean): FinishReason =>
  ChunkContract.finishReason(wireFinishReason(raw), calledTools)

/** A wire `finishReason` mapped to ours, before the rule for tool calls. */
export const wireFinishReason = (raw: string): FinishReason => {
  switch (raw) {
    case "MAX_TOKENS":
      return "length"
    case "SAFETY":
    case "RECITATION":
    case "BLOCKLIST":
    case "PROHIBITED_CONTENT":
    case "SPII":
    case "IMAGE_SAFETY":
    case "IMAGE_PROHIBITED_CONTENT":
    case "IMAGE_RECITATION":
      return "content_filter"
    default:
      return "stop"
  }
}

/**
 * Maps `usageMetadata`. Gemini counts thoughts outside `candidatesTokenCount`; OpenAI counts reasoning inside
 * `completion_tokens`, so they are added there and reported again as `reasoning_tokens`. Tool-use prompt tokens
 * are prompt tokens. `cachedContentTokenCount` is already part of `promptTokenCount`.
 */
export const usage = (u: wire.WireUsage): Usage => {
  const thoughts = u.thoughtsTokenCount ?? undefined
  const prompt = (u.promptTokenCount ?? 0) + (u.toolUsePromptTokenCount ?? 0)
  const completion = (u.candidatesTokenCount ?? 0) + (thoughts ?? 0)
  const cached = u.cachedContentTokenCount ?? undefined
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: u.totalTokenCount ?? prompt + completion,
    ...(cached !== undefined ? { prompt_tokens_details: { cached_tokens: cached } } : {}),
    ...(thoughts !== undefined ? { completion_tokens_details: { reasoning_tokens: thoughts } } : {})
  }
}

// ---------------------------------------------------------------------------------------------
// responses
// ---------------------------------------------------------------------------------------------

/** The id of a function call: its own, or one made for it; the thought signature travels with it. */
export const toolCallId = (call: NonNullable<wire.WirePart["functionCall"]>, signature: string | null | undefined) => {
  const own = call.id != null && call.id !== ""
  return CallId.encode(own ? call.id! : generateId("call_"), own, signature ?? undefined)
}

/** The error of a prompt the API blocked, when it did. */
export const blocked = (
  provider: string,
  model: string,
  response: wire.WireResponse
): ContentFilterError | undefined => {
  const reason = response.promptFeedback?.blockReason
  if (reason == null || reason === "" || reason === "BLOCKED_REASON_UNSPECIFIED") return undefined
  const detail = response.promptFeedback?.blockReasonMessage
  return new ContentFilterError({
    provider,
    model,
    code: reason,
    message: `${provider}: the prompt was blocked (${reason})${detail ? `: ${detail}` : ""}`
  })
}

/** Maps a `generateContent` body. A blocked prompt fails with `ContentFilterError`. */
export const completion = (
  provider: string,
  model: string,
  json: unknown,
  nowSeconds: number
): Either.Either<ChatCompletion, ResponseDecodeError | ContentFilterError> => {
  const decoded = wire.decodeResponse(json)
  if (Either.isLeft(decoded)) {
    return Either.left(decodeError(provider, model, "the response does not match the protocol", decoded.left.message))
  }
  const body = decoded.right
  const candidates = body.candidates ?? []
  if (candidates.length === 0) {
    const filter = blocked(provider, model, body)
    return Either.left(filter ?? decodeError(provider, model, "the response has no candidates", "candidates: []"))
  }
  const choices: Array<ChatCompletionChoice> = candidates.map((candidate, i) => {
    let text = ""
    let reasoning = ""
    const toolCalls: Array<ToolCall> = []
    for (const part of candidate.content?.parts ?? []) {
      const call = part.functionCall
      if (call != null) {
        if (call.name == null || call.name === "") continue
        toolCalls.push({
          id: toolCallId(call, part.thoughtSignature),
          type: "function",
          function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) }
        })
      } else if (part.text != null) {
        if (part.thought === true) reasoning += part.text
        else text += part.text
      }
    }
    return {
      index: candidate.index ?? i,
      message: {
        role: "assistant",
        content: text === "" && toolCalls.length > 0 ? null : text,
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        ...(reasoning !== "" ? { reasoning_content: reasoning } : {})
      },
      finish_reason: finishReason(candidate.finishReason ?? "STOP", toolCalls.length > 0),
      logprobs: null
    }
  })
  return Either.right({
    id: body.responseId || generateId("chatcmpl-"),
    object: "chat.completion",
    created: nowSeconds,
    model: body.modelVersion || model,
    choices,
    ...(body.usageMetadata ? { usage: usage(body.usageMetadata) } : {}),
    provider
  })
}

// ---------------------------------------------------------------------------------------------
// embeddings
// ---------------------------------------------------------------------------------------------

/** Gemini refuses a `batchEmbedContents` of more than 100 requests. */
export const MAX_BATCH = 100

/** The body of one `batchEmbedContents` call; every item repeats the model, `models/`-prefixed. */
export const embedBody = (request: LlmProvider.ResolvedEmbeddingRequest, inputs: ReadonlyArray<string>): Json => {
  const name = `models/${modelPath(request.model)}`
  const extra = request as unknown as Json
  const common: Json = {}
  if (request.dimensions !== undefined) common.outputDimensionality = request.dimensions
  if (typeof extra.taskType === "string") common.taskType = extra.taskType
  if (typeof extra.title === "string") common.title = extra.title
  return { requests: inputs.map((text) => ({ model: name, content: { parts: [{ text }] }, ...common })) }
}

/** The vectors of one batch, which must be one per input. */
export const embedVectors = (
  provider: string,
  model: string,
  json: unknown,
  expected: number
): Either.Either<ReadonlyArray<ReadonlyArray<number>>, ResponseDecodeError> => {
  const decoded = wire.decodeBatchEmbedResponse(json)
  if (Either.isLeft(decoded)) {
    return Either.left(
      decodeError(provider, model, "the embeddings response does not match the protocol", decoded.left.message)
    )
  }
  const embeddings = decoded.right.embeddings
  if (embeddings.length !== expected) {
    return Either.left(
      decodeError(
        provider,
        model,
        "the embeddings response does not match the request",
        `${expected} inputs, ${embeddings.length} embeddings`
      )
    )
  }
  return Either.right(embeddings.map((e) => e.values))
}
