/**
 * The Anthropic Messages codec: our OpenAI-shaped request → a Messages request, a Messages response,
 * stream events and errors → ours (protocols/anthropic-gemini-zhipu-dashscope.md §2).
 *
 * @internal
 */
import type {
  ChatCompletion,
  ChatCompletionMessage,
  ChatMessage,
  FinishReason,
  LlmProvider,
  ToolCall,
  Usage
} from "@llm-api-router/core"
import {
  AuthenticationError,
  ChunkContract,
  ContextLengthError,
  InvalidRequestError,
  Json,
  type LlmError,
  PermissionDeniedError,
  ProviderError,
  QuotaExceededError,
  UnsupportedFeatureError
} from "@llm-api-router/core"
import * as Either from "effect/Either"
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
  /prompt is too long|exceeds? (?:the )?context (?:limit|window)|context window|context length|too many tokens/i
const quotaPattern = /credit balance|spend(?:ing)? limit|billing/i

/**
 * Anthropic's error table (protocols §2.5). The `error.type` decides first, as it is the same in a
 * non-2xx body and in an `event: error` inside a 200 stream; the status decides for bodies that are
 * not Anthropic's (a proxy's page, Cloudflare's 413).
 */
export const classifyError = (info: ErrorInfo): LlmError => {
  switch (info.type) {
    case "authentication_error":
      return new AuthenticationError(errorFields(info))
    case "permission_error":
      return new PermissionDeniedError(errorFields(info))
    case "billing_error":
      return new QuotaExceededError(errorFields(info))
    case "not_found_error":
    case "request_too_large":
      return invalidRequest(info)
    case "rate_limit_error":
      // a spend limit is reported as a rate limit too, but no wait lifts it
      return quotaPattern.test(info.message) ? new QuotaExceededError(errorFields(info)) : rateLimited(info)
    case "invalid_request_error":
      if (contextLengthPattern.test(info.message)) return new ContextLengthError(errorFields(info))
      if (quotaPattern.test(info.message)) return new QuotaExceededError(errorFields(info))
      return invalidRequest(info)
    case "api_error":
    case "overloaded_error":
    case "timeout_error":
      return new ProviderError(errorFields(info))
  }
  return fromStatus(info)
}

const readErrorBody = (json: unknown): {
  readonly type: string | undefined
  readonly message: string | undefined
  readonly requestId: string | undefined
} => {
  const decoded = wire.decodeErrorBody(json)
  if (Either.isLeft(decoded)) return { type: undefined, message: undefined, requestId: undefined }
  const body = decoded.right
  return {
    type: body.error.type ?? undefined,
    message: body.error.message ?? undefined,
    requestId: body.request_id ?? undefined
  }
}

/** Maps a non-2xx HTTP response to our error. */
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
  const parsed = readErrorBody(response.json)
  const text = response.body.trim()
  const message = parsed.message ??
    (text !== ""
      ? `unexpected ${response.status} response: ${snippet(text)}`
      : `HTTP ${response.status}`)
  return classifyError({
    provider,
    model,
    status: response.status,
    message,
    type: parsed.type,
    code: parsed.type,
    param: undefined,
    requestId: response.requestId ?? parsed.requestId,
    body: text === "" ? undefined : truncate(text),
    headers: response.headers
  })
}

/** Maps an error that arrived with a 200: an `event: error` in a stream, or a body of type `error`. */
export const errorFromEmbedded = (
  provider: string,
  model: string | undefined,
  json: unknown,
  body: string,
  requestId: string | undefined
): LlmError => {
  const parsed = readErrorBody(json)
  return classifyError({
    provider,
    model,
    status: undefined,
    message: parsed.message ?? "the response holds an error",
    type: parsed.type,
    code: parsed.type,
    param: undefined,
    requestId: requestId ?? parsed.requestId,
    body: truncate(body),
    headers: {}
  })
}

const isErrorBody = (json: unknown): boolean =>
  typeof json === "object" && json !== null && (json as { type?: unknown }).type === "error"

// ---------------------------------------------------------------------------------------------
// finish reasons and usage
// ---------------------------------------------------------------------------------------------

