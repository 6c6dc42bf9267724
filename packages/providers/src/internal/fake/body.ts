import type { Reply } from "../../FakeServer.js"

/** The bytes of a reply's body, already cut into the pieces to write. */
export interface Body {
  readonly pieces: ReadonlyArray<Uint8Array>
  readonly byteLength: number
  /** The body came from `chunks`: sent with chunked transfer encoding, as a streaming server does. */
  readonly streamed: boolean
  /** The body is a value serialised here as JSON. */
  readonly json: boolean
}

const empty: Body = { pieces: [], byteLength: 0, streamed: false, json: false }

const toBytes = (piece: string | Uint8Array): Uint8Array => typeof piece === "string" ? Buffer.from(piece) : piece

const lengthOf = (pieces: ReadonlyArray<Uint8Array>): number => {
  let n = 0
  for (const piece of pieces) n += piece.byteLength
  return n
}

/** Re-cuts `bytes` every `every` bytes (a number) or at the given offsets (sorted, duplicates and out-of-range ignored). */
export const cut = (bytes: Uint8Array, split: number | ReadonlyArray<number>): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  if (typeof split === "number") {
    const step = Math.max(1, Math.floor(split))
    for (let at = 0; at < bytes.byteLength; at += step) out.push(bytes.subarray(at, at + step))
    return out
  }
  const offsets = split.filter((at) => Number.isInteger(at) && at > 0 && at < bytes.byteLength).sort((a, b) => a - b)
  let from = 0
  for (const at of offsets) {
    if (at === from) continue
    out.push(bytes.subarray(from, at))
    from = at
  }
  if (from < bytes.byteLength) out.push(bytes.subarray(from))
  return out
}

const concat = (pieces: ReadonlyArray<Uint8Array>, byteLength: number): Uint8Array => {
  if (pieces.length === 1) return pieces[0]!
  return Buffer.concat(pieces, byteLength)
}

/**
 * Turns a reply's `chunks` or `body` into the byte pieces to write, applying `substitute` to their text (the echo
 * of a request's credentials), then `split`.
 */
export const fromReply = (reply: Reply, substitute?: (text: string) => string): Body => {
  let pieces: ReadonlyArray<Uint8Array>
  let streamed = false
  let json = false
  const bytes = substitute === undefined
    ? toBytes
    : (piece: string | Uint8Array) =>
      Buffer.from(substitute(typeof piece === "string" ? piece : Buffer.from(piece).toString()))
  if (reply.chunks !== undefined) {
    pieces = reply.chunks.map(bytes)
    streamed = true
  } else if (reply.body === undefined) {
    if (reply.split === undefined) return empty
    pieces = []
  } else if (typeof reply.body === "string" || reply.body instanceof Uint8Array) {
    pieces = [bytes(reply.body)]
  } else {
    pieces = [bytes(JSON.stringify(reply.body))]
    json = true
  }
  // Empty pieces would become empty writes, which a chunked response cannot express (a zero-size chunk ends it).
  pieces = pieces.filter((piece) => piece.byteLength > 0)
  const byteLength = lengthOf(pieces)
  if (reply.split !== undefined) pieces = cut(concat(pieces, byteLength), reply.split)
  return { pieces, byteLength, streamed, json }
}
