/**
 * What every codec needs to turn a provider's failure into one of our errors: the facts gathered
 * from a response or an error event, and the fields and message every error carries. The mapping
 * table itself (which facts give which tag) is each protocol's own.
 *
 * @internal
 */
import {
  AuthenticationError,
  InvalidRequestError,
  type LlmError,
  PermissionDeniedError,
  ProviderError,
  QuotaExceededError,
  RateLimitError,
  ResponseDecodeError,
  Retry
} from "@llm-api-router/core"

/** What we know about a failure, from a non-2xx response or an error event inside a stream. */
export interface ErrorInfo {
  readonly provider: string
  readonly model: string | undefined
  /** The HTTP status, when the error came with one (an error event in a 200 stream has none). */
  readonly status: number | undefined
  readonly message: string
  /** The provider's error type or category (OpenAI `type`, Anthropic `error.type`, Gemini `status`). */
  readonly type: string | undefined
  /** The provider's own error code. */
  readonly code: string | undefined
  readonly param: string | undefined
  readonly requestId: string | undefined
  readonly body: string | undefined
  readonly headers: Readonly<Record<string, string>>
}

const MAX_BODY_IN_ERROR = 2048

/** Bodies kept in errors are cut to 2 KiB: enough to read, never a memory problem. */
export const truncate = (text: string): string =>
  text.length <= MAX_BODY_IN_ERROR ? text : `${text.slice(0, MAX_BODY_IN_ERROR)}… (${text.length} characters)`

const MAX_SNIPPET = 200

/**
 * The start of a text quoted in a message (a malformed event, an unexpected body): at most 200 characters, and an
 * ellipsis where it was cut, which tells the secrets scrubber that a secret may have been cut short there.
 */
export const snippet = (text: string): string => {
  if (text.length <= MAX_SNIPPET) return text
  let end = MAX_SNIPPET
  const last = text.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end--
  return `${text.slice(0, end)}…`
}

/** `"openai: Incorrect API key provided (HTTP 401, code invalid_api_key)"` */
export const describe = (info: ErrorInfo): string => {
  const facts: Array<string> = []
  if (info.status !== undefined) facts.push(`HTTP ${info.status}`)
  if (info.code !== undefined) facts.push(`code ${info.code}`)
  else if (info.type !== undefined) facts.push(`type ${info.type}`)
  const suffix = facts.length > 0 ? ` (${facts.join(", ")})` : ""
  return `${info.provider}: ${info.message}${suffix}`
}

/** The fields every error class takes, from what we know. */
export const errorFields = (info: ErrorInfo) => ({
  provider: info.provider,
  message: describe(info),
  ...(info.model !== undefined ? { model: info.model } : {}),
  ...(info.status !== undefined ? { status: info.status } : {}),
  ...(info.requestId !== undefined ? { requestId: info.requestId } : {}),
  ...(info.code !== undefined ? { code: info.code } : {}),
  ...(info.body !== undefined ? { body: info.body } : {})
})

/** A response that does not match its protocol. */
export const decodeError = (provider: string, model: string | undefined, what: string, detail: string) =>
  new ResponseDecodeError({
    provider,
    ...(model !== undefined ? { model } : {}),
    message: `${provider}: ${what}: ${detail}`
  })

let idCounter = 0

/** Ids for things a server sent without one (tool calls, responses); unique within the process. */
export const generateId = (prefix: string): string =>
  `${prefix}${Date.now().toString(36)}${(idCounter++).toString(36)}${Math.random().toString(36).slice(2, 8)}`

/** A throttled request, waiting what the response's `retry-after-ms` / `retry-after` headers ask. */
export const rateLimited = (info: ErrorInfo): RateLimitError =>
  new RateLimitError({ ...errorFields(info), retryAfter: Retry.retryAfterFromHeaders(info.headers, Date.now()) })

/** A request the provider refused as invalid, naming the parameter when the provider did. */
export const invalidRequest = (info: ErrorInfo): InvalidRequestError =>
  new InvalidRequestError({
    ...errorFields(info),
    source: "provider",
    ...(info.param !== undefined ? { param: info.param } : {})
  })

/**
 * The HTTP status table every protocol shares, for what its own error codes did not decide: 401 a bad
 * key, 402 no credit, 403 refused, 408 / 409 / 429 / 5xx transient (a 429 waits its `retry-after`), any
 * other 4xx an invalid request. No status at all (an error event inside a 200 stream) is the
 * provider failing mid-answer.
 */
export const fromStatus = (info: ErrorInfo): LlmError => {
  const status = info.status
  if (status === undefined) return new ProviderError(errorFields(info))
  switch (status) {
    case 401:
      return new AuthenticationError(errorFields(info))
    case 402:
      return new QuotaExceededError(errorFields(info))
    case 403:
      return new PermissionDeniedError(errorFields(info))
    case 408:
    case 409:
      // Request timeout and lock conflict: transient on the server's side, worth retrying.
      return new ProviderError(errorFields(info))
    case 429:
      return rateLimited(info)
  }
  return status >= 500 ? new ProviderError(errorFields(info)) : invalidRequest(info)
}
