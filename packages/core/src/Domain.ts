/**
 * The domain model: requests and responses in exactly the shapes of OpenAI's Chat Completions and
 * Embeddings APIs (snake_case, `tool_calls[].function.arguments` as a JSON string), defined once as
 * Schemas. Every provider translates to and from these shapes, so switching provider never changes
 * the code that reads a response.
 *
 * Additions to OpenAI's shapes, all optional: `reasoning_content` on messages and deltas, and
 * `provider` on responses.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

// ---------------------------------------------------------------------------------------------
// content parts
// ---------------------------------------------------------------------------------------------

/**
 * Anthropic's prompt caching marker: on a content part, a message (its last content block) or a tool, the prompt up
 * to and including it is cached. Providers whose caching is automatic (OpenAI, Gemini) or absent ignore it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CacheControl = Schema.Struct({
  type: Schema.Literal("ephemeral"),
  ttl: Schema.optional(Schema.Literal("5m", "1h"))
})

/**
 * @since 0.1.0
 * @category models
 */
export type CacheControl = typeof CacheControl.Type

const cacheControl = Schema.optional(CacheControl)

/**
 * @since 0.1.0
 * @category schemas
 */
export const TextContentPart = Schema.Struct({
  type: Schema.Literal("text"),
  text: Schema.String,
  cache_control: cacheControl
})

/**
 * An image, as an `https://` URL or a `data:image/...;base64,` URL.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ImageContentPart = Schema.Struct({
  type: Schema.Literal("image_url"),
  image_url: Schema.Struct({
    url: Schema.String.pipe(Schema.minLength(1)),
    detail: Schema.optional(Schema.Literal("auto", "low", "high"))
  }),
  cache_control: cacheControl
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const InputAudioContentPart = Schema.Struct({
  type: Schema.Literal("input_audio"),
  input_audio: Schema.Struct({
    data: Schema.String,
    format: Schema.Literal("wav", "mp3")
  })
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const FileContentPart = Schema.Struct({
  type: Schema.Literal("file"),
  file: Schema.Struct({
    file_id: Schema.optional(Schema.String),
    file_data: Schema.optional(Schema.String),
    filename: Schema.optional(Schema.String)
  }),
  cache_control: cacheControl
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const RefusalContentPart = Schema.Struct({
  type: Schema.Literal("refusal"),
  refusal: Schema.String
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const UserContentPart = Schema.Union(
  TextContentPart,
  ImageContentPart,
  InputAudioContentPart,
  FileContentPart
)

/**
 * @since 0.1.0
 * @category models
 */
export type UserContentPart = typeof UserContentPart.Type

// ---------------------------------------------------------------------------------------------
// messages
// ---------------------------------------------------------------------------------------------

/**
 * A tool call made by the model. `function.arguments` is a JSON string, exactly as the model wrote it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ToolCall = Schema.Struct({
  id: Schema.String,
  type: Schema.Literal("function"),
  function: Schema.Struct({
    name: Schema.String,
    arguments: Schema.String
  })
})

/**
 * @since 0.1.0
 * @category models
 */
export type ToolCall = typeof ToolCall.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const SystemMessage = Schema.Struct({
  role: Schema.Literal("system"),
  content: Schema.Union(Schema.String, Schema.Array(TextContentPart)),
  name: Schema.optional(Schema.String),
  cache_control: cacheControl
})

