/**
 * Newline-delimited JSON framing (Ollama's native API): bytes in, one string per line out.
 *
 * Only the framing lives here; each provider decodes a line with its own `Schema` (e.g.
 * `Schema.parseJson(WireChunk)`), so a malformed line becomes that provider's typed error.
 *
 * @since 0.1.0
 */
import type * as Stream from "effect/Stream"
import * as LineDecoder from "./internal/lineDecoder.js"

/**
 * A stateful, synchronous decoder: `push` takes each byte chunk as it arrives and returns the non-blank lines it
 * completes; `end` is called once at end of input and returns the last line if it had no terminating newline.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decoder {
  readonly push: (chunk: Uint8Array) => Array<string>
  readonly end: () => Array<string>
  /**
   * `true` once a line has grown past `maxLineLength`. The push that finds it still returns the lines completed
   * before that one; from then on the decoder holds nothing and returns no more lines, and the caller ends the
   * stream.
   */
  readonly exceeded: () => boolean
}

/**
 * - `maxLineLength`: the longest line kept, in UTF-16 code units (for ASCII JSON, its size in bytes); by default
 *   none. It is checked as each chunk is pushed, so what is held never goes past it by more than one chunk.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly maxLineLength?: number | undefined
}

/**
 * Lines end with LF or CRLF. A line is returned without its terminator; blank and whitespace-only lines are
 * skipped. A leading UTF-8 BOM is stripped.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDecoder = (options?: Options): Decoder => {
  const maxLineLength = options?.maxLineLength ?? Infinity
  let exceeded = false
  let out: Array<string> = []
  const onLine = (line: string): void => {
    if (exceeded) return
    if (line.length > maxLineLength) exceeded = true
    else if (!isBlank(line)) out.push(line)
  }
  const lines = LineDecoder.make({ lonelyCr: false, onLine })
  // The lines complete before the one past the cap are returned: what a stream yields must not depend on where
  // the server's chunks happen to split it (in a chunk of their own, they would have been).
  const overflow = (): Array<string> => {
    exceeded = true
    lines.reset()
    return out
  }
  return {
    push: (chunk) => {
      if (exceeded) return []
      out = []
      lines.push(chunk)
      return exceeded || lines.pendingLength() > maxLineLength ? overflow() : out
    },
    end: () => {
      out = []
      if (exceeded) {
        exceeded = false
        return out
      }
      onLine(lines.end())
      if (!exceeded) return out
      exceeded = false
      return []
    },
    exceeded: () => exceeded
  }
}

/**
 * Decodes a byte stream into its non-blank lines, the last one included even without a trailing newline. The
 * decoding runs once per upstream chunk; each line is one element of the resulting stream.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<string, E, R> =>
  LineDecoder.decodeStream(self, makeDecoder)

// A printable ASCII first character (every JSON value starts with one) settles it without scanning the line.
const isBlank = (line: string): boolean => {
  if (line.length === 0) return true
  const first = line.charCodeAt(0)
  return (first <= 32 || first >= 127) && line.trim().length === 0
}
