import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { ChatCompletionRequest } from "../src/Domain.js"
import { isPlainChatRequest } from "../src/internal/requestCheck.js"

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
  tool_call_id: anyOf(undefined, "", "call_1", "call_1", 1),
  tool_calls: FastCheck.option(FastCheck.oneof(FastCheck.array(toolCall, { maxLength: 2 }), anyOf(null, "x")), {
    nil: undefined,
    freq: 2
  }),
  refusal: field(),
  reasoning_content: field(),
  cache_control: field({ type: "ephemeral" }, { type: "forever" }, { type: "ephemeral", ttl: "1d" }),
  extra: field()
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
      { numRuns: 20_000 }
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
})
