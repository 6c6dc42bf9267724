import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { ChatCompletionChunk, ChatCompletionRequest, ChatMessage, ToolCallDelta } from "../src/Domain.js"
import * as partialJson from "../src/internal/partialJson.js"
import { isRetryable, StructuredOutputError, ToolError } from "../src/LlmError.js"
import * as LlmProvider from "../src/LlmProvider.js"
import * as Router from "../src/Router.js"
import * as Structured from "../src/Structured.js"
import { MockProvider } from "../src/testing.js"

const Weather = Schema.Struct({ city: Schema.String, celsius: Schema.Number })
const messages: ReadonlyArray<ChatMessage> = [{ role: "user", content: "The weather in Paris?" }]

const requests = Effect.map(MockProvider.calls, (calls) => calls.map((call) => call.request as ChatCompletionRequest))

const toolCall = (args: string, id = "call_1", name = "structured_output") => ({
  tool_calls: [{ id, type: "function" as const, function: { name, arguments: args } }]
})

const toolChunk = (call: ToolCallDelta): ChatCompletionChunk => ({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  created: 0,
  model: "mock-model",
  choices: [{ index: 0, delta: { tool_calls: [call] }, finish_reason: null }]
})

/** A hand-made Standard Schema v1 for `{ n: number }`, the way zod or valibot present one. */
const standardNumber = (withJsonSchema: boolean): Structured.StandardSchemaV1<unknown, { n: number }> => ({
  "~standard": {
    version: 1,
    vendor: "hand-made",
    validate: (value) =>
      typeof value === "object" && value !== null && typeof (value as { n?: unknown }).n === "number"
        ? { value: value as { n: number } }
        : { issues: [{ message: "expected a number", path: [{ key: "n" }] }] },
    ...(withJsonSchema
      ? {
        jsonSchema: {
          input: () => ({ type: "object", properties: { n: { type: "number" } }, required: ["n"] }),
          output: () => ({ type: "object", properties: { n: { type: "number" } }, required: ["n"] })
        }
      }
      : {})
  }
})

