/**
 * A fast check of the requests most calls send: text messages (and replayed tool calls), the common sampling
 * options. It accepts only what the `ChatCompletionRequest` Schema accepts; whatever it is not sure of (content
 * parts, tools, response formats, anything out of range) goes to the Schema, which also words the errors. Decoding
 * with the Schema costs several microseconds per call; this check, a few hundred nanoseconds.
 *
 * Fields it does not know are passed through to the providers, so they must be JSON data (see `jsonData`): a
 * request with anything else goes to the slow path, which says where. A check that throws (an accessor, a Proxy)
 * is the caller's to catch.
 *
 * @internal
 */
import type { ChatCompletionRequest, EmbeddingRequest } from "../Domain.js"
import { isJsonData } from "./jsonData.js"

type Json = Record<string, unknown>

// Not a prototype check (it would cost about 40 ns per object): the values the check reads are typed one by one, and
// the others must be JSON data (`isJsonData` checks prototypes).
const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const optionalString = (u: unknown): boolean => u === undefined || typeof u === "string"
const nullableString = (u: unknown): boolean => u === undefined || u === null || typeof u === "string"
const optionalBoolean = (u: unknown): boolean => u === undefined || typeof u === "boolean"
const nullableBoolean = (u: unknown): boolean => u === undefined || u === null || typeof u === "boolean"
const nullableBetween = (u: unknown, min: number, max: number): boolean =>
  u === undefined || u === null || (typeof u === "number" && u >= min && u <= max)
const nullableInt = (u: unknown, min: number, max: number): boolean =>
  u === undefined || u === null || (Number.isSafeInteger(u) && (u as number) >= min && (u as number) <= max)

// Each object's fields are walked once (`for…in`, over V8's cached keys) in a loop of its own, without a callback:
// the fields the check knows are skipped, the others must be JSON data. This is the hot path.

const hasJsonFunctionExtras = (u: Json): boolean => {
  for (const key in u) {
    if (key === "name" || key === "arguments") continue
    const value = u[key]
    if (value !== undefined && !isJsonData(value, 1)) return false
  }
  return true
}

const hasJsonToolCallExtras = (u: Json): boolean => {
  for (const key in u) {
    if (key === "id" || key === "type" || key === "function") continue
    const value = u[key]
    if (value !== undefined && !isJsonData(value, 1)) return false
  }
  return true
}

const isToolCall = (u: unknown): boolean => {
  if (!isObject(u) || typeof u.id !== "string" || u.type !== "function") return false
  const f = u.function
  return isObject(f) && typeof f.name === "string" && typeof f.arguments === "string" && hasJsonFunctionExtras(f) &&
    hasJsonToolCallExtras(u)
}

const hasJsonMessageExtras = (u: Json): boolean => {
  for (const key in u) {
    switch (key) {
      case "role":
      case "content":
      case "name":
      case "refusal":
      case "reasoning_content":
      case "tool_call_id":
      case "tool_calls":
        continue
    }
    const value = u[key]
    if (value !== undefined && !isJsonData(value, 1)) return false
  }
  return true
}

// A prompt-caching marker is left to the Schema, which checks its shape.
const isPlainMessage = (u: unknown): boolean =>
  isObject(u) && u.cache_control === undefined && isKnownMessage(u) && hasJsonMessageExtras(u)

// The fields `hasJsonMessageExtras` skips are checked here for every role: a field a role does not use must be
// absent (anything else is the Schema's to judge).
const isKnownMessage = (u: Json): boolean => {
  switch (u.role) {
    case "system":
    case "developer":
    case "user":
      return typeof u.content === "string" && optionalString(u.name) && u.tool_calls === undefined &&
        u.tool_call_id === undefined && u.refusal === undefined && u.reasoning_content === undefined
    case "assistant": {
      if (!nullableString(u.content) || !nullableString(u.refusal) || !nullableString(u.reasoning_content)) {
        return false
      }
      if (!optionalString(u.name) || u.tool_call_id !== undefined) return false
      const calls = u.tool_calls
      if (calls === undefined) return true
      if (!Array.isArray(calls)) return false
      for (let i = 0; i < calls.length; i++) {
        if (!isToolCall(calls[i])) return false
      }
      return true
    }
    case "tool":
      return typeof u.content === "string" && typeof u.tool_call_id === "string" && u.tool_call_id.length > 0 &&
        optionalBoolean(u.is_error) && u.name === undefined && u.tool_calls === undefined && u.refusal === undefined &&
        u.reasoning_content === undefined
    default:
      return false
  }
}

