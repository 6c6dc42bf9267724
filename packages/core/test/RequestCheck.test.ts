import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { ChatCompletionRequest } from "../src/Domain.js"
import { isPlainChatRequest } from "../src/internal/requestCheck.js"
import { InvalidRequestError } from "../src/LlmError.js"
import * as LlmProvider from "../src/LlmProvider.js"

const decode = Schema.decodeUnknownEither(ChatCompletionRequest, { errors: "all", onExcessProperty: "preserve" })

// Values near every boundary the Schema draws, valid and not.
const oddities = [
  undefined,
  null,
  "",
  "x",
  0,
  -0,
  1,
  -1,
  0.5,
  1.5,
  2,
  2.5,
  20,
  21,
  NaN,
  Infinity,
  2 ** 60,
  true,
  [],
  {}
]
const anyOf = (...values: ReadonlyArray<unknown>) => FastCheck.constantFrom(...values)
// mostly absent, so that whole requests pass often enough to exercise the fast path
const field = (...extra: ReadonlyArray<unknown>) =>
  FastCheck.oneof(
    { weight: 8, arbitrary: FastCheck.constant(undefined) },
    { weight: 2, arbitrary: anyOf(...oddities, ...extra) }
  )

// rarer still: fields that most roles must not carry at all
const rare = (...extra: ReadonlyArray<unknown>) =>
  FastCheck.oneof(
    { weight: 30, arbitrary: FastCheck.constant(undefined) },
    { weight: 2, arbitrary: anyOf(...oddities, ...extra) }
  )

const toolCall = FastCheck.record({
  id: anyOf("call_1", 1, undefined),
  type: anyOf("function", "tool"),
  function: FastCheck.oneof(
    FastCheck.record({ name: anyOf("f", 2), arguments: anyOf("{}", {}, undefined) }),
    anyOf(null, "f")
  )
}, { requiredKeys: [] })

const content = FastCheck.oneof(
  { weight: 6, arbitrary: FastCheck.constant("hi") },
  anyOf("", null, undefined, 3),
  FastCheck.constant([{ type: "text", text: "hi" }]),
  FastCheck.constant([{ type: "image_url", image_url: { url: "data:" } }])
)

const message = FastCheck.record({
  role: anyOf("system", "developer", "user", "user", "user", "assistant", "assistant", "tool", "function", undefined),
  content,
  name: field("bot"),
  tool_call_id: anyOf(undefined, undefined, undefined, undefined, "", "call_1", "call_1", 1),
  tool_calls: FastCheck.oneof(
    { weight: 4, arbitrary: FastCheck.constant(undefined) },
    { weight: 1, arbitrary: FastCheck.oneof(FastCheck.array(toolCall, { maxLength: 2 }), anyOf(null, "x")) }
  ),
  refusal: rare(),
  reasoning_content: rare(),
  cache_control: rare({ type: "ephemeral" }, { type: "forever" }, { type: "ephemeral", ttl: "1d" }),
  is_error: FastCheck.oneof({ weight: 6, arbitrary: FastCheck.constant(undefined) }, anyOf(true, "yes")),
  extra: rare()
}, { requiredKeys: ["role"] })

const request = FastCheck.record({
  model: field("gpt-4o"),
  messages: FastCheck.oneof(
    { weight: 8, arbitrary: FastCheck.array(message, { maxLength: 3 }) },
    { weight: 1, arbitrary: anyOf(undefined, null, "hi") }
  ),
  temperature: field(),
  top_p: field(),
  max_tokens: field(),
  max_completion_tokens: field(),
  n: field(),
  seed: field(),
  presence_penalty: field(),
  frequency_penalty: field(),
  logprobs: field(false),
  top_logprobs: field(),
  parallel_tool_calls: field(false),
  reasoning_effort: field("low"),
  user: field("u"),
  stop: field(["a"], ["a", 1]),
  stream_options: field({ include_usage: true }, { include_usage: "yes" }),
  tools: field([{ type: "function", function: { name: "f" } }], [{
    type: "function",
    function: { name: "no spaces" }
  }]),
  provider: field({ order: ["a"] })
}, { requiredKeys: [] })

