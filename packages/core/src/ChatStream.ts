/**
 * Folding a chat stream into the `ChatCompletion` the non-streaming call would have returned.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as ChunkContract from "./ChunkContract.js"
import type {
  ChatCompletion,
  ChatCompletionChoice,
  ChatCompletionChunk,
  ChatCompletionMessage,
  FinishReason,
  ToolCall,
  Usage
} from "./Domain.js"

/**
 * An incremental fold of chunks: `push` each chunk as it arrives, `result` at any time for the
 * completion so far. Text and tool-call arguments are collected as lists of pieces and joined only in
 * `result`, so a push costs a few appends whatever the length of the answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Accumulator {
  readonly push: (chunk: ChatCompletionChunk) => void
  readonly result: () => ChatCompletion
}

interface ToolCallState {
  readonly index: number
  id: string | undefined
  name: string | undefined
  readonly args: Array<string>
}

interface ChoiceState {
  readonly index: number
  readonly content: Array<string>
  sawContent: boolean
  readonly reasoning: Array<string>
  readonly refusal: Array<string>
  readonly toolCalls: Map<number, ToolCallState>
  finishReason: FinishReason | undefined
}

const makeChoice = (index: number): ChoiceState => ({
  index,
  content: [],
  sawContent: false,
  reasoning: [],
  refusal: [],
  toolCalls: new Map(),
  finishReason: undefined
})

const byIndex = <A extends { readonly index: number }>(a: A, b: A): number => a.index - b.index

const finishChoice = (state: ChoiceState): ChatCompletionChoice => {
  const toolCalls: Array<ToolCall> = []
  for (const call of Array.from(state.toolCalls.values()).sort(byIndex)) {
    const args = call.args.join("")
    toolCalls.push({
      // A call without an id cannot be answered by a tool message (tool_call_id must not be empty).
      id: call.id ?? `call_${state.index}_${call.index}`,
      type: "function",
      function: { name: call.name ?? "", arguments: args === "" ? "{}" : args }
    })
  }
  const text = state.content.join("")
  const message: {
    -readonly [K in keyof ChatCompletionMessage]: ChatCompletionMessage[K]
  } = {
    role: "assistant",
    content: text !== "" ? text : toolCalls.length > 0 || !state.sawContent ? null : ""
  }
  if (state.reasoning.length > 0) message.reasoning_content = state.reasoning.join("")
  if (state.refusal.length > 0) message.refusal = state.refusal.join("")
  if (toolCalls.length > 0) message.tool_calls = toolCalls
  return {
    index: state.index,
    message,
    finish_reason: ChunkContract.finishReason(state.finishReason ?? "stop", toolCalls.length > 0)
  }
}

/**
 * A fresh accumulator. Choices are routed by `choices[i].index`; content, reasoning and refusal are
 * concatenated (null deltas ignored); tool calls are assembled by their `index` (`id` and
 * `function.name` from the first piece that has them, `arguments` fragments concatenated, empty
 * arguments finalised as `"{}"`); `finish_reason` is the last one seen (`"stop"` if none was seen),
 * `"tool_calls"` instead of `"stop"` when tool calls were assembled (`ChunkContract.finishReason`); `usage` is the last non-null usage; `id`,
 * `model` and `created` come from the first chunk with a non-empty `id`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeAccumulator = (): Accumulator => {
  const choices = new Map<number, ChoiceState>()
  let header: ChatCompletionChunk | undefined
  let hasId = false
  let usage: Usage | undefined
  let provider: string | undefined
  let systemFingerprint: string | undefined
  let serviceTier: string | undefined

  const push = (chunk: ChatCompletionChunk): void => {
    if (!hasId && (header === undefined || chunk.id !== "")) {
      header = chunk
      hasId = chunk.id !== ""
    }
    if (chunk.usage != null) usage = chunk.usage
    if (provider === undefined && chunk.provider !== undefined) provider = chunk.provider
    if (systemFingerprint === undefined && chunk.system_fingerprint != null) {
      systemFingerprint = chunk.system_fingerprint
    }
    if (serviceTier === undefined && chunk.service_tier != null) serviceTier = chunk.service_tier
    for (const choice of chunk.choices) {
      let state = choices.get(choice.index)
      if (state === undefined) {
        state = makeChoice(choice.index)
        choices.set(choice.index, state)
      }
      const delta = choice.delta
      if (typeof delta.content === "string") {
        state.sawContent = true
        if (delta.content !== "") state.content.push(delta.content)
      }
      if (typeof delta.reasoning_content === "string" && delta.reasoning_content !== "") {
        state.reasoning.push(delta.reasoning_content)
      }
      if (typeof delta.refusal === "string" && delta.refusal !== "") state.refusal.push(delta.refusal)
      if (delta.tool_calls !== undefined) {
        for (const piece of delta.tool_calls) {
          let call = state.toolCalls.get(piece.index)
          if (call === undefined) {
            call = { index: piece.index, id: undefined, name: undefined, args: [] }
            state.toolCalls.set(piece.index, call)
          }
          if (call.id === undefined && piece.id !== undefined && piece.id !== "") call.id = piece.id
          const fn = piece.function
          if (fn !== undefined) {
            if (call.name === undefined && fn.name !== undefined && fn.name !== "") call.name = fn.name
            if (fn.arguments !== undefined && fn.arguments !== "") call.args.push(fn.arguments)
          }
        }
      }
      if (choice.finish_reason !== null) state.finishReason = choice.finish_reason
    }
  }

  const result = (): ChatCompletion => {
    const completion: { -readonly [K in keyof ChatCompletion]: ChatCompletion[K] } = {
      id: header?.id ?? "",
      object: "chat.completion",
      created: header?.created ?? 0,
      model: header?.model ?? "",
      choices: Array.from(choices.values()).sort(byIndex).map(finishChoice)
    }
    if (usage !== undefined) completion.usage = usage
    if (systemFingerprint !== undefined) completion.system_fingerprint = systemFingerprint
    if (serviceTier !== undefined) completion.service_tier = serviceTier
    if (provider !== undefined) completion.provider = provider
    return completion
  }

  return { push, result }
}

/**
 * Runs a chunk stream to its end and folds it into the `ChatCompletion` the non-streaming call would
 * have returned (see `makeAccumulator`). A failure of the stream is the failure of the result.
 *
 * @since 0.1.0
 * @category destructors
 */
export const toCompletion = <E, R>(
  stream: Stream.Stream<ChatCompletionChunk, E, R>
): Effect.Effect<ChatCompletion, E, R> =>
  Effect.suspend(() => {
    const accumulator = makeAccumulator()
    return Stream.runForEachChunk(stream, (chunk) =>
      Effect.sync(() => {
        for (const item of chunk) accumulator.push(item)
      })).pipe(Effect.map(() => accumulator.result()))
  })
