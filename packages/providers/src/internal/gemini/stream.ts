/**
 * The Gemini stream (`streamGenerateContent?alt=sse`): each event is a whole `GenerateContentResponse` holding only
 * new parts, turned into the events of core's `ChunkBuilder`, which writes the chunks. A function call arrives whole
 * in one part, so each starts and ends in one event; `usageMetadata` is a running total (the last one goes out);
 * there is no end marker: the stream is complete when every candidate has sent its `finishReason`. Google has been
 * seen ending a failed 200 stream with a bare JSON error body, outside any SSE event: the end of the body is kept
 * to read it.
 *
 * @internal
 */
import type { ChatCompletionChunk, LlmError, StreamDecoder } from "@llm-api-router/core"
import { ChunkBuilder, Json } from "@llm-api-router/core"
import * as Either from "effect/Either"
import * as chunks from "../chunkDecoder.js"
import { decodeError, generateId, snippet } from "../errors.js"
import {
  blocked,
  errorInfo,
  type GeminiErrorInfo,
  isErrorEnvelope,
  toolCallId,
  usage,
  wireFinishReason
} from "./codec.js"
import * as wire from "./wire.js"

/** The kinds of payload the protocol has: an exhaustive switch over them makes a new one a compile error. */
type PayloadKind = "error" | "response"

/** One stream's decoding: made per call, never shared. */
class Decoding {
  readonly builder: ChunkBuilder.ChunkBuilder

  constructor(
    readonly classify: (info: GeminiErrorInfo) => LlmError,
    readonly provider: string,
    model: string,
    nowSeconds: number
  ) {
    this.builder = ChunkBuilder.make({
      provider,
      model,
      created: nowSeconds,
      id: generateId("chatcmpl-"),
      endMarker: "finishReason"
    })
  }

  /** Reads one payload (an SSE `data`, or the body's unframed tail): an error envelope fails typed. */
  payload(data: string, out: Array<ChatCompletionChunk>): LlmError | undefined {
    const parsed = Json.parse(data)
    if (Either.isLeft(parsed)) {
      return decodeError(
        this.provider,
        this.builder.model,
        `a stream event is ${Json.describe(parsed.left)}`,
        snippet(data)
      )
    }
    const json = parsed.right
    const kind: PayloadKind = isErrorEnvelope(json) ? "error" : "response"
    switch (kind) {
      case "error":
        return this.classify(errorInfo(this.provider, this.builder.model, undefined, json, data, undefined, {}))
      case "response": {
        const error = this.response(Array.isArray(json) ? json[0] : json)
        if (error !== undefined) return error
        this.builder.flush(out)
        return undefined
      }
    }
  }

  private response(json: unknown): LlmError | undefined {
    const b = this.builder
    const decoded = wire.decodeResponse(json)
    if (Either.isLeft(decoded)) {
      return decodeError(this.provider, b.model, "a stream chunk does not match the protocol", decoded.left.message)
    }
    const c = decoded.right
    b.setId(c.responseId)
    b.setModel(c.modelVersion)
    if (c.usageMetadata) b.usage(usage(c.usageMetadata))
    const candidates = c.candidates
    if (!candidates || candidates.length === 0) return blocked(this.provider, b.model, c)
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[i]!
      const index = candidate.index ?? i
      b.open(index)
      const parts = candidate.content?.parts
      if (parts != null) {
        for (let j = 0; j < parts.length; j++) {
          const part = parts[j]!
          const call = part.functionCall
          if (call != null) {
            if (call.name == null || call.name === "") continue
            b.startToolCall(index, toolCallId(call, part.thoughtSignature), call.name, JSON.stringify(call.args ?? {}))
          } else if (part.text != null) {
            if (part.thought === true) b.reasoning(index, part.text)
            else b.text(index, part.text)
          }
        }
      }
      const raw = candidate.finishReason
      if (raw != null && raw !== "") b.finish(index, wireFinishReason(raw))
    }
    return undefined
  }
}

/**
 * What is left after the last complete SSE event when a body ends: a raw `{"error": …}` (no `data:`), or an
 * unterminated last event, which is data all the same. Returns the payload to read, or `undefined` when the tail
 * holds nothing.
 */
export const unframedTail = (tail: string): string | undefined => {
  const end = Math.max(
    tail.lastIndexOf("\n\n") + 2,
    tail.lastIndexOf("\r\n\r\n") + 4,
    tail.lastIndexOf("\r\r") + 2,
    0
  )
  let rest = tail.slice(end).trim()
  if (rest.startsWith("data:")) {
    let data = ""
    for (const line of rest.split(/\r\n|\r|\n/)) {
      if (line.startsWith("data:")) data += (data === "" ? "" : "\n") + line.slice(line.startsWith("data: ") ? 6 : 5)
    }
    rest = data.trim()
  }
  return rest.startsWith("{") || rest.startsWith("[") ? rest : undefined
}

const TAIL_LIMIT = 64 * 1024

/**
 * The last bytes of a body (at least 64 KiB of them, when there are that many), kept by reference so that
 * remembering costs no copy per chunk; read only when a stream ends without finishing.
 */
class Tail {
  private readonly pieces: Array<Uint8Array> = []
  private head = 0
  private bytes = 0

  push(piece: Uint8Array): void {
    this.pieces.push(piece)
    this.bytes += piece.length
    while (this.pieces.length - this.head > 1 && this.bytes - this.pieces[this.head]!.length >= TAIL_LIMIT) {
      this.bytes -= this.pieces[this.head]!.length
      this.head++
    }
    if (this.head > 1024 && this.head * 2 > this.pieces.length) {
      this.pieces.splice(0, this.head)
      this.head = 0
    }
  }

  text(): string {
    return Buffer.concat(this.pieces.slice(this.head)).toString("utf8")
  }
}

/** The byte decoder of one chat stream, for `HttpTransport.decodeStream`. */
export const decoder = (
  classify: (info: GeminiErrorInfo) => LlmError,
  provider: string,
  model: string,
  nowSeconds: number
): (bounds?: StreamDecoder.Bounds<LlmError>) => StreamDecoder.Decoder<Uint8Array, ChatCompletionChunk, LlmError> => {
  const decoding = new Decoding(classify, provider, model, nowSeconds)
  const tail = new Tail()
  return chunks.sse(decoding.builder, (event, out) => decoding.payload(event.data, out), {
    onBytes: (bytes) => tail.push(bytes),
    beforeEnd: (out) => {
      if (decoding.builder.complete) return undefined
      const rest = unframedTail(tail.text())
      return rest === undefined ? undefined : decoding.payload(rest, out)
    }
  })
}