describe("Structured.generate", () => {
  it.effect("json-schema mode: the schema goes as a strict response_format, the answer comes back decoded", () =>
    Effect.gen(function*() {
      const result = yield* Structured.generate({ schema: Weather, messages })
      assert.deepStrictEqual(result.value, { city: "Paris", celsius: 18 })
      assert.strictEqual(result.attempts, 1)
      assert.strictEqual(result.completion.choices[0]!.message.content, "{\"city\":\"Paris\",\"celsius\":18}")
      const [request] = yield* requests
      assert.deepStrictEqual(request!.response_format, {
        type: "json_schema",
        json_schema: {
          name: "structured_output",
          schema: {
            type: "object",
            required: ["city", "celsius"],
            properties: { city: { type: "string" }, celsius: { type: "number" } },
            additionalProperties: false
          },
          strict: true
        }
      })
      assert.strictEqual(request!.tools, undefined)
    }).pipe(Effect.provide(MockProvider.layer([MockProvider.reply("{\"city\":\"Paris\",\"celsius\":18}")]))))

  it.effect("strict is false when the schema has an optional property, and may be forced", () =>
    Effect.gen(function*() {
      const Loose = Schema.Struct({ city: Schema.String, note: Schema.optional(Schema.String) })
      yield* Structured.generate({ schema: Loose, messages })
      yield* Structured.generate({ schema: Loose, messages, strict: true, schemaName: "weather" })
      const [first, second] = yield* requests
      const format = (r: ChatCompletionRequest | undefined) =>
        r?.response_format?.type === "json_schema" ? r.response_format.json_schema : undefined
      assert.strictEqual(format(first)?.strict, false)
      assert.strictEqual(format(second)?.strict, true)
      assert.strictEqual(format(second)?.name, "weather")
    }).pipe(
      Effect.provide(
        MockProvider.layer([MockProvider.reply("{\"city\":\"a\"}"), MockProvider.reply("{\"city\":\"b\"}")])
      )
    ))

  it.effect("tool mode: one forced tool carries the schema; the completion comes back as in every other mode", () =>
    Effect.gen(function*() {
      const info = yield* LlmProvider.info
      assert.strictEqual(info.capabilities.structuredOutput, "tool")
      const result = yield* Structured.generate({ schema: Weather, messages, schemaDescription: "the weather" })
      assert.deepStrictEqual(result.value, { city: "Paris", celsius: 18 })
      const message = result.completion.choices[0]!.message
      assert.strictEqual(message.content, "{\"city\":\"Paris\",\"celsius\":18}")
      assert.strictEqual(message.tool_calls, undefined)
      assert.strictEqual(result.completion.choices[0]!.finish_reason, "stop")
      const [request] = yield* requests
      assert.strictEqual(request!.response_format, undefined)
      assert.deepStrictEqual(request!.tool_choice, { type: "function", function: { name: "structured_output" } })
      assert.strictEqual(request!.tools!.length, 1)
      assert.strictEqual(request!.tools![0]!.function.description, "the weather")
      assert.deepStrictEqual(request!.tools![0]!.function.parameters?.required, ["city", "celsius"])
    }).pipe(Effect.provide(MockProvider.layer(
      [MockProvider.reply(toolCall("{\"city\":\"Paris\",\"celsius\":18}"))],
      { capabilities: { jsonSchema: false, structuredOutput: "tool" } }
    ))))

  it.effect("json-object mode: JSON mode, the schema in the system message; a fenced answer is read", () =>
    Effect.gen(function*() {
      const result = yield* Structured.generate({
        schema: Weather,
        messages: [{ role: "system", content: "Be brief." }, ...messages]
      })
      assert.deepStrictEqual(result.value, { city: "Paris", celsius: 18 })
      const [request] = yield* requests
      assert.deepStrictEqual(request!.response_format, { type: "json_object" })
      assert.strictEqual(request!.messages.length, 2)
      const system = request!.messages[0]!
      assert.strictEqual(system.role, "system")
      assert.isTrue((system.content as string).startsWith("Be brief.\n\nAnswer with a single JSON value"))
      assert.include(system.content as string, "\"celsius\":{\"type\":\"number\"}")
    }).pipe(Effect.provide(MockProvider.layer(
      [MockProvider.reply("```json\n{\"city\":\"Paris\",\"celsius\":18}\n```")],
      { capabilities: { jsonSchema: false, structuredOutput: "json-object" } }
    ))))

  it.effect("the derived mode: json-schema, else tool with tools, else json-object; a router takes the weakest", () =>
    Effect.gen(function*() {
      const caps = { streaming: true, tools: true, embeddings: true, vision: true, jsonSchema: true }
      assert.strictEqual(LlmProvider.structuredOutputMode(caps), "json-schema")
      assert.strictEqual(LlmProvider.structuredOutputMode({ ...caps, jsonSchema: false }), "tool")
      assert.strictEqual(LlmProvider.structuredOutputMode({ ...caps, jsonSchema: false, tools: false }), "json-object")
      assert.strictEqual(LlmProvider.structuredOutputMode({ ...caps, structuredOutput: "tool" }), "tool")
      const native = (yield* MockProvider.make([])).provider
      assert.strictEqual(native.info.capabilities.structuredOutput, "json-schema")
      const tool = (yield* MockProvider.make([], { capabilities: { jsonSchema: false } })).provider
      const router = yield* Effect.provide(
        LlmProvider.LlmProvider,
        Router.layer([Router.member("a", native), Router.member("b", tool)])
      )
      assert.strictEqual(router.info.capabilities.structuredOutput, "tool")
    }))

  it.effect("an answer that does not decode is StructuredOutputError (text, issue, completion), not retryable", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Structured.generate({ schema: Weather, messages }))
      assert.instanceOf(error, StructuredOutputError)
      if (error._tag !== "StructuredOutputError") return
      assert.strictEqual(error.text, "{\"city\":\"Paris\",\"celsius\":\"warm\"}")
      assert.strictEqual(error.issue, "celsius: Expected number, actual \"warm\"")
      assert.strictEqual(error.provider, "mock")
      assert.strictEqual(error.model, "mock-model")
      assert.strictEqual(error.completion.choices[0]!.message.content, error.text)
      assert.isFalse(isRetryable(error))
      assert.strictEqual((yield* MockProvider.calls).length, 1)
    }).pipe(Effect.provide(MockProvider.layer([MockProvider.reply("{\"city\":\"Paris\",\"celsius\":\"warm\"}")]))))

  it.effect("an answer nested 100,000 deep is StructuredOutputError, not a stack overflow", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Structured.generate({ schema: Weather, messages }))
      assert.strictEqual(error._tag, "StructuredOutputError")
      if (error._tag !== "StructuredOutputError") return
      assert.strictEqual(error.issue, "the answer is JSON nested deeper than 256 levels")
    }).pipe(Effect.provide(MockProvider.layer([MockProvider.reply("[".repeat(100_000) + "]".repeat(100_000))]))))

  it.effect("text that is not JSON, an empty answer, a refusal and a cut answer each say so", () =>
    Effect.gen(function*() {
      const issue = Effect.map(
        Effect.flip(Structured.generate({ schema: Weather, messages })),
        (e) => e._tag === "StructuredOutputError" ? e.issue : e._tag
      )
      assert.match(yield* issue, /^the answer is not JSON: /)
      assert.strictEqual(yield* issue, "the answer is empty")
      assert.strictEqual(yield* issue, "the model refused: no")
      assert.match(yield* issue, /^the answer is not JSON \(the answer was cut by the token limit\): /)
    }).pipe(Effect.provide(MockProvider.layer([
      MockProvider.reply("It is sunny."),
      MockProvider.reply(""),
      MockProvider.reply({ content: null, refusal: "no" }),
      MockProvider.reply({ content: "{\"city\":\"Par", finish_reason: "length" })
    ]))))

  it.effect("repair: 1 sends the answer back with the issue as a user message; usage is summed over both", () =>
    Effect.gen(function*() {
      const result = yield* Structured.generate({ schema: Weather, messages, repair: 1 })
      assert.deepStrictEqual(result.value, { city: "Paris", celsius: 18 })
      assert.strictEqual(result.attempts, 2)
      assert.deepStrictEqual(result.usage, { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 })
      const [, second] = yield* requests
      assert.strictEqual(second!.messages.length, 3)
      assert.deepStrictEqual(second!.messages[1], { role: "assistant", content: "{\"city\":\"Paris\"}" })
      const feedback = second!.messages[2]!
      assert.strictEqual(feedback.role, "user")
      assert.include(feedback.content as string, "celsius: is missing")
    }).pipe(Effect.provide(MockProvider.layer([
      MockProvider.reply({
        content: "{\"city\":\"Paris\"}",
        usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }
      }),
      MockProvider.reply({
        content: "{\"city\":\"Paris\",\"celsius\":18}",
        usage: { prompt_tokens: 20, completion_tokens: 7, total_tokens: 27 }
      })
    ]))))

  it.effect("repair in tool mode goes back as the forced tool's result; repair: 1 makes at most two requests", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Structured.generate({ schema: Weather, messages, repair: 1 }))
      assert.strictEqual(error._tag, "StructuredOutputError")
      const all = yield* requests
      assert.strictEqual(all.length, 2)
      const added = all[1]!.messages.slice(1)
      assert.deepStrictEqual(added[0], { role: "assistant", content: null, ...toolCall("{}", "call_a") })
      assert.strictEqual(added[1]!.role, "tool")
      if (added[1]!.role !== "tool") return
      assert.strictEqual(added[1].tool_call_id, "call_a")
      assert.include(JSON.parse(added[1].content as string).error, "city: is missing")
    }).pipe(Effect.provide(MockProvider.layer(
      [MockProvider.reply(toolCall("{}", "call_a")), MockProvider.reply(toolCall("{}", "call_b"))],
      { capabilities: { structuredOutput: "tool" } }
    ))))

  it.effect("a Standard Schema with its own JSON Schema is sent and validates the answer", () =>
    Effect.gen(function*() {
      const ok = yield* Structured.generate({ schema: standardNumber(true), messages })
      assert.deepStrictEqual(ok.value, { n: 1 })
      const error = yield* Effect.flip(Structured.generate({ schema: standardNumber(true), messages }))
      assert.strictEqual(error._tag === "StructuredOutputError" ? error.issue : error._tag, "n: expected a number")
      const [request] = yield* requests
      const format = request!.response_format
      assert.deepStrictEqual(format?.type === "json_schema" ? format.json_schema.schema : undefined, {
        type: "object",
        properties: { n: { type: "number" } },
        required: ["n"]
      })
    }).pipe(Effect.provide(MockProvider.layer([MockProvider.reply("{\"n\":1}"), MockProvider.reply("{\"n\":\"1\"}")]))))

  it.effect("a Standard Schema without a JSON Schema needs jsonSchema beside it, else InvalidRequestError, no I/O", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Structured.generate({ schema: standardNumber(false), messages }))
      assert.strictEqual(error._tag, "InvalidRequestError")
      if (error._tag !== "InvalidRequestError") return
      assert.strictEqual(error.param, "schema")
      assert.strictEqual(error.source, "client")
      assert.include(error.message, "pass one beside it as jsonSchema")
      assert.strictEqual((yield* MockProvider.calls).length, 0)
      const ok = yield* Structured.generate({
        schema: standardNumber(false),
        jsonSchema: { type: "object", properties: { n: { type: "number" } } },
        messages
      })
      assert.deepStrictEqual(ok.value, { n: 2 })
    }).pipe(Effect.provide(MockProvider.layer([MockProvider.reply("{\"n\":2}")]))))

  it.effect("bad options are InvalidRequestError naming the field, before any I/O", () =>
    Effect.gen(function*() {
      const param = <A>(options: Structured.Options<A>) =>
        Effect.map(
          Effect.flip(Structured.generate(options)),
          (e) => e._tag === "InvalidRequestError" ? e.param : e._tag
        )
      assert.strictEqual(yield* param({ schema: Weather, messages, repair: -1 }), "repair")
      assert.strictEqual(yield* param({ schema: Weather, messages, schemaName: "no spaces" }), "schemaName")
      assert.strictEqual(yield* param({ schema: { not: "a schema" } as never, messages }), "schema")
      assert.strictEqual(yield* param({ schema: Schema.BigIntFromSelf as never, messages }), "schema")
      assert.strictEqual(yield* param({ schema: Weather, messages: [] }), "messages")
      assert.strictEqual((yield* MockProvider.calls).length, 0)
    }).pipe(Effect.provide(MockProvider.layer([]))))

  it.effect("a root that is not an object travels as { value } and is unwrapped", () =>
    Effect.gen(function*() {
      const result = yield* Structured.generate({ schema: Schema.Array(Schema.String), messages })
      assert.deepStrictEqual(result.value, ["a", "b"])
      const [request] = yield* requests
      const format = request!.response_format
      assert.deepStrictEqual(format?.type === "json_schema" ? format.json_schema.schema : undefined, {
        type: "object",
        properties: { value: { type: "array", items: { type: "string" } } },
        required: ["value"],
        additionalProperties: false
      })
    }).pipe(Effect.provide(MockProvider.layer([MockProvider.reply("{\"value\":[\"a\",\"b\"]}")]))))

  it("a Schema with an identifier has its definition at the root, not a $ref", () => {
    const Named = Weather.annotations({ identifier: "Weather" })
    const schema = Either.getOrThrow(Structured.jsonSchema(Named))
    assert.strictEqual(schema.type, "object")
    assert.strictEqual(schema.$ref, undefined)
    assert.strictEqual(schema.$schema, undefined)
  })
})