/**
 * The `developer` role that OpenAI's reasoning models use in place of `system`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const DeveloperMessage = Schema.Struct({
  role: Schema.Literal("developer"),
  content: Schema.Union(Schema.String, Schema.Array(TextContentPart)),
  name: Schema.optional(Schema.String),
  cache_control: cacheControl
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const UserMessage = Schema.Struct({
  role: Schema.Literal("user"),
  content: Schema.Union(Schema.String, Schema.Array(UserContentPart)),
  name: Schema.optional(Schema.String),
  cache_control: cacheControl
})

/**
 * An assistant turn being replayed to the model: its text, its tool calls, and (for providers that
 * need it back in a tool loop) its reasoning.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AssistantMessage = Schema.Struct({
  role: Schema.Literal("assistant"),
  content: Schema.optional(
    Schema.NullOr(Schema.Union(Schema.String, Schema.Array(Schema.Union(TextContentPart, RefusalContentPart))))
  ),
  tool_calls: Schema.optional(Schema.Array(ToolCall)),
  refusal: Schema.optional(Schema.NullOr(Schema.String)),
  reasoning_content: Schema.optional(Schema.NullOr(Schema.String)),
  name: Schema.optional(Schema.String),
  cache_control: cacheControl
})

/**
 * The result of a tool call, answering the assistant's call with the same `tool_call_id`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ToolMessage = Schema.Struct({
  role: Schema.Literal("tool"),
  tool_call_id: Schema.String.pipe(Schema.minLength(1, { message: () => "tool_call_id must not be empty" })),
  content: Schema.Union(Schema.String, Schema.Array(TextContentPart)),
  cache_control: cacheControl,
  /** An addition: the result reports the tool's failure (Anthropic's `is_error`; elsewhere not sent). */
  is_error: Schema.optional(Schema.Boolean)
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const ChatMessage = Schema.Union(SystemMessage, DeveloperMessage, UserMessage, AssistantMessage, ToolMessage)

/**
 * A message sent to the model (OpenAI's `ChatCompletionMessageParam`).
 *
 * @since 0.1.0
 * @category models
 */
export type ChatMessage = typeof ChatMessage.Type

// ---------------------------------------------------------------------------------------------
// tools and output formats
// ---------------------------------------------------------------------------------------------

/**
 * A JSON Schema object, passed through as given.
 *
 * @since 0.1.0
 * @category schemas
 */
export const JsonSchema = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/**
 * @since 0.1.0
 * @category schemas
 */
export const FunctionDefinition = Schema.Struct({
  name: Schema.String.pipe(
    Schema.pattern(/^[a-zA-Z0-9_-]{1,64}$/, {
      message: () => "a function name is 1 to 64 characters of a-z, A-Z, 0-9, _ and -"
    })
  ),
  description: Schema.optional(Schema.String),
  parameters: Schema.optional(JsonSchema),
  strict: Schema.optional(Schema.NullOr(Schema.Boolean))
})

/**
 * A tool offered to the model, in OpenAI's shape (`{ type: "function", function: { name, description,
 * parameters } }`; OpenAI's `ChatCompletionFunctionTool`). The `Tool` and `Toolkit` modules build these from
 * Schemas.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FunctionTool = Schema.Struct({
  type: Schema.Literal("function"),
  function: FunctionDefinition,
  cache_control: cacheControl
})

/**
 * @since 0.1.0
 * @category models
 */
export type FunctionTool = typeof FunctionTool.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const ToolChoice = Schema.Union(
  Schema.Literal("none", "auto", "required"),
  Schema.Struct({
    type: Schema.Literal("function"),
    function: Schema.Struct({ name: Schema.String })
  })
)

/**
 * @since 0.1.0
 * @category models
 */
export type ToolChoice = typeof ToolChoice.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const ResponseFormat = Schema.Union(
  Schema.Struct({ type: Schema.Literal("text") }),
  Schema.Struct({ type: Schema.Literal("json_object") }),
  Schema.Struct({
    type: Schema.Literal("json_schema"),
    json_schema: Schema.Struct({
      name: Schema.String,
      description: Schema.optional(Schema.String),
      schema: Schema.optional(JsonSchema),
      strict: Schema.optional(Schema.NullOr(Schema.Boolean))
    })
  })
)

/**
 * @since 0.1.0
 * @category models
 */
export type ResponseFormat = typeof ResponseFormat.Type

// ---------------------------------------------------------------------------------------------
// chat request
// ---------------------------------------------------------------------------------------------

const Probability = Schema.Number.pipe(Schema.between(0, 1))
const Penalty = Schema.Number.pipe(Schema.between(-2, 2))
const PositiveInt = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))

