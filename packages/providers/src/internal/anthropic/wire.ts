/**
 * What Anthropic's Messages API sends, as tolerant Schemas: fields a server may leave out or send as
 * `null` are optional and nullable, unknown fields and unknown content-block types are kept as they
 * are (the API adds block types over time; a new one must not fail a call).
 *
 * @internal
 */
import * as Schema from "effect/Schema"

const Nullish = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(Schema.NullOr(schema))

export const WireUsage = Schema.Struct({
  input_tokens: Nullish(Schema.Number),
  output_tokens: Nullish(Schema.Number),
  cache_creation_input_tokens: Nullish(Schema.Number),
  cache_read_input_tokens: Nullish(Schema.Number),
  output_tokens_details: Nullish(Schema.Struct({
    thinking_tokens: Nullish(Schema.Number)
  }))
})
export type WireUsage = typeof WireUsage.Type

/** A content block: `type` always; the other fields depend on it, and are read where they are used. */
export const WireBlock = Schema.Struct({
  type: Schema.String,
  text: Nullish(Schema.String),
  id: Nullish(Schema.String),
  name: Nullish(Schema.String),
  input: Schema.optional(Schema.Unknown),
  thinking: Nullish(Schema.String),
  signature: Nullish(Schema.String),
  data: Nullish(Schema.String)
})
export type WireBlock = typeof WireBlock.Type

export const WireMessage = Schema.Struct({
  id: Nullish(Schema.String),
  model: Nullish(Schema.String),
  content: Nullish(Schema.Array(WireBlock)),
  stop_reason: Nullish(Schema.String),
  stop_sequence: Nullish(Schema.String),
  usage: Nullish(WireUsage)
})
export type WireMessage = typeof WireMessage.Type

/** The error envelope `{"type":"error","error":{"type","message"},"request_id"}`. */
export const WireErrorBody = Schema.Struct({
  error: Schema.Struct({
    type: Nullish(Schema.String),
    message: Nullish(Schema.String)
  }),
  request_id: Nullish(Schema.String)
})
export type WireErrorBody = typeof WireErrorBody.Type

export const decodeMessage = Schema.decodeUnknownEither(WireMessage)
export const decodeBlock = Schema.decodeUnknownEither(WireBlock)
export const decodeUsage = Schema.decodeUnknownEither(WireUsage)
export const decodeErrorBody = Schema.decodeUnknownEither(WireErrorBody)
