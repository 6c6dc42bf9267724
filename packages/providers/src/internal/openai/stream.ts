/**
 * The OpenAI-compatible stream: SSE events → the events of core's `ChunkBuilder`, which writes the chunks. Servers
 * differ in what they send: tool-call pieces numbered from 1, without an index, or a whole call at once (the
 * builder numbers them densely from 0); `reasoning` for `reasoning_content`; a finish reason repeated on the usage
 * chunk (OpenRouter; the builder sends it once). Dialects change the finish reasons and the error body.
 *
 * @internal
 */
import type { ChatCompletionChunk, LlmError, Sse, StreamDecoder } from "@llm-api-router/core"
import { ChunkBuilder, Json } from "@llm-api-router/core"
import * as Either from "effect/Either"
import * as chunks from "../chunkDecoder.js"
import { decodeError, type ErrorInfo, generateId, snippet, truncate } from "../errors.js"
import {
  argumentsText,
  embeddedError,
  errorFromEmbedded,
  type ErrorReader,
  type FinishHook,
  mapFinish,
  usage
} from "./codec.js"
import * as wire from "./wire.js"

/** What a dialect changes in the stream; built once per layer, shared by its streams. */
export interface StreamHooks {
  readonly finishReason?: FinishHook | undefined
  readonly readError?: ErrorReader | undefined
}

/** The kinds of SSE event the protocol has: an exhaustive switch over them makes a new one a compile error. */
type EventKind = "done" | "error" | "chunk"

const kindOf = (event: Sse.Event, json: unknown): EventKind =>
  event.event === "error" || embeddedError(json) ? "error" : "chunk"

/** One stream's decoding: made per call, never shared. */
class Decoding {
  readonly builder: ChunkBuilder.ChunkBuilder
  done = false

  constructor(
    readonly classify: (info: ErrorInfo) => LlmError,
    readonly provider: string,
    model: string,
    nowSeconds: number,
    readonly hooks: StreamHooks
  ) {
    this.builder = ChunkBuilder.make({
      provider,
      model,
      created: nowSeconds,
      id: generateId("chatcmpl-"),
      endMarker: "finish_reason and no [DONE]"
    })
  }

  /** Reads one SSE event: `[DONE]` ends the stream, an error event fails it typed, anything else is a chunk. */
  event(event: Sse.Event, out: Array<ChatCompletionChunk>): LlmError | undefined {
    const data = event.data
    let kind: EventKind
    let json: unknown = undefined
    if (data === "[DONE]") {
      kind = "done"
    } else {
      const parsed = Json.parse(data)
      if (Either.isLeft(parsed)) {
        return decodeError(
          this.provider,
          this.builder.model,
          `a stream event is ${Json.describe(parsed.left)}`,
          snippet(data)
        )
      }
      json = parsed.right
      kind = kindOf(event, json)
    }
    switch (kind) {
      case "done":
        this.done = true
        this.builder.markDone()
        return undefined
      case "error":
        return errorFromEmbedded(
          this.classify,
          this.provider,
          this.builder.model,
          json,
          truncate(data),
          undefined,
          {},
          this.hooks.readError
        )
      case "chunk":
        return this.chunk(json, out)
    }
  }

  private chunk(json: unknown, out: Array<ChatCompletionChunk>): LlmError | undefined {
    const b = this.builder
    const decoded = wire.decodeChunk(json)
    if (Either.isLeft(decoded)) {
      return decodeError(this.provider, b.model, "a stream chunk does not match the protocol", decoded.left.message)
    }
    const c = decoded.right
    if (!b.hasId && c.id) {
      b.setId(c.id)
      b.setCreated(c.created)
      b.setModel(c.model)
    }
    if (c.usage) b.usage(usage(c.usage))
    const wireChoices = c.choices
    if (!wireChoices || wireChoices.length === 0) return undefined
    for (let i = 0; i < wireChoices.length; i++) {
      const wc = wireChoices[i]!
      const index = wc.index ?? i
      b.open(index)
      const d = wc.delta
      if (d) {
        if (d.content != null) b.text(index, d.content)
        if (d.refusal != null) b.refusal(index, d.refusal)
        const reasoning = d.reasoning_content ?? d.reasoning
        if (reasoning != null) b.reasoning(index, reasoning)
        const calls = d.tool_calls
        if (calls) {
          for (let j = 0; j < calls.length; j++) {
            const call = calls[j]!
            b.toolCall(
              index,
              call.index ?? undefined,
              call.id || undefined,
              call.function?.name ?? undefined,
              argumentsText(call.function?.arguments)
            )
          }
        }
      }
      const raw = wc.finish_reason
      if (raw != null && raw !== "" && !b.finished(index)) {
        // the dialect's hook runs once per choice: it may allocate
        const mapped = mapFinish(this.hooks.finishReason, raw, false, this.provider, b.model)
        if (typeof mapped !== "string") return mapped
        b.finish(index, mapped)
      }
    }
    b.flush(out)
    return undefined
  }
}

const noHooks: StreamHooks = {}

/**
 * The byte decoder of one chat stream, for `HttpTransport.decodeStream`: SSE framing, `[DONE]` and chunk decoding
 * in one pass over each read of the socket. `[DONE]` ends the stream even if the server keeps the connection open.
 */
export const decoder = (
  classify: (info: ErrorInfo) => LlmError,
  provider: string,
  model: string,
  nowSeconds: number,
  hooks: StreamHooks = noHooks
): (bounds?: StreamDecoder.Bounds<LlmError>) => StreamDecoder.Decoder<Uint8Array, ChatCompletionChunk, LlmError> => {
  const decoding = new Decoding(classify, provider, model, nowSeconds, hooks)
  return chunks.sse(decoding.builder, (event, out) => decoding.event(event, out), { done: () => decoding.done })
}
