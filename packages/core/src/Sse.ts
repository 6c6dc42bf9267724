/**
 * Server-Sent Events decoding (WHATWG HTML, "Parsing an event stream"): bytes in, events out.
 *
 * This is the framing under every OpenAI-compatible stream. Unlike `@effect/experimental/Sse` it never throws, and
 * it ignores `retry:` instead of sleeping: reconnecting is the caller's policy, not the framing's. Memory follows the
 * largest event, up to `maxEventLength` when one is set (`HttpTransport` sets `Limits.event`): past it the decoder
 * says so through `exceeded` and lets go of what it holds.
 *
 * @since 0.1.0
 */
import type * as Stream from "effect/Stream"
import * as LineDecoder from "./internal/lineDecoder.js"

/**
 * One dispatched event.
 *
 * - `event`: the `event:` field, `undefined` when absent or empty (the spec's default type, "message").
 * - `data`: the `data:` lines joined with "\n"; `""` for an event made of one bare `data:` line.
 * - `id`: the last event ID, which persists from event to event until another `id:` line changes it (an `id:`
 *   with an empty value resets it to `undefined`; one containing U+0000 is ignored).
 *
 * @since 0.1.0
 * @category models
 */
export interface Event {
  readonly event: string | undefined
  readonly data: string
  readonly id: string | undefined
}

/**
 * A stateful, synchronous decoder: `push` takes each byte chunk as it arrives and returns the events it completes
 * (often none); `end` is called once at end of input. The work per push is proportional to the chunk's size.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decoder {
  readonly push: (chunk: Uint8Array) => Array<Event>
  /**
   * Signals end of input. Per the spec an event without its terminating blank line is incomplete and discarded,
   * so this returns no events; the decoder is reset and may be reused for a new stream.
   */
  readonly end: () => Array<Event>
  /**
   * `true` once an event (its data so far plus the line being read) has grown past `maxEventLength`. The push that
   * finds it still returns the events completed before that one; from then on the decoder holds nothing and returns
   * no more events, and the caller ends the stream.
   */
  readonly exceeded: () => boolean
}

/**
 * - `maxEventLength`: the longest event kept, in UTF-16 code units of its text (for the ASCII JSON most servers
 *   send, its size in bytes); by default none. It is checked as each chunk is pushed, so what is held never goes
 *   past it by more than one chunk.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly maxEventLength?: number | undefined
}

const SPACE = 32

/**
 * @since 0.1.0
 * @category constructors
 */
export const makeDecoder = (options?: Options): Decoder => {
  const maxEventLength = options?.maxEventLength ?? Infinity
  let exceeded = false
  let out: Array<Event> = []
  // The event being assembled. `dataLines` counts `data` fields: the spec's "data buffer is empty" test, which
  // must tell no data line apart from one empty data line.
  let data = ""
  let dataLines = 0
  let eventType: string | undefined = undefined
  let lastEventId: string | undefined = undefined

  const onLine = (line: string): void => {
    const length = line.length
    if (length === 0) {
      if (dataLines > 0) out.push({ event: eventType, data, id: lastEventId })
      data = ""
      dataLines = 0
      eventType = undefined
      return
    }
    const colon = line.indexOf(":")
    if (colon === 0) return // a comment, such as ": keep-alive"
    // The field name is compared in place (length, then prefix) so that no field string is allocated per line.
    const nameLength = colon === -1 ? length : colon
    let valueStart = colon === -1 ? length : colon + 1
    if (valueStart < length && line.charCodeAt(valueStart) === SPACE) valueStart++
    switch (nameLength) {
      case 4: {
        if (line.startsWith("data")) {
          const value = line.slice(valueStart)
          data = dataLines === 0 ? value : data + "\n" + value
          dataLines++
        }
        return
      }
      case 5: {
        if (line.startsWith("event")) {
          eventType = valueStart === length ? undefined : line.slice(valueStart)
        }
        // "retry" is deliberately ignored
        return
      }
      case 2: {
        if (line.startsWith("id")) {
          const value = line.slice(valueStart)
          if (!value.includes("\u0000")) lastEventId = value.length === 0 ? undefined : value
        }
        return
      }
    }
  }

  const lines = LineDecoder.make({ lonelyCr: true, onLine })

  // Checked after each push: the event still being gathered (its data and the line being read) and every event the
  // push dispatched. Within one push nothing grows by more than the chunk.
  // The events complete before the one past the cap are returned: what a stream yields must not depend on where
  // the server's chunks happen to split it (in a chunk of their own, they would have been).
  const overflow = (kept: number): Array<Event> => {
    exceeded = true
    lines.reset()
    data = ""
    dataLines = 0
    eventType = undefined
    out.length = kept
    return out
  }

  return {
    push: (chunk) => {
      if (exceeded) return []
      out = []
      lines.push(chunk)
      if (maxEventLength !== Infinity) {
        for (let i = 0; i < out.length; i++) {
          if (out[i]!.data.length > maxEventLength) return overflow(i)
        }
        if (data.length + lines.pendingLength() > maxEventLength) return overflow(out.length)
      }
      return out
    },
    exceeded: () => exceeded,
    end: () => {
      out = []
      exceeded = false
      // the unterminated last line, if any, belongs to an incomplete event: dropped with it
      lines.end()
      data = ""
      dataLines = 0
      eventType = undefined
      lastEventId = undefined
      return out
    }
  }
}

/**
 * Decodes a byte stream into its events. The decoding runs once per upstream chunk (not per byte or per line);
 * each event is one element of the resulting stream. Every run of the stream gets a fresh decoder. No event
 * length is enforced here: `HttpTransport.decodeStream` is the bounded way to read a response.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Event, E, R> =>
  LineDecoder.decodeStream(self, makeDecoder)
