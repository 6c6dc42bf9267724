/**
 * What Ollama's native API (`/api/chat`, `/api/embed`) sends, as tolerant Schemas: Go's `omitempty`
 * leaves out zeros and empty strings, so every field is optional and nullable, and unknown fields
 * (durations, `logprobs`, `remote_host`) are ignored.
 *
 * @internal
 */
import * as Schema from "effect/Schema"

const Nullish = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(Schema.NullOr(schema))

/** `arguments` is a JSON object on the wire; a string is accepted too, from servers that stringify it. */
const WireToolCall = Schema.Struct({
  id: Nullish(Schema.String),
  function: Schema.Struct({
    index: Nullish(Schema.Number),
    name: Nullish(Schema.String),
    arguments: Nullish(Schema.Union(Schema.String, Schema.Record({ key: Schema.String, value: Schema.Unknown })))
  })
})
export type WireToolCall = typeof WireToolCall.Type

const WireMessage = Schema.Struct({
  role: Nullish(Schema.String),
  content: Nullish(Schema.String),
  thinking: Nullish(Schema.String),
  tool_calls: Nullish(Schema.Array(WireToolCall))
})
export type WireMessage = typeof WireMessage.Type

/** One NDJSON line of a chat stream, or the whole body of a non-streaming chat. */
export const WireChatResponse = Schema.Struct({
  model: Nullish(Schema.String),
  created_at: Nullish(Schema.String),
  message: Nullish(WireMessage),
  done: Nullish(Schema.Boolean),
  done_reason: Nullish(Schema.String),
  prompt_eval_count: Nullish(Schema.Number),
  eval_count: Nullish(Schema.Number)
})
export type WireChatResponse = typeof WireChatResponse.Type

export const WireEmbedResponse = Schema.Struct({
  model: Nullish(Schema.String),
  embeddings: Schema.Array(Schema.Array(Schema.Number)),
  prompt_eval_count: Nullish(Schema.Number)
})
export type WireEmbedResponse = typeof WireEmbedResponse.Type

export const decodeChatResponse = Schema.decodeUnknownEither(WireChatResponse)
export const decodeEmbedResponse = Schema.decodeUnknownEither(WireEmbedResponse)