const isStop = (u: unknown): boolean => {
  if (u === undefined || u === null || typeof u === "string") return true
  if (!Array.isArray(u)) return false
  for (let i = 0; i < u.length; i++) {
    if (typeof u[i] !== "string") return false
  }
  return true
}

const isStreamOptions = (u: unknown): boolean =>
  u === undefined || u === null ||
  (isObject(u) && optionalBoolean(u.include_usage) && optionalBoolean(u.include_obfuscation) && isJsonData(u, 1))

const hasJsonRequestExtras = (u: Json): boolean => {
  for (const key in u) {
    switch (key) {
      case "model":
      case "messages":
      case "temperature":
      case "top_p":
      case "max_tokens":
      case "max_completion_tokens":
      case "n":
      case "seed":
      case "presence_penalty":
      case "frequency_penalty":
      case "logprobs":
      case "top_logprobs":
      case "parallel_tool_calls":
      case "reasoning_effort":
      case "user":
      case "stop":
      case "stream_options":
        continue
    }
    const value = u[key]
    if (value !== undefined && !isJsonData(value, 1)) return false
  }
  return true
}

/** `true` only for a request the Schema accepts as it is; `false` means "ask the Schema". */
export const isPlainChatRequest = (u: unknown): u is ChatCompletionRequest => {
  if (!isObject(u)) return false
  if (u.model !== undefined && (typeof u.model !== "string" || u.model.length === 0)) return false
  const messages = u.messages
  if (!Array.isArray(messages) || messages.length === 0) return false
  for (let i = 0; i < messages.length; i++) {
    if (!isPlainMessage(messages[i])) return false
  }
  // the fields below are left to the Schema when present
  if (
    u.tools !== undefined || u.tool_choice !== undefined || u.response_format !== undefined ||
    u.logit_bias !== undefined || u.metadata !== undefined
  ) return false
  return nullableBetween(u.temperature, 0, 2) && nullableBetween(u.top_p, 0, 1) &&
    nullableInt(u.max_tokens, 1, Infinity) && nullableInt(u.max_completion_tokens, 1, Infinity) &&
    nullableInt(u.n, 1, Infinity) && nullableInt(u.seed, -Infinity, Infinity) &&
    nullableBetween(u.presence_penalty, -2, 2) && nullableBetween(u.frequency_penalty, -2, 2) &&
    nullableBoolean(u.logprobs) && nullableInt(u.top_logprobs, 0, 20) && optionalBoolean(u.parallel_tool_calls) &&
    nullableString(u.reasoning_effort) && optionalString(u.user) && isStop(u.stop) &&
    isStreamOptions(u.stream_options) &&
    hasJsonRequestExtras(u)
}

const isInput = (u: string): boolean => u.length > 0

const hasJsonEmbeddingExtras = (u: Json): boolean => {
  for (const key in u) {
    switch (key) {
      case "model":
      case "input":
      case "dimensions":
      case "encoding_format":
      case "user":
        continue
    }
    const value = u[key]
    if (value !== undefined && !isJsonData(value, 1)) return false
  }
  return true
}

/** As `isPlainChatRequest`, for embeddings requests. */
export const isPlainEmbeddingRequest = (u: unknown): u is EmbeddingRequest => {
  if (!isObject(u)) return false
  if (u.model !== undefined && (typeof u.model !== "string" || u.model.length === 0)) return false
  const input = u.input
  if (typeof input === "string") {
    if (!isInput(input)) return false
  } else {
    if (!Array.isArray(input) || input.length === 0 || input.length > 2048) return false
    for (let i = 0; i < input.length; i++) {
      const item: unknown = input[i]
      if (typeof item !== "string" || !isInput(item)) return false
    }
  }
  const format = u.encoding_format
  return (u.dimensions === undefined || (Number.isSafeInteger(u.dimensions) && (u.dimensions as number) >= 1)) &&
    (format === undefined || format === "float" || format === "base64") && optionalString(u.user) &&
    hasJsonEmbeddingExtras(u)
}