/**
 * Maps a `stop_reason` (protocols §2.7). `pause_turn` (a server tool paused a long turn; sending the
 * assistant content back continues it) becomes `length`: like a cut answer, the turn is unfinished and
 * is continued the same way, whereas `stop` would tell the caller the answer is complete.
 * Then the domain's rule for tool calls (`ChunkContract.finishReason`): `tool_calls` over `stop` only, so a
 * call cut short by `max_tokens` is `length`.
 */
export const finishReason = (stopReason: string | null | undefined, calledTools: boolean): FinishReason =>
  ChunkContract.finishReason(stopReasonOf(stopReason), calledTools)

/** A `stop_reason` mapped to ours, before the rule for tool calls. */
export const stopReasonOf = (stopReason: string | null | undefined): FinishReason => {
  switch (stopReason) {
    case "max_tokens":
    case "model_context_window_exceeded":
    case "pause_turn":
      return "length"
    case "refusal":
      return "content_filter"
    default:
      return "stop"
  }
}

/** Usage counts as they stand, merged from `message_start` and every `message_delta`. */
export interface UsageCounts {
  input: number
  output: number
  cacheCreation: number | undefined
  cacheRead: number | undefined
  thinking: number | undefined
}

export const emptyCounts = (): UsageCounts => ({
  input: 0,
  output: 0,
  cacheCreation: undefined,
  cacheRead: undefined,
  thinking: undefined
})

/** Overwrites the counts `u` carries: streamed usage is cumulative, never added up. */
export const mergeUsage = (counts: UsageCounts, u: wire.WireUsage): void => {
  if (u.input_tokens != null) counts.input = u.input_tokens
  if (u.output_tokens != null) counts.output = u.output_tokens
  if (u.cache_creation_input_tokens != null) counts.cacheCreation = u.cache_creation_input_tokens
  if (u.cache_read_input_tokens != null) counts.cacheRead = u.cache_read_input_tokens
  const thinking = u.output_tokens_details?.thinking_tokens
  if (thinking != null) counts.thinking = thinking
}

/** `input_tokens` leaves out cached tokens: the prompt is all three counts. */
export const toUsage = (counts: UsageCounts): Usage => {
  const prompt = counts.input + (counts.cacheCreation ?? 0) + (counts.cacheRead ?? 0)
  return {
    prompt_tokens: prompt,
    completion_tokens: counts.output,
    total_tokens: prompt + counts.output,
    ...(counts.cacheRead !== undefined || counts.cacheCreation !== undefined
      ? { prompt_tokens_details: { cached_tokens: counts.cacheRead ?? 0 } }
      : {}),
    ...(counts.thinking !== undefined ? { completion_tokens_details: { reasoning_tokens: counts.thinking } } : {})
  }
}

/** Maps a wire usage object on its own. */
export const usage = (u: wire.WireUsage): Usage => {
  const counts = emptyCounts()
  mergeUsage(counts, u)
  return toUsage(counts)
}

// ---------------------------------------------------------------------------------------------
// request
// ---------------------------------------------------------------------------------------------

/**
 * The name of the tool that carries a `response_format` answer: the model is made to call it, and
 * its input comes back as the message's text.
 */
export const JSON_TOOL = "json"

/** The thinking budgets `reasoning_effort` maps to (`"none"` turns thinking off). */
export const thinkingBudgets: Readonly<Record<string, number>> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384
}

/**
 * A thinking block as it is replayed in a tool loop, signature included. Responses carry them on
 * `message.thinking_blocks` (and a stream on `delta.thinking_blocks`, one complete block per chunk);
 * an assistant message sent back with them has them put back before its text, unchanged.
 */
export type ThinkingBlock =
  | { readonly type: "thinking"; readonly thinking: string; readonly signature: string }
  | { readonly type: "redacted_thinking"; readonly data: string }

/** What the request translation needs beyond the request. */
export interface BodyOptions {
  readonly provider: string
  readonly defaultMaxTokens: number
}

/** The translated request, and whether its answer comes back through {@link JSON_TOOL}. */
export interface Body {
  readonly body: Record<string, unknown>
  readonly structured: boolean
}

type Block = Record<string, unknown>

interface Turn {
  readonly role: "user" | "assistant"
  /** user: the tool results, which must open the turn; assistant: the thinking blocks, which must too */
  readonly first: Array<Block>
  /** user: everything else; assistant: the text */
  readonly middle: Array<Block>
  /** assistant: the tool calls, which go after the text */
  readonly last: Array<Block>
  /** the index of the first message in the turn, to name it in errors */
  readonly message: number
}