describe("Structured.stream", () => {
  it.effect("chunks, growing partial values, then the decoded value last", () =>
    Effect.gen(function*() {
      const parts = Chunk.toArray(yield* Stream.runCollect(Structured.stream({ schema: Weather, messages })))
      const partials = parts.filter((p) => p._tag === "Partial").map((p) => p.value)
      // A number is shown as far as it is written: 1, then 18.
      assert.deepStrictEqual(partials, [
        {},
        { city: "Pa" },
        { city: "Paris" },
        { city: "Paris", celsius: 1 },
        { city: "Paris", celsius: 18 }
      ])
      const last = parts[parts.length - 1]!
      assert.strictEqual(last._tag, "Value")
      if (last._tag !== "Value") return
      assert.deepStrictEqual(last.value, { city: "Paris", celsius: 18 })
      assert.strictEqual(last.completion.choices[0]!.message.content, "{\"city\":\"Paris\",\"celsius\":18}")
      assert.isTrue(parts.filter((p) => p._tag === "Chunk").length >= 5)
      assert.strictEqual((yield* MockProvider.calls)[0]!.method, "stream")
    }).pipe(Effect.provide(MockProvider.layer([
      MockProvider.stream(["{\"ci", "ty\":\"Pa", "ris\"", ",\"celsius\":1", "8}"])
    ]))))

  it.effect("tool mode: partial values follow the forced tool's arguments", () =>
    Effect.gen(function*() {
      const parts = Chunk.toArray(yield* Stream.runCollect(Structured.stream({ schema: Weather, messages })))
      const last = parts[parts.length - 1]!
      assert.deepStrictEqual(last._tag === "Value" ? last.value : undefined, { city: "Oslo", celsius: -2 })
      assert.deepStrictEqual(parts.filter((p) => p._tag === "Partial").map((p) => p.value), [
        { city: "Oslo" },
        { city: "Oslo", celsius: -2 }
      ])
    }).pipe(Effect.provide(MockProvider.layer(
      [MockProvider.stream([
        toolChunk({ index: 0, id: "call_1", type: "function", function: { name: "structured_output", arguments: "" } }),
        toolChunk({ index: 0, function: { arguments: "{\"city\":\"Oslo\"" } }),
        toolChunk({ index: 0, function: { arguments: ",\"celsius\":-2}" } }),
        { ...toolChunk({ index: 0 }), choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] }
      ])],
      { capabilities: { structuredOutput: "tool" } }
    ))))

  it.effect("a failed answer with a repair left is followed by the next request's parts; without, it fails", () =>
    Effect.gen(function*() {
      const parts = Chunk.toArray(
        yield* Stream.runCollect(Structured.stream({ schema: Weather, messages, repair: 1 }))
      )
      const values = parts.filter((p) => p._tag === "Value")
      assert.strictEqual(values.length, 1)
      assert.strictEqual((yield* MockProvider.calls).length, 2)
      const error = yield* Effect.flip(Stream.runDrain(Structured.stream({ schema: Weather, messages })))
      assert.strictEqual(error._tag, "StructuredOutputError")
    }).pipe(Effect.provide(MockProvider.layer([
      MockProvider.stream(["{\"city\":\"Paris\"}"]),
      MockProvider.stream(["{\"city\":\"Paris\",\"celsius\":18}"]),
      MockProvider.stream(["nope"])
    ]))))
})

