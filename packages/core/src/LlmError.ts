/**
 * Every failure the library reports: one tagged class per thing a caller can act on. Anything a
 * provider, the network or a user can cause ends in one of these; defects are for our own bugs.
 *
 * All errors carry `provider` and `message`, and where known `model`, `status`, `requestId`,
 * `code` (the provider's own error code) and `body` (truncated, never a secret). They are
 * `Schema.TaggedError`s, so they can be persisted (a cache) or sent across a process boundary.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import { ChatCompletion } from "./Domain.js"

const common = {
  provider: Schema.String,
  message: Schema.String,
  model: Schema.optional(Schema.String),
  status: Schema.optional(Schema.Number),
  requestId: Schema.optional(Schema.String),
  code: Schema.optional(Schema.String),
  body: Schema.optional(Schema.String),
  /**
   * For a stream that failed after it had started: how many chunks reached the caller before the failure (set by
   * the router, which no longer falls back once a chunk is out).
   */
  emittedChunks: Schema.optional(Schema.Number)
}

/**
 * A missing, malformed, revoked or wrong API key (401; 400/403 where a provider uses those for keys).
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthenticationError extends Schema.TaggedError<AuthenticationError>()("AuthenticationError", common) {}

/**
 * The key is valid but access is refused (403: region, organisation, model access).
 *
 * @since 0.1.0
 * @category errors
 */
export class PermissionDeniedError
  extends Schema.TaggedError<PermissionDeniedError>()("PermissionDeniedError", common)
{}

/**
 * Throttled. `retryAfter` is the wait the provider asked for (`retry-after-ms`, `retry-after`, or a
 * provider-specific hint), when it gave one.
 *
 * @since 0.1.0
 * @category errors
 */
export class RateLimitError extends Schema.TaggedError<RateLimitError>()("RateLimitError", {
  ...common,
  retryAfter: Schema.optionalWith(Schema.Option(Schema.Duration), { default: () => Option.none() })
}) {}

/**
 * Out of credit or quota (OpenAI `insufficient_quota`, HTTP 402, Zhipu 1113, DashScope Arrearage).
 * Retrying does not help.
 *
 * @since 0.1.0
 * @category errors
 */
export class QuotaExceededError extends Schema.TaggedError<QuotaExceededError>()("QuotaExceededError", common) {}

/**
 * The request was refused as invalid: bad parameters, unknown model, 400/404/422. `source` is
 * `"client"` when the library rejected it before sending anything; `param` names the offending
 * field when known.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRequestError extends Schema.TaggedError<InvalidRequestError>()("InvalidRequestError", {
  ...common,
  source: Schema.optionalWith(Schema.Literal("client", "provider"), { default: () => "provider" as const }),
  param: Schema.optional(Schema.String)
}) {}

/**
 * The prompt (plus the requested output) does not fit the model's context window.
 *
 * @since 0.1.0
 * @category errors
 */
export class ContextLengthError extends Schema.TaggedError<ContextLengthError>()("ContextLengthError", common) {}

/**
 * The provider's safety system blocked the prompt or the output.
 *
 * @since 0.1.0
 * @category errors
 */
export class ContentFilterError extends Schema.TaggedError<ContentFilterError>()("ContentFilterError", common) {}

/**
 * The provider failed: 5xx, overloaded (529), or an error event inside a 200 stream.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProviderError extends Schema.TaggedError<ProviderError>()("ProviderError", common) {}

/**
 * A timeout, by phase: `connect` (TCP/TLS), `first-byte` (response headers), `idle` (the gap between
 * two stream chunks), `total` (the whole call).
 *
 * @since 0.1.0
 * @category errors
 */
export class TimeoutError extends Schema.TaggedError<TimeoutError>()("TimeoutError", {
  ...common,
  phase: Schema.Literal("connect", "first-byte", "idle", "total")
}) {}

/**
 * The connection failed or broke: refused, reset, or a stream cut before its end.
 *
 * @since 0.1.0
 * @category errors
 */
export class NetworkError extends Schema.TaggedError<NetworkError>()("NetworkError", common) {}

/**
 * The provider answered something that does not match its protocol.
 *
 * @since 0.1.0
 * @category errors
 */
