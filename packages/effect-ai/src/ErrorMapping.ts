/**
 * How our errors become `@effect/ai`'s `AiError`: each tag has one `AiError` kind, and the original error is always
 * the `cause`, so nothing is lost (`retryAfter`, `requestId`, the provider's `code`) for code that looks deeper.
 *
 * | our error | AiError |
 * |---|---|
 * | a provider's answer with an HTTP status (`AuthenticationError`, `PermissionDeniedError`, `RateLimitError`, `QuotaExceededError`, `InvalidRequestError` from the provider, `ContextLengthError`, `ContentFilterError`, `ProviderError`) | `HttpResponseError` (`reason: "StatusCode"`, the status, the scrubbed body) |
 * | the same without a status (a client-side rate limit, a router whose members all cool down, an error event inside a 200 stream) | `UnknownError` |
 * | `TimeoutError`, `NetworkError` | `HttpRequestError` (`reason: "Transport"`) |
 * | `ResponseDecodeError`, `StructuredOutputError` | `MalformedOutput` |
 * | `InvalidRequestError` with `source: "client"`, `UnsupportedFeatureError` | `MalformedInput` |
 * | `RetryExhausted` | the kind of its `lastError`, the `RetryExhausted` itself as the cause |
 * | `ToolError` | `UnknownError` |
 *
 * @since 0.1.0
 */
import * as AiError from "@effect/ai/AiError"
import type { LlmError } from "@llm-api-router/core"
import * as Option from "effect/Option"

/**
 * Where a failure happened, for `AiError`'s `module` and `method` fields.
 *
 * @since 0.1.0
 * @category models
 */
export interface Origin {
  /** The `method` of the `AiError` (`"generateText"`, `"streamText"`, `"embedMany"`, …). */
  readonly method: string
  /** The provider's base URL, when it has one: the `url` of the `request` details. */
  readonly url?: string | undefined
}

/**
 * The `module` of every `AiError` this package makes.
 *
 * @since 0.1.0
 * @category constants
 */
export const module = "LlmApiRouter"

const hasStatus = (error: LlmError): error is LlmError & { readonly status: number } => error.status !== undefined

const requestOf = (origin: Origin) => ({
  method: "POST" as const,
  url: origin.url ?? "",
  urlParams: [],
  hash: Option.none(),
  headers: {}
})

const describe = (error: LlmError): string => `${error._tag}: ${error.message}`

type Kind = "response" | "request" | "output" | "input" | "unknown"

const kindOf = (error: LlmError): Kind => {
  switch (error._tag) {
    case "AuthenticationError":
    case "PermissionDeniedError":
    case "RateLimitError":
    case "QuotaExceededError":
    case "ContextLengthError":
    case "ContentFilterError":
    case "ProviderError":
      return hasStatus(error) ? "response" : "unknown"
    case "InvalidRequestError":
      return error.source === "client" ? "input" : hasStatus(error) ? "response" : "unknown"
    case "TimeoutError":
    case "NetworkError":
      return "request"
    case "ResponseDecodeError":
    case "StructuredOutputError":
      return "output"
    case "UnsupportedFeatureError":
      return "input"
    case "RetryExhausted":
      return kindOf(error.lastError)
    case "ToolError":
      return "unknown"
  }
}

/**
 * The `AiError` for one of our errors (see the module's table); `error` is its `cause`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toAiError = (error: LlmError, origin: Origin): AiError.AiError => {
  const base = { module, method: origin.method, description: describe(error) }
  switch (kindOf(error)) {
    case "response": {
      // The status is the last attempt's for a RetryExhausted.
      const answered = error._tag === "RetryExhausted" ? error.lastError : error
      const props = {
        ...base,
        reason: "StatusCode" as const,
        request: requestOf(origin),
        response: { status: answered.status ?? error.status ?? 0, headers: {} },
        ...(answered.body !== undefined ? { body: answered.body } : {})
      }
      // HttpResponseError has no `cause` field; its constructor (Data.Error's) still keeps one as the Error cause
      // when validation, which would strip the extra field, is off.
      return new AiError.HttpResponseError({ ...props, cause: error } as typeof props, { disableValidation: true })
    }
    case "request":
      return new AiError.HttpRequestError({ ...base, reason: "Transport", request: requestOf(origin), cause: error })
    case "output":
      return new AiError.MalformedOutput({ ...base, cause: error })
    case "input":
      return new AiError.MalformedInput({ ...base, cause: error })
    case "unknown":
      return new AiError.UnknownError({ ...base, cause: error })
  }
}
