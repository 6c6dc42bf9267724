/**
 * Anthropic's Messages API behind our OpenAI-shaped interface: chat, streaming, tool calls, images,
 * JSON answers and extended thinking. Anthropic has no embeddings: `embed` fails with
 * `UnsupportedFeatureError` before any I/O.
 *
 * How OpenAI's shapes are translated:
 * - `system` and `developer` messages are hoisted into `system`; consecutive messages of one role are
 *   merged into one turn; `tool` messages become `tool_result` blocks at the start of the next user
 *   turn; assistant `tool_calls` become `tool_use` blocks, their JSON `arguments` parsed (arguments
 *   that are not a JSON object fail with `InvalidRequestError` naming the message, before any I/O).
 * - `max_tokens` is always sent: `max_completion_tokens`, else `max_tokens`, else `defaultMaxTokens`
 *   (4096). `temperature` above 1 is sent as 1 (Anthropic's range is 0–1). `stop` → `stop_sequences`,
 *   `user` → `metadata.user_id`; `seed`, penalties and `logit_bias` have no counterpart and are not
 *   sent; `n > 1` and `logprobs` fail with `UnsupportedFeatureError`.
 * - `response_format` (`json_schema` or `json_object`): the model is made to call a tool named
 *   `"json"` whose input schema is the requested schema, and the tool's input comes back as the
 *   message's text with `finish_reason: "stop"`. Works on every Claude model.
 * - `reasoning_effort` turns on extended thinking with a budget (minimal 1024, low 2048, medium 8192,
 *   high 16384 tokens) inside `max_tokens`; a request field `thinking` is sent as it is instead.
 *   Thinking text arrives as `reasoning_content`. Anthropic requires the thinking blocks, with their
 *   signatures, to be sent back in a tool loop: responses carry them on `message.thinking_blocks`
 *   (streams on `delta.thinking_blocks`, one complete block per chunk), and an assistant message
 *   replayed with `thinking_blocks` has them put back unchanged. `reasoning_content` alone is not
 *   replayed: without its signature the API would refuse it.
 * - `stop_reason`: `end_turn`/`stop_sequence` → `stop`; `max_tokens` and
 *   `model_context_window_exceeded` → `length`; `tool_use` → `tool_calls`; `refusal` →
 *   `content_filter`; `pause_turn` → `length` (the turn is unfinished; send it back to continue).
 *
 * @since 0.1.0
 */
import type { ChatCompletion, ChatCompletionChunk, LlmError } from "@llm-api-router/core"
import {
  type Http,
  HttpTransport,
  Identity,
  InvalidRequestError,
  LlmProvider,
  type Retry,
  Secrets
} from "@llm-api-router/core"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Stream from "effect/Stream"
import * as codec from "./internal/anthropic/codec.js"
import * as AnthropicStream from "./internal/anthropic/stream.js"
import { unwrap } from "./internal/stream.js"
import { timeouts } from "./OpenAiCompatible.js"

/**
 * Anthropic's API, version prefix included.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBaseUrl = "https://api.anthropic.com/v1"

/**
 * The `anthropic-version` header sent by default: the only version of the Messages API.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultVersion = "2023-06-01"

/**
 * The `max_tokens` sent when the request has neither `max_tokens` nor `max_completion_tokens`
 * (Anthropic requires one and has no default).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxTokens = 4096

/**
 * A thinking block to send back in a tool loop (see the module's notes).
 *
 * @since 0.1.0
 * @category models
 */
export type ThinkingBlock = codec.ThinkingBlock

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Sent as `x-api-key`. */
  readonly apiKey: Redacted.Redacted<string>
  /** Replaces `https://api.anthropic.com/v1` (a proxy or gateway of the same protocol). */
  readonly baseUrl?: string | undefined
  readonly defaultModel?: string | undefined
  /** Extra headers on every request. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** A bare duration bounds the whole call; an object sets each phase. */
  readonly timeout?: Duration.DurationInput | HttpTransport.Timeouts | undefined
  /** Caps on a response body and on one stream event (`HttpTransport.Limits`; default `HttpTransport.defaultLimits`). */
  readonly limits?: HttpTransport.Limits | undefined
  /** A `Schedule`, a `RetryConfig`, or `false`; default `Retry.defaultPolicy`. */
  readonly retry?: Retry.RetryOption | undefined
  /** `max_tokens` when a request gives none; default {@link defaultMaxTokens}. */
  readonly defaultMaxTokens?: number | undefined
  /** Sent as `anthropic-version`; default {@link defaultVersion}. */
  readonly version?: string | undefined
  /** Beta features, sent as `anthropic-beta` (comma-separated). */
  readonly betas?: ReadonlyArray<string> | undefined
}

const NAME = "anthropic"

