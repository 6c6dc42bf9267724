/**
 * The one service every provider implements: chat, stream and embed in OpenAI's shapes.
 *
 * Providers do not implement the service by hand: they give `make` their wire-level functions and
 * `make` adds what every provider must do the same way: request validation before any I/O, the
 * default model, capability checks, secrets scrubbed from every error, retries and tracing.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  type ChatCompletion,
  type ChatCompletionChunk,
  ChatCompletionRequest,
  EmbeddingRequest,
  type EmbeddingResponse
} from "./Domain.js"
import type * as Identity from "./Identity.js"
import * as embeddings from "./internal/embeddings.js"
import { isJsonData, pathText, type Problem, toPlain } from "./internal/jsonData.js"
import { isPlainChatRequest, isPlainEmbeddingRequest } from "./internal/requestCheck.js"
import { unwrap } from "./internal/stream.js"
import { InvalidRequestError, type LlmError, UnsupportedFeatureError } from "./LlmError.js"
import * as Retry from "./Retry.js"
import type * as Secrets from "./Secrets.js"
import * as Telemetry from "./Telemetry.js"

/**
 * What a provider can do. A request that needs a capability the provider lacks fails with
 * `UnsupportedFeatureError` before any I/O.
 *
 * @since 0.1.0
 * @category models
 */
export interface Capabilities {
  readonly streaming: boolean
  readonly tools: boolean
  readonly embeddings: boolean
  readonly vision: boolean
  /** Whether a `response_format` of type `json_schema` is accepted. */
  readonly jsonSchema: boolean
  /**
   * How `Structured.generate` asks this provider for an answer in a Schema's shape (see
   * {@link StructuredOutputMode}); when absent, {@link structuredOutputMode} derives it from `jsonSchema` and
   * `tools`.
   */
  readonly structuredOutput?: StructuredOutputMode | undefined
}

/**
 * How a provider is asked for structured output:
 *
 * - `"json-schema"`: natively, by a `response_format` of type `json_schema` (OpenAI `strict`, Gemini
 *   `responseJsonSchema`, Ollama `format`, DashScope, OpenRouter);
 * - `"tool"`: by forcing a call to one tool whose parameters are the schema, the answer being its arguments
 *   (Anthropic, DeepSeek);
 * - `"json-object"`: by JSON mode (`response_format: { type: "json_object" }`) with the schema in a system
 *   message, for providers that can neither take a schema nor force a tool (Zhipu).
 *
 * @since 0.1.0
 * @category models
 */
export type StructuredOutputMode = "json-schema" | "tool" | "json-object"

/**
 * The structured-output mode of a provider: `capabilities.structuredOutput` when given, otherwise
 * `"json-schema"` when it takes JSON Schema response formats, `"tool"` when it has tools, else `"json-object"`.
 *
 * @since 0.1.0
 * @category getters
 */
export const structuredOutputMode = (capabilities: Capabilities): StructuredOutputMode =>
  capabilities.structuredOutput ??
    (capabilities.jsonSchema ? "json-schema" : capabilities.tools ? "tool" : "json-object")

/**
 * @since 0.1.0
 * @category models
 */
export interface ProviderInfo {
  readonly name: string
  readonly defaultModel: string | undefined
  readonly capabilities: Capabilities
  /** The endpoint's base URL, when the provider has one: part of the response cache's key. */
  readonly baseUrl?: string | undefined
  /**
   * Who the provider calls as (its credential and identity headers), built once at construction: its fingerprint
   * is part of the response cache's key. A provider without one shares cache entries with every provider of the
   * same name and base URL.
   */
  readonly identity?: Identity.Identity | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly info: ProviderInfo
  readonly chat: (request: ChatCompletionRequest) => Effect.Effect<ChatCompletion, LlmError>
  readonly stream: (request: ChatCompletionRequest) => Stream.Stream<ChatCompletionChunk, LlmError>
  readonly embed: (request: EmbeddingRequest) => Effect.Effect<EmbeddingResponse, LlmError>
}

/**
 * The service tag. A provider is a `Layer<LlmProvider, …>`; so is a decorated provider (a cache, a
 * router).
 *
 * @since 0.1.0
 * @category tags
 */
export class LlmProvider extends Context.Tag("@llm-api-router/core/LlmProvider")<LlmProvider, Service>() {}

