/**
 * Lenient parsing of a JSON text that is still being written (a streamed structured answer): the prefix is closed
 * (an open string ended, open arrays and objects closed) and parsed; when that is not JSON (a dangling key, a
 * half-written `true`), the prefix is cut back to its last complete element.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Json from "../Json.js"

interface Cut {
  /** The prefix to keep. */
  readonly end: number
  /** What closes the containers open at `end`. */
  readonly closers: string
}

const tryParse = (text: string): { readonly ok: true; readonly value: unknown } | undefined => {
  const parsed = Json.parse(text)
  return Either.isRight(parsed) ? { ok: true, value: parsed.right } : undefined
}

/**
 * The value a JSON prefix stands for so far, or `undefined` when nothing can be made of it yet (an empty prefix,
 * a half-written literal at the top level). Cost: one scan of the text and at most three `JSON.parse`s.
 */
export const parse = (text: string): unknown => {
  const stack: Array<string> = []
  let inString = false
  let escape = false
  // The last comma and the last opening bracket outside strings: the two places a prefix can be cut back to.
  let lastComma: Cut | undefined
  let lastOpen: Cut | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (escape) escape = false
      else if (c === 92) escape = true // \
      else if (c === 34) inString = false // "
      continue
    }
    switch (c) {
      case 34: // "
        inString = true
        break
      case 123: // {
      case 91: // [
        stack.push(c === 123 ? "}" : "]")
        lastOpen = { end: i + 1, closers: stack.slice().reverse().join("") }
        break
      case 125: // }
      case 93: // ]
        stack.pop()
        break
      case 44: // ,
        lastComma = { end: i, closers: stack.slice().reverse().join("") }
        break
    }
  }
  let head = text
  if (inString) {
    if (escape) head = head.slice(0, -1)
    // A half-written \u escape cannot be closed: drop it.
    else head = head.replace(/\\u[0-9a-fA-F]{0,3}$/, "")
    head += "\""
  }
  const closers = stack.slice().reverse().join("")
  const whole = tryParse(head + closers)
  if (whole !== undefined) return whole.value
  // The later cut keeps more of the text.
  const cuts = lastComma !== undefined && lastOpen !== undefined && lastOpen.end > lastComma.end
    ? [lastOpen, lastComma]
    : [lastComma, lastOpen]
  for (const cut of cuts) {
    if (cut === undefined) continue
    const parsed = tryParse(text.slice(0, cut.end) + cut.closers)
    if (parsed !== undefined) return parsed.value
  }
  return undefined
}
