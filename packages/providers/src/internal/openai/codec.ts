/**
 * The OpenAI-compatible codec: our request → the wire request, the wire response, stream events and
 * errors → ours. Dialects (DeepSeek, OpenRouter, Zhipu, …) reuse it and declare only what differs.
 *
 * @internal
 */
import type {
  ChatCompletion,
  ChatCompletionMessage,
  EmbeddingResponse,
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
  type LlmError,
  ProviderError,
  QuotaExceededError,
  type ResponseDecodeError
} from "@llm-api-router/core"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
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

const codeToString = (code: string | number | null | undefined): string | undefined =>
  code === null || code === undefined ? undefined : String(code)

/**
 * The facts read from an error body. `status` is set by readers of dialects whose body states the HTTP
 * status it stands for (an error inside a 200); when absent, a code of 400–599 is read as one.
 */
export interface ErrorBody {
  readonly message: string | undefined
  readonly type: string | undefined
  readonly code: string | undefined
  readonly param: string | undefined
  readonly status?: number | undefined
}

/** Reads an error body; a dialect with its own error shape supplies one. */
export type ErrorReader = (json: unknown) => ErrorBody

/**
 * Reads an error body in any of the shapes servers use: `{"error": {...}}`, the inner object bare,
 * `{"error": "text"}`, or text that is not JSON at all (a proxy's HTML page).
 */
export const readErrorBody: ErrorReader = (json) => {
  if (typeof json !== "object" || json === null) {
    return { message: undefined, type: undefined, code: undefined, param: undefined }
  }
  const inner = "error" in json ? (json as { readonly error: unknown }).error : json
  if (typeof inner === "string") return { message: inner, type: undefined, code: undefined, param: undefined }
  const decoded = wire.decodeErrorBody(inner)
  if (Either.isLeft(decoded)) return { message: undefined, type: undefined, code: undefined, param: undefined }
  const body = decoded.right
  return {
    message: body.message ?? undefined,
    type: body.type ?? undefined,
    code: codeToString(body.code),
    param: body.param ?? undefined
  }
}

const contextLengthPattern = /context[ _]length|maximum context|too many tokens|context window/i

/**
 * OpenAI's error table (protocols §2.7). The provider's own code decides first, because a status is
 * ambiguous: a 429 is a rate limit, or (`insufficient_quota`) an empty account that no retry fixes.
 */
export const classifyError = (info: ErrorInfo): LlmError => {
  const code = info.code ?? info.type
  switch (code) {
    case "insufficient_quota":
    case "billing_hard_limit_reached":
    case "billing_not_active":
      return new QuotaExceededError(errorFields(info))
    case "context_length_exceeded":
    case "string_above_max_length":
      return new ContextLengthError(errorFields(info))
    case "content_filter":
    case "content_policy_violation":
      return new ContentFilterError(errorFields(info))
    case "invalid_api_key":
    case "authentication_error":
      return new AuthenticationError(errorFields(info))
    case "rate_limit_exceeded":
      return rateLimited(info)
  }
  const status = info.status
  if (status === undefined) {
    // An error event inside a 200 stream: the type is all there is to go by.
    if (info.type === "invalid_request_error") return invalidRequest(info)
    return new ProviderError(errorFields(info))
  }
  if (status === 400 && contextLengthPattern.test(info.message)) return new ContextLengthError(errorFields(info))
  return fromStatus(info)
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
  model: string | undefined,
  read: ErrorReader = readErrorBody
): LlmError => {
  const parsed = read(response.json)
  const text = response.body.trim()
  const message = parsed.message ??
    (response.json === undefined && text !== ""
      ? `unexpected ${response.status} response: ${snippet(text)}`
      : `HTTP ${response.status} with no error message`)
  return classify({
    provider,
    model,
    status: response.status,
    message,
    type: parsed.type,
    code: parsed.code,
    param: parsed.param,
    requestId: response.requestId,
    body: text === "" ? undefined : truncate(text),
    headers: response.headers
  })
}

/**
 * Maps an error that arrived inside a 200: a body or stream event holding `{"error": …}`. Servers
 * that put an HTTP-like number in `code` mean that status.
 */
export const errorFromEmbedded = (
  classify: (info: ErrorInfo) => LlmError,
  provider: string,
  model: string | undefined,
  json: unknown,
  body: string,
  requestId: string | undefined,
  headers: Readonly<Record<string, string>>,
  read: ErrorReader = readErrorBody
): LlmError => {
  const parsed = read(json)
  const status = parsed.status ?? Number(parsed.code)
  return classify({
    provider,
    model,
    status: Number.isInteger(status) && status >= 400 && status < 600 ? status : undefined,
    message: parsed.message ?? "the response holds an error",
    type: parsed.type,
    code: parsed.code,
    param: parsed.param,
    requestId,
    body: truncate(body),
    headers
  })
}

// ---------------------------------------------------------------------------------------------
// finish reasons and usage
// ---------------------------------------------------------------------------------------------

