/**
 * What OpenAI-compatible servers send, as tolerant Schemas: every field a server may leave out or
 * send as `null` is optional and nullable, unknown fields are ignored. Strictness here would turn a
 * harmless server quirk into a failed call.
 *
 * @internal
 */
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

export const decodeChatCompletion = Schema.decodeUnknownEither(WireChatCompletion)
export const decodeChunk = Schema.decodeUnknownEither(WireChunk)
export const decodeErrorBody = Schema.decodeUnknownEither(WireErrorBody)
export const decodeEmbeddingResponse = Schema.decodeUnknownEither(WireEmbeddingResponse)
