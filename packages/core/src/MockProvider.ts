/**
 * A scripted `LlmProvider` for tests: swap a real provider's layer for `MockProvider.layer(script)`
 * and the code under test gets the replies, streams and failures the script lists, in order.
 *
 * The mock is built on `LlmProvider.make`, like every real provider, so it validates requests,
 * applies the default model, checks capabilities and retries exactly as they do. Every wait (a
 * step's `delay`, a stream's pauses, retry backoff) is measured on `Clock`, so a test on `TestClock`
 * runs them in no time.
 *
 * @example
 * ```ts
 * import { assert, it } from "@effect/vitest"
 * import { LlmProvider, RateLimitError } from "@llm-api-router/core"
 * import { MockProvider } from "@llm-api-router/core/testing"
 * import { Duration, Effect, Fiber, Option, TestClock } from "effect"
 *
 * it.effect("waits for the rate limit, then answers", () =>
 *   Effect.gen(function*() {
 *     const fiber = yield* LlmProvider.chat({ messages: [{ role: "user", content: "hi" }] }).pipe(Effect.fork)
 *     yield* TestClock.adjust("2 seconds")
 *     const completion = yield* Fiber.join(fiber)
 *     assert.strictEqual(completion.choices[0].message.content, "hello")
 *     assert.strictEqual((yield* MockProvider.calls).length, 2)
 *   }).pipe(Effect.provide(MockProvider.layer([
 *     MockProvider.fail(new RateLimitError({ provider: "mock", message: "slow down", retryAfter: Option.some(Duration.seconds(2)) })),
 *     MockProvider.reply("hello")
 *   ], { retry: { jitter: false } }))))
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as ChatStream from "./ChatStream.js"
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionMessage,
  ChatCompletionRequest,
  EmbeddingResponse,
  FinishReason,
  ToolCall,
  Usage
} from "./Domain.js"
import type { LlmError } from "./LlmError.js"
import * as LlmProvider from "./LlmProvider.js"
import type * as Retry from "./Retry.js"

// ---------------------------------------------------------------------------------------------
// calls
// ---------------------------------------------------------------------------------------------

/**
 * A request that reached the mock: one per attempt (a retried call appears once per attempt), after
 * validation and with the model resolved. Requests rejected by validation never reach it.
 *
 * @since 0.1.0
 * @category models
 */
export type Call =
  | { readonly method: "chat"; readonly request: LlmProvider.ResolvedChatRequest }
  | { readonly method: "stream"; readonly request: LlmProvider.ResolvedChatRequest }
  | { readonly method: "embed"; readonly request: LlmProvider.ResolvedEmbeddingRequest }

// ---------------------------------------------------------------------------------------------
// steps
// ---------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface StepOptions {
  /** How long the step takes before it answers (or fails), on `Clock`. */
  readonly delay?: Duration.DurationInput | undefined
}

/**
 * The assistant message of a scripted reply, in `ChatCompletion` terms.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReplyMessage {
  readonly content?: string | null | undefined
  readonly reasoning_content?: string | undefined
  readonly refusal?: string | undefined
  readonly tool_calls?: ReadonlyArray<ToolCall> | undefined
  /** Default `"tool_calls"` when there are tool calls, else `"stop"`. */
  readonly finish_reason?: FinishReason | undefined
  /** Default: a rough word count of the request and the reply. */
  readonly usage?: Usage | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Reply {
  readonly _tag: "Reply"
  readonly reply: string | ChatCompletion | ReplyMessage
  readonly delay: Duration.DurationInput | undefined
}

