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
