/**
 * What OpenAI-compatible servers send, as tolerant Schemas: every field a server may leave out or
 * send as `null` is optional and nullable, unknown fields are ignored. Strictness here would turn a
 * harmless server quirk into a failed call.
 *
 * @internal
 */
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

const Nullish = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(Schema.NullOr(schema))

/** `code` is a string on OpenAI, a number on some compatible servers. */
const Code = Nullish(Schema.Union(Schema.String, Schema.Number))

export const WireUsage = Schema.Struct({
  prompt_tokens: Nullish(Schema.Number),
  completion_tokens: Nullish(Schema.Number),
  total_tokens: Nullish(Schema.Number),
  prompt_tokens_details: Nullish(Schema.Struct({
    cached_tokens: Nullish(Schema.Number),
    audio_tokens: Nullish(Schema.Number)
  })),
  completion_tokens_details: Nullish(Schema.Struct({
    reasoning_tokens: Nullish(Schema.Number),
    audio_tokens: Nullish(Schema.Number),
    accepted_prediction_tokens: Nullish(Schema.Number),
    rejected_prediction_tokens: Nullish(Schema.Number)
  }))
})
export type WireUsage = typeof WireUsage.Type

const WireToolCall = Schema.Struct({
  index: Nullish(Schema.Number),
  id: Nullish(Schema.String),
  type: Nullish(Schema.String),
  function: Nullish(Schema.Struct({
    name: Nullish(Schema.String),
    arguments: Nullish(Schema.Union(Schema.String, Schema.Record({ key: Schema.String, value: Schema.Unknown })))
  }))
})
export type WireToolCall = typeof WireToolCall.Type

const WireMessage = Schema.Struct({
  role: Nullish(Schema.String),
  content: Nullish(Schema.String),
  refusal: Nullish(Schema.String),
  reasoning_content: Nullish(Schema.String),
  reasoning: Nullish(Schema.String),
  tool_calls: Nullish(Schema.Array(WireToolCall))
})
export type WireMessage = typeof WireMessage.Type

export const WireChatCompletion = Schema.Struct({
  id: Nullish(Schema.String),
  created: Nullish(Schema.Number),
  model: Nullish(Schema.String),
  choices: Schema.Array(Schema.Struct({
    index: Nullish(Schema.Number),
    message: WireMessage,
    finish_reason: Nullish(Schema.String),
    logprobs: Schema.optional(Schema.Unknown)
  })),
  usage: Nullish(WireUsage),
  system_fingerprint: Nullish(Schema.String),
  service_tier: Nullish(Schema.String)
})
export type WireChatCompletion = typeof WireChatCompletion.Type

export const WireChunk = Schema.Struct({
  id: Nullish(Schema.String),
  created: Nullish(Schema.Number),
  model: Nullish(Schema.String),
  choices: Nullish(Schema.Array(Schema.Struct({
    index: Nullish(Schema.Number),
    delta: Nullish(WireMessage),
    finish_reason: Nullish(Schema.String),
    logprobs: Schema.optional(Schema.Unknown)
  }))),
  usage: Nullish(WireUsage),
  system_fingerprint: Nullish(Schema.String),
  service_tier: Nullish(Schema.String)
})
export type WireChunk = typeof WireChunk.Type

/** The error envelope `{"error": {...}}`; some servers send the inner object bare, or a string. */
export const WireErrorBody = Schema.Struct({
  message: Nullish(Schema.String),
  type: Nullish(Schema.String),
  param: Nullish(Schema.String),
  code: Code
})
export type WireErrorBody = typeof WireErrorBody.Type

export const WireEmbeddingResponse = Schema.Struct({
  data: Schema.Array(Schema.Struct({
    index: Nullish(Schema.Number),
    embedding: Schema.Union(Schema.String, Schema.Array(Schema.Number))
  })),
  model: Nullish(Schema.String),
  usage: Nullish(Schema.Struct({
    prompt_tokens: Nullish(Schema.Number),
    total_tokens: Nullish(Schema.Number)
  }))
})
export type WireEmbeddingResponse = typeof WireEmbeddingResponse.Type

