/**
 * DeepSeek's differences from the plain OpenAI protocol (protocols §5): sending reasoning back in tool
 * loops, `max_tokens` instead of `max_completion_tokens`, the capacity finish reason, and the 402.
 *
 * @internal
 */
import { type LlmError, type LlmProvider, ProviderError, QuotaExceededError } from "@llm-api-router/core"
import type { FinishReason } from "@llm-api-router/core"
import { errorFields, type ErrorInfo } from "../../errors.js"

/** How `reasoning_content` of replayed assistant turns is sent (see `DeepSeek.Options.reasoningReplay`). */
export type ReasoningReplay = "toolCalls" | "strip" | "keep"

type Message = LlmProvider.ResolvedChatRequest["messages"][number]

const replayOne = (mode: "toolCalls" | "strip", message: Message): Message => {
  if (message.role !== "assistant") return message
  const hasCalls = message.tool_calls !== undefined && message.tool_calls.length > 0
  if (mode === "toolCalls" && hasCalls) {
    // Thinking mode answers 400 when a tool-calling turn comes back without its reasoning; a turn that had
    // none (written by hand, or by another provider) is sent with "" so the field is there.
    return typeof message.reasoning_content === "string" ? message : { ...message, reasoning_content: "" }
  }
  if (message.reasoning_content === undefined) return message
  // Elsewhere the API ignores it (thinking mode) or rejects it (R1): never worth the bytes.
  const { reasoning_content: _, ...rest } = message
  return rest
}

/** The messages as DeepSeek must receive them under `mode`; the same array when nothing changes. */
export const replayMessages = (
  mode: ReasoningReplay,
  messages: ReadonlyArray<Message>
): ReadonlyArray<Message> => {
  if (mode === "keep") return messages
  let out: Array<Message> | undefined = undefined
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!
    const replayed = replayOne(mode, message)
    if (replayed !== message && out === undefined) out = messages.slice(0, i)
    if (out !== undefined) out.push(replayed)
  }
  return out ?? messages
}

/** The chat body hook: reasoning replay, and `max_completion_tokens` sent as the `max_tokens` DeepSeek reads. */
export const chatBody = (mode: ReasoningReplay) =>
(
  body: Record<string, unknown>,
  _request: LlmProvider.ResolvedChatRequest
): Record<string, unknown> => {
  body.messages = replayMessages(mode, body.messages as ReadonlyArray<Message>)
  if (body.max_completion_tokens != null) {
    if (body.max_tokens == null) body.max_tokens = body.max_completion_tokens
    delete body.max_completion_tokens
  }
  return body
}

/** `insufficient_system_resource`: inference was cut for lack of capacity; a retry may well succeed. */
export const finishReason = (
  raw: string,
  context: { readonly provider: string; readonly model: string }
): FinishReason | LlmError | undefined =>
  raw === "insufficient_system_resource"
    ? new ProviderError({
      provider: context.provider,
      model: context.model,
      code: raw,
      message: `${context.provider}: the answer was interrupted: the server ran out of capacity (${raw})`
    })
    : undefined

/** DeepSeek's 402 "Insufficient Balance" carries a generic code; the status decides, before OpenAI's code table. */
export const classifyError = (info: ErrorInfo): LlmError | undefined =>
  info.status === 402 ? new QuotaExceededError(errorFields(info)) : undefined
