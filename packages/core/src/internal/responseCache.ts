/**
 * The response cache's pure parts: the canonical request key and the conversions between a completion and its
 * chunks.
 *
 * @internal
 */
import { createHash } from "node:crypto"
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  EmbeddingRequest,
  ToolCallDelta
} from "../Domain.js"

// Fields that never change the answer: how it is delivered, and who asked.
const ignoredFields = new Set(["stream", "stream_options", "user", "metadata"])

const encodeValue = (value: unknown, out: Array<string>): void => {
  switch (typeof value) {
    case "string":
      out.push(JSON.stringify(value))
      return
    case "number":
      out.push(Number.isFinite(value) ? String(value) : "null")
      return
    case "boolean":
      out.push(value ? "true" : "false")
      return
    case "bigint":
      out.push(`"${value.toString()}n"`)
      return
    case "object": {
      if (value === null) {
        out.push("null")
        return
      }
      if (Array.isArray(value)) {
        out.push("[")
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out.push(",")
          // As in JSON: a hole or an undefined element is null, so positions are kept.
          const item: unknown = value[i]
          if (item === undefined || typeof item === "function" || typeof item === "symbol") out.push("null")
          else encodeValue(item, out)
        }
        out.push("]")
        return
      }
      encodeObject(value as Record<string, unknown>, undefined, out)
      return
    }
    default:
      out.push("null")
  }
}

const encodeObject = (
  object: Record<string, unknown>,
  skip: ReadonlySet<string> | undefined,
  out: Array<string>
): void => {
  const keys = Object.keys(object).sort()
  out.push("{")
  let first = true
  for (const key of keys) {
    if (skip !== undefined && skip.has(key)) continue
    const item = object[key]
    // An absent field and an undefined one are the same request.
    if (item === undefined || typeof item === "function" || typeof item === "symbol") continue
    if (!first) out.push(",")
    first = false
    out.push(JSON.stringify(key), ":")
    encodeValue(item, out)
  }
  out.push("}")
}

/**
 * The canonical text of a request: JSON with object keys sorted, undefined fields left out, and the fields that do
 * not change the answer (`stream`, `stream_options`, `user`, `metadata`) dropped.
 *
 * @internal
 */
export const canonicalRequest = (request: ChatCompletionRequest, model: string | undefined): string => {
  const out: Array<string> = []
  encodeObject({ ...request, model }, ignoredFields, out)
  return out.join("")
}

/**
 * The cache key of a request: a SHA-256 (hex) of the key format version, the provider, its base URL, the caller's
 * scope (its identity fingerprint, or `"shared"` when entries are shared across credentials) and the canonical
 * request with its model resolved.
 *
 * @internal
 */
export const requestKey = (
  provider: string,
  baseUrl: string | undefined,
  scope: string,
  request: ChatCompletionRequest,
  model: string | undefined
): string =>
  createHash("sha256")
    .update(`v2\n${provider}\n${baseUrl ?? ""}\n${scope}\n`)
    .update(canonicalRequest(request, model))
    .digest("hex")

/**
 * The cache key of an embeddings request: as `requestKey`, in a namespace of its own (`user` does not count).
 *
 * @internal
 */
export const embeddingKey = (
  provider: string,
  baseUrl: string | undefined,
  scope: string,
  request: EmbeddingRequest,
  model: string | undefined
): string => {
  const out: Array<string> = []
  encodeObject({ ...request, model }, ignoredFields, out)
  return createHash("sha256").update(`e2\n${provider}\n${baseUrl ?? ""}\n${scope}\n`).update(out.join("")).digest(
    "hex"
  )
}

/**
 * The chunks a stream of `completion` would have carried: per choice, one chunk with the whole message as its delta
 * (role, content, reasoning, refusal, tool calls with their whole arguments), then one with its finish reason; then
 * the usage chunk. Folding them with `ChatStream.toCompletion` gives `completion` back.
 *
 * @internal
 */
export const completionToChunks = (completion: ChatCompletion): Array<ChatCompletionChunk> => {
  const header = {
    id: completion.id,
    object: "chat.completion.chunk" as const,
    created: completion.created,
    model: completion.model,
    ...(completion.system_fingerprint != null ? { system_fingerprint: completion.system_fingerprint } : {}),
    ...(completion.service_tier != null ? { service_tier: completion.service_tier } : {}),
    ...(completion.provider !== undefined ? { provider: completion.provider } : {})
  }
  const chunks: Array<ChatCompletionChunk> = []
  for (const choice of completion.choices) {
    const message = choice.message
    const toolCalls: Array<ToolCallDelta> | undefined = message.tool_calls?.map((call, index) => ({
      index,
      id: call.id,
      type: "function",
      function: { name: call.function.name, arguments: call.function.arguments }
    }))
    chunks.push({
      ...header,
      choices: [{
        index: choice.index,
        delta: {
          role: "assistant",
          ...(message.content !== null ? { content: message.content } : {}),
          ...(message.reasoning_content != null ? { reasoning_content: message.reasoning_content } : {}),
          ...(message.refusal != null ? { refusal: message.refusal } : {}),
          ...(toolCalls !== undefined && toolCalls.length > 0 ? { tool_calls: toolCalls } : {})
        },
        finish_reason: null
      }]
    })
    chunks.push({ ...header, choices: [{ index: choice.index, delta: {}, finish_reason: choice.finish_reason }] })
  }
  chunks.push({ ...header, choices: [], usage: completion.usage ?? null })
  return chunks
}
