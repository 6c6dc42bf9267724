/**
 * How every provider's stream turns the bytes of a response into our chunks: a framer (SSE events, NDJSON lines)
 * splits each read of the socket, the per-call state decodes one framed item at a time, and says at the end whether
 * the stream was complete. The result is a core `StreamDecoder.Decoder` over bytes, which `HttpTransport`
 * runs in the stage that reads the socket: chunks decoded before a failing item are delivered, and the connection
 * is closed at once, whatever the server does next. The framer holds no event longer than the transport's
 * `limits.event`; one that grows past it ends the stream with the transport's error.
 *
 * @internal
 */
import type { ChatCompletionChunk, LlmError, StreamDecoder } from "@llm-api-router/core"
import { Ndjson, Sse } from "@llm-api-router/core"

/** A provider's per-call stream state: core's `ChunkBuilder`. */
export interface ChunkState {
  /** Appends the last chunks (usage) when the stream ended complete, or returns the error saying it was cut. */
  readonly end: (out: Array<ChatCompletionChunk>) => LlmError | undefined
}

/** Decodes one framed item, appending what it completes to `out`; returns an error to fail the stream. */
export type Item<F> = (item: F, out: Array<ChatCompletionChunk>) => LlmError | undefined

export interface Options {
  /** `true` once the stream has reached its end marker: the rest of the body is not read. */
  readonly done?: (() => boolean) | undefined
  /** Sees every read of the socket, before it is framed. */
  readonly onBytes?: ((bytes: Uint8Array) => void) | undefined
  /** Runs at the end of the body, before `state.end()`. */
  readonly beforeEnd?: ((out: Array<ChatCompletionChunk>) => LlmError | undefined) | undefined
}

interface Framer<F> {
  readonly push: (bytes: Uint8Array) => Array<F>
  readonly end: () => Array<F>
  readonly exceeded: () => boolean
}

const framed = <F>(makeFramer: (maxLength: number | undefined) => Framer<F>) =>
(
  state: ChunkState,
  item: Item<F>,
  options: Options = {}
) =>
(bounds?: StreamDecoder.Bounds<LlmError>): StreamDecoder.Decoder<Uint8Array, ChatCompletionChunk, LlmError> => {
  const framer = makeFramer(bounds?.maxEventLength)
  const { beforeEnd, done, onBytes } = options
  const each = (items: Array<F>, out: Array<ChatCompletionChunk>): LlmError | undefined => {
    for (let i = 0; i < items.length; i++) {
      const error = item(items[i]!, out)
      if (error !== undefined) return error
      // items after the end marker are not read
      if (done !== undefined && done()) return undefined
    }
    return undefined
  }
  return {
    step: (input, out) => {
      for (const bytes of input) {
        if (onBytes !== undefined) onBytes(bytes)
        const error = each(framer.push(bytes), out)
        if (error !== undefined) return error
        if (done !== undefined && done()) return undefined
        if (bounds !== undefined && framer.exceeded()) return bounds.eventTooLong()
      }
      return undefined
    },
    end: (out) => {
      const error = each(framer.end(), out) ?? beforeEnd?.(out)
      if (error !== undefined) return error
      return state.end(out)
    },
    done
  }
}

/** Server-sent events, each decoded by `item`. */
export const sse: (
  state: ChunkState,
  item: Item<Sse.Event>,
  options?: Options
) => (bounds?: StreamDecoder.Bounds<LlmError>) => StreamDecoder.Decoder<Uint8Array, ChatCompletionChunk, LlmError> =
  framed((maxEventLength) => Sse.makeDecoder({ maxEventLength }))

/** Newline-delimited JSON, each non-blank line decoded by `item`. */
export const ndjson: (
  state: ChunkState,
  item: Item<string>,
  options?: Options
) => (bounds?: StreamDecoder.Bounds<LlmError>) => StreamDecoder.Decoder<Uint8Array, ChatCompletionChunk, LlmError> =
  framed((maxLineLength) => Ndjson.makeDecoder({ maxLineLength }))
