/**
 * The one way response data is parsed as JSON: `JSON.parse` that never throws and never returns a value nested
 * deeper than {@link maxDepth}.
 *
 * `JSON.parse` itself copes with any nesting, but everything that walks its result recursively does not: a Schema
 * decode, an error message that prints the value, `JSON.stringify` in a cache, a user's own code. A body of
 * 100,000 nested brackets overflows their stacks with a raw `RangeError`. Bounding the depth where the text is
 * parsed keeps every later step safe; the bound is far above anything a provider sends (its deepest values are the
 * tool-call arguments a model wrote).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"

/**
 * The deepest nesting of arrays and objects accepted (the top-level value is depth 1).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxDepth = 256

/**
 * Why a text was refused, in words that quote nothing of it (response data may hold secrets).
 *
 * @since 0.1.0
 * @category models
 */
export type Failure = "not JSON" | "nested too deeply"

/**
 * A description of a {@link Failure} fit for an error message: `"not valid JSON"`,
 * `"JSON nested deeper than 256 levels"`.
 *
 * @since 0.1.0
 * @category utils
 */
export const describe = (failure: Failure): string =>
  failure === "not JSON" ? "not valid JSON" : `JSON nested deeper than ${maxDepth} levels`

const QUOTE = 34
const BACKSLASH = 92
const OPEN_BRACKET = 91
const CLOSE_BRACKET = 93
const OPEN_BRACE = 123
const CLOSE_BRACE = 125

/**
 * Whether the text's arrays and objects nest deeper than `max`, counting brackets outside strings. Only called on
 * texts long enough to hold that many (each level takes at least two characters); anything malformed is left to
 * `JSON.parse` to refuse.
 */
const nestsDeeperThan = (text: string, max: number): boolean => {
  let depth = 0
  const length = text.length
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      // skip the string: its closing quote is the next one not escaped by an odd run of backslashes
      let from = i + 1
      for (;;) {
        const close = text.indexOf("\"", from)
        if (close === -1) return false
        let slashes = 0
        while (close - slashes - 1 > i && text.charCodeAt(close - slashes - 1) === BACKSLASH) slashes++
        if ((slashes & 1) === 0) {
          i = close
          break
        }
        from = close + 1
      }
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > max) return true
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--
    }
  }
  return false
}

// a text shorter than this cannot nest deeper than `maxDepth`
const scanFrom = 2 * maxDepth + 2

/**
 * What `JSON.parse` says about a text it refuses (`Unexpected token …`), which quotes the text: only for texts that
 * are no secret, such as a model's answer; `""` when it parses.
 *
 * @since 0.1.0
 * @category utils
 */
export const syntaxError = (text: string): string => {
  try {
    JSON.parse(text)
    return ""
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

/**
 * Parses `text` as JSON. Fails with `"not JSON"` for anything `JSON.parse` refuses (an empty text included) or
 * that makes it throw, and with `"nested too deeply"` past {@link maxDepth}. Texts shorter than `2 × maxDepth`
 * characters cost one `JSON.parse`; longer ones also one scan of their characters.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (text: string): Either.Either<unknown, Failure> => {
  if (text.length >= scanFrom && nestsDeeperThan(text, maxDepth)) return Either.left("nested too deeply")
  try {
    return Either.right(JSON.parse(text))
  } catch {
    return Either.left("not JSON")
  }
}
