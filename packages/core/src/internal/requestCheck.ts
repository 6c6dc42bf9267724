/**
 * A fast check of the requests most calls send: text messages (and replayed tool calls), the common sampling
 * options. It accepts only what the `ChatCompletionRequest` Schema accepts; whatever it is not sure of (content
 * parts, tools, response formats, anything out of range) goes to the Schema, which also words the errors. Decoding
 * with the Schema costs several microseconds per call; this check, a few hundred nanoseconds.
 *
 * @internal
 */
import type { ChatCompletionRequest } from "../Domain.js"

type Json = Record<string, unknown>

const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const optionalString = (u: unknown): boolean => u === undefined || typeof u === "string"
const nullableString = (u: unknown): boolean => u === undefined || u === null || typeof u === "string"
const optionalBoolean = (u: unknown): boolean => u === undefined || typeof u === "boolean"
const nullableBoolean = (u: unknown): boolean => u === undefined || u === null || typeof u === "boolean"
const nullableBetween = (u: unknown, min: number, max: number): boolean =>
  u === undefined || u === null || (typeof u === "number" && u >= min && u <= max)
const nullableInt = (u: unknown, min: number, max: number): boolean =>
  u === undefined || u === null || (Number.isSafeInteger(u) && (u as number) >= min && (u as number) <= max)

const isToolCall = (u: unknown): boolean => {
  if (!isObject(u) || typeof u.id !== "string" || u.type !== "function") return false
  const f = u.function
  return isObject(f) && typeof f.name === "string" && typeof f.arguments === "string"
}

const isPlainMessage = (u: unknown): boolean => {
  // A prompt-caching marker is left to the Schema, which checks its shape.
  if (!isObject(u) || u.cache_control !== undefined) return false
  switch (u.role) {
    case "system":
    case "developer":
    case "user":
      return typeof u.content === "string" && optionalString(u.name)
    case "assistant": {
      if (!nullableString(u.content) || !nullableString(u.refusal) || !nullableString(u.reasoning_content)) {
        return false
      }
      if (!optionalString(u.name)) return false
      const calls = u.tool_calls
      if (calls === undefined) return true
      if (!Array.isArray(calls)) return false
      for (let i = 0; i < calls.length; i++) {
        if (!isToolCall(calls[i])) return false
      }
      return true
    }
    case "tool":
      return typeof u.content === "string" && typeof u.tool_call_id === "string" && u.tool_call_id.length > 0
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
  (isObject(u) && optionalBoolean(u.include_usage) && optionalBoolean(u.include_obfuscation))

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
    nullableString(u.reasoning_effort) && optionalString(u.user) && isStop(u.stop) && isStreamOptions(u.stream_options)
}