/**
 * Maps a wire `finish_reason`, then the domain's rule for tool calls (`ChunkContract.finishReason`): a forced
 * tool choice can come back as `stop`, a call cut by the token limit stays `length`.
 */
export const finishReason = (raw: string, calledTools: boolean): FinishReason =>
  ChunkContract.finishReason(wireFinishReason(raw), calledTools)

const wireFinishReason = (raw: string): FinishReason => {
  switch (raw) {
    case "length":
    case "max_tokens":
      return "length"
    case "tool_calls":
    case "function_call":
      return "tool_calls"
    case "content_filter":
    case "sensitive":
      return "content_filter"
    default:
      return "stop"
  }
}

/**
 * A dialect's own finish reasons: a `FinishReason`, an error when the reason means the answer failed
 * (Zhipu `network_error`, OpenRouter `error`), or `undefined` to use {@link finishReason}. Called only on
 * the chunk that finishes, so it may allocate.
 */
export type FinishHook = (
  raw: string,
  context: { readonly provider: string; readonly model: string }
) => FinishReason | LlmError | undefined

/** {@link finishReason} after the dialect's hook; the rule for tool calls applies to a mapped reason too. */
export const mapFinish = (
  hook: FinishHook | undefined,
  raw: string,
  calledTools: boolean,
  provider: string,
  model: string
): FinishReason | LlmError => {
  if (hook !== undefined) {
    const mapped = hook(raw, { provider, model })
    if (mapped !== undefined) {
      return typeof mapped === "string"
        ? ChunkContract.finishReason(mapped, calledTools)
        : mapped
    }
  }
  return finishReason(raw, calledTools)
}

const num = (n: number | null | undefined): number => n ?? 0

/** Normalises usage: missing counts become 0, `null` details are dropped; nothing is recomputed. */
export const usage = (u: wire.WireUsage): Usage => {
  const prompt = num(u.prompt_tokens)
  const completion = num(u.completion_tokens)
  const out: {
    prompt_tokens: number
    completion_tokens: number
    total_tokens: number
    prompt_tokens_details?: Usage["prompt_tokens_details"]
    completion_tokens_details?: Usage["completion_tokens_details"]
  } = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: u.total_tokens ?? prompt + completion
  }
  const pd = u.prompt_tokens_details
  if (pd) {
    out.prompt_tokens_details = {
      ...(pd.cached_tokens != null ? { cached_tokens: pd.cached_tokens } : {}),
      ...(pd.audio_tokens != null ? { audio_tokens: pd.audio_tokens } : {})
    }
  }
  const cd = u.completion_tokens_details
  if (cd) {
    out.completion_tokens_details = {
      ...(cd.reasoning_tokens != null ? { reasoning_tokens: cd.reasoning_tokens } : {}),
      ...(cd.audio_tokens != null ? { audio_tokens: cd.audio_tokens } : {}),
      ...(cd.accepted_prediction_tokens != null ? { accepted_prediction_tokens: cd.accepted_prediction_tokens } : {}),
      ...(cd.rejected_prediction_tokens != null ? { rejected_prediction_tokens: cd.rejected_prediction_tokens } : {})
    }
  }
  return out
}

/** Tool-call arguments as text: some servers send them as an object. */
export const argumentsText = (args: string | Readonly<Record<string, unknown>> | null | undefined): string =>
  args === null || args === undefined ? "" : typeof args === "string" ? args : JSON.stringify(args)

// ---------------------------------------------------------------------------------------------
// request
// ---------------------------------------------------------------------------------------------

/**
 * The wire body of a chat request. Our request already has OpenAI's shape; what changes is the
 * stream flag, usage always being asked for, and tool-call arguments that some servers reject when
 * empty.
 */
export const chatBody = (
  request: LlmProvider.ResolvedChatRequest,
  stream: boolean
): Record<string, unknown> => {
  const body: Record<string, unknown> = { ...request, messages: request.messages.map(replayableMessage) }
  if (stream) {
    body.stream = true
    body.stream_options = { ...request.stream_options, include_usage: true }
  } else {
    delete body.stream_options
  }
  return body
}

const replayableMessage = <M extends LlmProvider.ResolvedChatRequest["messages"][number]>(message: M): M => {
  if (message.role === "tool" && message.is_error !== undefined) {
    // Anthropic's flag, which OpenAI does not know: the content says the call failed.
    const { is_error: _, ...rest } = message
    return rest as M
  }
  if (message.role !== "assistant" || message.tool_calls === undefined) return message
  if (!message.tool_calls.some((call) => call.function.arguments === "")) return message
  return {
    ...message,
    tool_calls: message.tool_calls.map((call) =>
      call.function.arguments === "" ? { ...call, function: { ...call.function, arguments: "{}" } } : call
    )
  }
}

/** The wire body of an embeddings request: base64 unless the caller chose, 4 times fewer bytes. */
export const embeddingBody = (request: LlmProvider.ResolvedEmbeddingRequest): Record<string, unknown> => ({
  ...request,
  encoding_format: request.encoding_format ?? "base64"
})