/** Thrown inside the translation (deep in loops over messages and parts), caught once in `chatBody`. */
class RequestError {
  constructor(readonly error: LlmError) {}
}

const invalid = (provider: string, param: string, message: string): RequestError =>
  new RequestError(
    new InvalidRequestError({ provider, source: "client", param, message: `invalid request: ${param}: ${message}` })
  )

const unsupported = (provider: string, model: string, feature: string, message: string): RequestError =>
  new RequestError(
    new UnsupportedFeatureError({ provider, model, feature, message: `${provider} does not support ${message}` })
  )

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Prompt caching: a `cache_control` on a content part stays on the block made from it; on a message (or a tool) it
 * goes on the message's last block (the tool's definition), as Anthropic's own SDK reads it.
 */
const cached = (block: Block, source: unknown): Block => {
  const control = isRecord(source) ? source.cache_control : undefined
  return isRecord(control) ? { ...block, cache_control: control } : block
}

/** Puts a message's own `cache_control` on the last of its blocks. */
const markLast = (blocks: Array<Block>, message: unknown): void => {
  if (blocks.length > 0) blocks[blocks.length - 1] = cached(blocks[blocks.length - 1]!, message)
}

const textBlocks = (content: string | ReadonlyArray<{ readonly type: string; readonly text?: string }>) => {
  const out: Array<Block> = []
  if (typeof content === "string") {
    if (content !== "") out.push({ type: "text", text: content })
    return out
  }
  for (const part of content) {
    if (part.type === "text" && part.text !== undefined && part.text !== "") {
      out.push(cached({ type: "text", text: part.text }, part))
    }
  }
  return out
}

const BASE64_SUFFIX = ";base64"

/** `data:image/png;base64,…` → a base64 source; an http(s) URL → a url source. */
const mediaSource = (provider: string, url: string, param: string): Block => {
  if (url.startsWith("data:")) {
    const comma = url.indexOf(",")
    const meta = comma < 0 ? "" : url.slice(5, comma)
    if (!meta.endsWith(BASE64_SUFFIX)) {
      throw invalid(provider, param, "a data URL must be base64 (data:<media type>;base64,<data>)")
    }
    const semicolon = meta.indexOf(";")
    return { type: "base64", media_type: meta.slice(0, semicolon), data: url.slice(comma + 1) }
  }
  if (url.startsWith("https://") || url.startsWith("http://")) return { type: "url", url }
  throw invalid(provider, param, "an image must be an http(s) URL or a base64 data URL")
}

const userBlocks = (
  provider: string,
  model: string,
  content: Extract<ChatMessage, { role: "user" }>["content"],
  at: string
): Array<Block> => {
  if (typeof content === "string") return textBlocks(content)
  const out: Array<Block> = []
  for (let i = 0; i < content.length; i++) {
    const part = content[i]!
    switch (part.type) {
      case "text":
        if (part.text !== "") out.push(cached({ type: "text", text: part.text }, part))
        break
      case "image_url":
        out.push(cached({
          type: "image",
          source: mediaSource(provider, part.image_url.url, `${at}.content[${i}].image_url.url`)
        }, part))
        break
      case "file": {
        const param = `${at}.content[${i}].file`
        if (part.file.file_data !== undefined) {
          out.push(
            cached({ type: "document", source: mediaSource(provider, part.file.file_data, `${param}.file_data`) }, part)
          )
        } else if (part.file.file_id !== undefined) {
          out.push(cached({ type: "document", source: { type: "file", file_id: part.file.file_id } }, part))
        } else {
          throw invalid(provider, param, "a file part needs file_data or file_id")
        }
        break
      }
      case "input_audio":
        throw unsupported(provider, model, "audio", "audio input")
    }
  }
  return out
}

const toolUse = (provider: string, call: ToolCall, param: string): Block => {
  const text = call.function.arguments
  let input: unknown = {}
  if (text.trim() !== "") {
    const parsed = Json.parse(text)
    if (Either.isLeft(parsed)) throw invalid(provider, param, `the arguments are ${Json.describe(parsed.left)}`)
    input = parsed.right
  }
  if (!isRecord(input)) throw invalid(provider, param, "the arguments must be a JSON object")
  return { type: "tool_use", id: call.id, name: call.function.name, input }
}