describe("the fast request check", () => {
  it("accepts nothing the Schema rejects", () => {
    let accepted = 0
    FastCheck.assert(
      FastCheck.property(request, (input) => {
        if (!isPlainChatRequest(input)) return
        accepted++
        const decoded = decode(input)
        assert.isTrue(Either.isRight(decoded), Either.isLeft(decoded) ? decoded.left.message : "")
      }),
      { numRuns: 20_000, seed: 7 }
    )
    // the generator reaches the fast path often enough for the property to mean something
    assert.isAbove(accepted, 50)
  })

  it("accepts the requests most calls send", () => {
    const requests: Array<unknown> = [
      { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] },
      { messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }], temperature: 0.2 },
      {
        model: "m",
        messages: [
          { role: "user", content: "weather?" },
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "call_1", type: "function", function: { name: "get", arguments: "{}" } }]
          },
          { role: "tool", tool_call_id: "call_1", content: "sunny" }
        ],
        max_tokens: 100,
        stop: ["\n"],
        stream_options: { include_usage: true },
        provider: { order: ["openai"] }
      }
    ]
    for (const request of requests) assert.isTrue(isPlainChatRequest(request))
  })

  it("checks the fields the Schema types, even where they are additions (is_error on a tool result)", () => {
    const tool = (extra: object) => ({ messages: [{ role: "tool", tool_call_id: "call_1", content: "x", ...extra }] })
    assert.isTrue(isPlainChatRequest(tool({ is_error: true })))
    assert.isFalse(isPlainChatRequest(tool({ is_error: "yes" })))
    assert.isTrue(Either.isLeft(decode(tool({ is_error: "yes" }))))
  })
})

describe("validateChatRequest", () => {
  const valid = { messages: [{ role: "user", content: "hi" }] }
  const left = (u: unknown) => {
    const result = LlmProvider.validateChatRequest("test", u)
    assert.isTrue(Either.isLeft(result), "expected a rejection")
    const error = (result as Either.Left<InvalidRequestError, unknown>).left
    assert.instanceOf(error, InvalidRequestError)
    assert.strictEqual(error.source, "client")
    assert.isBelow(error.message.length, 2000)
    return error
  }

  it("agrees with the Schema on plain data, and never throws", () => {
    FastCheck.assert(
      FastCheck.property(request, (input) => {
        const ours = LlmProvider.validateChatRequest("test", input)
        const schema = decode(input)
        // NaN and Infinity are numbers to the Schema, but not JSON: only there may we be stricter
        if (Either.isRight(ours)) assert.isTrue(Either.isRight(schema))
        else if (Either.isRight(schema)) assert.match(ours.left.message, /JSON/)
      }),
      { numRuns: 1_000, seed: 8 }
    )
  })

  it("names the field that holds a hostile value", () => {
    const throwing = Object.defineProperty({ role: "user" }, "content", {
      enumerable: true,
      get: () => {
        throw new Error("boom")
      }
    })
    const circular: Record<string, unknown> = { a: 1 }
    circular.self = circular
    let deep: unknown = 1
    for (let i = 0; i < 100_000; i++) deep = [deep]
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [{ ...valid, extra: BigInt(1) }, "extra"],
      [{ ...valid, extra: Symbol("s") }, "extra"],
      [{ ...valid, extra: () => 1 }, "extra"],
      [{ ...valid, extra: NaN }, "extra"],
      [{ ...valid, provider: { order: [Infinity] } }, "provider.order[0]"],
      [{ ...valid, extra: circular }, "extra.self"],
      [{ ...valid, extra: deep }, "extra" + "[0]".repeat(63)],
      [{ ...valid, extra: new Map() }, "extra"],
      [{ messages: [throwing] }, "messages[0].content"],
      [{ messages: [{ role: "user", content: "hi", extra: BigInt(2) }] }, "messages[0].extra"],
      [{ messages: [Object.assign(Object.create(null), { role: "usr", content: "hi" })] }, "messages[0].role"],
      [{ ...valid, temperature: NaN }, "temperature"],
      [{ ...valid, logit_bias: { "1": NaN } }, "logit_bias.1"],
      [
        { ...valid, tools: [{ type: "function", function: { name: "f", parameters: { x: BigInt(1) } } }] },
        "tools[0].function.parameters.x"
      ],
      [{ messages: [{ role: "x".repeat(1 << 20), content: "hi" }] }, "messages[0].role"]
    ]
    for (const [input, param] of cases) assert.strictEqual(left(input).param, param)
    const trapped = new Proxy({}, {
      get: () => {
        throw new TypeError("trapped")
      },
      ownKeys: () => {
        throw new TypeError("trapped")
      }
    })
    left(trapped)
    left({ messages: trapped })
  })

  it("accepts hostile-looking input that is valid: null-prototype objects, Proxies, megabyte strings", () => {
    const inputs: ReadonlyArray<unknown> = [
      { messages: [Object.assign(Object.create(null), { role: "user", content: "hi" })] },
      Object.assign(Object.create(null), valid),
      new Proxy(valid, {}),
      { messages: [new Proxy({ role: "user", content: "proxied" }, {})] },
      { messages: [{ role: "user", content: "x".repeat(1 << 20) }] }
    ]
    for (const input of inputs) assert.isTrue(Either.isRight(LlmProvider.validateChatRequest("test", input)))
  })

  it("keeps its message short whatever the input", () => {
    const result = LlmProvider.validateEmbeddingRequest("test", { input: Array.from({ length: 2000 }, () => 1) })
    assert.isTrue(Either.isLeft(result))
    const error = (result as Either.Left<InvalidRequestError, unknown>).left
    assert.isBelow(error.message.length, 2000)
    assert.include(error.message, "more")
  })
})
