/**
 * The embeddings contract every provider keeps (DESIGN §5): one vector per input, in input order, a large input
 * split into calls by the provider's per-call limit. `LlmProvider.make` applies it around a provider's `embed`, so
 * no provider checks or batches on its own.
 */
import * as Effect from "effect/Effect"
import type { Embedding, EmbeddingResponse } from "../Domain.js"
import { type LlmError, ResponseDecodeError } from "../LlmError.js"

/** @internal */
export const inputsOf = (input: string | ReadonlyArray<string>): ReadonlyArray<string> =>
  typeof input === "string" ? [input] : input

/**
 * The response with its vectors in input order (by `index`; a server may send them in any order), or a
 * `ResponseDecodeError` unless there is exactly one per input, indexed `0 … expected - 1`.
 *
 * @internal
 */
export const checkVectors = (
  provider: string,
  model: string,
  response: EmbeddingResponse,
  expected: number
): Either<EmbeddingResponse> => {
  const data = response.data
  if (data.length !== expected) {
    return fail(
      provider,
      model,
      `expected ${expected} embedding${expected === 1 ? "" : "s"} (one per input), got ${data.length}`
    )
  }
  let ordered = true
  for (let i = 0; i < data.length; i++) {
    if (data[i]!.index !== i) {
      ordered = false
      break
    }
  }
  if (ordered) return { ok: true, value: response }
  const sorted = data.slice().sort((a, b) => a.index - b.index)
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i]!.index !== i) {
      return fail(
        provider,
        model,
        `the embeddings' indices are not 0 to ${expected - 1}, one each (got ${data.map((e) => e.index).join(", ")})`
      )
    }
  }
  return { ok: true, value: { ...response, data: sorted } }
}

type Either<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly error: LlmError }

const fail = (provider: string, model: string, message: string): Either<never> => ({
  ok: false,
  error: new ResponseDecodeError({ provider, model, message: `${provider}: ${message}` })
})

/** The responses of consecutive batches as one: indices offset, usage summed. @internal */
export const merge = (responses: ReadonlyArray<EmbeddingResponse>): EmbeddingResponse => {
  const data: Array<Embedding> = []
  let prompt = 0
  let total = 0
  for (const response of responses) {
    for (const embedding of response.data) data.push({ ...embedding, index: data.length })
    prompt += response.usage.prompt_tokens
    total += response.usage.total_tokens
  }
  const first = responses[0]!
  return { ...first, data, usage: { ...first.usage, prompt_tokens: prompt, total_tokens: total } }
}

/**
 * Splits `inputs` into batches of at most `size`, runs `call` on each (`concurrency` at a time, results kept in
 * input order), checks each batch's vectors and merges them. One batch runs alone, with nothing to merge.
 *
 * @internal
 */
export const batched = (
  provider: string,
  model: string,
  inputs: ReadonlyArray<string>,
  size: number,
  concurrency: number,
  call: (batch: ReadonlyArray<string>) => Effect.Effect<EmbeddingResponse, LlmError>
): Effect.Effect<EmbeddingResponse, LlmError> => {
  const checked = (batch: ReadonlyArray<string>) =>
    Effect.flatMap(call(batch), (response) => {
      const result = checkVectors(provider, model, response, batch.length)
      return result.ok ? Effect.succeed(result.value) : Effect.fail(result.error)
    })
  if (inputs.length <= size) return checked(inputs)
  const batches: Array<ReadonlyArray<string>> = []
  for (let at = 0; at < inputs.length; at += size) batches.push(inputs.slice(at, at + size))
  return Effect.map(Effect.forEach(batches, checked, { concurrency }), merge)
}
