/**
 * Our completions and chunks as `@effect/ai`'s response parts.
 *
 * @internal
 */
import * as AiError from "@effect/ai/AiError"
import type * as Response from "@effect/ai/Response"
import type { ChatCompletion, ChatCompletionChunk, FinishReason, ToolCall, Usage } from "@llm-api-router/core"
import { Json } from "@llm-api-router/core"
import * as Either from "effect/Either"
import { module } from "../ErrorMapping.js"
import { replayFieldsOf, type ReplayMemo } from "./replay.js"
import type { Structured } from "./request.js"

/** The key of our entries in `@effect/ai`'s provider metadata. */
export const metadataKey = "llm-api-router"

export const finishReasonOf = (reason: FinishReason | null | undefined): Response.FinishReason => {
  switch (reason) {
    case "stop":
      return "stop"
    case "length":
      return "length"
    case "tool_calls":
      return "tool-calls"
    case "content_filter":
      return "content-filter"
    default:
      return "unknown"
  }
}

export const usageOf = (usage: Usage | null | undefined): typeof Response.Usage.Encoded => {
  if (usage == null) {
    return { inputTokens: undefined, outputTokens: undefined, totalTokens: undefined }
  }
  const reasoning = usage.completion_tokens_details?.reasoning_tokens
  const cached = usage.prompt_tokens_details?.cached_tokens
  return {
    inputTokens: usage.prompt_tokens,
    outputTokens: usage.completion_tokens,
    totalTokens: usage.total_tokens,
    ...(reasoning !== undefined ? { reasoningTokens: reasoning } : {}),
    ...(cached !== undefined ? { cachedInputTokens: cached } : {})
  }
}

export const metadataPart = (
  source: ChatCompletion | ChatCompletionChunk
): Response.ResponseMetadataPartEncoded => ({
  type: "response-metadata",
  id: source.id,
  modelId: source.model,
  timestamp: new Date(source.created * 1000).toISOString(),
  ...(source.provider !== undefined ? { metadata: { [metadataKey]: { provider: source.provider } } } : {})
})

/** The arguments of a call as a value: `""` (a call without arguments, as some providers send it) is `{}`. */
export const parseArguments = (
  method: string,
  name: string,
  text: string
): Either.Either<unknown, AiError.MalformedOutput> => {
  if (text.trim() === "") return Either.right({})
  const parsed = Json.parse(text)
  if (Either.isRight(parsed)) return Either.right(parsed.right)
  return Either.left(
    new AiError.MalformedOutput({
      module,
      method,
      description: parsed.left === "not JSON"
        ? `the arguments of the call to ${name} are not JSON: ${text.slice(0, 200)}`
        : `the arguments of the call to ${name} are ${Json.describe(parsed.left)}`
    })
  )
}

const toolCallPart = (
  method: string,
  call: ToolCall
): Either.Either<Response.ToolCallPartEncoded, AiError.MalformedOutput> =>
  Either.map(parseArguments(method, call.function.name, call.function.arguments), (params) => ({
    type: "tool-call",
    id: call.id,
    name: call.function.name,
    params,
    providerExecuted: false
  }))

/** The parts of a completion, for `generateText`. */
export const partsOf = (
  method: string,
  completion: ChatCompletion,
  structured: Structured,
  memo: ReplayMemo
): Either.Either<Array<Response.PartEncoded>, AiError.MalformedOutput> => {
  const parts: Array<Response.PartEncoded> = [metadataPart(completion)]
  const choice = completion.choices[0]
  if (choice !== undefined) {
    const message = choice.message
    if (message.reasoning_content != null && message.reasoning_content !== "") {
      const replay = replayFieldsOf(message)
      if (replay !== undefined) memo.remember(message.reasoning_content, replay)
      parts.push({
        type: "reasoning",
        text: message.reasoning_content,
        ...(replay !== undefined ? { metadata: { [metadataKey]: replay } } : {})
      })
    }
    if (message.content != null && message.content !== "") parts.push({ type: "text", text: message.content })
    for (const call of message.tool_calls ?? []) {
      if (structured._tag === "Tool" && call.function.name === structured.name) {
        // The forced tool's arguments are the answer: text for `@effect/ai` to decode by the schema.
        parts.push({ type: "text", text: call.function.arguments })
        continue
      }
      const part = toolCallPart(method, call)
      if (Either.isLeft(part)) return Either.left(part.left)
      parts.push(part.right)
    }
  }
  const reason = structured._tag === "Tool" && choice?.finish_reason === "tool_calls"
    ? "stop"
    : finishReasonOf(choice?.finish_reason)
  parts.push({
    type: "finish",
    reason,
    usage: usageOf(completion.usage),
    ...(choice?.message.refusal != null && choice.message.refusal !== ""
      ? { metadata: { [metadataKey]: { refusal: choice.message.refusal } } }
      : {})
  })
  return Either.right(parts)
}
