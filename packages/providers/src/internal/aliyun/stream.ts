/**
 * The DashScope native stream: SSE result events → the events of core's `ChunkBuilder`, which writes the chunks.
 *
 * DashScope sends only new text when asked, but many models send everything so far anyway. Each text field
 * (content, reasoning, each tool call's arguments) keeps what was emitted; the first time a field that already has
 * text receives more, the stream's mode is decided: a piece that starts with everything emitted so far means the
 * server sends cumulative text, and from then on only the new suffix is emitted; any other piece means deltas, and
 * nothing is compared again. There is no end marker: the connection closes after the event with a real finish
 * reason, so a stream that closes without one was cut.
 *
 * @internal
 */
import type { ChatCompletionChunk, LlmError, Sse, StreamDecoder } from "@llm-api-router/core"
import { ChunkBuilder, Json } from "@llm-api-router/core"
import * as Either from "effect/Either"
import * as chunks from "../chunkDecoder.js"
import { decodeError, type ErrorInfo, generateId, snippet } from "../errors.js"
import {
  argumentsText,
  contentText,
  errorFromEmbedded,
  isErrorBody,
  isUnfinished,
  usage,
  wireFinishReason
} from "./codec.js"
import type * as wire from "./wire.js"
import { decodeGeneration } from "./wire.js"

/** Whether the server sends only new text (asked for) or everything so far (what many models do anyway). */
const Mode = { Unknown: 0, Incremental: 1, Cumulative: 2 } as const
type Mode = typeof Mode[keyof typeof Mode]

/** What a choice's fields have emitted so far. */
interface Emitted {
  content: string
  reasoning: string
  /** per tool call, by our index */
  readonly args: Array<string>
}

/** The kinds of SSE event the protocol has: an exhaustive switch over them makes a new one a compile error. */
type EventKind = "empty" | "error" | "result"

/** One stream's decoding: made per call, never shared. */
class Decoding {
  readonly builder: ChunkBuilder.ChunkBuilder
  private mode: Mode = Mode.Unknown
  private readonly emitted = new Map<number, Emitted>()

  constructor(
    readonly classify: (info: ErrorInfo) => LlmError,
    readonly provider: string,
    model: string,
    nowSeconds: number
  ) {
    this.builder = ChunkBuilder.make({
      provider,
      model,
      created: nowSeconds,
      id: generateId("chatcmpl-"),
      endMarker: "finish_reason"
    })
  }

  /**
   * Reads one SSE event: `event:error` or a flat error body fails the stream typed, anything else is a result.
   * The `:HTTP_STATUS/…` lines are SSE comments and never reach here.
   */
  event(event: Sse.Event, out: Array<ChatCompletionChunk>): LlmError | undefined {
    const data = event.data
    let json: unknown = undefined
    let kind: EventKind = "empty"
    if (data !== "") {
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
      kind = event.event === "error" || isErrorBody(json) ? "error" : "result"
    }
    switch (kind) {
      case "empty":
        return undefined
      case "error":
        return errorFromEmbedded(this.classify, this.provider, this.builder.model, json, data)
      case "result": {
        const error = this.result(json)
        if (error !== undefined) return error
        this.builder.flush(out)
        return undefined
      }
    }
  }

  private result(json: unknown): LlmError | undefined {
    const b = this.builder
    const decoded = decodeGeneration(json)
    if (Either.isLeft(decoded)) {
      return decodeError(this.provider, b.model, "a stream event does not match the protocol", decoded.left.message)
    }
    const e = decoded.right
    b.setId(e.request_id)
    // cumulative on every event: the last one wins
    if (e.usage) b.usage(usage(e.usage))
    const output = e.output
    if (output == null) return undefined
    if (output.choices != null && output.choices.length > 0) {
      for (let i = 0; i < output.choices.length; i++) {
        const wc = output.choices[i]!
        const m = wc.message
        this.choice(
          wc.index ?? i,
          contentText(m?.content),
          m?.reasoning_content ?? undefined,
          m?.tool_calls ?? undefined,
          wc.finish_reason
        )
      }
    } else if (output.text != null || output.finish_reason != null) {
      this.choice(0, output.text ?? undefined, undefined, undefined, output.finish_reason)
    }
    return undefined
  }

  /** The new text in `incoming`, given what this field has emitted. */
  private fresh(emitted: string, incoming: string): string {
    if (incoming === "" || emitted === "" || this.mode === Mode.Incremental) return incoming
    if (this.mode === Mode.Unknown) {
      if (incoming === emitted) return "" // undecided: the same text again; wait for a piece that tells
      this.mode = incoming.startsWith(emitted) ? Mode.Cumulative : Mode.Incremental
    }
    if (this.mode === Mode.Incremental) return incoming
    if (incoming.startsWith(emitted)) return incoming.slice(emitted.length)
    return emitted.startsWith(incoming) ? "" : incoming
  }

  private choice(
    index: number,
    content: string | undefined,
    reasoning: string | undefined,
    calls: ReadonlyArray<wire.WireToolCall> | undefined,
    rawFinish: string | null | undefined
  ): void {
    const b = this.builder
    b.open(index)
    let emitted = this.emitted.get(index)
    if (emitted === undefined) {
      emitted = { content: "", reasoning: "", args: [] }
      this.emitted.set(index, emitted)
    }
    if (reasoning !== undefined) {
      const piece = this.fresh(emitted.reasoning, reasoning)
      emitted.reasoning += piece
      b.reasoning(index, piece)
    }
    if (content !== undefined) {
      const piece = this.fresh(emitted.content, content)
      emitted.content += piece
      b.text(index, piece)
    }
    if (calls !== undefined) {
      for (let i = 0; i < calls.length; i++) this.toolCall(index, emitted, calls[i]!)
    }
    if (!isUnfinished(rawFinish) && !b.finished(index)) b.finish(index, wireFinishReason(rawFinish!))
  }

  private toolCall(index: number, emitted: Emitted, call: wire.WireToolCall): void {
    const b = this.builder
    const byIndex = call.index ?? undefined
    const byId = call.id || undefined
    const name = call.function?.name || undefined
    const args = argumentsText(call.function?.arguments)
    const ours = b.findToolCall(index, byIndex, byId, name)
    if (ours < 0) {
      emitted.args[b.startToolCall(index, byId, name, args, byIndex, byId)] = args
      return
    }
    const piece = this.fresh(emitted.args[ours] ?? "", args)
    emitted.args[ours] = (emitted.args[ours] ?? "") + piece
    b.toolCallDelta(index, ours, piece, name, byId)
  }
}

/** The byte decoder of one chat stream, for `HttpTransport.decodeStream`. */
export const decoder = (
  classify: (info: ErrorInfo) => LlmError,
  provider: string,
  model: string,
  nowSeconds: number
): (bounds?: StreamDecoder.Bounds<LlmError>) => StreamDecoder.Decoder<Uint8Array, ChatCompletionChunk, LlmError> => {
  const decoding = new Decoding(classify, provider, model, nowSeconds)
  return chunks.sse(decoding.builder, (event, out) => decoding.event(event, out))
}