export class ResponseDecodeError extends Schema.TaggedError<ResponseDecodeError>()("ResponseDecodeError", common) {}

/**
 * The provider lacks the feature (embeddings on Anthropic, tools on a model without them). Raised
 * before any I/O.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsupportedFeatureError extends Schema.TaggedError<UnsupportedFeatureError>()(
  "UnsupportedFeatureError",
  { ...common, feature: Schema.String }
) {}

/**
 * The errors that a retry policy may retry.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RetryableError = Schema.Union(RateLimitError, ProviderError, TimeoutError, NetworkError)

/**
 * @since 0.1.0
 * @category models
 */
export type RetryableError = typeof RetryableError.Type

/**
 * Retries ran out. `attempts` counts every attempt made (the first one included); `lastError` is the
 * failure of the last one.
 *
 * @since 0.1.0
 * @category errors
 */
export class RetryExhausted extends Schema.TaggedError<RetryExhausted>()("RetryExhausted", {
  ...common,
  attempts: Schema.Number,
  lastError: RetryableError
}) {}

/**
 * The answer does not decode by the Schema the caller asked for (`Structured.generate`): `text` is the raw
 * answer (the forced tool's arguments in tool-forcing mode), `issue` the decode problem on one line, `completion`
 * the completion that carried it. Not retried by default: `repair` sends the issue back to the model instead.
 *
 * @since 0.1.0
 * @category errors
 */
export class StructuredOutputError extends Schema.TaggedError<StructuredOutputError>()("StructuredOutputError", {
  ...common,
  text: Schema.String,
  issue: Schema.String,
  completion: ChatCompletion
}) {}

/**
 * A tool run (`Toolkit.run` with `failureMode: "error"`) ended by a tool: `reason` says whether the model named a
 * tool the toolkit lacks (`"UnknownTool"`), sent arguments that do not decode by its parameters Schema
 * (`"InvalidArguments"`), or the handler failed (`"HandlerFailed"`, its error kept as `cause`) or returned a value
 * its success Schema rejects (`"InvalidResult"`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ToolError extends Schema.TaggedError<ToolError>()("ToolError", {
  ...common,
  toolName: Schema.String,
  toolCallId: Schema.String,
  reason: Schema.Literal("UnknownTool", "InvalidArguments", "HandlerFailed", "InvalidResult"),
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * The union of every error the library reports, as a Schema (to persist or transmit errors).
 *
 * @since 0.1.0
 * @category schemas
 */
export const LlmError = Schema.Union(
  AuthenticationError,
  PermissionDeniedError,
  RateLimitError,
  QuotaExceededError,
  InvalidRequestError,
  ContextLengthError,
  ContentFilterError,
  ProviderError,
  TimeoutError,
  NetworkError,
  ResponseDecodeError,
  UnsupportedFeatureError,
  RetryExhausted,
  StructuredOutputError,
  ToolError
)

/**
 * @since 0.1.0
 * @category models
 */
export type LlmError = typeof LlmError.Type

const retryableTags: ReadonlySet<string> = new Set(["RateLimitError", "ProviderError", "TimeoutError", "NetworkError"])

const llmErrorTags: ReadonlySet<string> = new Set([
  "AuthenticationError",
  "PermissionDeniedError",
  "RateLimitError",
  "QuotaExceededError",
  "InvalidRequestError",
  "ContextLengthError",
  "ContentFilterError",
  "ProviderError",
  "TimeoutError",
  "NetworkError",
  "ResponseDecodeError",
  "UnsupportedFeatureError",
  "RetryExhausted",
  "StructuredOutputError",
  "ToolError"
])

/**
 * Whether retrying could help: rate limits, provider failures, timeouts and network failures.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRetryable = (error: LlmError): error is RetryableError => retryableTags.has(error._tag)

/**
 * Whether a value is one of the library's errors.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isLlmError = (u: unknown): u is LlmError =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" && llmErrorTags.has(u._tag) && u instanceof Error

/**
 * The wait a `RateLimitError` asked for, if any.
 *
 * @since 0.1.0
 * @category getters
 */
export const retryAfter = (error: LlmError): Option.Option<Duration.Duration> =>
  error._tag === "RateLimitError" ? error.retryAfter : Option.none()