/**
 * A chat request after validation, with its model resolved.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResolvedChatRequest extends ChatCompletionRequest {
  readonly model: string
}

/**
 * An embeddings request after validation, with its model resolved.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResolvedEmbeddingRequest extends EmbeddingRequest {
  readonly model: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface MakeOptions {
  readonly info: ProviderInfo
  /** The retry policy; `undefined` means `Retry.defaultPolicy`, `false` no retries. */
  readonly retry?: Retry.RetryOption | undefined
  readonly chat: (request: ResolvedChatRequest) => Effect.Effect<ChatCompletion, LlmError>
  readonly stream: (request: ResolvedChatRequest) => Stream.Stream<ChatCompletionChunk, LlmError>
  readonly embed?: ((request: ResolvedEmbeddingRequest) => Effect.Effect<EmbeddingResponse, LlmError>) | undefined
  /**
   * The provider's documented limit on embeddings inputs per call, by model (default: none). A larger input is
   * split into calls of at most that many, each retried on its own, `embeddingConcurrency` at a time (default 1:
   * the account's rate limit is shared), and the vectors come back as one response in input order. Whatever the
   * limit, every call's answer must hold exactly one vector per input (else `ResponseDecodeError`).
   */
  readonly embeddingInputsPerCall?: ((model: string) => number) | undefined
  readonly embeddingConcurrency?: number | undefined
  /**
   * The provider's secrets (the ones its transport scrubs): every error of `chat`, `stream` and `embed` is scrubbed
   * of them before anything else sees it (retries, spans, metrics, the caller), whichever codec made it, and so are
   * the response's id and model in the call's span.
   */
  readonly secrets?: Secrets.Secrets | undefined
}

// Compiled once: validation runs on every call. Unknown fields are kept, so that provider-specific
// options pass through to the providers that understand them.
const decodeChatRequest = Schema.decodeUnknownEither(ChatCompletionRequest, {
  errors: "all",
  onExcessProperty: "preserve"
})
const decodeEmbeddingRequest = Schema.decodeUnknownEither(EmbeddingRequest, {
  errors: "all",
  onExcessProperty: "preserve"
})

// An error message stays readable whatever the input: a few issues, each cut short (a megabyte string in a
// request must not become a megabyte message).
const maxIssues = 5
const maxIssueLength = 240

const clip = (text: string): string => text.length > maxIssueLength ? `${text.slice(0, maxIssueLength)}…` : text

/**
 * Turns a Schema parse failure of a request into an `InvalidRequestError` naming the field.
 *
 * @since 0.1.0
 * @category errors
 */
export const invalidRequest = (provider: string, error: ParseResult.ParseError): InvalidRequestError => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  const param = first ? pathText(first.path) : undefined
  const details = issues.slice(0, maxIssues).map((issue) => {
    const at = pathText(issue.path)
    return clip(at === "" ? issue.message : `${at}: ${issue.message}`)
  })
  const more = issues.length > maxIssues ? `; and ${issues.length - maxIssues} more` : ""
  return new InvalidRequestError({
    provider,
    source: "client",
    ...(param ? { param } : {}),
    message: `invalid request: ${details.join("; ")}${more}`
  })
}

const notJsonData = (provider: string, problem: Problem): InvalidRequestError =>
  new InvalidRequestError({
    provider,
    source: "client",
    ...(problem.path !== "" ? { param: problem.path } : {}),
    message: `invalid request: ${problem.path !== "" ? `${problem.path}: ` : ""}${problem.reason}`
  })

// The Schema's path for what the fast check is not sure of. The Schema may throw on hostile input (an accessor or a
// Proxy that throws) and its error formatter on some values (a null-prototype object): a failure is worded from a
// plain copy of the input, or from where the input is not JSON data.
const slowCheck = <A>(
  provider: string,
  request: unknown,
  decode: (u: unknown) => Either.Either<A, ParseResult.ParseError>
): Either.Either<A, InvalidRequestError> => {
  try {
    const decoded = decode(request)
    if (Either.isRight(decoded) && isJsonData(decoded.right)) return Either.right(decoded.right)
  } catch {
    // worded below
  }
  const plain = toPlain(request)
  if (plain._tag === "Problem") return Either.left(notJsonData(provider, plain.problem))
  const decoded = decode(plain.value)
  return Either.isLeft(decoded) ? Either.left(invalidRequest(provider, decoded.left)) : Either.right(decoded.right)
}

const isPlainChat = (request: unknown): request is ChatCompletionRequest => {
  try {
    return isPlainChatRequest(request)
  } catch {
    return false
  }
}

