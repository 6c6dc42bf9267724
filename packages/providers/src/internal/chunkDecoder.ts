/**
 * How every provider's stream turns wire events (SSE events, NDJSON lines) into our chunks: its
 * per-call state decodes one event at a time, and says at the end whether the stream was complete.
 * Built on core's `StreamDecoder`, so that chunks decoded before a failing event are delivered and
 * the connection is closed at once, whatever the server does next.
 *
 * @internal
 */
import type { ChatCompletionChunk, LlmError } from "@llm-api-router/core"
import { StreamDecoder } from "@llm-api-router/core"
import * as Either from "effect/Either"
import type * as Stream from "effect/Stream"

/** A provider's per-call stream state. */
export interface ChunkState {
  /** The usage chunk (or nothing) when the stream ended complete, or the error saying it was cut. */
  readonly end: () => Either.Either<ReadonlyArray<ChatCompletionChunk>, LlmError>
}

/** Decodes wire events with `event`, finishing with `state.end()`. */
export const decodeChunks = <A>(
  state: ChunkState,
  event: (input: A) => Either.Either<ChatCompletionChunk | undefined, LlmError>
): <E, R>(self: Stream.Stream<A, E, R>) => Stream.Stream<ChatCompletionChunk, E | LlmError, R> =>
  StreamDecoder.decode<A, ChatCompletionChunk, LlmError>(() => ({
    step: (input, out) => {
      for (const item of input) {
        const result = event(item)
        if (Either.isLeft(result)) return result.left
        if (result.right !== undefined) out.push(result.right)
      }
      return undefined
    },
    end: (out) => {
      const result = state.end()
      if (Either.isLeft(result)) return result.left
      for (const chunk of result.right) out.push(chunk)
      return undefined
    }
  }))