/**
 * A chat request (OpenAI's `ChatCompletionCreateParams` without `stream`: whether to stream is
 * chosen by calling `chat` or `stream`). `model` may be left out when the provider has a default
 * model.
 *
 * Fields that are not listed here are kept and passed through to OpenAI-compatible providers
 * (OpenRouter's `provider` routing object, a local server's own options), as the `openai` package does.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ChatCompletionRequest = Schema.Struct({
  model: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  messages: Schema.Array(ChatMessage).pipe(
    Schema.minItems(1, { message: () => "at least one message is required" })
  ),
  temperature: Schema.optional(Schema.NullOr(Schema.Number.pipe(Schema.between(0, 2)))),
  top_p: Schema.optional(Schema.NullOr(Probability)),
  max_tokens: Schema.optional(Schema.NullOr(PositiveInt)),
  max_completion_tokens: Schema.optional(Schema.NullOr(PositiveInt)),
  stop: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Array(Schema.String)))),
  seed: Schema.optional(Schema.NullOr(Schema.Int)),
  n: Schema.optional(Schema.NullOr(PositiveInt)),
  presence_penalty: Schema.optional(Schema.NullOr(Penalty)),
  frequency_penalty: Schema.optional(Schema.NullOr(Penalty)),
  logit_bias: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Number }))),
  logprobs: Schema.optional(Schema.NullOr(Schema.Boolean)),
  top_logprobs: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.between(0, 20)))),
  response_format: Schema.optional(ResponseFormat),
  tools: Schema.optional(Schema.Array(FunctionTool)),
  tool_choice: Schema.optional(ToolChoice),
  parallel_tool_calls: Schema.optional(Schema.Boolean),
  reasoning_effort: Schema.optional(Schema.NullOr(Schema.String)),
  user: Schema.optional(Schema.String),
  metadata: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String }))),
  stream_options: Schema.optional(Schema.NullOr(Schema.Struct({
    include_usage: Schema.optional(Schema.Boolean),
    include_obfuscation: Schema.optional(Schema.Boolean)
  })))
})

/**
 * @since 0.1.0
 * @category models
 */
export interface ChatCompletionRequest extends Schema.Schema.Type<typeof ChatCompletionRequest> {}

// ---------------------------------------------------------------------------------------------
// chat response
// ---------------------------------------------------------------------------------------------

/**
 * Why the model stopped. Providers map their own reasons onto these four; `tool_calls` whenever
 * the model called a tool, whatever the provider said.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FinishReason = Schema.Literal("stop", "length", "tool_calls", "content_filter")

/**
 * @since 0.1.0
 * @category models
 */
export type FinishReason = typeof FinishReason.Type

/**
 * Token usage. Never assume `total_tokens = prompt_tokens + completion_tokens`: some providers count
 * reasoning outside `completion_tokens`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Usage = Schema.Struct({
  prompt_tokens: Schema.Number,
  completion_tokens: Schema.Number,
  total_tokens: Schema.Number,
  prompt_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({
    cached_tokens: Schema.optional(Schema.Number),
    audio_tokens: Schema.optional(Schema.Number)
  }))),
  completion_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({
    reasoning_tokens: Schema.optional(Schema.Number),
    audio_tokens: Schema.optional(Schema.Number),
    accepted_prediction_tokens: Schema.optional(Schema.Number),
    rejected_prediction_tokens: Schema.optional(Schema.Number)
  })))
})

/**
 * @since 0.1.0
 * @category models
 */
export type Usage = typeof Usage.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const ChatCompletionMessage = Schema.Struct({
  role: Schema.Literal("assistant"),
  content: Schema.NullOr(Schema.String),
  refusal: Schema.optional(Schema.NullOr(Schema.String)),
  tool_calls: Schema.optional(Schema.Array(ToolCall)),
  reasoning_content: Schema.optional(Schema.NullOr(Schema.String))
})

/**
 * @since 0.1.0
 * @category models
 */
export type ChatCompletionMessage = typeof ChatCompletionMessage.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const ChatCompletionChoice = Schema.Struct({
  index: Schema.Number,
  message: ChatCompletionMessage,
  finish_reason: FinishReason,
  logprobs: Schema.optional(Schema.NullOr(Schema.Unknown))
})

/**
 * @since 0.1.0
 * @category models
 */
export type ChatCompletionChoice = typeof ChatCompletionChoice.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const ChatCompletion = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("chat.completion"),
  created: Schema.Number,
  model: Schema.String,
  choices: Schema.Array(ChatCompletionChoice),
  usage: Schema.optional(Usage),
  system_fingerprint: Schema.optional(Schema.NullOr(Schema.String)),
  service_tier: Schema.optional(Schema.NullOr(Schema.String)),
  provider: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface ChatCompletion extends Schema.Schema.Type<typeof ChatCompletion> {}