const isPlainEmbedding = (request: unknown): request is EmbeddingRequest => {
  try {
    return isPlainEmbeddingRequest(request)
  } catch {
    return false
  }
}

/**
 * Validates a chat request as every provider does before anything else (and as decorators do before computing a
 * cache key or a token estimate): the request itself when it is valid as it is, else the decoded request, or an
 * `InvalidRequestError` (`source: "client"`) whose `param` names the first bad field. Never throws: hostile input
 * (an accessor or a Proxy that throws, a `BigInt`, a circular structure, …) is an invalid request too. Fields the
 * Schema does not know are kept, and must be JSON data. The model is not resolved here.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateChatRequest = (
  provider: string,
  request: unknown
): Either.Either<ChatCompletionRequest, InvalidRequestError> =>
  isPlainChat(request) ? Either.right(request) : slowCheck(provider, request, decodeChatRequest)

/**
 * As {@link validateChatRequest}, for an embeddings request.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateEmbeddingRequest = (
  provider: string,
  request: unknown
): Either.Either<EmbeddingRequest, InvalidRequestError> =>
  isPlainEmbedding(request) ? Either.right(request) : slowCheck(provider, request, decodeEmbeddingRequest)

const unsupported = (info: ProviderInfo, model: string | undefined, feature: string, what: string) =>
  new UnsupportedFeatureError({
    provider: info.name,
    ...(model !== undefined ? { model } : {}),
    feature,
    message: `${info.name} does not support ${what}`
  })

const missingModel = (info: ProviderInfo) =>
  new InvalidRequestError({
    provider: info.name,
    source: "client",
    param: "model",
    message: `invalid request: model: no model given, and the ${info.name} provider has no defaultModel`
  })

const hasImage = (request: ChatCompletionRequest): boolean => {
  for (const message of request.messages) {
    if (message.role === "user" && typeof message.content !== "string") {
      for (const part of message.content) {
        if (part.type === "image_url") return true
      }
    }
  }
  return false
}

const withoutStream = (request: ChatCompletionRequest): ChatCompletionRequest => {
  const { stream: _, ...rest } = request as ChatCompletionRequest & { readonly stream?: unknown }
  return rest
}

const checkChat = (
  info: ProviderInfo,
  request: unknown,
  streaming: boolean
): Either.Either<ResolvedChatRequest, LlmError> => {
  const checked = validateChatRequest(info.name, request)
  if (Either.isLeft(checked)) return Either.left(checked.left)
  // Whether to stream is the method's choice (`chat` or `stream`): a `stream` field (the `openai` package's) is
  // not sent on.
  const value = "stream" in checked.right ? withoutStream(checked.right) : checked.right
  const model = value.model ?? info.defaultModel
  if (model === undefined) return Either.left(missingModel(info))
  const caps = info.capabilities
  if (streaming && !caps.streaming) return Either.left(unsupported(info, model, "streaming", "streaming"))
  if (!caps.tools && value.tools !== undefined && value.tools.length > 0) {
    return Either.left(unsupported(info, model, "tools", "tool calling"))
  }
  if (!caps.jsonSchema && value.response_format?.type === "json_schema") {
    return Either.left(unsupported(info, model, "jsonSchema", "JSON Schema response formats"))
  }
  if (!caps.vision && hasImage(value)) return Either.left(unsupported(info, model, "vision", "image inputs"))
  return Either.right(value.model === model ? value as ResolvedChatRequest : { ...value, model })
}

/**
 * Builds the service from a provider's wire-level functions, adding validation (an invalid request
 * fails with `InvalidRequestError` and nothing is sent), the default model, capability checks,
 * retries (a stream only before its first chunk), spans and metrics (see `Telemetry`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: MakeOptions): Service => {
  // The structured-output mode is always spelled out, so that `info.capabilities` is the table.
  const info: ProviderInfo = options.info.capabilities.structuredOutput !== undefined
    ? options.info
    : {
      ...options.info,
      capabilities: {
        ...options.info.capabilities,
        structuredOutput: structuredOutputMode(options.info.capabilities)
      }
    }
  const secrets = options.secrets
  // Scrubbing runs on a failure only: a successful attempt passes one `mapError` frame.
  const scrubError = secrets?.scrubError
  const scrub = secrets?.scrub
  const scrubbed = <A>(effect: Effect.Effect<A, LlmError>): Effect.Effect<A, LlmError> =>
    scrubError === undefined ? effect : Effect.mapError(effect, scrubError)
  const scrubbedStream = <A>(stream: Stream.Stream<A, LlmError>): Stream.Stream<A, LlmError> =>
    scrubError === undefined ? stream : Stream.mapError(stream, scrubError)
  const callInfo = (model: string, operation: Telemetry.CallInfo["operation"]): Telemetry.CallInfo =>
    scrub === undefined ? { provider: info.name, model, operation } : { provider: info.name, model, operation, scrub }
  const embedImpl = options.embed
  const inputsPerCall = options.embeddingInputsPerCall
  const embeddingConcurrency = Math.max(1, Math.floor(options.embeddingConcurrency ?? 1))

  const chat = (request: ChatCompletionRequest): Effect.Effect<ChatCompletion, LlmError> =>
    Effect.suspend(() => {
      const checked = checkChat(info, request, false)
      if (Either.isLeft(checked)) return Effect.fail(checked.left)
      const resolved = checked.right
      const call = callInfo(resolved.model, "chat")
      return Telemetry.trackCall(
        call,
        Telemetry.trackAttempts(call, scrubbed(options.chat(resolved))).pipe(
          Retry.retry(options.retry, { provider: info.name, model: resolved.model })
        )
      )
    })

  const stream = (request: ChatCompletionRequest): Stream.Stream<ChatCompletionChunk, LlmError> =>
    Stream.suspend(() => {
      const checked = checkChat(info, request, true)
      if (Either.isLeft(checked)) return Stream.fail(checked.left)
      const resolved = checked.right
      const call = callInfo(resolved.model, "stream")
      // The retry asks the telemetry stage whether a chunk went out, rather than watching the chunks in a stage of its
      // own: one stage per batch instead of two.
      let emitted = false
      return Telemetry.trackStream(
        call,
        Telemetry.trackStreamAttempts(call, scrubbedStream(options.stream(resolved))).pipe(
          Retry.retryStream(options.retry, { provider: info.name, model: resolved.model }, { emitted: () => emitted })
        ),
        { onFirstChunk: () => (emitted = true) }
      )
    })

  const embed = (request: EmbeddingRequest): Effect.Effect<EmbeddingResponse, LlmError> =>
    Effect.suspend(() => {
      const decoded = validateEmbeddingRequest(info.name, request)
      if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
      const value = decoded.right
      const model = value.model ?? info.defaultModel
      if (embedImpl === undefined || !info.capabilities.embeddings) {
        return Effect.fail(unsupported(info, model, "embeddings", "embeddings"))
      }
      if (model === undefined) return Effect.fail(missingModel(info))
      const call = callInfo(model, "embeddings")
      const resolved: ResolvedEmbeddingRequest = value.model === model
        ? value as ResolvedEmbeddingRequest
        : { ...value, model }
      const inputs = embeddings.inputsOf(resolved.input)
      const size = Math.max(1, Math.floor(inputsPerCall?.(model) ?? inputs.length))
      const attempt = (batch: ReadonlyArray<string>) =>
        Telemetry.trackAttempts(
          call,
          scrubbed(embedImpl(batch === inputs ? resolved : { ...resolved, input: batch }))
        ).pipe(Retry.retry(options.retry, { provider: info.name, model }))
      return Telemetry.trackCall(
        call,
        embeddings.batched(info.name, model, inputs, size, embeddingConcurrency, attempt)
      )
    })

  return { info, chat, stream, embed }
}

/**
 * Sends a chat request through the `LlmProvider` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const chat = (request: ChatCompletionRequest): Effect.Effect<ChatCompletion, LlmError, LlmProvider> =>
  Effect.flatMap(LlmProvider, (provider) => provider.chat(request))

/**
 * Streams a chat response from the `LlmProvider` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const stream = (request: ChatCompletionRequest): Stream.Stream<ChatCompletionChunk, LlmError, LlmProvider> =>
  unwrap(Effect.map(LlmProvider, (provider) => provider.stream(request)))

/**
 * Embeds input through the `LlmProvider` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const embed = (request: EmbeddingRequest): Effect.Effect<EmbeddingResponse, LlmError, LlmProvider> =>
  Effect.flatMap(LlmProvider, (provider) => provider.embed(request))

/**
 * The `ProviderInfo` of the `LlmProvider` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const info: Effect.Effect<ProviderInfo, never, LlmProvider> = Effect.map(
  LlmProvider,
  (provider) => provider.info
)