const replayedThinking = (provider: string, blocks: unknown, param: string): Array<Block> => {
  if (blocks === undefined || blocks === null) return []
  if (!Array.isArray(blocks)) throw invalid(provider, param, "expected an array of thinking blocks")
  return blocks.map((block, i): Block => {
    if (isRecord(block)) {
      if (block.type === "thinking" && typeof block.thinking === "string" && typeof block.signature === "string") {
        return { type: "thinking", thinking: block.thinking, signature: block.signature }
      }
      if (block.type === "redacted_thinking" && typeof block.data === "string") {
        return { type: "redacted_thinking", data: block.data }
      }
    }
    throw invalid(
      provider,
      `${param}[${i}]`,
      "expected {type: \"thinking\", thinking, signature} or {type: \"redacted_thinking\", data}"
    )
  })
}

const turnContent = (turn: Turn): string | Array<Block> => {
  const blocks = [...turn.first, ...turn.middle, ...turn.last]
  const only = blocks.length === 1 ? blocks[0]! : undefined
  return only !== undefined && only.type === "text" && only.cache_control === undefined ? only.text as string : blocks
}

const messagesOf = (
  provider: string,
  request: LlmProvider.ResolvedChatRequest
): { readonly system: Array<Block>; readonly turns: Array<Turn> } => {
  const system: Array<Block> = []
  const turns: Array<Turn> = []
  const turnFor = (role: "user" | "assistant", message: number): Turn => {
    const previous = turns[turns.length - 1]
    if (previous !== undefined && previous.role === role) return previous
    const turn: Turn = { role, first: [], middle: [], last: [], message }
    turns.push(turn)
    return turn
  }
  const messages = request.messages
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!
    const at = `messages[${i}]`
    switch (message.role) {
      case "system":
      case "developer": {
        // System prompts stay blocks, so that a cache_control on them reaches the wire.
        const blocks = textBlocks(message.content)
        markLast(blocks, message)
        system.push(...blocks)
        break
      }
      case "user": {
        const blocks = userBlocks(provider, request.model, message.content, at)
        if (blocks.length === 0) throw invalid(provider, `${at}.content`, "a user message must not be empty")
        markLast(blocks, message)
        turnFor("user", i).middle.push(...blocks)
        break
      }
      case "tool": {
        const texts = textBlocks(message.content)
        const result: Block = { type: "tool_result", tool_use_id: message.tool_call_id }
        if (typeof message.content === "string") {
          if (message.content !== "") result.content = message.content
        } else if (texts.length > 0) {
          result.content = texts
        }
        if (message.is_error === true) result.is_error = true
        turnFor("user", i).first.push(cached(result, message))
        break
      }
      case "assistant": {
        const thinking = replayedThinking(
          provider,
          (message as { readonly thinking_blocks?: unknown }).thinking_blocks,
          `${at}.thinking_blocks`
        )
        const content = message.content
        const texts: Array<Block> = []
        if (typeof content === "string") {
          if (content !== "") texts.push({ type: "text", text: content })
        } else if (content != null) {
          for (const part of content) {
            if (part.type === "text" && part.text !== "") texts.push({ type: "text", text: part.text })
          }
        }
        const calls = (message.tool_calls ?? []).map((call, j) =>
          toolUse(provider, call, `${at}.tool_calls[${j}].function.arguments`)
        )
        // nothing to replay (an empty answer): an empty assistant turn would be refused
        if (thinking.length === 0 && texts.length === 0 && calls.length === 0) break
        markLast(calls.length > 0 ? calls : texts, message)
        const turn = turnFor("assistant", i)
        turn.first.push(...thinking)
        turn.middle.push(...texts)
        turn.last.push(...calls)
        break
      }
    }
  }
  // A final assistant turn is a prefill, which the API refuses when it ends in whitespace.
  const final = turns[turns.length - 1]
  if (final !== undefined && final.role === "assistant" && final.last.length === 0) {
    const lastText = final.middle[final.middle.length - 1]
    if (lastText !== undefined) {
      const trimmed = (lastText.text as string).trimEnd()
      if (trimmed === "") final.middle.pop()
      else final.middle[final.middle.length - 1] = { ...lastText, text: trimmed }
      if (final.first.length + final.middle.length === 0) turns.pop()
    }
  }
  return { system, turns }
}