// ---------------------------------------------------------------------------------------------
// stream chunks
// ---------------------------------------------------------------------------------------------

/**
 * A piece of a tool call in a stream: `index` always; `id`, `type` and `function.name` once, on the
 * first piece of the call; then `function.arguments` fragments to concatenate.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ToolCallDelta = Schema.Struct({
  index: Schema.Number,
  id: Schema.optional(Schema.String),
  type: Schema.optional(Schema.Literal("function")),
  function: Schema.optional(Schema.Struct({
    name: Schema.optional(Schema.String),
    arguments: Schema.optional(Schema.String)
  }))
})

/**
 * @since 0.1.0
 * @category models
 */
export type ToolCallDelta = typeof ToolCallDelta.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const ChatCompletionDelta = Schema.Struct({
  role: Schema.optional(Schema.Literal("assistant")),
  content: Schema.optional(Schema.NullOr(Schema.String)),
  refusal: Schema.optional(Schema.NullOr(Schema.String)),
  reasoning_content: Schema.optional(Schema.NullOr(Schema.String)),
  tool_calls: Schema.optional(Schema.Array(ToolCallDelta))
})

/**
 * @since 0.1.0
 * @category models
 */
export type ChatCompletionDelta = typeof ChatCompletionDelta.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const ChatCompletionChunkChoice = Schema.Struct({
  index: Schema.Number,
  delta: ChatCompletionDelta,
  finish_reason: Schema.NullOr(FinishReason),
  logprobs: Schema.optional(Schema.NullOr(Schema.Unknown))
})

/**
 * @since 0.1.0
 * @category models
 */
export type ChatCompletionChunkChoice = typeof ChatCompletionChunkChoice.Type

/**
 * One element of a chat stream. The first chunk carries `delta.role`; the last content chunk carries
 * `finish_reason`; usage always arrives, on a final chunk with `choices: []`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ChatCompletionChunk = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("chat.completion.chunk"),
  created: Schema.Number,
  model: Schema.String,
  choices: Schema.Array(ChatCompletionChunkChoice),
  usage: Schema.optional(Schema.NullOr(Usage)),
  system_fingerprint: Schema.optional(Schema.NullOr(Schema.String)),
  service_tier: Schema.optional(Schema.NullOr(Schema.String)),
  provider: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface ChatCompletionChunk extends Schema.Schema.Type<typeof ChatCompletionChunk> {}

// ---------------------------------------------------------------------------------------------
// embeddings
// ---------------------------------------------------------------------------------------------

/**
 * An embeddings request. The vectors always come back as numbers: `encoding_format: "base64"` is how
 * the library asks the provider for them (4 times fewer bytes), not a different result type.
 *
 * @since 0.1.0
 * @category schemas
 */
export const EmbeddingRequest = Schema.Struct({
  model: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  input: Schema.Union(
    Schema.String.pipe(Schema.minLength(1, { message: () => "input must not be empty" })),
    Schema.Array(Schema.String.pipe(Schema.minLength(1, { message: () => "an input string must not be empty" })))
      .pipe(
        Schema.minItems(1, { message: () => "input must hold at least one string" }),
        Schema.maxItems(2048, { message: () => "input holds at most 2048 items" })
      )
  ),
  dimensions: Schema.optional(PositiveInt),
  encoding_format: Schema.optional(Schema.Literal("float", "base64")),
  user: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface EmbeddingRequest extends Schema.Schema.Type<typeof EmbeddingRequest> {}

/**
 * @since 0.1.0
 * @category schemas
 */
export const Embedding = Schema.Struct({
  object: Schema.Literal("embedding"),
  index: Schema.Number,
  embedding: Schema.Array(Schema.Number)
})

/**
 * @since 0.1.0
 * @category models
 */
export type Embedding = typeof Embedding.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const EmbeddingUsage = Schema.Struct({
  prompt_tokens: Schema.Number,
  total_tokens: Schema.Number
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const EmbeddingResponse = Schema.Struct({
  object: Schema.Literal("list"),
  data: Schema.Array(Embedding),
  model: Schema.String,
  usage: EmbeddingUsage,
  provider: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface EmbeddingResponse extends Schema.Schema.Type<typeof EmbeddingResponse> {}