/**
 * A wait between two chunks of a scripted stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pause {
  readonly _tag: "Pause"
  readonly duration: Duration.DurationInput
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StreamOptions {
  /** A wait before every chunk, the first one included. */
  readonly delay?: Duration.DurationInput | undefined
  /**
   * After the chunks, fail with this error instead of ending: a stream cut mid-way, so the generated
   * text chunks carry no `finish_reason` and no usage chunk follows.
   */
  readonly failWith?: LlmError | undefined
  /** The `finish_reason` of the generated text chunks. Default `"stop"`. */
  readonly finishReason?: FinishReason | undefined
  /** The usage of the final chunk after generated text. Default: a rough word count. */
  readonly usage?: Usage | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StreamReply {
  readonly _tag: "StreamReply"
  readonly items: ReadonlyArray<string | ChatCompletionChunk | Pause>
  readonly options: StreamOptions
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Embeddings {
  readonly _tag: "Embeddings"
  readonly embeddings: ReadonlyArray<ReadonlyArray<number>> | EmbeddingResponse
  readonly delay: Duration.DurationInput | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Failure {
  readonly _tag: "Failure"
  readonly error: LlmError
  readonly delay: Duration.DurationInput | undefined
}

/**
 * What the mock does with one call. A `Reply` answers `stream` too (as chunks), and a `StreamReply`
 * answers `chat` too (folded with `ChatStream.toCompletion`), so one script serves both.
 *
 * @since 0.1.0
 * @category models
 */
export type Step = Reply | StreamReply | Embeddings | Failure

/**
 * The script: steps consumed one per call (one per attempt, so a retried call consumes several), each
 * a `Step` or a function of the call; or a single function that answers every call. A call beyond
 * the end of a list is a defect that names the call: a test that makes more calls than it scripted
 * is wrong.
 *
 * @since 0.1.0
 * @category models
 */
export type Script = ReadonlyArray<Step | ((call: Call) => Step)> | ((call: Call) => Step)

/**
 * Answers a chat call with a completion: a string (the assistant's text), a `ReplyMessage`, or a
 * whole `ChatCompletion` returned as is.
 *
 * @since 0.1.0
 * @category constructors
 */
export const reply = (reply: string | ChatCompletion | ReplyMessage, options?: StepOptions): Step => ({
  _tag: "Reply",
  reply,
  delay: options?.delay
})

/**
 * Answers a stream call with chunks. A string is split into word-sized content chunks; in a list,
 * each string is one content chunk, each `ChatCompletionChunk` is sent as is and each `pause(d)`
 * waits. After generated text chunks come `finish_reason` (on the last one) and a usage chunk.
 *
 * @since 0.1.0
 * @category constructors
 */
export const stream = (
  content: string | ReadonlyArray<string | ChatCompletionChunk | Pause>,
  options?: StreamOptions
): Step => ({
  _tag: "StreamReply",
  items: typeof content === "string" ? splitWords(content) : content,
  options: options ?? {}
})

/**
 * A wait between two chunks of `stream`, on `Clock`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pause = (duration: Duration.DurationInput): Pause => ({ _tag: "Pause", duration })

/**
 * Answers an embed call: one vector per input, or a whole `EmbeddingResponse` returned as is.
 *
 * @since 0.1.0
 * @category constructors
 */
export const embeddings = (
  embeddings: ReadonlyArray<ReadonlyArray<number>> | EmbeddingResponse,
  options?: StepOptions
): Step => ({ _tag: "Embeddings", embeddings, delay: options?.delay })

/**
 * Fails the call with the given error (for a stream: before its first chunk; see
 * `StreamOptions.failWith` for a failure mid-stream).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fail = (error: LlmError, options?: StepOptions): Step => ({
  _tag: "Failure",
  error,
  delay: options?.delay
})

// ---------------------------------------------------------------------------------------------
// the service
// ---------------------------------------------------------------------------------------------

/**
 * The handle a test inspects the mock through.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Every call that reached the mock so far, in order. */
  readonly calls: Effect.Effect<ReadonlyArray<Call>>
}

/**
 * The tag of the handle, provided by `layer` next to `LlmProvider`.
 *
 * @since 0.1.0
 * @category tags
 */
export class MockProvider extends Context.Tag("@llm-api-router/core/MockProvider")<MockProvider, Service>() {}

/**
 * Every call that reached the mock in context so far.
 *
 * @since 0.1.0
 * @category accessors
 */
export const calls: Effect.Effect<ReadonlyArray<Call>, never, MockProvider> = Effect.flatMap(
  MockProvider,
  (mock) => mock.calls
)

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The provider name in `info` and in errors. Default `"mock"`. */
  readonly name?: string | undefined
  /** Default `"mock-model"`; `null` for a provider without one (then requests must name a model). */
  readonly defaultModel?: string | null | undefined
  /** Capabilities to turn off (all on by default), to test `UnsupportedFeatureError` paths. */
  readonly capabilities?: Partial<LlmProvider.Capabilities> | undefined
  /**
   * The retry option, exactly as a real provider takes it. Default `false`: a scripted failure
   * surfaces as itself, at once. Pass `Retry.defaultPolicy` or a `RetryConfig` (and drive the waits
   * with `TestClock.adjust`) to test retry behaviour.
   */
  readonly retry?: Retry.RetryOption | undefined
}

