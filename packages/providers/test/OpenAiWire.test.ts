import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as wire from "../src/internal/openai/wire.js"

// The wire decoders accept common shapes without a Schema run; they must agree with the Schemas on every input:
// the same acceptance, and on acceptance the same values in every field the codec reads.

const schemaChunk = Schema.decodeUnknownEither(wire.WireChunk)
const schemaCompletion = Schema.decodeUnknownEither(wire.WireChatCompletion)

const usageFields = (u: wire.WireUsage | null | undefined) =>
  u == null ? u : {
    prompt_tokens: u.prompt_tokens,
    completion_tokens: u.completion_tokens,
    total_tokens: u.total_tokens,
    cached: u.prompt_tokens_details?.cached_tokens,
    reasoning: u.completion_tokens_details?.reasoning_tokens
  }

const messageFields = (m: wire.WireMessage | null | undefined) =>
  m == null ? m : {
    role: m.role,
    content: m.content,
    refusal: m.refusal,
    reasoning_content: m.reasoning_content,
    reasoning: m.reasoning,
    tool_calls: m.tool_calls
  }

const chunkFields = (c: wire.WireChunk) => ({
  id: c.id,
  created: c.created,
  model: c.model,
  usage: usageFields(c.usage),
  choices: c.choices?.map((choice) => ({
    index: choice.index,
    finish_reason: choice.finish_reason,
    delta: messageFields(choice.delta)
  }))
})

const completionFields = (c: wire.WireChatCompletion) => ({
  id: c.id,
  created: c.created,
  model: c.model,
  usage: usageFields(c.usage),
  choices: c.choices.map((choice) => ({
    index: choice.index,
    finish_reason: choice.finish_reason,
    message: messageFields(choice.message)
  }))
})

// Valid values from the Schemas, then values with one field replaced by anything JSON can hold.
const json = FastCheck.jsonValue()
const mutate = <A>(valid: FastCheck.Arbitrary<A>) =>
  FastCheck.tuple(valid, FastCheck.array(FastCheck.string(), { maxLength: 3 }), json).map(([value, path, junk]) => {
    const copy: unknown = JSON.parse(JSON.stringify(value))
    let at = copy as Record<string, unknown>
    const keys = ["choices", "0", "delta", "message", "usage", "content", ...path]
    for (let i = 0; i < keys.length - 1; i++) {
      const next = at?.[keys[i]!]
      if (typeof next !== "object" || next === null) break
      at = next as Record<string, unknown>
    }
    if (typeof at === "object" && at !== null) at[path[0] ?? "content"] = junk
    return copy
  })

const agree = <A>(
  fast: (u: unknown) => Either.Either<A, unknown>,
  schema: (u: unknown) => Either.Either<A, unknown>,
  fields: (a: A) => unknown
) =>
(u: unknown) => {
  const a = fast(u)
  const b = schema(u)
  assert.strictEqual(Either.isRight(a), Either.isRight(b), JSON.stringify(u))
  if (Either.isRight(a) && Either.isRight(b)) assert.deepStrictEqual(fields(a.right), fields(b.right))
}

describe("OpenAI wire decoders", () => {
  it("chunks: the same verdict and fields as the Schema, for valid, mutated and arbitrary values", () => {
    const valid = Arbitrary.make(wire.WireChunk).map((v) => JSON.parse(JSON.stringify(v)) as unknown)
    const check = agree(wire.decodeChunk, schemaChunk, chunkFields)
    FastCheck.assert(FastCheck.property(FastCheck.oneof(valid, mutate(valid), json), check), { numRuns: 2000 })
  })

  it("completions: the same verdict and fields as the Schema, for valid, mutated and arbitrary values", () => {
    const valid = Arbitrary.make(wire.WireChatCompletion).map((v) => JSON.parse(JSON.stringify(v)) as unknown)
    const check = agree(wire.decodeChatCompletion, schemaCompletion, completionFields)
    FastCheck.assert(FastCheck.property(FastCheck.oneof(valid, mutate(valid), json), check), { numRuns: 500 })
  })

  it("a typical chunk and completion are accepted, a wrong type anywhere they are read is rejected", () => {
    const chunk = {
      id: "c",
      object: "chat.completion.chunk",
      created: 1,
      model: "m",
      choices: [{ index: 0, delta: { content: "hi" }, logprobs: null, finish_reason: null }]
    }
    assert.isTrue(Either.isRight(wire.decodeChunk(chunk)))
    assert.isTrue(Either.isLeft(wire.decodeChunk({ ...chunk, created: "1" })))
    assert.isTrue(Either.isLeft(wire.decodeChunk({ ...chunk, choices: [{ index: 0, delta: { content: 7 } }] })))
    assert.isTrue(Either.isLeft(wire.decodeChunk({ ...chunk, usage: { prompt_tokens: "12" } })))
    const completion = {
      id: "c",
      choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }
    }
    assert.isTrue(Either.isRight(wire.decodeChatCompletion(completion)))
    assert.isTrue(Either.isLeft(wire.decodeChatCompletion({ ...completion, choices: [{ index: 0 }] })))
    assert.isTrue(Either.isLeft(wire.decodeChatCompletion({ ...completion, choices: [{ message: { role: 1 } }] })))
  })
})
