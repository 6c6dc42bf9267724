/** One embedding input: a text or a token array. */
export type Input = string | ReadonlyArray<number>

const isTokens = (u: unknown): boolean => Array.isArray(u) && u.length > 0 && u.every((n) => typeof n === "number")

/**
 * The inputs of an OpenAI embeddings request (`string | string[] | number[] | number[][]`), or `undefined` when
 * the field is malformed or holds an empty item, which the real API rejects too.
 */
export const inputsOf = (input: unknown): ReadonlyArray<Input> | undefined => {
  if (typeof input === "string") return input.length > 0 ? [input] : undefined
  if (!Array.isArray(input) || input.length === 0) return undefined
  if (isTokens(input)) return [input as ReadonlyArray<number>]
  for (const item of input as ReadonlyArray<unknown>) {
    if (typeof item === "string" ? item.length === 0 : !isTokens(item)) return undefined
  }
  return input as ReadonlyArray<Input>
}

// FNV-1a over UTF-16 code units (or token ids): a cheap, stable seed per input.
const seedOf = (input: Input): number => {
  let h = 0x811c9dc5
  if (typeof input === "string") {
    for (let i = 0; i < input.length; i++) h = Math.imul(h ^ input.charCodeAt(i), 0x01000193)
  } else {
    for (const token of input) h = Math.imul(h ^ (token | 0), 0x01000193)
  }
  return h >>> 0
}

/**
 * A deterministic unit vector for an input. Its values are float32, as a real server holds them, so that the
 * float and base64 encodings of the same vector decode to the same numbers.
 */
export const vector = (input: Input, dimensions: number): Float32Array => {
  // mulberry32: small, fast, and good enough to make different inputs point in different directions.
  let state = seedOf(input)
  const raw = new Float64Array(dimensions)
  let norm = 0
  for (let i = 0; i < dimensions; i++) {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    const value = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1
    raw[i] = value
    norm += value * value
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0
  const out = new Float32Array(dimensions)
  for (let i = 0; i < dimensions; i++) out[i] = raw[i]! * scale
  return out
}

/** The base64 of the vector's IEEE-754 float32 little-endian bytes (OpenAI's `encoding_format: "base64"`). */
export const toBase64 = (vector: Float32Array): string => {
  const bytes = Buffer.allocUnsafe(vector.length * 4)
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4)
  return bytes.toString("base64")
}