/**
 * Builds a mock provider and its handle. Each call of `make` has its own script position and call log.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  script: Script,
  options?: Options
): Effect.Effect<{ readonly provider: LlmProvider.Service; readonly mock: Service }> =>
  Effect.sync(() => {
    const name = options?.name ?? "mock"
    const info: LlmProvider.ProviderInfo = {
      name,
      defaultModel: options?.defaultModel === null ? undefined : options?.defaultModel ?? "mock-model",
      capabilities: {
        streaming: true,
        tools: true,
        embeddings: true,
        vision: true,
        jsonSchema: true,
        ...options?.capabilities
      }
    }
    const log: Array<Call> = []
    let position = 0

    // Runs once per attempt: `LlmProvider.make` re-runs the effect (or stream) for every retry.
    const next = (call: Call): Effect.Effect<Next> =>
      Effect.suspend(() => {
        log.push(call)
        const number = log.length
        if (typeof script === "function") return Effect.succeed({ step: script(call), number })
        const step = script[position]
        if (step === undefined) {
          return Effect.dieMessage(
            `MockProvider: the script has ${script.length} steps, and call ${number} (${call.method} ` +
              `with model ${call.request.model}) found none left`
          )
        }
        position++
        return Effect.succeed({ step: typeof step === "function" ? step(call) : step, number })
      })

    const mismatch = (method: Call["method"], { number, step }: Next) =>
      Effect.dieMessage(`MockProvider: call ${number} is ${method}, but its scripted step is a ${step._tag}`)

    const chat = (request: LlmProvider.ResolvedChatRequest): Effect.Effect<ChatCompletion, LlmError> =>
      Effect.flatMap(next({ method: "chat", request }), (next): Effect.Effect<ChatCompletion, LlmError> => {
        const { number, step } = next
        switch (step._tag) {
          case "Reply":
            return delayed(step.delay, completionOf(step.reply, request, name, number))
          case "StreamReply":
            return ChatStream.toCompletion(chunksOf(step, request, name, number))
          case "Failure":
            return delayed(step.delay, Effect.fail(step.error))
          case "Embeddings":
            return mismatch("chat", next)
        }
      })

    const streamChat = (request: LlmProvider.ResolvedChatRequest): Stream.Stream<ChatCompletionChunk, LlmError> =>
      Stream.unwrap(Effect.map(next({ method: "stream", request }), (next) => {
        const { number, step } = next
        switch (step._tag) {
          case "Reply":
            return Stream.unwrap(delayed(
              step.delay,
              Effect.map(completionOf(step.reply, request, name, number), completionToChunks)
            ))
          case "StreamReply":
            return chunksOf(step, request, name, number)
          case "Failure":
            return Stream.fromEffect(delayed(step.delay, Effect.fail(step.error)))
          case "Embeddings":
            return Stream.fromEffect(mismatch("stream", next))
        }
      }))

    const embed = (request: LlmProvider.ResolvedEmbeddingRequest): Effect.Effect<EmbeddingResponse, LlmError> =>
      Effect.flatMap(next({ method: "embed", request }), (next): Effect.Effect<EmbeddingResponse, LlmError> => {
        const { step } = next
        switch (step._tag) {
          case "Embeddings":
            return delayed(step.delay, Effect.succeed(embeddingResponseOf(step.embeddings, request, name)))
          case "Failure":
            return delayed(step.delay, Effect.fail(step.error))
          default:
            return mismatch("embed", next)
        }
      })

    const provider = LlmProvider.make({ info, retry: options?.retry ?? false, chat, stream: streamChat, embed })
    const mock: Service = { calls: Effect.sync(() => log.slice()) }
    return { provider, mock }
  })

/**
 * A layer providing the scripted `LlmProvider` and its `MockProvider` handle. A layer built per test
 * (with `Effect.provide`) starts its script afresh.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  script: Script,
  options?: Options
): Layer.Layer<LlmProvider.LlmProvider | MockProvider> =>
  Layer.effectContext(
    Effect.map(
      make(script, options),
      ({ mock, provider }) => Context.make(LlmProvider.LlmProvider, provider).pipe(Context.add(MockProvider, mock))
    )
  )

// ---------------------------------------------------------------------------------------------
// internals
// ---------------------------------------------------------------------------------------------

interface Next {
  readonly step: Step
  readonly number: number
}

const delayed = <A, E>(delay: Duration.DurationInput | undefined, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  delay === undefined ? effect : Effect.zipRight(Effect.sleep(delay), effect)

// Word-sized pieces that concatenate back to the text exactly, whitespace included.
const splitWords = (text: string): ReadonlyArray<string> => text.match(/\s*\S+|\s+$/g) ?? [text]

const countWords = (text: string): number => {
  let count = 0
  for (const _ of text.matchAll(/\S+/g)) count++
  return count
}

const promptWords = (request: ChatCompletionRequest): number => {
  let count = 0
  for (const message of request.messages) {
    const content = message.content
    if (typeof content === "string") count += countWords(content)
    else if (Array.isArray(content)) {
      for (const part of content) {
        if (part.type === "text") count += countWords(part.text)
      }
    }
  }
  return count
}

const roughUsage = (request: ChatCompletionRequest, completionTokens: number): Usage => {
  const prompt = promptWords(request)
  return { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens }
}

const nowSeconds = Effect.map(Clock.currentTimeMillis, (millis) => Math.floor(millis / 1000))

const isCompletion = (reply: ChatCompletion | ReplyMessage): reply is ChatCompletion =>
  (reply as ChatCompletion).object === "chat.completion"

const completionOf = (
  reply: string | ChatCompletion | ReplyMessage,
  request: LlmProvider.ResolvedChatRequest,
  provider: string,
  callNumber: number
): Effect.Effect<ChatCompletion> =>
  Effect.map(nowSeconds, (created) => {
    if (typeof reply !== "string" && isCompletion(reply)) return reply
    const spec: ReplyMessage = typeof reply === "string" ? { content: reply } : reply
    const content = spec.content ?? null
    const message: { -readonly [K in keyof ChatCompletionMessage]: ChatCompletionMessage[K] } = {
      role: "assistant",
      content
    }
    if (spec.reasoning_content !== undefined) message.reasoning_content = spec.reasoning_content
    if (spec.refusal !== undefined) message.refusal = spec.refusal
    const toolCalls = spec.tool_calls ?? []
    if (toolCalls.length > 0) message.tool_calls = toolCalls
    return {
      id: `mock-${callNumber}`,
      object: "chat.completion",
      created,
      model: request.model,
      choices: [{
        index: 0,
        message,
        finish_reason: spec.finish_reason ?? (toolCalls.length > 0 ? "tool_calls" : "stop")
      }],
      usage: spec.usage ?? roughUsage(request, countWords(content ?? "") + countWords(spec.reasoning_content ?? "")),
      provider
    }
  })

// The stream a provider would have sent for this completion, normalised as every provider's is.
const completionToChunks = (completion: ChatCompletion): Stream.Stream<ChatCompletionChunk> => {
  const chunks: Array<ChatCompletionChunk> = []
  const base = {
    id: completion.id,
    object: "chat.completion.chunk" as const,
    created: completion.created,
    model: completion.model,
    ...(completion.provider !== undefined ? { provider: completion.provider } : {})
  }
  for (const choice of completion.choices) {
    const { index, message } = choice
    const pieces: Array<ChatCompletionChunk["choices"][number]["delta"]> = [{ role: "assistant" }]
    if (message.reasoning_content != null && message.reasoning_content !== "") {
      pieces.push({ reasoning_content: message.reasoning_content })
    }
    if (message.content != null && message.content !== "") {
      for (const word of splitWords(message.content)) pieces.push({ content: word })
    }
    if (message.refusal != null && message.refusal !== "") pieces.push({ refusal: message.refusal })
    message.tool_calls?.forEach((call, i) => {
      pieces.push({ tool_calls: [{ index: i, id: call.id, type: "function", function: { name: call.function.name } }] })
      pieces.push({ tool_calls: [{ index: i, function: { arguments: call.function.arguments } }] })
    })
    pieces.forEach((delta, i) =>
      chunks.push({
        ...base,
        choices: [{ index, delta, finish_reason: i === pieces.length - 1 ? choice.finish_reason : null }]
      })
    )
  }
  if (completion.usage !== undefined) chunks.push({ ...base, choices: [], usage: completion.usage })
  return Stream.fromIterable(chunks)
}

const chunksOf = (
  step: StreamReply,
  request: LlmProvider.ResolvedChatRequest,
  provider: string,
  callNumber: number
): Stream.Stream<ChatCompletionChunk, LlmError> =>
  Stream.unwrap(Effect.map(nowSeconds, (created) => {
    const { items, options } = step
    const base = {
      id: `mock-${callNumber}`,
      object: "chat.completion.chunk" as const,
      created,
      model: request.model,
      provider
    }
    const complete = options.failWith === undefined
    let lastText = -1
    items.forEach((item, i) => {
      if (typeof item === "string" && complete) lastText = i
    })
    let first = true
    const emit = (item: string | ChatCompletionChunk, i: number): ChatCompletionChunk => {
      if (typeof item !== "string") return item
      const delta = first ? { role: "assistant" as const, content: item } : { content: item }
      first = false
      return {
        ...base,
        choices: [{ index: 0, delta, finish_reason: i === lastText ? options.finishReason ?? "stop" : null }]
      }
    }
    const steps: Array<Effect.Effect<ReadonlyArray<ChatCompletionChunk>>> = []
    items.forEach((item, i) => {
      if (typeof item !== "string" && "_tag" in item) {
        steps.push(Effect.as(Effect.sleep(item.duration), []))
        return
      }
      const chunk = Effect.sync(() => [emit(item, i)])
      steps.push(options.delay === undefined ? chunk : Effect.zipRight(Effect.sleep(options.delay), chunk))
    })
    if (lastText >= 0) {
      const usage = options.usage ??
        roughUsage(request, items.reduce((n, item) => typeof item === "string" ? n + countWords(item) : n, 0))
      steps.push(Effect.succeed([{ ...base, choices: [], usage }]))
    }
    const body = Stream.fromIterable(steps).pipe(Stream.mapEffect((step) => step), Stream.flattenIterables)
    return options.failWith === undefined ? body : Stream.concat(body, Stream.fail(options.failWith))
  }))

const embeddingResponseOf = (
  embeddings: ReadonlyArray<ReadonlyArray<number>> | EmbeddingResponse,
  request: LlmProvider.ResolvedEmbeddingRequest,
  provider: string
): EmbeddingResponse => {
  if (!Array.isArray(embeddings)) return embeddings as EmbeddingResponse
  const inputs = typeof request.input === "string" ? [request.input] : request.input
  const tokens = inputs.reduce((n, input) => n + countWords(input), 0)
  return {
    object: "list",
    data: (embeddings as ReadonlyArray<ReadonlyArray<number>>).map((embedding, index) => ({
      object: "embedding",
      index,
      embedding
    })),
    model: request.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
    provider
  }
}
