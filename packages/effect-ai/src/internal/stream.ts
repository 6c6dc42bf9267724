/**
 * A chunk stream as `@effect/ai`'s stream parts: `response-metadata` first; text and reasoning as start / delta / end
 * runs (a run ends when the other kind begins, or a tool call); each tool call as `tool-params-start`, its argument
 * fragments as `tool-params-delta`, then `tool-params-end` and the whole `tool-call` once the choice has finished;
 * `finish` last, with the usage that follows the finish reason (and the stream's replay fields, see `replay.ts`).
 *
 * @internal
 */
import type * as AiError from "@effect/ai/AiError"
import type * as Response from "@effect/ai/Response"
import type { ChatCompletionChunk, FinishReason, Usage } from "@llm-api-router/core"
import * as Either from "effect/Either"
import { appendReplayFields, type ReplayFields, replayFieldsOf, type ReplayMemo } from "./replay.js"
import { finishReasonOf, metadataKey, metadataPart, parseArguments, usageOf } from "./response.js"

interface OpenCall {
  readonly id: string
  readonly name: string
  arguments: string
}

type Part = Response.StreamPartEncoded

/** One stream's state: make one per stream, feed it every chunk, then `end`. */
export interface Translator {
  readonly chunk: (chunk: ChatCompletionChunk) => Either.Either<Array<Part>, AiError.MalformedOutput>
  readonly end: () => Either.Either<Array<Part>, AiError.MalformedOutput>
}

export const makeTranslator = (method: string, memo: ReplayMemo): Translator => {
  let started = false
  let reasoning = ""
  let replay: ReplayFields | undefined = undefined
  let open: "text" | "reasoning" | undefined = undefined
  let runs = 0
  let runId = ""
  const calls = new Map<number, OpenCall>()
  let callsClosed = false
  let finishReason: FinishReason | undefined = undefined
  let usage: Usage | undefined = undefined

  const closeRun = (out: Array<Part>) => {
    if (open === "text") out.push({ type: "text-end", id: runId })
    else if (open === "reasoning") out.push({ type: "reasoning-end", id: runId })
    open = undefined
  }

  const openRun = (out: Array<Part>, kind: "text" | "reasoning") => {
    if (open === kind) return
    closeRun(out)
    open = kind
    runId = `${kind}-${runs++}`
    out.push({ type: kind === "text" ? "text-start" : "reasoning-start", id: runId })
  }

  const closeCalls = (out: Array<Part>): Either.Either<Array<Part>, AiError.MalformedOutput> => {
    if (callsClosed) return Either.right(out)
    callsClosed = true
    for (const call of calls.values()) {
      out.push({ type: "tool-params-end", id: call.id })
      const params = parseArguments(method, call.name, call.arguments)
      if (Either.isLeft(params)) return Either.left(params.left)
      out.push({ type: "tool-call", id: call.id, name: call.name, params: params.right, providerExecuted: false })
    }
    return Either.right(out)
  }

  const chunk = (chunk: ChatCompletionChunk): Either.Either<Array<Part>, AiError.MalformedOutput> => {
    const out: Array<Part> = []
    if (!started) {
      started = true
      out.push(metadataPart(chunk))
    }
    if (chunk.usage != null) usage = chunk.usage
    // `@effect/ai` has one answer per call: the first choice is it.
    const choice = chunk.choices.find((c) => c.index === 0)
    if (choice === undefined) return Either.right(out)
    const delta = choice.delta
    const replayed = replayFieldsOf(delta)
    if (replayed !== undefined) replay = appendReplayFields(replay, replayed)
    if (delta.reasoning_content != null && delta.reasoning_content !== "") {
      reasoning += delta.reasoning_content
      openRun(out, "reasoning")
      out.push({ type: "reasoning-delta", id: runId, delta: delta.reasoning_content })
    }
    if (delta.content != null && delta.content !== "") {
      openRun(out, "text")
      out.push({ type: "text-delta", id: runId, delta: delta.content })
    }
    for (const piece of delta.tool_calls ?? []) {
      let call = calls.get(piece.index)
      if (call === undefined) {
        closeRun(out)
        call = { id: piece.id ?? `call_${piece.index}`, name: piece.function?.name ?? "", arguments: "" }
        calls.set(piece.index, call)
        out.push({ type: "tool-params-start", id: call.id, name: call.name, providerExecuted: false })
      }
      const fragment = piece.function?.arguments
      if (fragment !== undefined && fragment !== "") {
        call.arguments += fragment
        out.push({ type: "tool-params-delta", id: call.id, delta: fragment })
      }
    }
    if (choice.finish_reason != null) {
      finishReason = choice.finish_reason
      closeRun(out)
      // The calls are whole once the choice has finished: `@effect/ai` may start running them before the usage.
      return closeCalls(out)
    }
    return Either.right(out)
  }

  const end = (): Either.Either<Array<Part>, AiError.MalformedOutput> => {
    const out: Array<Part> = []
    closeRun(out)
    if (replay !== undefined) memo.remember(reasoning, replay)
    return Either.map(closeCalls(out), (out) => {
      out.push({
        type: "finish",
        reason: finishReasonOf(finishReason),
        usage: usageOf(usage),
        ...(replay !== undefined ? { metadata: { [metadataKey]: replay } } : {})
      })
      return out
    })
  }

  return { chunk, end }
}
