/**
 * The Anthropic Messages stream: typed SSE events → the events of core's `ChunkBuilder`, which writes the chunks
 * (protocols/anthropic-gemini-zhipu-dashscope.md §2).
 *
 * Anthropic numbers content blocks (text, thinking, tool calls, server-tool blocks) together; OpenAI numbers tool
 * calls on their own, from 0: `blocks` maps one to the other. Blocks with no OpenAI counterpart (`server_tool_use`,
 * `web_search_tool_result`, and the types the API adds) are skipped whole, their `input_json_delta`s included,
 * as the non-streamed body skips them. Usage is seeded by `message_start` and overwritten by each `message_delta`
 * (cumulative counts). The finish reason goes out at `message_stop`; a stream without it was cut.
 *
 * @internal
 */
import type { ChatCompletionChunk, LlmError, Sse, StreamDecoder } from "@llm-api-router/core"
import { ChunkBuilder, Json } from "@llm-api-router/core"
import * as Either from "effect/Either"
import * as chunks from "../chunkDecoder.js"
import { decodeError, generateId, snippet, truncate } from "../errors.js"
import {
  emptyCounts,
  errorFromEmbedded,
  JSON_TOOL,
  mergeUsage,
  stopReasonOf,
  type ThinkingBlock,
  toUsage
} from "./codec.js"
import * as wire from "./wire.js"

/** The event types of the protocol; the docs say to ignore the ones one does not know. */
type EventType =
  | "message_start"
  | "content_block_start"
  | "content_block_delta"
  | "content_block_stop"
  | "message_delta"
  | "message_stop"
  | "ping"
  | "error"
  | "unknown"

const eventType = (type: string): EventType => {
  switch (type) {
    case "message_start":
    case "content_block_start":
    case "content_block_delta":
    case "content_block_stop":
    case "message_delta":
    case "message_stop":
    case "ping":
    case "error":
      return type
    default:
      return "unknown"
  }
}

/** The delta types of `content_block_delta`; `citations_delta` and the ones to come are ignored. */
type DeltaType = "text_delta" | "thinking_delta" | "signature_delta" | "input_json_delta" | "unknown"

const deltaType = (type: unknown): DeltaType => {
  switch (type) {
    case "text_delta":
    case "thinking_delta":
    case "signature_delta":
    case "input_json_delta":
      return type
    default:
      return "unknown"
  }
}

/** What a content block is to us: text, a tool call, the JSON answer of `response_format`, thinking, or nothing. */
type Kind = "text" | "tool" | "json" | "thinking" | "other"

interface BlockState {
  readonly kind: Kind
  /** our tool-call index (tool blocks) */
  readonly ordinal: number
  /** a complete input that came with the block's start (programmatic calls) */
  readonly initial: string
  /** whether an arguments fragment was emitted */
  sent: boolean
  open: boolean
  thinking: string
  signature: string
}

const block = (kind: Kind, ordinal: number, initial: string): BlockState => ({
  kind,
  ordinal,
  initial,
  sent: false,
  open: true,
  thinking: "",
  signature: ""
})

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** One stream's decoding: made per call, never shared. */
class Decoding {
  readonly builder: ChunkBuilder.ChunkBuilder
  /** `message_stop` was handled: the stream is over */
  stopped = false
  private messageId = ""
  private stopReason: string | null | undefined = undefined
  private readonly counts = emptyCounts()
  private readonly blocks = new Map<number, BlockState>()

  constructor(readonly provider: string, model: string, created: number, readonly structured: boolean) {
    this.builder = ChunkBuilder.make({ provider, model, created, id: generateId("msg_"), endMarker: "message_stop" })
  }

  private fail(what: string, detail: string): LlmError {
    return decodeError(this.provider, this.builder.model, what, detail)
  }

