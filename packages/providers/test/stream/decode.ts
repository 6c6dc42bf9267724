/**
 * Runs a protocol's byte decoder over a body given as text, with no socket: the chunks it gives, and the error
 * that ended it, if any.
 */
import type { ChatCompletionChunk, LlmError, StreamDecoder } from "@llm-api-router/core"
import * as Chunk from "effect/Chunk"

export const decodeText = (
  make: (bounds?: StreamDecoder.Bounds<LlmError>) => StreamDecoder.Decoder<Uint8Array, ChatCompletionChunk, LlmError>,
  body: string
): { readonly chunks: ReadonlyArray<ChatCompletionChunk>; readonly error: LlmError | undefined } => {
  const decoder = make()
  const out: Array<ChatCompletionChunk> = []
  const error = decoder.step(Chunk.of(new TextEncoder().encode(body)), out)
  if (error !== undefined) return { chunks: out, error }
  return { chunks: out, error: decoder.end?.(out) }
}

/** SSE framing: `data: <json>` per event, `event: <type>` first when named. */
export const sse = (events: ReadonlyArray<unknown>, named = false): string =>
  events.map((e) =>
    (named ? `event: ${(e as { type: string }).type}\n` : "") +
    `data: ${typeof e === "string" ? e : JSON.stringify(e)}\n\n`
  ).join("")
