/**
 * Text helpers every fake protocol's responder shares: reading request JSON, counting words for usage,
 * and cutting an answer into stream pieces.
 *
 * @internal
 */

/** A JSON object as the request body gives it. */
export type Json = Record<string, unknown>

export const isRecord = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const isSpace = (code: number): boolean => code === 32 || code === 10 || code === 13 || code === 9

/** Words (runs of non-space characters): the fakes' token count. */
export const countWords = (text: string): number => {
  let n = 0
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const space = isSpace(text.charCodeAt(i))
    if (!space && !inWord) n++
    inWord = !space
  }
  return n
}

/** Cuts text at spaces into pieces that concatenate back to it exactly, each piece carrying its leading space. */
export const wordPieces = (text: string): Array<string> => {
  const out: Array<string> = []
  const words = text.split(" ")
  for (let i = 0; i < words.length; i++) {
    const piece = i === 0 ? words[i]! : ` ${words[i]}`
    if (piece.length > 0) out.push(piece)
  }
  return out
}

/** OpenAI-style content: a string, or the text of its `{ text }` parts joined with spaces. */
export const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  let text = ""
  for (const part of content) {
    if (isRecord(part) && typeof part.text === "string") text += text.length === 0 ? part.text : ` ${part.text}`
  }
  return text
}

/** The text of the last user message. */
export const lastUserText = (messages: ReadonlyArray<unknown>): string => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]
    if (isRecord(message) && message.role === "user") return textOf(message.content)
  }
  return ""
}

const typeOf = (schema: Json): string | undefined => {
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type
  return typeof type === "string" ? type.toLowerCase() : undefined
}

/**
 * A value that matches a JSON Schema (as far as the fakes need: types, required properties, enums, `anyOf`,
 * local `$ref`s), every string being `text`: what the fakes answer to a structured request, and the arguments of
 * the tools they call. Only required properties are filled; `root` resolves `$ref`s.
 */
export const sampleOf = (schema: unknown, text: string, root: unknown = schema, depth = 0): unknown => {
  if (!isRecord(schema) || depth > 8) return null
  if (typeof schema.$ref === "string" && schema.$ref.startsWith("#/") && isRecord(root)) {
    let target: unknown = root
    for (const key of schema.$ref.slice(2).split("/")) target = isRecord(target) ? target[key] : undefined
    return sampleOf(target, text, root, depth + 1)
  }
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0]
  if ("const" in schema) return schema.const
  const union = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined
  if (union !== undefined && union.length > 0) return sampleOf(union[0], text, root, depth + 1)
  switch (typeOf(schema)) {
    case "string":
      return text
    case "number":
    case "integer":
      return typeof schema.minimum === "number" ? schema.minimum : 1
    case "boolean":
      return true
    case "null":
      return null
    case "array": {
      const min = typeof schema.minItems === "number" ? schema.minItems : 0
      return Array.from({ length: min }, () => sampleOf(schema.items, text, root, depth + 1))
    }
    default: {
      const out: Json = {}
      if (Array.isArray(schema.required) && isRecord(schema.properties)) {
        for (const name of schema.required) {
          if (typeof name === "string") out[name] = sampleOf(schema.properties[name], text, root, depth + 1)
        }
      }
      return out
    }
  }
}