describe("partial JSON", () => {
  it("closes what is open and cuts back what cannot be closed", () => {
    assert.deepStrictEqual(partialJson.parse(""), undefined)
    assert.deepStrictEqual(partialJson.parse("{"), {})
    assert.deepStrictEqual(partialJson.parse("{\"a"), {})
    assert.deepStrictEqual(partialJson.parse("{\"a\":"), {})
    assert.deepStrictEqual(partialJson.parse("{\"a\": \"x"), { a: "x" })
    assert.deepStrictEqual(partialJson.parse("{\"a\": \"x\\"), { a: "x" })
    assert.deepStrictEqual(partialJson.parse("{\"a\": \"x\\u00"), { a: "x" })
    assert.deepStrictEqual(partialJson.parse("{\"a\":1,\"b\":tr"), { a: 1 })
    assert.deepStrictEqual(partialJson.parse("{\"a\":[1,2,{\"c"), { a: [1, 2, {}] })
    assert.deepStrictEqual(partialJson.parse("[1, 2"), [1, 2])
    assert.deepStrictEqual(partialJson.parse("{\"s\":\"a,b{\"}"), { s: "a,b{" })
    assert.deepStrictEqual(partialJson.parse("tru"), undefined)
  })
})

describe("the new errors", () => {
  it("StructuredOutputError and ToolError are LlmErrors that are not retried", () => {
    const tool = new ToolError({
      provider: "mock",
      message: "no such tool",
      toolName: "x",
      toolCallId: "call_1",
      reason: "UnknownTool"
    })
    assert.isFalse(isRetryable(tool))
    assert.strictEqual(tool._tag, "ToolError")
  })
})