const capabilities: LlmProvider.Capabilities = {
  streaming: true,
  tools: true,
  embeddings: false,
  vision: true,
  // The codec answers `response_format` through a forced tool; `Structured` forces its own tool, so that a repair
  // goes back as that tool's result.
  jsonSchema: true,
  structuredOutput: "tool"
}

const configError = (param: string, message: string) =>
  new InvalidRequestError({ provider: NAME, source: "client", param, message: `${NAME}: ${param}: ${message}` })

const checkBaseUrl = (baseUrl: string): Either.Either<string, InvalidRequestError> => {
  let parsed: URL
  try {
    parsed = new URL(baseUrl)
  } catch {
    return Either.left(configError("baseUrl", `not a URL: ${JSON.stringify(baseUrl)}`))
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return Either.left(configError("baseUrl", `must be http or https: ${JSON.stringify(baseUrl)}`))
  }
  return Either.right(baseUrl.endsWith("/") ? baseUrl.slice(0, -1) : baseUrl)
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<LlmProvider.Service, InvalidRequestError, Http.HttpClient> =>
  Effect.gen(function*() {
    const baseUrl = yield* checkBaseUrl(options.baseUrl ?? defaultBaseUrl)
    const maxTokens = options.defaultMaxTokens ?? defaultMaxTokens
    if (!Number.isInteger(maxTokens) || maxTokens < 1) {
      return yield* Effect.fail(configError("defaultMaxTokens", "must be a positive integer"))
    }
    const secrets = Secrets.make([options.apiKey], { headers: options.headers, urls: [baseUrl] })
    const transport = yield* HttpTransport.make({
      provider: NAME,
      timeouts: timeouts(options.timeout),
      limits: options.limits,
      secrets,
      mapError: (response, context) => codec.errorFromResponse(NAME, response, context.model)
    })

    // Built once: every request shares these.
    const baseHeaders: Record<string, string> = {
      ...options.headers,
      ...(options.betas !== undefined && options.betas.length > 0 ? { "anthropic-beta": options.betas.join(",") } : {}),
      "anthropic-version": options.version ?? defaultVersion,
      "x-api-key": Redacted.value(options.apiKey)
    }
    const jsonHeaders = { accept: "application/json", ...baseHeaders }
    const streamHeaders = { accept: "text/event-stream", ...baseHeaders }
    const url = `${baseUrl}/messages`
    const bodyOptions: codec.BodyOptions = { provider: NAME, defaultMaxTokens: maxTokens }

    const chat = (request: LlmProvider.ResolvedChatRequest): Effect.Effect<ChatCompletion, LlmError> =>
      Effect.flatMap(codec.chatBody(bodyOptions, request, false), ({ body, structured }) =>
        Effect.flatMap(
          transport.json({ method: "POST", url, headers: jsonHeaders, body }, { model: request.model }),
          (response) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) =>
              codec.completion(
                NAME,
                request.model,
                response.json,
                Math.floor(now / 1000),
                structured,
                response.requestId
              ))
        ))

    const stream = (request: LlmProvider.ResolvedChatRequest): Stream.Stream<ChatCompletionChunk, LlmError> =>
      unwrap(Effect.gen(function*() {
        const { body, structured } = yield* codec.chatBody(bodyOptions, request, true)
        const now = yield* Clock.currentTimeMillis
        return transport.decodeStream(
          { method: "POST", url, headers: streamHeaders, body },
          { model: request.model },
          AnthropicStream.decoder(NAME, request.model, Math.floor(now / 1000), structured)
        )
      }))

    return LlmProvider.make({
      info: {
        name: NAME,
        baseUrl,
        defaultModel: options.defaultModel,
        capabilities,
        identity: Identity.make({ credential: options.apiKey, headers: options.headers })
      },
      retry: options.retry,
      secrets,
      chat,
      stream
    })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<LlmProvider.LlmProvider, InvalidRequestError, Http.HttpClient> =>
  Layer.effect(LlmProvider.LlmProvider, make(options))

/**
 * Reads `ANTHROPIC_API_KEY`, and when set `ANTHROPIC_BASE_URL` and `ANTHROPIC_MODEL`; `options` take
 * precedence.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Partial<Options> = {}
): Layer.Layer<LlmProvider.LlmProvider, ConfigError.ConfigError | InvalidRequestError, Http.HttpClient> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const optional = (name: string) => Effect.map(Config.option(Config.string(name)), Option.getOrUndefined)
    const apiKey = options.apiKey ?? (yield* Config.redacted("ANTHROPIC_API_KEY"))
    return layer({
      ...options,
      apiKey,
      baseUrl: options.baseUrl ?? (yield* optional("ANTHROPIC_BASE_URL")),
      defaultModel: options.defaultModel ?? (yield* optional("ANTHROPIC_MODEL"))
    })
  }))