  /** Handles one SSE event, pushing what it gives to `out`; returns the error that ends the stream, if any. */
  event(event: Sse.Event, out: Array<ChatCompletionChunk>): LlmError | undefined {
    if (this.stopped) return undefined
    // an `event: message_stop` line ends the message whatever its data holds
    if (event.event === "message_stop") {
      this.stop()
      this.builder.flush(out)
      return undefined
    }
    const parsed = Json.parse(event.data)
    if (Either.isLeft(parsed)) {
      return this.fail(`a stream event is ${Json.describe(parsed.left)}`, snippet(event.data))
    }
    const json = parsed.right
    if (!isRecord(json)) return this.fail("a stream event is not a JSON object", snippet(event.data))
    const type = event.event === "error"
      ? "error"
      : eventType(typeof json.type === "string" ? json.type : event.event ?? "")
    const error = this.typed(type, json, event)
    if (error !== undefined) return error
    this.builder.flush(out)
    return undefined
  }

  /** The message is over: its usage and its finish reason go out. */
  private stop(): undefined {
    this.stopped = true
    this.builder.usage(toUsage(this.counts))
    this.builder.finish(0, stopReasonOf(this.stopReason))
    return undefined
  }

  private typed(type: EventType, json: Record<string, unknown>, event: Sse.Event): LlmError | undefined {
    switch (type) {
      case "message_start":
        return this.messageStart(json)
      case "content_block_start":
        return this.blockStart(json)
      case "content_block_delta":
        return this.blockDelta(json)
      case "content_block_stop":
        return this.blockStop(json)
      case "message_delta":
        return this.messageDelta(json)
      case "message_stop":
        return this.stop()
      case "error":
        return errorFromEmbedded(this.provider, this.builder.model, json, truncate(event.data), undefined)
      case "ping":
      case "unknown":
        return undefined
    }
  }

  private messageStart(json: Record<string, unknown>): LlmError | undefined {
    const decoded = wire.decodeMessage(json.message)
    if (Either.isLeft(decoded)) return this.fail("message_start does not match the protocol", decoded.left.message)
    const message = decoded.right
    const id = message.id ?? ""
    if (this.messageId !== "") {
      if (id === this.messageId || id === "") return undefined
      return this.fail("a second message_start began another message", `${this.messageId} then ${id}`)
    }
    this.messageId = id || "-"
    this.builder.setId(id)
    this.builder.setModel(message.model)
    if (message.usage) mergeUsage(this.counts, message.usage)
    this.builder.open(0)
    return undefined
  }

  private messageDelta(json: Record<string, unknown>): LlmError | undefined {
    const delta = json.delta
    if (isRecord(delta) && delta.stop_reason !== undefined) {
      this.stopReason = typeof delta.stop_reason === "string" ? delta.stop_reason : null
    }
    if (json.usage !== undefined) {
      const decoded = wire.decodeUsage(json.usage)
      if (Either.isLeft(decoded)) return this.fail("message_delta usage does not match", decoded.left.message)
      mergeUsage(this.counts, decoded.right)
    }
    return undefined
  }

  private blockStart(json: Record<string, unknown>): LlmError | undefined {
    const index = json.index
    if (typeof index !== "number") return this.fail("content_block_start has no index", JSON.stringify(json))
    const decoded = wire.decodeBlock(json.content_block)
    if (Either.isLeft(decoded)) return this.fail("a content block does not match the protocol", decoded.left.message)
    const b = this.builder
    const start = decoded.right
    switch (start.type) {
      case "text":
        this.blocks.set(index, block("text", -1, ""))
        if (start.text) b.text(0, start.text)
        return undefined
      case "thinking": {
        const state = block("thinking", -1, "")
        state.thinking = start.thinking ?? ""
        state.signature = start.signature ?? ""
        this.blocks.set(index, state)
        if (start.thinking) b.reasoning(0, start.thinking)
        return undefined
      }
      case "redacted_thinking": {
        this.blocks.set(index, block("other", -1, ""))
        const redacted: Array<ThinkingBlock> = [{ type: "redacted_thinking", data: start.data ?? "" }]
        b.field(0, "thinking_blocks", redacted)
        return undefined
      }
      case "tool_use": {
        const input = start.input
        const initial = isRecord(input) && Object.keys(input).length > 0 ? JSON.stringify(input) : ""
        if (this.structured && start.name === JSON_TOOL) {
          this.blocks.set(index, block("json", -1, initial))
          return undefined
        }
        const ordinal = b.startToolCall(0, start.id || generateId("toolu_"), start.name, "")
        this.blocks.set(index, block("tool", ordinal, initial))
        return undefined
      }
      default:
        // server-tool blocks (server_tool_use, web_search_tool_result, …) have no OpenAI counterpart
        this.blocks.set(index, block("other", -1, ""))
        return undefined
    }
  }

