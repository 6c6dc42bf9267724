/**
 * OpenRouter's differences from the plain OpenAI protocol (protocols §4): its error object (`code` as the HTTP
 * status or a string, `metadata.error_type`, the upstream's `raw` error, moderation `reasons`), errors inside a
 * 200, and the `"error"` finish reason.
 *
 * @internal
 */
import {
  ContentFilterError,
  ContextLengthError,
  type FinishReason,
  Json,
  type LlmError,
  ProviderError,
  QuotaExceededError,
  RateLimitError,
  Retry
} from "@llm-api-router/core"
import * as Either from "effect/Either"
import { errorFields, type ErrorInfo } from "../../errors.js"
import type { ErrorBody } from "../../openai/codec.js"

type Json = Record<string, unknown>

const isRecord = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const text = (u: unknown): string | undefined => typeof u === "string" && u !== "" ? u : undefined

/** The upstream's message from `metadata.raw`: an object, a JSON-encoded string, or plain text. */
const rawMessage = (raw: unknown): string | undefined => {
  let value = raw
  if (typeof raw === "string") {
    const parsed = Json.parse(raw)
    if (Either.isLeft(parsed)) return text(raw)
    value = parsed.right
  }
  if (typeof value === "string") return text(value)
  if (!isRecord(value)) return undefined
  for (const key of ["message", "error", "detail", "details", "msg"]) {
    const found = value[key]
    const inner = typeof found === "string" ? text(found) : isRecord(found) ? rawMessage(found) : undefined
    if (inner !== undefined) return inner
  }
  return undefined
}

const empty: ErrorBody = { message: undefined, type: undefined, code: undefined, param: undefined }

/**
 * Reads `{"error": {code, message, metadata}}`. A numeric `code` (or `http_status`) is the HTTP status the error
 * stands for, which matters when it came inside a 200; the upstream's own message is added to OpenRouter's
 * generic "Provider returned error".
 */
export const readError = (json: unknown): ErrorBody => {
  if (!isRecord(json)) return empty
  const inner = "error" in json ? json.error : json
  if (typeof inner === "string") return { ...empty, message: inner }
  if (!isRecord(inner)) return empty
  const metadata = isRecord(inner.metadata) ? inner.metadata : undefined
  const code = typeof inner.code === "number" || typeof inner.code === "string" ? String(inner.code) : undefined
  const status = typeof inner.code === "number"
    ? inner.code
    : typeof inner.http_status === "number"
    ? inner.http_status
    : undefined
  const upstream = metadata !== undefined ? rawMessage(metadata.raw) : undefined
  const message = text(inner.message)
  const provider = metadata !== undefined ? text(metadata.provider_name) : undefined
  const type = text(inner.error_type) ?? (metadata !== undefined ? text(metadata.error_type) : undefined) ??
    (metadata !== undefined && Array.isArray(metadata.reasons) ? "moderation" : undefined) ?? text(inner.type)
  return {
    message: upstream !== undefined && upstream !== message
      ? `${message ?? "Provider returned error"}${provider !== undefined ? ` (${provider})` : ""}: ${upstream}`
      : message,
    type,
    code: code ?? type,
    param: text(inner.param),
    status
  }
}

/** OpenRouter's typed `error_type`s and moderation blocks, before OpenAI's table (which then goes by status). */
export const classifyError = (info: ErrorInfo): LlmError | undefined => {
  switch (info.type) {
    case "moderation":
      return new ContentFilterError(errorFields(info))
    case "rate_limit_exceeded":
      return new RateLimitError({
        ...errorFields(info),
        retryAfter: Retry.retryAfterFromHeaders(info.headers, Date.now())
      })
    case "context_length_exceeded":
      return new ContextLengthError(errorFields(info))
    case "payment_required":
      return new QuotaExceededError(errorFields(info))
    case "provider_overloaded":
    case "provider_unavailable":
    case "server":
    case "timeout":
      return new ProviderError(errorFields(info))
  }
  return undefined
}

/** `"error"` on a chunk without an `error` object (such chunks fail earlier, typed by their error). */
export const finishReason = (
  raw: string,
  context: { readonly provider: string; readonly model: string }
): FinishReason | LlmError | undefined =>
  raw === "error"
    ? new ProviderError({
      provider: context.provider,
      model: context.model,
      code: raw,
      message: `${context.provider}: the upstream provider failed during generation (finish_reason "error")`
    })
    : undefined