const toolChoiceOf = (
  request: LlmProvider.ResolvedChatRequest,
  hasUserTools: boolean,
  structured: boolean
): Record<string, unknown> | undefined => {
  const choice = request.tool_choice
  let out: Record<string, unknown> | undefined
  if (structured) {
    // The answer must come through the JSON tool, or through a tool of the caller's when the model may call one.
    if (typeof choice === "object") out = { type: "tool", name: choice.function.name }
    else if (!hasUserTools || choice === "none") out = { type: "tool", name: JSON_TOOL }
    else out = { type: "any" }
  } else if (!hasUserTools) {
    return undefined
  } else if (choice === undefined) {
    out = undefined
  } else if (typeof choice === "object") {
    out = { type: "tool", name: choice.function.name }
  } else {
    out = { type: choice === "required" ? "any" : choice }
  }
  if (request.parallel_tool_calls === false && (out === undefined || out.type !== "none")) {
    out = { ...(out ?? { type: "auto" }), disable_parallel_tool_use: true }
  }
  return out
}

const thinkingOf = (
  provider: string,
  request: LlmProvider.ResolvedChatRequest,
  requested: number | undefined,
  defaultMaxTokens: number
): { readonly thinking: unknown; readonly maxTokens: number } => {
  const native = (request as { readonly thinking?: unknown }).thinking
  if (native !== undefined && native !== null) return { thinking: native, maxTokens: requested ?? defaultMaxTokens }
  const effort = request.reasoning_effort
  if (effort === undefined || effort === null || effort === "none") {
    return { thinking: undefined, maxTokens: requested ?? defaultMaxTokens }
  }
  const budget = thinkingBudgets[effort]
  if (budget === undefined) {
    throw invalid(
      provider,
      "reasoning_effort",
      `expected one of none, ${Object.keys(thinkingBudgets).join(", ")}, got ${JSON.stringify(effort)}`
    )
  }
  // Anthropic counts thinking inside max_tokens, as OpenAI counts reasoning inside max_completion_tokens.
  if (requested === undefined) {
    return { thinking: { type: "enabled", budget_tokens: budget }, maxTokens: defaultMaxTokens + budget }
  }
  if (requested <= thinkingBudgets.minimal!) {
    throw invalid(provider, "max_tokens", `thinking needs more than ${thinkingBudgets.minimal} tokens`)
  }
  return { thinking: { type: "enabled", budget_tokens: Math.min(budget, requested - 1) }, maxTokens: requested }
}

/**
 * The wire body of a chat request, or the error that stops it before any I/O: tool-call arguments
 * that are not a JSON object, an image that is neither a URL nor a base64 data URL, `n > 1`.
 */
