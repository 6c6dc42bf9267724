/**
 * The one line splitter behind the SSE and NDJSON decoders.
 *
 * Bytes are decoded to text per chunk with a streaming `TextDecoder`, so a multi-byte character cut between two
 * chunks comes out whole and a leading BOM is stripped once (the WHATWG decoder does that at the start of a
 * stream). Only the new text of each push is scanned, and an unterminated line is carried over as a string that
 * V8 appends in constant time (a rope), so a long line arriving in many small chunks costs linear time overall.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Stream from "effect/Stream"

const LF = 10
const CR = 13

/** @internal */
export interface LineDecoderOptions {
  /**
   * `true` (SSE): a lone CR ends a line as well as LF and CRLF. `false` (NDJSON): only LF ends a line, and a CR
   * just before it is dropped; a CR anywhere else stays part of the line.
   */
  readonly lonelyCr: boolean
  /** Called with each complete line, without its terminator, in order. */
  readonly onLine: (line: string) => void
}

/** @internal */
export interface LineDecoder {
  /** Decodes one byte chunk and reports every line it completes. */
  readonly push: (chunk: Uint8Array) => void
  /**
   * Flushes the text decoder (an incomplete trailing character becomes U+FFFD), reports any line that completes,
   * and returns the unterminated remainder ("" when the input ended with a line terminator). Resets the state.
   */
  readonly end: () => string
  /** The length (UTF-16 code units) of the unterminated line held so far. */
  readonly pendingLength: () => number
  /** Drops the unterminated line and resets the state, without reporting anything. */
  readonly reset: () => void
}

/** @internal */
export const make = (options: LineDecoderOptions): LineDecoder => {
  const lonelyCr = options.lonelyCr
  const onLine = options.onLine
  let textDecoder = new TextDecoder("utf-8")
  // text of the current line received so far, from earlier chunks
  let pending = ""
  // the previous text ended with a CR that ended a line: a LF starting the next text belongs to it
  let skipLf = false

  const emit = (line: string): void => {
    if (!lonelyCr && line.length > 0 && line.charCodeAt(line.length - 1) === CR) {
      onLine(line.slice(0, -1))
    } else {
      onLine(line)
    }
  }

  const pushText = (text: string): void => {
    const length = text.length
    if (length === 0) return
    let position = 0
    if (skipLf) {
      skipLf = false
      if (text.charCodeAt(0) === LF) position = 1
    }
    // Positions of the next LF / CR at or after `position`; -1 once none is left in this text, so that a text
    // without any CR is searched for one only once, not once per line.
    let nextLf = -2
    let nextCr = lonelyCr ? -2 : -1
    while (position < length) {
      if (nextLf !== -1 && nextLf < position) nextLf = text.indexOf("\n", position)
      if (nextCr !== -1 && nextCr < position) nextCr = text.indexOf("\r", position)
      let end: number
      if (nextCr === -1) {
        if (nextLf === -1) break
        end = nextLf
      } else {
        end = nextLf === -1 || nextCr < nextLf ? nextCr : nextLf
      }
      const piece = text.slice(position, end)
      let line: string
      if (pending.length === 0) {
        line = piece
      } else {
        line = pending + piece
        pending = ""
      }
      if (text.charCodeAt(end) === CR) {
        // only reached with lonelyCr: CR, or CRLF, ends this line
        if (end + 1 === length) {
          skipLf = true
          position = length
        } else {
          position = text.charCodeAt(end + 1) === LF ? end + 2 : end + 1
        }
      } else {
        position = end + 1
      }
      emit(line)
    }
    if (position < length) {
      pending = pending + (position === 0 ? text : text.slice(position))
    }
  }

  const reset = (): void => {
    textDecoder = new TextDecoder("utf-8")
    pending = ""
    skipLf = false
  }

  return {
    push: (chunk) => pushText(textDecoder.decode(chunk, { stream: true })),
    end: () => {
      pushText(textDecoder.decode())
      let rest = pending
      if (!lonelyCr && rest.length > 0 && rest.charCodeAt(rest.length - 1) === CR) rest = rest.slice(0, -1)
      reset()
      return rest
    },
    pendingLength: () => pending.length,
    reset
  }
}

/**
 * Runs a push/end decoder over a byte stream: one `push` per upstream chunk, `end` once the upstream is done, a
 * fresh decoder for every run of the stream (a retried request must not inherit the previous run's state).
 *
 * @internal
 */
export const decodeStream = <A, E, R>(
  self: Stream.Stream<Uint8Array, E, R>,
  makeDecoder: () => { readonly push: (chunk: Uint8Array) => Array<A>; readonly end: () => Array<A> }
): Stream.Stream<A, E, R> =>
  Stream.suspend(() => {
    const decoder = makeDecoder()
    return Stream.concat(
      Stream.mapChunks(self, (chunks) => {
        if (chunks.length === 1) return Chunk.unsafeFromArray(decoder.push(Chunk.unsafeGet(chunks, 0)))
        const all: Array<A> = []
        for (const chunk of chunks) {
          for (const a of decoder.push(chunk)) all.push(a)
        }
        return Chunk.unsafeFromArray(all)
      }),
      Stream.suspend(() => Stream.fromIterable(decoder.end()))
    )
  })
