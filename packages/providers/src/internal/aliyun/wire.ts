/**
 * What DashScope's native API sends, as tolerant Schemas: fields a server may leave out or send as `null` are
 * optional and nullable, unknown fields are ignored.
 *
 * @internal
 */
import * as Schema from "effect/Schema"

const Nullish = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(Schema.NullOr(schema))

export const WireUsage = Schema.Struct({
  input_tokens: Nullish(Schema.Number),
  output_tokens: Nullish(Schema.Number),
  total_tokens: Nullish(Schema.Number),
  prompt_tokens_details: Nullish(Schema.Struct({ cached_tokens: Nullish(Schema.Number) })),
  output_tokens_details: Nullish(Schema.Struct({ reasoning_tokens: Nullish(Schema.Number) }))
})
export type WireUsage = typeof WireUsage.Type

export const WireToolCall = Schema.Struct({
  index: Nullish(Schema.Number),
  id: Nullish(Schema.String),
  type: Nullish(Schema.String),
  function: Nullish(Schema.Struct({
    name: Nullish(Schema.String),
    arguments: Nullish(Schema.Union(Schema.String, Schema.Record({ key: Schema.String, value: Schema.Unknown })))
  }))
})
export type WireToolCall = typeof WireToolCall.Type

/** The multimodal endpoint answers with a list of parts (`[{"text": …}]`) where the text one has a string. */
const Content = Schema.Union(
  Schema.String,
  Schema.Array(Schema.Struct({ text: Nullish(Schema.String) }))
)

export const WireMessage = Schema.Struct({
  role: Nullish(Schema.String),
  content: Nullish(Content),
  reasoning_content: Nullish(Schema.String),
  tool_calls: Nullish(Schema.Array(WireToolCall))
})
export type WireMessage = typeof WireMessage.Type

export const WireChoice = Schema.Struct({
  index: Nullish(Schema.Number),
  message: Nullish(WireMessage),
  finish_reason: Nullish(Schema.String)
})
export type WireChoice = typeof WireChoice.Type

/**
 * One generation body: the non-streaming response and every stream event share it. `choices` with
 * `result_format: "message"`; `text` + `finish_reason` with `"text"` (a caller can still ask for that).
 */
export const WireGeneration = Schema.Struct({
  output: Nullish(Schema.Struct({
    choices: Nullish(Schema.Array(WireChoice)),
    text: Nullish(Schema.String),
    finish_reason: Nullish(Schema.String)
  })),
  usage: Nullish(WireUsage),
  request_id: Nullish(Schema.String)
})
export type WireGeneration = typeof WireGeneration.Type

/** The flat error body `{code, message, request_id}`, also used by error events inside a stream. */
export const WireError = Schema.Struct({
  code: Nullish(Schema.Union(Schema.String, Schema.Number)),
  message: Nullish(Schema.String),
  request_id: Nullish(Schema.String),
  status_code: Nullish(Schema.Number)
})
export type WireError = typeof WireError.Type

export const WireEmbeddingResponse = Schema.Struct({
  output: Schema.Struct({
    embeddings: Schema.Array(Schema.Struct({
      text_index: Nullish(Schema.Number),
      embedding: Schema.Array(Schema.Number)
    }))
  }),
  usage: Nullish(Schema.Struct({ total_tokens: Nullish(Schema.Number), input_tokens: Nullish(Schema.Number) })),
  request_id: Nullish(Schema.String)
})
export type WireEmbeddingResponse = typeof WireEmbeddingResponse.Type

export const decodeGeneration = Schema.decodeUnknownEither(WireGeneration)
export const decodeError = Schema.decodeUnknownEither(WireError)
export const decodeEmbeddingResponse = Schema.decodeUnknownEither(WireEmbeddingResponse)
