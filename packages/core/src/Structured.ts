/**
 * Structured output: an answer in the shape of a Schema, decoded and typed.
 *
 * `generate` asks the provider in context for an answer that matches the Schema and decodes it; `stream` emits the
 * chunks as they come, leniently parsed partial values as the JSON grows, and the decoded value last. The Schema is
 * an Effect Schema (its JSON Schema comes from `JSONSchema.make`) or any Standard Schema v1 (zod ≥ 3.24, valibot,
 * arktype): one that exposes a JSON Schema (`~standard.jsonSchema`) is used as it is, otherwise pass `jsonSchema`
 * beside it.
 *
 * How the provider is asked depends on `info.capabilities.structuredOutput` (see
 * `LlmProvider.StructuredOutputMode`), decided here once for every provider:
 *
 * - `"json-schema"`: `response_format: { type: "json_schema", json_schema: { name, schema, strict } }`, `strict`
 *   when the schema allows it (every object closed, every property required);
 * - `"tool"`: one tool whose parameters are the schema, forced by `tool_choice`; its arguments are the answer;
 * - `"json-object"`: JSON mode, with the schema in a system message.
 *
 * A schema whose root is not an object (an array, a string, a union) is sent wrapped as `{ value: … }`, which
 * every mode accepts, and unwrapped before decoding. An answer that does not decode fails with
 * `StructuredOutputError`; with `repair: n` the failed answer goes back to the model with the issue (a user
 * message, or in tool mode the tool's result) for up to `n` more requests.
 *
 * @example
 * ```ts
 * import { Structured } from "@llm-api-router/core"
 * import { Effect, Schema } from "effect"
 *
 * const Weather = Schema.Struct({ city: Schema.String, celsius: Schema.Number })
 * const program = Effect.gen(function*() {
 *   const { value } = yield* Structured.generate({
 *     schema: Weather,
 *     messages: [{ role: "user", content: "The weather in Paris?" }],
 *     repair: 1
 *   })
 *   return value.celsius
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as ChatStream from "./ChatStream.js"
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatMessage,
  ToolCall,
  Usage
} from "./Domain.js"
import * as partialJson from "./internal/partialJson.js"
import * as SchemaInput from "./internal/schemaInput.js"
import * as UsageSum from "./internal/usage.js"
import * as Json from "./Json.js"
import { InvalidRequestError, type LlmError, StructuredOutputError } from "./LlmError.js"
import * as LlmProvider from "./LlmProvider.js"

/**
 * A Standard Schema v1 (https://standardschema.dev), with the optional Standard JSON Schema extension.
 *
 * @since 0.1.0
 * @category models
 */
export type StandardSchemaV1<Input = unknown, Output = Input> = SchemaInput.StandardSchemaV1<Input, Output>

/**
 * What `schema` may be: an Effect Schema (without requirements) or a Standard Schema, decoding to `A`.
 *
 * @since 0.1.0
 * @category models
 */