  private blockDelta(json: Record<string, unknown>): LlmError | undefined {
    const delta = json.delta
    if (!isRecord(delta)) return this.fail("content_block_delta has no delta", JSON.stringify(json))
    const index = json.index
    const state = typeof index === "number" ? this.blocks.get(index) : undefined
    const b = this.builder
    const type = deltaType(delta.type)
    switch (type) {
      case "text_delta": {
        const text = delta.text
        if (typeof text !== "string") return this.fail("a text_delta has no text", JSON.stringify(json))
        b.text(0, text)
        return undefined
      }
      case "thinking_delta": {
        const text = delta.thinking
        if (typeof text !== "string") return this.fail("a thinking_delta has no thinking", JSON.stringify(json))
        if (state !== undefined) state.thinking += text
        b.reasoning(0, text)
        return undefined
      }
      case "signature_delta":
        if (state !== undefined && typeof delta.signature === "string") state.signature += delta.signature
        return undefined
      case "input_json_delta": {
        const fragment = delta.partial_json
        if (typeof fragment !== "string") {
          return this.fail("an input_json_delta has no partial_json", JSON.stringify(json))
        }
        // the input of a server-tool call (a web search's query): skipped with its block
        if (state !== undefined && state.kind === "other") return undefined
        if (state === undefined || (state.kind !== "tool" && state.kind !== "json")) {
          return this.fail("an input_json_delta for a block that is not a tool call", JSON.stringify(json))
        }
        if (fragment === "") return undefined
        state.sent = true
        if (state.kind === "json") b.text(0, fragment)
        else b.toolCallDelta(0, state.ordinal, fragment)
        return undefined
      }
      case "unknown":
        return undefined
    }
  }

  private blockStop(json: Record<string, unknown>): LlmError | undefined {
    const index = json.index
    const state = typeof index === "number" ? this.blocks.get(index) : undefined
    if (state === undefined || !state.open) return undefined
    state.open = false
    const b = this.builder
    switch (state.kind) {
      case "tool":
      case "json":
        // a call whose input never streamed: its input came whole with the start, or it has none
        if (!state.sent) {
          const args = state.initial === "" ? "{}" : state.initial
          state.sent = true
          if (state.kind === "json") b.text(0, args)
          else b.toolCallDelta(0, state.ordinal, args)
        }
        return undefined
      case "thinking": {
        const signed: Array<ThinkingBlock> = [{
          type: "thinking",
          thinking: state.thinking,
          signature: state.signature
        }]
        b.field(0, "thinking_blocks", signed)
        return undefined
      }
      case "text":
      case "other":
        return undefined
    }
  }
}

/**
 * The byte decoder of one chat stream, for `HttpTransport.decodeStream`. `message_stop` ends the stream even if
 * the server keeps the connection open.
 */
export const decoder = (
  provider: string,
  model: string,
  nowSeconds: number,
  structured: boolean
): (bounds?: StreamDecoder.Bounds<LlmError>) => StreamDecoder.Decoder<Uint8Array, ChatCompletionChunk, LlmError> => {
  const decoding = new Decoding(provider, model, nowSeconds, structured)
  return chunks.sse(decoding.builder, (event, out) => decoding.event(event, out), { done: () => decoding.stopped })
}
