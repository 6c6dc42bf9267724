/**
 * What the Gemini API (generateContent, streamGenerateContent, batchEmbedContents) sends, as tolerant Schemas:
 * every field it may leave out is optional and nullable, unknown fields are ignored, so that a new part kind or
 * usage field never turns into a failed call.
 *
 * @internal
 */
import * as Schema from "effect/Schema"

const Nullish = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(Schema.NullOr(schema))

const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })

export const WirePart = Schema.Struct({
  text: Nullish(Schema.String),
  thought: Nullish(Schema.Boolean),
  thoughtSignature: Nullish(Schema.String),
  functionCall: Nullish(Schema.Struct({
    id: Nullish(Schema.String),
    name: Nullish(Schema.String),
    args: Nullish(JsonObject)
  }))
})
export type WirePart = typeof WirePart.Type

export const WireCandidate = Schema.Struct({
  index: Nullish(Schema.Number),
  content: Nullish(Schema.Struct({
    role: Nullish(Schema.String),
    parts: Nullish(Schema.Array(WirePart))
  })),
  finishReason: Nullish(Schema.String),
  finishMessage: Nullish(Schema.String)
})
export type WireCandidate = typeof WireCandidate.Type

export const WireUsage = Schema.Struct({
  promptTokenCount: Nullish(Schema.Number),
  candidatesTokenCount: Nullish(Schema.Number),
  thoughtsTokenCount: Nullish(Schema.Number),
  cachedContentTokenCount: Nullish(Schema.Number),
  toolUsePromptTokenCount: Nullish(Schema.Number),
  totalTokenCount: Nullish(Schema.Number)
})
export type WireUsage = typeof WireUsage.Type

export const WireResponse = Schema.Struct({
  candidates: Nullish(Schema.Array(WireCandidate)),
  promptFeedback: Nullish(Schema.Struct({
    blockReason: Nullish(Schema.String),
    blockReasonMessage: Nullish(Schema.String)
  })),
  usageMetadata: Nullish(WireUsage),
  modelVersion: Nullish(Schema.String),
  responseId: Nullish(Schema.String)
})
export type WireResponse = typeof WireResponse.Type

/** Google's error envelope `{"error":{code,message,status,details}}` (the inner object). */
export const WireError = Schema.Struct({
  code: Nullish(Schema.Union(Schema.Number, Schema.String)),
  message: Nullish(Schema.String),
  status: Nullish(Schema.String),
  details: Nullish(Schema.Array(Schema.Struct({
    "@type": Nullish(Schema.String),
    reason: Nullish(Schema.String),
    retryDelay: Nullish(Schema.String)
  })))
})
export type WireError = typeof WireError.Type

export const WireBatchEmbedResponse = Schema.Struct({
  embeddings: Schema.Array(Schema.Struct({ values: Schema.Array(Schema.Number) }))
})
export type WireBatchEmbedResponse = typeof WireBatchEmbedResponse.Type

export const decodeResponse = Schema.decodeUnknownEither(WireResponse)
export const decodeError = Schema.decodeUnknownEither(WireError)
export const decodeBatchEmbedResponse = Schema.decodeUnknownEither(WireBatchEmbedResponse)