export const decodeErrorBody = Schema.decodeUnknownEither(WireErrorBody)
export const decodeEmbeddingResponse = Schema.decodeUnknownEither(WireEmbeddingResponse)

// --- fast acceptance ---
// Every chunk of every stream goes through these decoders. A generic Schema decode costs about as much as the
// JSON.parse before it; the checks below accept, without allocating, exactly the common shapes that the Schemas
// accept (every field they read has the type the Schema demands), and hand anything else (tool calls, token details
// with unexpected fields, any doubt) to the Schema, which then decides and words the error. Accepting means
// returning the parsed value itself: the codec reads only the fields checked here.

type Json = Record<string, unknown>

const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)
const nullishString = (u: unknown): boolean => u === undefined || u === null || typeof u === "string"
const nullishNumber = (u: unknown): boolean => u === undefined || u === null || typeof u === "number"

const fastTokenDetails = (u: unknown): boolean => {
  if (u === undefined || u === null) return true
  if (!isObject(u)) return false
  for (const key in u) {
    if (!nullishNumber(u[key])) return false
  }
  return true
}

const fastUsage = (u: unknown): boolean =>
  u === undefined || u === null || (isObject(u) && nullishNumber(u.prompt_tokens) &&
    nullishNumber(u.completion_tokens) && nullishNumber(u.total_tokens) &&
    fastTokenDetails(u.prompt_tokens_details) && fastTokenDetails(u.completion_tokens_details))

// tool calls are left to the Schema
const fastMessage = (u: unknown): boolean =>
  isObject(u) && nullishString(u.role) && nullishString(u.content) && nullishString(u.refusal) &&
  nullishString(u.reasoning_content) && nullishString(u.reasoning) &&
  (u.tool_calls === undefined || u.tool_calls === null)

const fastEnvelope = (u: Json): boolean =>
  nullishString(u.id) && nullishNumber(u.created) && nullishString(u.model) && fastUsage(u.usage) &&
  nullishString(u.system_fingerprint) && nullishString(u.service_tier)

const fastChunk = (u: unknown): u is WireChunk => {
  if (!isObject(u) || !fastEnvelope(u)) return false
  const choices = u.choices
  if (choices === undefined || choices === null) return true
  if (!Array.isArray(choices)) return false
  for (let i = 0; i < choices.length; i++) {
    const choice: unknown = choices[i]
    if (
      !isObject(choice) || !nullishNumber(choice.index) || !nullishString(choice.finish_reason) ||
      !(choice.delta === undefined || choice.delta === null || fastMessage(choice.delta))
    ) return false
  }
  return true
}

const fastChatCompletion = (u: unknown): u is WireChatCompletion => {
  if (!isObject(u) || !fastEnvelope(u)) return false
  const choices = u.choices
  if (!Array.isArray(choices)) return false
  for (let i = 0; i < choices.length; i++) {
    const choice: unknown = choices[i]
    if (
      !isObject(choice) || !nullishNumber(choice.index) || !nullishString(choice.finish_reason) ||
      !fastMessage(choice.message)
    ) return false
  }
  return true
}

const schemaChatCompletion = Schema.decodeUnknownEither(WireChatCompletion)
const schemaChunk = Schema.decodeUnknownEither(WireChunk)

export const decodeChatCompletion = (
  u: unknown
): Either.Either<WireChatCompletion, ParseResult.ParseError> =>
  fastChatCompletion(u) ? Either.right(u) : schemaChatCompletion(u)
export const decodeChunk = (u: unknown): Either.Either<WireChunk, ParseResult.ParseError> =>
  fastChunk(u) ? Either.right(u) : schemaChunk(u)
