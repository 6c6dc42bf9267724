/**
 * The normalisation rules of the domain (DESIGN §5) that every provider's codec applies the same way, so that a
 * response means the same thing whichever provider gave it. Codecs map their wire values to ours and then ask
 * these rules; none keeps a rule of its own.
 *
 * @since 0.2.0
 */
import type { FinishReason } from "./Domain.js"

/**
 * The finish reason of a choice, given the reason its provider gave (already mapped to ours) and whether the
 * model called a tool. `tool_calls` wins over `stop` only: a tool call cut short by the token limit is `length`
 * (its arguments are not valid JSON, and code that follows the OpenAI convention parses them on `tool_calls`), and
 * a blocked answer stays `content_filter`.
 *
 * @since 0.2.0
 * @category finish reasons
 */
export const finishReason = (reason: FinishReason, calledTools: boolean): FinishReason =>
  calledTools && reason === "stop" ? "tool_calls" : reason

/**
 * The `content` of an assistant message: `null` when the message carries only tool calls (some providers send
 * `""` there), the text otherwise; `null` when the provider sent none.
 *
 * @since 0.2.0
 * @category messages
 */
export const assistantContent = (content: string | null | undefined, hasToolCalls: boolean): string | null =>
  content === undefined || content === null || (hasToolCalls && content === "") ? null : content