/**
 * For servers that may not know `encoding_format: "base64"`: the default is dropped (they answer floats,
 * which decode the same), a format the caller chose is kept.
 */
export const withoutDefaultEncoding = (
  body: Record<string, unknown>,
  request: LlmProvider.ResolvedEmbeddingRequest
): Record<string, unknown> => {
  if (request.encoding_format === undefined) delete body.encoding_format
  return body
}

// ---------------------------------------------------------------------------------------------
// non-streaming response
// ---------------------------------------------------------------------------------------------

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

/** A decoded response body that turned out to be an error inside a 200 (some servers do that). */
export const embeddedError = (json: unknown): boolean =>
  typeof json === "object" && json !== null && "error" in json && (json as { error: unknown }).error != null

/** Maps a `chat.completion` body. */
export const completion = (
  provider: string,
  model: string,
  json: unknown,
  nowSeconds: number,
  finishHook?: FinishHook
): Either.Either<ChatCompletion, LlmError> => {
  const decoded = wire.decodeChatCompletion(json)
  if (Either.isLeft(decoded)) {
    return Either.left(
      decodeError(provider, model, "the chat completion does not match the protocol", decoded.left.message)
    )
  }
  const body = decoded.right
  if (body.choices.length === 0) {
    return Either.left(decodeError(provider, model, "the chat completion has no choices", "choices: []"))
  }
  const choices: Array<ChatCompletion["choices"][number]> = []
  for (let i = 0; i < body.choices.length; i++) {
    const choice = body.choices[i]!
    const m = choice.message
    const calls = toolCalls(m.tool_calls)
    const reasoning = m.reasoning_content ?? m.reasoning
    const message: ChatCompletionMessage = {
      role: "assistant",
      content: ChunkContract.assistantContent(m.content, calls !== undefined),
      ...(m.refusal != null ? { refusal: m.refusal } : {}),
      ...(calls ? { tool_calls: calls } : {}),
      ...(reasoning != null && reasoning !== "" ? { reasoning_content: reasoning } : {})
    }
    const finish = mapFinish(
      finishHook,
      choice.finish_reason ?? "stop",
      calls !== undefined,
      provider,
      body.model || model
    )
    if (typeof finish !== "string") return Either.left(finish)
    choices.push({ index: choice.index ?? i, message, finish_reason: finish, logprobs: choice.logprobs ?? null })
  }
  return Either.right({
    id: body.id || generateId("chatcmpl-"),
    object: "chat.completion",
    created: body.created ?? nowSeconds,
    model: body.model || model,
    choices,
    ...(body.usage ? { usage: usage(body.usage) } : {}),
    ...(body.system_fingerprint != null ? { system_fingerprint: body.system_fingerprint } : {}),
    ...(body.service_tier != null ? { service_tier: body.service_tier } : {}),
    provider
  })
}

// ---------------------------------------------------------------------------------------------
// embeddings
// ---------------------------------------------------------------------------------------------

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/** Decodes a base64 embedding: IEEE-754 float32, little-endian, 4 bytes per dimension. */
export const decodeBase64Embedding = (text: string): Option.Option<Array<number>> => {
  const bytes = Buffer.from(text, "base64")
  if (bytes.length % 4 !== 0) return Option.none()
  const n = bytes.length / 4
  const out = new Array<number>(n)
  if (littleEndian) {
    const floats = new Float32Array(n)
    new Uint8Array(floats.buffer).set(bytes)
    for (let i = 0; i < n; i++) out[i] = floats[i]!
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true)
  }
  return Option.some(out)
}

/** Maps an embeddings body; vectors come back as numbers, in input order. */
export const embeddings = (
  provider: string,
  model: string,
  json: unknown
): Either.Either<EmbeddingResponse, ResponseDecodeError> => {
  const decoded = wire.decodeEmbeddingResponse(json)
  if (Either.isLeft(decoded)) {
    return Either.left(
      decodeError(provider, model, "the embeddings response does not match the protocol", decoded.left.message)
    )
  }
  const body = decoded.right
  const data: Array<EmbeddingResponse["data"][number]> = []
  for (let i = 0; i < body.data.length; i++) {
    const item = body.data[i]!
    let vector: ReadonlyArray<number>
    if (typeof item.embedding === "string") {
      const floats = decodeBase64Embedding(item.embedding)
      if (Option.isNone(floats)) {
        return Either.left(
          decodeError(provider, model, "a base64 embedding is not whole float32 values", `data[${i}].embedding`)
        )
      }
      vector = floats.value
    } else {
      vector = item.embedding
    }
    data.push({ object: "embedding", index: item.index ?? i, embedding: vector })
  }
  data.sort((a, b) => a.index - b.index)
  const prompt = body.usage?.prompt_tokens ?? 0
  return Either.right({
    object: "list",
    data,
    model: body.model || model,
    usage: { prompt_tokens: prompt, total_tokens: body.usage?.total_tokens ?? prompt },
    provider
  })
}
