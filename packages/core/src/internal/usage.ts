/**
 * Token usage summed over several calls (the attempts of a structured answer, the steps of a tool run).
 *
 * @internal
 */
import type { Usage } from "../Domain.js"

type Details = { readonly [key: string]: number | undefined }

const sumDetails = <D extends Details>(a: D | null | undefined, b: D | null | undefined): D | undefined => {
  if (a == null) return b ?? undefined
  if (b == null) return a
  const out: Record<string, number | undefined> = { ...a }
  for (const key in b) {
    const value = b[key]
    if (typeof value === "number") out[key] = (out[key] ?? 0) + value
  }
  return out as D
}

/** `a + b`, field by field; `undefined` only when neither call reported usage. */
export const add = (a: Usage | undefined, b: Usage | undefined): Usage | undefined => {
  if (a === undefined) return b
  if (b === undefined) return a
  const prompt = sumDetails(a.prompt_tokens_details, b.prompt_tokens_details)
  const completion = sumDetails(a.completion_tokens_details, b.completion_tokens_details)
  return {
    prompt_tokens: a.prompt_tokens + b.prompt_tokens,
    completion_tokens: a.completion_tokens + b.completion_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
    ...(prompt !== undefined ? { prompt_tokens_details: prompt } : {}),
    ...(completion !== undefined ? { completion_tokens_details: completion } : {})
  }
}