export const chatBody = (
  options: BodyOptions,
  request: LlmProvider.ResolvedChatRequest,
  stream: boolean
): Either.Either<Body, LlmError> => {
  const provider = options.provider
  try {
    if (request.n != null && request.n > 1) {
      throw unsupported(provider, request.model, "n", "more than one choice (n > 1)")
    }
    if (request.logprobs === true) throw unsupported(provider, request.model, "logprobs", "logprobs")
    const { system, turns } = messagesOf(provider, request)
    if (turns.length === 0) throw invalid(provider, "messages", "there is no user or assistant message to send")

    const format = request.response_format
    const structured = format !== undefined && format.type !== "text"
    const userTools = request.tools ?? []
    const tools: Array<Block> = userTools.map((tool) =>
      cached({
        name: tool.function.name,
        ...(tool.function.description !== undefined ? { description: tool.function.description } : {}),
        input_schema: tool.function.parameters ?? { type: "object", properties: {} }
      }, tool)
    )
    if (structured) {
      if (userTools.some((tool) => tool.function.name === JSON_TOOL)) {
        throw invalid(provider, "tools", `a tool named "${JSON_TOOL}" cannot be combined with response_format`)
      }
      const schema = format.type === "json_schema" ? format.json_schema.schema : undefined
      const description = format.type === "json_schema" ? format.json_schema.description : undefined
      tools.push({
        name: JSON_TOOL,
        description: description ?? "Respond with a JSON object.",
        input_schema: schema ?? { type: "object" }
      })
    }

    const requested = request.max_completion_tokens ?? request.max_tokens ?? undefined
    const { maxTokens, thinking } = thinkingOf(provider, request, requested, options.defaultMaxTokens)

    const body: Record<string, unknown> = {
      model: request.model,
      max_tokens: maxTokens,
      messages: turns.map((turn) => ({ role: turn.role, content: turnContent(turn) }))
    }
    const onlySystem = system.length === 1 ? system[0]! : undefined
    if (onlySystem !== undefined && onlySystem.cache_control === undefined) body.system = onlySystem.text
    else if (system.length > 0) body.system = system
    if (tools.length > 0) body.tools = tools
    const toolChoice = toolChoiceOf(request, userTools.length > 0, structured)
    if (toolChoice !== undefined && tools.length > 0) body.tool_choice = toolChoice
    const stop = request.stop
    if (typeof stop === "string") body.stop_sequences = [stop]
    else if (stop != null && stop.length > 0) body.stop_sequences = stop
    // OpenAI's range is 0–2, Anthropic's 0–1: above 1 is as random as Anthropic goes.
    if (request.temperature != null) body.temperature = Math.min(request.temperature, 1)
    if (request.top_p != null) body.top_p = request.top_p
    const topK = (request as { readonly top_k?: unknown }).top_k
    if (typeof topK === "number") body.top_k = topK
    if (thinking !== undefined) body.thinking = thinking
    if (request.user !== undefined) body.metadata = { user_id: request.user }
    if (stream) body.stream = true
    return Either.right({ body, structured })
  } catch (e) {
    if (e instanceof RequestError) return Either.left(e.error)
    throw e
  }
}

// ---------------------------------------------------------------------------------------------
// non-streaming response
// ---------------------------------------------------------------------------------------------

/** Maps a Messages response body. */
export const completion = (
  provider: string,
  model: string,
  json: unknown,
  nowSeconds: number,
  structured: boolean,
  requestId: string | undefined
): Either.Either<ChatCompletion, LlmError> => {
  if (isErrorBody(json)) return Either.left(errorFromEmbedded(provider, model, json, JSON.stringify(json), requestId))
  const decoded = wire.decodeMessage(json)
  if (Either.isLeft(decoded)) {
    return Either.left(decodeError(provider, model, "the message does not match the protocol", decoded.left.message))
  }
  const body = decoded.right
  if (!Array.isArray(body.content)) {
    return Either.left(decodeError(provider, model, "the message has no content", "content is missing"))
  }
  let text: string | undefined
  let reasoning: string | undefined
  const calls: Array<ToolCall> = []
  const thinkingBlocks: Array<ThinkingBlock> = []
  for (const block of body.content) {
    switch (block.type) {
      case "text":
        if (block.text != null) text = (text ?? "") + block.text
        break
      case "thinking":
        if (block.thinking != null) reasoning = (reasoning ?? "") + block.thinking
        thinkingBlocks.push({ type: "thinking", thinking: block.thinking ?? "", signature: block.signature ?? "" })
        break
      case "redacted_thinking":
        thinkingBlocks.push({ type: "redacted_thinking", data: block.data ?? "" })
        break
      case "tool_use": {
        const args = JSON.stringify(block.input ?? {})
        if (structured && block.name === JSON_TOOL) {
          text = (text ?? "") + args
          break
        }
        calls.push({
          id: block.id || generateId("toolu_"),
          type: "function",
          function: { name: block.name ?? "", arguments: args }
        })
        break
      }
    }
  }
  const message: ChatCompletionMessage & { thinking_blocks?: ReadonlyArray<ThinkingBlock> } = {
    role: "assistant",
    content: text ?? null,
    ...(calls.length > 0 ? { tool_calls: calls } : {}),
    ...(reasoning !== undefined && reasoning !== "" ? { reasoning_content: reasoning } : {}),
    ...(thinkingBlocks.length > 0 ? { thinking_blocks: thinkingBlocks } : {})
  }
  return Either.right({
    id: body.id || generateId("msg_"),
    object: "chat.completion",
    created: nowSeconds,
    model: body.model || model,
    choices: [{
      index: 0,
      message,
      finish_reason: finishReason(body.stop_reason, calls.length > 0),
      logprobs: null
    }],
    usage: usage(body.usage ?? {}),
    provider
  })
}
