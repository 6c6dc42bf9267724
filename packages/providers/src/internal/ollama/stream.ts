/**
 * The Ollama `/api/chat` stream: NDJSON lines → the events of core's `ChunkBuilder`, which writes the chunks.
 * Ollama sends whole tool calls, so each starts and ends in one line, with its complete arguments; the
 * `done: true` line carries the finish reason (and maybe the last content) and the usage.
 *
 * @internal
 */
import type { ChatCompletionChunk, LlmError, StreamDecoder } from "@llm-api-router/core"
import { ChunkBuilder, Json } from "@llm-api-router/core"
import * as Either from "effect/Either"
import * as chunks from "../chunkDecoder.js"
import { decodeError, generateId, snippet } from "../errors.js"
import { argumentsText, createdSeconds, errorFromEmbedded, isError, usage } from "./codec.js"
import * as wire from "./wire.js"

/** The kinds of line the protocol has: an exhaustive switch over them makes a new one a compile error. */
type LineKind = "error" | "delta" | "done"

/** One stream's decoding: made per call, never shared. */
class Decoding {
  readonly builder: ChunkBuilder.ChunkBuilder
  /** the `done: true` line came: later lines are ignored */
  done = false
  private first = true

  constructor(readonly provider: string, model: string, readonly nowSeconds: number) {
    this.builder = ChunkBuilder.make({
      provider,
      model,
      created: nowSeconds,
      id: generateId("chatcmpl-"),
      endMarker: "\"done\": true line"
    })
  }

  /** Handles one NDJSON line, pushing what it gives to `out`; returns the error that ends the stream, if any. */
  line(text: string, out: Array<ChatCompletionChunk>): LlmError | undefined {
    if (this.done) return undefined
    const b = this.builder
    const parsed = Json.parse(text)
    if (Either.isLeft(parsed)) {
      return decodeError(this.provider, b.model, `a stream line is ${Json.describe(parsed.left)}`, snippet(text))
    }
    const json = parsed.right
    if (isError(json)) return this.typed("error", json, text, undefined)
    const decoded = wire.decodeChatResponse(json)
    if (Either.isLeft(decoded)) {
      return decodeError(this.provider, b.model, "a stream line does not match the protocol", decoded.left.message)
    }
    const l = decoded.right
    const error = this.typed(l.done === true ? "done" : "delta", json, text, l)
    if (error !== undefined) return error
    b.flush(out)
    return undefined
  }

  private typed(
    kind: LineKind,
    json: unknown,
    text: string,
    l: wire.WireChatResponse | undefined
  ): LlmError | undefined {
    switch (kind) {
      case "error":
        return errorFromEmbedded(this.provider, this.builder.model, json, text)
      case "delta":
        this.delta(l!)
        return undefined
      case "done":
        this.delta(l!)
        this.done = true
        // `stop` even when the model called tools (the builder's rule turns it to tool_calls), and
        // `load`/`unload`/absent for a model (un)loaded: only `length` means something else
        this.builder.finish(0, l!.done_reason === "length" ? "length" : "stop")
        this.builder.usage(usage(l!))
        return undefined
    }
  }

  private delta(l: wire.WireChatResponse): void {
    const b = this.builder
    if (this.first) {
      this.first = false
      b.setCreated(createdSeconds(l.created_at, this.nowSeconds))
      b.setModel(l.model)
    }
    b.open(0)
    const m = l.message
    if (m == null) return
    if (m.content != null) b.text(0, m.content)
    if (m.thinking != null) b.reasoning(0, m.thinking)
    const calls = m.tool_calls
    if (calls != null) {
      for (let i = 0; i < calls.length; i++) {
        const call = calls[i]!
        b.startToolCall(0, call.id, call.function.name ?? "", argumentsText(call.function.arguments))
      }
    }
  }
}

/** The byte decoder of one chat stream, for `HttpTransport.decodeStream`. */
export const decoder = (
  provider: string,
  model: string,
  nowSeconds: number
): (bounds?: StreamDecoder.Bounds<LlmError>) => StreamDecoder.Decoder<Uint8Array, ChatCompletionChunk, LlmError> => {
  const decoding = new Decoding(provider, model, nowSeconds)
  return chunks.ndjson(decoding.builder, (line, out) => decoding.line(line, out))
}
