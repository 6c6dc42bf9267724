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

// FNV-1a over UTF-16 code units (or token ids), from a given start: a cheap, stable hash.
const fnv = (h: number, input: Input): number => {
  if (typeof input === "string") {
    for (let i = 0; i < input.length; i++) h = Math.imul(h ^ input.charCodeAt(i), 0x01000193)
  } else {
    for (const token of input) h = Math.imul(h ^ (token | 0), 0x01000193)
  }
  return h >>> 0
}

const seedOf = (input: Input): number => fnv(0x811c9dc5, input)

// The features of an input, as a model would see them, crudely: for a text, its lower-cased words (runs of letters
// and digits) and the character trigrams of each word with its boundaries marked; for tokens, the ids and the pairs
// of neighbouring ids. Texts that share words or parts of words share features.
const featuresOf = (input: Input): ReadonlyArray<string> => {
  const features: Array<string> = []
  if (typeof input === "string") {
    for (const word of input.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
      if (word === "") continue
      features.push(`w:${word}`)
      const marked = `<${word}>`
      for (let i = 0; i + 3 <= marked.length; i++) features.push(`c:${marked.slice(i, i + 3)}`)
    }
  } else {
    for (let i = 0; i < input.length; i++) {
      features.push(`t:${input[i]}`)
      if (i > 0) features.push(`t:${input[i - 1]},${input[i]}`)
    }
  }
  return features
}

// A pseudo-random unit vector seeded by the whole input (mulberry32), so that no two inputs get the same vector.
const noise = (input: Input, dimensions: number): Float64Array => {
  let state = seedOf(input)
  const raw = new Float64Array(dimensions)
  for (let i = 0; i < dimensions; i++) {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    raw[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1
  }
  return normalise(raw)
}

const normalise = (raw: Float64Array): Float64Array => {
  let norm = 0
  for (let i = 0; i < raw.length; i++) norm += raw[i]! * raw[i]!
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0
  for (let i = 0; i < raw.length; i++) raw[i] = raw[i]! * scale
  return raw
}

/**
 * A deterministic unit vector for an input, in which similar texts are similar: a hashed bag of the input's words
 * and character trigrams (each feature adds ±1 to one dimension chosen by its hash), plus a little pseudo-random
 * part of the whole input, so that two different inputs never share a vector. At 256 dimensions "The cat sat on the
 * mat." and "The cat sat on a mat." score about 0.9 by cosine, "A cat is sitting on a rug." about 0.3, and an
 * unrelated sentence about 0. Its values are float32, as a real
 * server holds them, so that the float and base64 encodings of the same vector decode to the same numbers.
 */
export const vector = (input: Input, dimensions: number): Float32Array => {
  const bag = new Float64Array(dimensions)
  for (const feature of featuresOf(input)) {
    const h = fnv(0x811c9dc5, feature)
    bag[h % dimensions] += (h & 0x80000000) === 0 ? 1 : -1
  }
  normalise(bag)
  const extra = noise(input, dimensions)
  const raw = new Float64Array(dimensions)
  for (let i = 0; i < dimensions; i++) raw[i] = bag[i]! + 0.2 * extra[i]!
  normalise(raw)
  const out = new Float32Array(dimensions)
  for (let i = 0; i < dimensions; i++) out[i] = raw[i]!
  return out
}

/** The base64 of the vector's IEEE-754 float32 little-endian bytes (OpenAI's `encoding_format: "base64"`). */
export const toBase64 = (vector: Float32Array): string => {
  const bytes = Buffer.allocUnsafe(vector.length * 4)
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4)
  return bytes.toString("base64")
}