export type SchemaLike<A> = Schema.Schema<A, any, never> | StandardSchemaV1<any, A>

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<A>
  extends Omit<ChatCompletionRequest, "response_format" | "tools" | "tool_choice" | "parallel_tool_calls">
{
  readonly schema: SchemaLike<A>
  /** The JSON Schema to send, for a Standard Schema that exposes none (or to override any schema's). */
  readonly jsonSchema?: Record<string, unknown> | undefined
  /** The name of the format (or of the forced tool); default `"structured_output"`. */
  readonly schemaName?: string | undefined
  /** What the answer is, for the model. */
  readonly schemaDescription?: string | undefined
  /** OpenAI's `strict`; by default `true` exactly when the schema allows it. */
  readonly strict?: boolean | undefined
  /** Up to this many more requests after an answer that does not decode (default 0). */
  readonly repair?: number | undefined
  /** Overrides the provider's mode (`info.capabilities.structuredOutput`). */
  readonly mode?: LlmProvider.StructuredOutputMode | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Result<A> {
  readonly value: A
  /**
   * The completion that carried the answer, the same on every provider: the answer's JSON text is its `content`
   * (in tool mode the forced tool call is taken out, and `finish_reason` is `"stop"`).
   */
  readonly completion: ChatCompletion
  /** The usage summed over every request made (more than one after a repair). */
  readonly usage: Usage | undefined
  /** How many requests were made. */
  readonly attempts: number
}

/**
 * A partial value: what the JSON written so far stands for, not validated by the schema.
 *
 * @since 0.1.0
 * @category models
 */
export type DeepPartial<A> = A extends ReadonlyArray<infer E> ? ReadonlyArray<DeepPartial<E>>
  : A extends object ? { readonly [K in keyof A]?: DeepPartial<A[K]> }
  : A

/**
 * An element of `stream`: every chunk, the partial value each time it grows, and the decoded value last. After a
 * failed answer that is repaired, the chunks and partial values of the next request follow.
 *
 * @since 0.1.0
 * @category models
 */
export type Part<A> =
  | { readonly _tag: "Chunk"; readonly chunk: ChatCompletionChunk }
  | { readonly _tag: "Partial"; readonly value: DeepPartial<A> }
  | { readonly _tag: "Value"; readonly value: A; readonly completion: ChatCompletion }

// ---------------------------------------------------------------------------------------------
// planning the request
// ---------------------------------------------------------------------------------------------

const DEFAULT_NAME = "structured_output"
const NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/

interface Plan<A> {
  readonly provider: string
  readonly mode: LlmProvider.StructuredOutputMode
  readonly name: string
  readonly adapted: SchemaInput.Adapted<A>
  /** Whether the schema was wrapped as `{ value }`. */
  readonly wrapped: boolean
  readonly repair: number
  readonly request: ChatCompletionRequest
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Whether OpenAI's strict mode takes the schema: every object closed and all of its properties required. */
const strictAllows = (schema: unknown): boolean => {
  if (Array.isArray(schema)) return schema.every(strictAllows)
  if (!isRecord(schema)) return true
  if (schema.type === "object" || isRecord(schema.properties)) {
    if (schema.additionalProperties !== false) return false
    const properties = isRecord(schema.properties) ? Object.keys(schema.properties) : []
    const required = Array.isArray(schema.required) ? schema.required : []
    if (!properties.every((key) => required.includes(key))) return false
  }
  for (const key in schema) {
    if (key !== "enum" && key !== "const" && key !== "default" && key !== "examples" && !strictAllows(schema[key])) {
      return false
    }
  }
  return true
}

/** A root that is not an object goes inside `{ value }`, the definitions staying at the root. */
const rootObject = (
  schema: Record<string, unknown>
): { readonly schema: Record<string, unknown>; readonly wrapped: boolean } => {
  if (schema.type === "object") return { schema, wrapped: false }
  const { $defs, ...inner } = schema
  return {
    schema: {
      type: "object",
      properties: { value: inner },
      required: ["value"],
      additionalProperties: false,
      ...($defs !== undefined ? { $defs } : {})
    },
    wrapped: true
  }
}

const invalid = (provider: string, param: string, message: string) =>
  new InvalidRequestError({ provider, source: "client", param, message: `invalid request: ${param}: ${message}` })

const instruction = (schema: Record<string, unknown>, description: string | undefined): string =>
  `${description !== undefined ? `${description}\n\n` : ""}Answer with a single JSON value, and nothing else, ` +
  `that matches this JSON Schema:\n${JSON.stringify(schema)}`

const withInstruction = (messages: ReadonlyArray<ChatMessage>, text: string): ReadonlyArray<ChatMessage> => {
  const first = messages[0]
  if (first !== undefined && first.role === "system" && typeof first.content === "string") {
    return [{ ...first, content: `${first.content}\n\n${text}` }, ...messages.slice(1)]
  }
  return [{ role: "system", content: text }, ...messages]
}

const plan = <A>(info: LlmProvider.ProviderInfo, options: Options<A>): Either.Either<Plan<A>, LlmError> => {
  if (typeof options !== "object" || options === null) {
    return Either.left(invalid(info.name, "schema", "expected the options of a structured request"))
  }
  const { jsonSchema, mode, repair, schema, schemaDescription, schemaName, strict, ...rest } = options
  const provider = info.name
  const name = schemaName ?? DEFAULT_NAME
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    return Either.left(invalid(provider, "schemaName", "1 to 64 characters of a-z, A-Z, 0-9, _ and -"))
  }
  const repairs = repair ?? 0
  if (!Number.isInteger(repairs) || repairs < 0) {
    return Either.left(invalid(provider, "repair", `expected a whole number of at least 0, got ${String(repair)}`))
  }
  const chosen = mode ?? LlmProvider.structuredOutputMode(info.capabilities)
  if (chosen !== "json-schema" && chosen !== "tool" && chosen !== "json-object") {
    return Either.left(invalid(provider, "mode", `expected "json-schema", "tool" or "json-object"`))
  }
  return Either.map(SchemaInput.adapt<A>(provider, "schema", schema, { jsonSchema }), (adapted) => {
    const root = rootObject(adapted.jsonSchema)
    const base = rest as ChatCompletionRequest
    let request: ChatCompletionRequest
    switch (chosen) {
      case "json-schema":
        request = {
          ...base,
          response_format: {
            type: "json_schema",
            json_schema: {
              name,
              ...(schemaDescription !== undefined ? { description: schemaDescription } : {}),
              schema: root.schema,
              strict: strict ?? strictAllows(root.schema)
            }
          }
        }
        break
      case "tool":
        request = {
          ...base,
          tools: [{
            type: "function",
            function: {
              name,
              description: schemaDescription ?? "Give the answer by calling this tool, the answer as its arguments.",
              parameters: root.schema,
              ...(strict !== undefined ? { strict } : {})
            }
          }],
          tool_choice: { type: "function", function: { name } }
        }
        break
      case "json-object":
        request = {
          ...base,
          // Messages that are not a list are left for the request's validation to reject.
          messages: Array.isArray(base.messages)
            ? withInstruction(base.messages, instruction(root.schema, schemaDescription))
            : base.messages,
          response_format: { type: "json_object" }
        }
        break
    }
    return { provider, mode: chosen, name, adapted, wrapped: root.wrapped, repair: repairs, request }
  })
}

// ---------------------------------------------------------------------------------------------
// reading the answer
// ---------------------------------------------------------------------------------------------

interface Answer {
  readonly text: string
  /** The forced tool's call, in tool mode, when the model made it. */
  readonly call: ToolCall | undefined
}

const answerOf = <A>(plan: Plan<A>, completion: ChatCompletion): Answer => {
  const message = completion.choices[0]?.message
  if (message === undefined) return { text: "", call: undefined }
  if (plan.mode === "tool") {
    const calls = message.tool_calls ?? []
    const call = calls.find((c) => c.function.name === plan.name) ?? calls[0]
    if (call !== undefined) return { text: call.function.arguments, call }
  }
  return { text: message.content ?? "", call: undefined }
}

/** The JSON inside a Markdown code fence, which JSON-mode answers sometimes wear. */
const unfenced = (text: string): string => {
  const trimmed = text.trim()
  if (!trimmed.startsWith("```")) return trimmed
  const newline = trimmed.indexOf("\n")
  const end = trimmed.lastIndexOf("```")
  return newline < 0 || end <= newline ? trimmed : trimmed.slice(newline + 1, end).trim()
}

const unwrap = (wrapped: boolean, value: unknown): unknown =>
  wrapped && isRecord(value) && "value" in value ? value.value : value

const failure = (plan: Plan<unknown>, completion: ChatCompletion, text: string, issue: string) =>
  new StructuredOutputError({
    provider: plan.provider,
    model: completion.model,
    message: `${plan.provider}: the answer does not match the schema: ${issue}`,
    text,
    issue,
    completion
  })

const decodeAnswer = <A>(
  plan: Plan<A>,
  completion: ChatCompletion
): Effect.Effect<{ readonly value: A; readonly answer: Answer }, StructuredOutputError> =>
  Effect.suspend(() => {
    const choice = completion.choices[0]
    const answer = answerOf(plan, completion)
    const fail = (issue: string) => Effect.fail(failure(plan as Plan<unknown>, completion, answer.text, issue))
    if (choice === undefined) return fail("the completion has no choices")
    const refusal = choice.message.refusal
    if (refusal != null && refusal !== "") return fail(`the model refused: ${refusal}`)
    const cut = choice.finish_reason === "length" ? " (the answer was cut by the token limit)" : ""
    if (answer.text.trim() === "") return fail(`the answer is empty${cut}`)
    const text = unfenced(answer.text)
    const parsed = Json.parse(text)
    if (Either.isLeft(parsed)) {
      return fail(
        parsed.left === "not JSON"
          ? `the answer is not JSON${cut}: ${Json.syntaxError(text)}`
          : `the answer is ${Json.describe(parsed.left)}${cut}`
      )
    }
    const json = parsed.right
    return plan.adapted.decode(unwrap(plan.wrapped, json)).pipe(
      Effect.mapError((issue) => failure(plan as Plan<unknown>, completion, answer.text, `${issue}${cut}`)),
      Effect.map((value) => ({ value, answer }))
    )
  })

/** The completion as every mode gives it back: the answer's text as `content`, without the forced tool call. */
const normalise = <A>(plan: Plan<A>, completion: ChatCompletion, answer: Answer): ChatCompletion => {
  if (answer.call === undefined) return completion
  return {
    ...completion,
    choices: completion.choices.map((choice, i) => {
      if (i !== 0) return choice
      const { tool_calls: _, ...message } = choice.message
      return {
        ...choice,
        message: { ...message, content: answer.text },
        finish_reason: choice.finish_reason === "tool_calls" ? "stop" : choice.finish_reason
      }
    })
  }
}

/** The next request after a failed answer: the answer and its issue appended. */
const repairRequest = <A>(
  plan: Plan<A>,
  request: ChatCompletionRequest,
  completion: ChatCompletion,
  error: StructuredOutputError
): ChatCompletionRequest => {
  const answer = answerOf(plan, completion)
  const message = completion.choices[0]?.message
  const reasoning = message?.reasoning_content != null ? { reasoning_content: message.reasoning_content } : {}
  const feedback = `The answer does not match the required JSON Schema: ${error.issue}. ` +
    "Answer again, with the corrected JSON only."
  const added: Array<ChatMessage> = answer.call !== undefined
    ? [
      { role: "assistant", content: null, tool_calls: [answer.call], ...reasoning },
      { role: "tool", tool_call_id: answer.call.id, content: JSON.stringify({ error: feedback }) }
    ]
    : [
      { role: "assistant", content: answer.text, ...reasoning },
      { role: "user", content: feedback }
    ]
  return { ...request, messages: [...request.messages, ...added] }
}

// ---------------------------------------------------------------------------------------------
// generate
// ---------------------------------------------------------------------------------------------

/**
 * Asks the provider in context for an answer in the shape of `schema` and decodes it. Fails with
 * `StructuredOutputError` when the last allowed answer does not decode, with `InvalidRequestError` (before any
 * I/O) when the schema has no JSON Schema, and with the provider's own errors otherwise.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate = <A>(options: Options<A>): Effect.Effect<Result<A>, LlmError, LlmProvider.LlmProvider> =>
  Effect.gen(function*() {
    const provider = yield* LlmProvider.LlmProvider
    const planned = yield* plan(provider.info, options)
    let request = planned.request
    let usage: Usage | undefined = undefined
    for (let attempts = 1;; attempts++) {
      const completion = yield* provider.chat(request)
      usage = UsageSum.add(usage, completion.usage)
      const decoded = yield* Effect.either(decodeAnswer(planned, completion))
      if (Either.isRight(decoded)) {
        const { answer, value } = decoded.right
        return { value, completion: normalise(planned, completion, answer), usage, attempts }
      }
      if (attempts > planned.repair) return yield* Effect.fail(decoded.left)
      request = repairRequest(planned, request, completion, decoded.left)
    }
  })

// ---------------------------------------------------------------------------------------------
// stream
// ---------------------------------------------------------------------------------------------

/** Follows the answer's text through the chunks, and parses it leniently when it grows. */
const partialTracker = <A>(plan: Plan<A>) => {
  let text = ""
  let toolIndex: number | undefined = undefined
  let last = ""
  return (chunk: ChatCompletionChunk): unknown => {
    const choice = chunk.choices.find((c) => c.index === 0)
    if (choice === undefined) return undefined
    let grew = false
    if (plan.mode === "tool") {
      for (const call of choice.delta.tool_calls ?? []) {
        if (toolIndex === undefined) toolIndex = call.index
        const fragment = call.index === toolIndex ? call.function?.arguments : undefined
        if (fragment) {
          text += fragment
          grew = true
        }
      }
    }
    const content = choice.delta.content
    if (content && (plan.mode !== "tool" || toolIndex === undefined)) {
      text += content
      grew = true
    }
    if (!grew) return undefined
    const value = partialJson.parse(text.trimStart().startsWith("```") ? unfenced(text) : text)
    if (value === undefined) return undefined
    const partial = unwrap(plan.wrapped, value)
    const key = JSON.stringify(partial)
    if (key === undefined || key === last) return undefined
    last = key
    return partial
  }
}

const attempt = <A>(
  provider: LlmProvider.Service,
  planned: Plan<A>,
  request: ChatCompletionRequest,
  attempts: number
): Stream.Stream<Part<A>, LlmError> =>
  Stream.suspend(() => {
    const accumulator = ChatStream.makeAccumulator()
    const track = partialTracker(planned)
    const chunks = Stream.mapConcat(provider.stream(request), (chunk): ReadonlyArray<Part<A>> => {
      accumulator.push(chunk)
      const partial = track(chunk)
      return partial === undefined
        ? [{ _tag: "Chunk", chunk }]
        : [{ _tag: "Chunk", chunk }, { _tag: "Partial", value: partial as DeepPartial<A> }]
    })
    const end: Stream.Stream<Part<A>, LlmError> = Stream.unwrap(Effect.suspend(() => {
      const completion = accumulator.result()
      return decodeAnswer(planned, completion).pipe(
        Effect.map(({ answer, value }): Stream.Stream<Part<A>, LlmError> =>
          Stream.succeed({ _tag: "Value", value, completion: normalise(planned, completion, answer) })
        ),
        Effect.catchAll((error) =>
          attempts > planned.repair
            ? Effect.fail(error)
            : Effect.succeed(
              attempt(provider, planned, repairRequest(planned, request, completion, error), attempts + 1)
            )
        )
      )
    }))
    return Stream.concat(chunks, end)
  })

/**
 * Streams an answer in the shape of `schema`: each chunk, each time the answer's JSON grows into a new value a
 * `Partial` (parsed leniently, not validated), and the decoded `Value` with its completion last. A failed answer
 * with repairs left is followed by the next request's parts; without, the stream fails with
 * `StructuredOutputError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const stream = <A>(options: Options<A>): Stream.Stream<Part<A>, LlmError, LlmProvider.LlmProvider> =>
  Stream.unwrap(Effect.gen(function*() {
    const provider = yield* LlmProvider.LlmProvider
    const planned = yield* plan(provider.info, options)
    return attempt(provider, planned, planned.request, 1)
  }))

/**
 * The JSON Schema `Structured` sends for a schema (after `JSONSchema.make` for an Effect Schema, with a root
 * `$ref` inlined); fails with `InvalidRequestError` when the schema has none.
 *
 * @since 0.1.0
 * @category utils
 */
export const jsonSchema = <A>(
  schema: SchemaLike<A>,
  options?: { readonly jsonSchema?: Record<string, unknown> | undefined }
): Either.Either<Record<string, unknown>, InvalidRequestError> =>
  Either.map(SchemaInput.adapt<A>("structured", "schema", schema, options), (adapted) => adapted.jsonSchema)
