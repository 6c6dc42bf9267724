/**
 * Anthropic's `cache_control` markers, for the protocols that have no such thing: OpenAI caches prompts by itself
 * and refuses unknown fields inside messages and tools, so the markers are taken out before the body is written.
 *
 * @internal
 */
import type { LlmProvider } from "@llm-api-router/core"

type Request = LlmProvider.ResolvedChatRequest

const has = (u: unknown): boolean => typeof u === "object" && u !== null && "cache_control" in u

const without = <A>(value: A): A => {
  if (!has(value)) return value
  const { cache_control: _, ...rest } = value as A & { readonly cache_control?: unknown }
  return rest as A
}

const messageWithout = (message: Request["messages"][number]): Request["messages"][number] => {
  const content = message.content
  const parts = Array.isArray(content) && content.some(has) ? content.map(without) : content
  if (parts === content && !has(message)) return message
  return { ...without(message), content: parts } as Request["messages"][number]
}

/** The request without any `cache_control` (on messages, content parts and tools); the same object when it has none. */
export const strip = (request: Request): Request => {
  let messages: Array<Request["messages"][number]> | undefined = undefined
  for (let i = 0; i < request.messages.length; i++) {
    const message = request.messages[i]!
    const stripped = messageWithout(message)
    if (stripped !== message && messages === undefined) messages = request.messages.slice(0, i)
    if (messages !== undefined) messages.push(stripped)
  }
  const tools = request.tools !== undefined && request.tools.some(has) ? request.tools.map(without) : request.tools
  if (messages === undefined && tools === request.tools) return request
  return {
    ...request,
    ...(messages !== undefined ? { messages } : {}),
    ...(tools !== undefined ? { tools } : {})
  }
}
