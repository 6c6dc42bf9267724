import { assert, describe, it } from "@effect/vitest"
import type { ChatCompletionChunk, ChatCompletionRequest, LlmError } from "@llm-api-router/core"
import { ChatStream, Http, LlmProvider } from "@llm-api-router/core"
import { Anthropic } from "@llm-api-router/providers"
import { Client } from "@llm-api-router/providers/Client"
import { FakeAnthropic, FakeServer } from "@llm-api-router/providers/testing"
import * as Chunk from "effect/Chunk"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { loadChunks, loadJson } from "./fixtures.js"
import { awkwardCuts, failure, waitUntil } from "./helpers.js"

const SECRET = "sk-ant-test-0123456789abcdef-SECRET"
const apiKey = Redacted.make(SECRET)
const MODEL = "claude-sonnet-4-5"
const hello: ChatCompletionRequest = { model: MODEL, messages: [{ role: "user", content: "hi" }] }

const withProvider = <A, E>(
  server: FakeServer.FakeServer,
  options: Partial<Anthropic.Options>,
  f: (llm: LlmProvider.Service) => Effect.Effect<A, E>
) =>
  Effect.flatMap(LlmProvider.LlmProvider, f).pipe(
    Effect.provide(Anthropic.layer({ apiKey, baseUrl: `${server.url}/v1`, retry: false, ...options })),
    Effect.provide(Http.layer())
  )

/** The body the provider sent with its `n`th request. */
const sent = (server: FakeServer.FakeServer, n = 0): any => server.requests[n]!.json

/** An independent fold of raw Anthropic events: what a stream of them must assemble to. */
const expectedFromWire = (events: ReadonlyArray<any>, jsonTool = false) => {
  let content = ""
  let reasoning = ""
  let input = 0
  let output = 0
  let cache = 0
  let stopReason: string | null = null
  const calls: Array<{ id: string; name: string; arguments: string }> = []
  const byBlock = new Map<number, { id: string; name: string; arguments: string } | "json">()
  for (const e of events) {
    switch (e.type) {
      case "message_start":
        input = e.message.usage.input_tokens
        output = e.message.usage.output_tokens
        cache = (e.message.usage.cache_creation_input_tokens ?? 0) + (e.message.usage.cache_read_input_tokens ?? 0)
        break
      case "content_block_start":
        if (e.content_block.type === "tool_use") {
          if (jsonTool && e.content_block.name === "json") {
            byBlock.set(e.index, "json")
          } else {
            const call = { id: e.content_block.id, name: e.content_block.name, arguments: "" }
            calls.push(call)
            byBlock.set(e.index, call)
          }
        }
        break
      case "content_block_delta":
        if (e.delta.type === "text_delta") content += e.delta.text
        if (e.delta.type === "thinking_delta") reasoning += e.delta.thinking
        if (e.delta.type === "input_json_delta") {
          const target = byBlock.get(e.index)!
          if (target === "json") content += e.delta.partial_json
          else target.arguments += e.delta.partial_json
        }
        break
      case "message_delta":
        stopReason = e.delta.stop_reason
        if (e.usage.input_tokens != null) input = e.usage.input_tokens
        output = e.usage.output_tokens
        break
    }
  }
  for (const call of calls) if (call.arguments === "") call.arguments = "{}"
  return { content, reasoning, calls, stopReason, usage: { prompt: input + cache, completion: output } }
}

const chunkings: ReadonlyArray<{ readonly name: string; readonly options: FakeAnthropic.StreamReplyOptions }> = [
  { name: "one event per write", options: {} },
  { name: "7-byte pieces", options: { split: 7 } },
  { name: "CRLF framing in 3-byte pieces", options: { lineEnding: "\r\n", split: 3 } },
  { name: "CR framing in 64-byte pieces", options: { lineEnding: "\r", split: 64 } },
  { name: "data lines only, no event: lines", options: { eventLines: false, split: 5 } }
]

// A synthetic stream built from pieces, for the quirk tests.
const start = (usage: Record<string, number> = { input_tokens: 10, output_tokens: 1 }, id = "msg_test") => ({
  type: "message_start",
  message: {
    id,
    type: "message",
    role: "assistant",
    model: "claude-test",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage
  }
})
const textBlock = (index: number, ...texts: Array<string>) => [
  { type: "content_block_start", index, content_block: { type: "text", text: "" } },
  ...texts.map((text) => ({ type: "content_block_delta", index, delta: { type: "text_delta", text } })),
  { type: "content_block_stop", index }
]
const toolBlock = (index: number, id: string, name: string, fragments: ReadonlyArray<string>, stop = true) => [
  { type: "content_block_start", index, content_block: { type: "tool_use", id, name, input: {} } },
  ...fragments.map((partial_json) => ({
    type: "content_block_delta",
    index,
    delta: { type: "input_json_delta", partial_json }
  })),
  ...(stop ? [{ type: "content_block_stop", index }] : [])
]
const end = (stop_reason: string, usage: Record<string, number> = { output_tokens: 5 }) => [
  { type: "message_delta", delta: { stop_reason, stop_sequence: null }, usage },
  { type: "message_stop" }
]

const messageBody = (content: ReadonlyArray<unknown>, stop_reason: string, usage: Record<string, number> = {
  input_tokens: 10,
  output_tokens: 5
}) => ({
  id: "msg_body",
  type: "message",
  role: "assistant",
  model: "claude-test",
  content,
  stop_reason,
  stop_sequence: null,
  usage
})

const collect = (server: FakeServer.FakeServer, request: ChatCompletionRequest = hello) =>
  withProvider(server, {}, (llm) => Effect.map(Stream.runCollect(llm.stream(request)), Chunk.toReadonlyArray))

describe("Anthropic: recorded responses replay through the real HTTP path", () => {
  const streams = [
    { name: "anthropic-text", request: hello, jsonTool: false },
    { name: "anthropic-tool-no-args", request: hello, jsonTool: false },
    { name: "anthropic-json-tool.1", request: hello, jsonTool: false },
    {
      name: "anthropic-json-tool.1",
      request: {
        ...hello,
        response_format: {
          type: "json_schema",
          json_schema: { name: "weather", schema: { type: "object", properties: { elements: { type: "array" } } } }
        }
      } satisfies ChatCompletionRequest,
      jsonTool: true
    }
  ]
  for (const { jsonTool, name, request } of streams) {
    const wire: Array<any> = loadChunks("anthropic", name)
    const expected = expectedFromWire(wire, jsonTool)
    const label = `${name}${jsonTool ? " (as response_format)" : ""}`
    for (const { name: chunking, options } of chunkings) {
      it.scopedLive(`${label}: ${chunking}`, () =>
        Effect.gen(function*() {
          const server = yield* FakeServer.make()
          server.enqueue(FakeAnthropic.streamReply(wire, options))
          const all = yield* collect(server, request)
          const completion = yield* ChatStream.toCompletion(Stream.fromIterable(all))
          const message = completion.choices[0]!.message
          assert.strictEqual(message.content ?? "", expected.content)
          assert.deepStrictEqual(
            (message.tool_calls ?? []).map((c) => ({
              id: c.id,
              name: c.function.name,
              arguments: c.function.arguments
            })),
            expected.calls
          )
          for (const call of message.tool_calls ?? []) assert.isObject(JSON.parse(call.function.arguments))
          assert.strictEqual(completion.choices[0]!.finish_reason, expected.calls.length > 0 ? "tool_calls" : "stop")
          assert.strictEqual(completion.id, wire[0].message.id)
          assert.strictEqual(completion.model, wire[0].message.model)
          // the role first, one finish, and usage last on a chunk of its own
          assert.strictEqual(all[0]!.choices[0]!.delta.role, "assistant")
          assert.strictEqual(all.filter((c) => c.choices.some((ch) => ch.finish_reason !== null)).length, 1)
          const last = all[all.length - 1]!
          assert.deepStrictEqual(last.choices, [])
          assert.strictEqual(last.usage?.prompt_tokens, expected.usage.prompt)
          assert.strictEqual(last.usage?.completion_tokens, expected.usage.completion)
          assert.strictEqual(last.usage?.total_tokens, expected.usage.prompt + expected.usage.completion)
          assert.isTrue(all.slice(0, -1).every((c) => c.usage === undefined))
          assert.isTrue(all.every((c) => c.provider === "anthropic"))
        }))
    }
  }

  it.scopedLive("anthropic-text with multi-byte text: cuts inside characters and CRLF pairs", () =>
    Effect.gen(function*() {
      const wire = loadChunks("anthropic", "anthropic-text").map((e: any) =>
        e.type === "content_block_delta" ? { ...e, delta: { ...e.delta, text: `${e.delta.text} 你好🙂é` } } : e
      )
      const expected = expectedFromWire(wire)
      const server = yield* FakeServer.make()
      const body = FakeAnthropic.sse(wire, { lineEnding: "\r\n" })
      const cuts = awkwardCuts(body)
      assert.isAbove(cuts.length, 20)
      server.enqueue({ headers: { "content-type": "text/event-stream" }, chunks: [body], split: cuts })
      const completion = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
      assert.strictEqual(completion.choices[0]!.message.content, expected.content)
      assert.include(completion.choices[0]!.message.content ?? "", "你好🙂é")
    }))

  const bodies = ["anthropic-text", "anthropic-tool-no-args", "anthropic-json-tool.1"]
  for (const name of bodies) {
    it.scopedLive(`${name}.json: the non-streaming body`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        const body = loadJson("anthropic", name) as any
        server.enqueue(FakeAnthropic.jsonReply(body))
        const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
        const texts = body.content.filter((b: any) => b.type === "text").map((b: any) => b.text)
        const uses = body.content.filter((b: any) => b.type === "tool_use")
        assert.strictEqual(res.id, body.id)
        assert.strictEqual(res.model, body.model)
        assert.strictEqual(res.object, "chat.completion")
        assert.strictEqual(res.provider, "anthropic")
        assert.strictEqual(res.choices[0]!.message.content, texts.length > 0 ? texts.join("") : null)
        assert.deepStrictEqual(
          (res.choices[0]!.message.tool_calls ?? []).map((c) => ({
            id: c.id,
            name: c.function.name,
            input: JSON.parse(c.function.arguments)
          })),
          uses.map((u: any) => ({ id: u.id, name: u.name, input: u.input }))
        )
        assert.strictEqual(res.choices[0]!.finish_reason, uses.length > 0 ? "tool_calls" : "stop")
        const prompt = body.usage.input_tokens + body.usage.cache_creation_input_tokens +
          body.usage.cache_read_input_tokens
        assert.deepStrictEqual(res.usage, {
          prompt_tokens: prompt,
          completion_tokens: body.usage.output_tokens,
          total_tokens: prompt + body.usage.output_tokens,
          prompt_tokens_details: { cached_tokens: 0 }
        })
      }))
  }

  it.scopedLive("anthropic-json-tool.1.json with response_format: the tool input is the text", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const body = loadJson("anthropic", "anthropic-json-tool.1") as any
      server.enqueue(FakeAnthropic.jsonReply(body))
      const res = yield* withProvider(
        server,
        {},
        (llm) => llm.chat({ ...hello, response_format: { type: "json_object" } })
      )
      assert.deepStrictEqual(JSON.parse(res.choices[0]!.message.content!), body.content[0].input)
      assert.isUndefined(res.choices[0]!.message.tool_calls)
      assert.strictEqual(res.choices[0]!.finish_reason, "stop")
    }))
})

describe("Anthropic: the wire request", () => {
  it.scopedLive("system prompt, image, tool call and its result: path, headers and exact body", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.jsonReply(loadJson("anthropic", "anthropic-text")))
      yield* withProvider(server, { headers: { "x-team": "a" }, betas: ["b1", "b2"] }, (llm) =>
        llm.chat({
          model: MODEL,
          messages: [
            { role: "system", content: "You are a terse weather assistant." },
            {
              role: "user",
              content: [
                { type: "text", text: "Weather where this photo was taken?" },
                { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
                { type: "image_url", image_url: { url: "https://example.com/paris.jpg" } }
              ]
            },
            {
              role: "assistant",
              content: "Checking.",
              tool_calls: [{
                id: "toolu_01",
                type: "function",
                function: { name: "get_weather", arguments: "{\"city\":\"Paris\"}" }
              }]
            },
            { role: "tool", tool_call_id: "toolu_01", content: "18°C, cloudy" },
            { role: "user", content: "In Celsius only please." }
          ],
          tools: [{
            type: "function",
            function: {
              name: "get_weather",
              description: "Current weather for a city",
              parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
            }
          }],
          tool_choice: "auto",
          stop: "\n\nHuman:",
          temperature: 0.3,
          user: "user-42"
        }))
      const request = server.requests[0]!
      assert.strictEqual(request.method, "POST")
      assert.strictEqual(request.path, "/v1/messages")
      assert.strictEqual(request.headers["x-api-key"], SECRET)
      assert.strictEqual(request.headers["anthropic-version"], "2023-06-01")
      assert.strictEqual(request.headers["anthropic-beta"], "b1,b2")
      assert.strictEqual(request.headers["content-type"], "application/json")
      assert.strictEqual(request.headers["accept"], "application/json")
      assert.strictEqual(request.headers["x-team"], "a")
      assert.isUndefined(request.headers["authorization"])
      assert.deepStrictEqual(request.json, {
        model: MODEL,
        max_tokens: 4096,
        system: "You are a terse weather assistant.",
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "Weather where this photo was taken?" },
              { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
              { type: "image", source: { type: "url", url: "https://example.com/paris.jpg" } }
            ]
          },
          {
            role: "assistant",
            content: [
              { type: "text", text: "Checking." },
              { type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris" } }
            ]
          },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "toolu_01", content: "18°C, cloudy" },
              { type: "text", text: "In Celsius only please." }
            ]
          }
        ],
        tools: [{
          name: "get_weather",
          description: "Current weather for a city",
          input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
        }],
        tool_choice: { type: "auto" },
        stop_sequences: ["\n\nHuman:"],
        temperature: 0.3,
        metadata: { user_id: "user-42" }
      })
    }))

  it.scopedLive("stream: stream: true and an event-stream accept header", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.streamReply(loadChunks("anthropic", "anthropic-text")))
      yield* withProvider(server, { defaultModel: "claude-haiku-4-5" }, (llm) =>
        Stream.runDrain(llm.stream({ messages: [{ role: "user", content: "hi" }] })))
      const request = server.requests[0]!
      assert.strictEqual(request.headers["accept"], "text/event-stream")
      assert.deepStrictEqual(request.json, {
        model: "claude-haiku-4-5",
        max_tokens: 4096,
        messages: [{ role: "user", content: "hi" }],
        stream: true
      })
    }))
})

describe("Anthropic: request quirks", () => {
  const bodyOf = (request: ChatCompletionRequest, options: Partial<Anthropic.Options> = {}) =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeAnthropic.responder())
      yield* withProvider(server, options, (llm) => llm.chat(request))
      return sent(server)
    })

  it.scopedLive("system and developer messages anywhere are hoisted into system, in order", () =>
    Effect.gen(function*() {
      const body = yield* bodyOf({
        model: MODEL,
        messages: [
          { role: "system", content: "one" },
          { role: "developer", content: [{ type: "text", text: "two" }] },
          { role: "user", content: "hi" },
          { role: "system", content: "three" }
        ]
      })
      assert.deepStrictEqual(body.system, [
        { type: "text", text: "one" },
        { type: "text", text: "two" },
        { type: "text", text: "three" }
      ])
      assert.deepStrictEqual(body.messages, [{ role: "user", content: "hi" }])
    }))

  it.scopedLive("consecutive messages of one role are merged into one turn", () =>
    Effect.gen(function*() {
      const body = yield* bodyOf({
        model: MODEL,
        messages: [
          { role: "user", content: "a" },
          { role: "user", content: "b" },
          { role: "assistant", content: "c" },
          { role: "assistant", content: "d" },
          { role: "user", content: "e" }
        ]
      })
      assert.deepStrictEqual(body.messages, [
        { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] },
        { role: "assistant", content: [{ type: "text", text: "c" }, { type: "text", text: "d" }] },
        { role: "user", content: "e" }
      ])
    }))

  it.scopedLive("tool results open the user turn, in order, before the user's own text", () =>
    Effect.gen(function*() {
      const body = yield* bodyOf({
        model: MODEL,
        messages: [
          { role: "user", content: "weather in Paris and Rome?" },
          {
            role: "assistant",
            content: null,
            tool_calls: [
              { id: "t1", type: "function", function: { name: "w", arguments: "{\"city\":\"Paris\"}" } },
              { id: "t2", type: "function", function: { name: "w", arguments: "" } }
            ]
          },
          { role: "tool", tool_call_id: "t1", content: "sunny" },
          { role: "user", content: "and be quick" },
          { role: "tool", tool_call_id: "t2", content: [{ type: "text", text: "rain" }] }
        ]
      })
      assert.deepStrictEqual(body.messages.slice(1), [
        {
          role: "assistant",
          content: [
            { type: "tool_use", id: "t1", name: "w", input: { city: "Paris" } },
            { type: "tool_use", id: "t2", name: "w", input: {} }
          ]
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "t1", content: "sunny" },
            { type: "tool_result", tool_use_id: "t2", content: [{ type: "text", text: "rain" }] },
            { type: "text", text: "and be quick" }
          ]
        }
      ])
    }))

  it.scopedLive("tool-call arguments that are not a JSON object fail naming the message, before any I/O", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeAnthropic.responder())
      for (const args of ["{\"city\": \"Par", "[1, 2]"]) {
        const request: ChatCompletionRequest = {
          model: MODEL,
          messages: [
            { role: "user", content: "hi" },
            {
              role: "assistant",
              tool_calls: [{ id: "t1", type: "function", function: { name: "w", arguments: args } }]
            },
            { role: "tool", tool_call_id: "t1", content: "x" }
          ]
        }
        for (
          const error of [
            yield* failure(withProvider(server, {}, (llm) => llm.chat(request))),
            yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(request))))
          ]
        ) {
          assert.strictEqual(error._tag, "InvalidRequestError")
          if (error._tag === "InvalidRequestError") {
            assert.strictEqual(error.source, "client")
            assert.strictEqual(error.param, "messages[1].tool_calls[0].function.arguments")
            assert.include(error.message, "messages[1]")
          }
        }
      }
      assert.strictEqual(server.requests.length, 0)
    }))

  it.scopedLive("max_tokens is always sent: the default, max_tokens, max_completion_tokens, defaultMaxTokens", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* bodyOf(hello)).max_tokens, Anthropic.defaultMaxTokens)
      assert.strictEqual((yield* bodyOf({ ...hello, max_tokens: 100 })).max_tokens, 100)
      assert.strictEqual((yield* bodyOf({ ...hello, max_tokens: 100, max_completion_tokens: 200 })).max_tokens, 200)
      assert.strictEqual((yield* bodyOf(hello, { defaultMaxTokens: 1000 })).max_tokens, 1000)
    }))

  it.scopedLive("stop becomes stop_sequences (a string is wrapped)", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual((yield* bodyOf({ ...hello, stop: "END" })).stop_sequences, ["END"])
      assert.deepStrictEqual((yield* bodyOf({ ...hello, stop: ["a", "b"] })).stop_sequences, ["a", "b"])
      assert.notProperty(yield* bodyOf({ ...hello, stop: [] }), "stop_sequences")
    }))

  it.scopedLive("tool_choice: auto → auto, required → any, named → tool, none → none; parallel_tool_calls: false", () =>
    Effect.gen(function*() {
      const tools = [{ type: "function" as const, function: { name: "f", parameters: { type: "object" } } }]
      const choiceOf = (extra: Partial<ChatCompletionRequest>) =>
        Effect.map(bodyOf({ ...hello, tools, ...extra }), (b) => b.tool_choice)
      assert.deepStrictEqual(yield* choiceOf({ tool_choice: "auto" }), { type: "auto" })
      assert.deepStrictEqual(yield* choiceOf({ tool_choice: "required" }), { type: "any" })
      assert.deepStrictEqual(yield* choiceOf({ tool_choice: { type: "function", function: { name: "f" } } }), {
        type: "tool",
        name: "f"
      })
      assert.deepStrictEqual(yield* choiceOf({ tool_choice: "none" }), { type: "none" })
      assert.isUndefined(yield* choiceOf({}))
      assert.deepStrictEqual(yield* choiceOf({ parallel_tool_calls: false }), {
        type: "auto",
        disable_parallel_tool_use: true
      })
      assert.deepStrictEqual(yield* choiceOf({ tool_choice: "required", parallel_tool_calls: false }), {
        type: "any",
        disable_parallel_tool_use: true
      })
      assert.deepStrictEqual(yield* choiceOf({ tool_choice: "none", parallel_tool_calls: false }), { type: "none" })
      // a tool with no parameters still gets the object schema Anthropic requires
      const body = yield* bodyOf({ ...hello, tools: [{ type: "function", function: { name: "g" } }] })
      assert.deepStrictEqual(body.tools, [{ name: "g", input_schema: { type: "object", properties: {} } }])
    }))

  it.scopedLive("images: a data URL that is not base64, or a non-http URL, is rejected before any I/O", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      for (const url of ["data:image/svg+xml,<svg/>", "ftp://example.com/a.png"]) {
        const error = yield* failure(withProvider(server, {}, (llm) =>
          llm.chat({
            model: MODEL,
            messages: [{ role: "user", content: [{ type: "image_url", image_url: { url } }] }]
          })))
        assert.strictEqual(error._tag, "InvalidRequestError")
        if (error._tag === "InvalidRequestError") {
          assert.strictEqual(error.param, "messages[0].content[0].image_url.url")
        }
      }
      assert.strictEqual(server.requests.length, 0)
    }))

  it.scopedLive("temperature above Anthropic's 1 is sent as 1", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* bodyOf({ ...hello, temperature: 1.7 })).temperature, 1)
      assert.strictEqual((yield* bodyOf({ ...hello, temperature: 0 })).temperature, 0)
    }))

  it.scopedLive("a final assistant prefill loses its trailing whitespace", () =>
    Effect.gen(function*() {
      const body = yield* bodyOf({
        model: MODEL,
        messages: [{ role: "user", content: "count" }, { role: "assistant", content: "1, 2, " }]
      })
      assert.deepStrictEqual(body.messages[1], { role: "assistant", content: "1, 2," })
    }))

  it.scopedLive("response_format json_schema: a forced tool whose input schema is the schema", () =>
    Effect.gen(function*() {
      const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
      const body = yield* bodyOf({
        ...hello,
        response_format: { type: "json_schema", json_schema: { name: "place", description: "A place", schema } }
      })
      assert.deepStrictEqual(body.tools, [{ name: "json", description: "A place", input_schema: schema }])
      assert.deepStrictEqual(body.tool_choice, { type: "tool", name: "json" })
      // with tools of the caller's, the model must call one: theirs, or the JSON one
      const withTools = yield* bodyOf({
        ...hello,
        tools: [{ type: "function", function: { name: "f" } }],
        response_format: { type: "json_object" }
      })
      assert.deepStrictEqual(withTools.tools.map((t: any) => t.name), ["f", "json"])
      assert.deepStrictEqual(withTools.tool_choice, { type: "any" })
    }))

  it.scopedLive("reasoning_effort becomes a thinking budget inside max_tokens; a native thinking field wins", () =>
    Effect.gen(function*() {
      const low = yield* bodyOf({ ...hello, reasoning_effort: "low" })
      assert.deepStrictEqual(low.thinking, { type: "enabled", budget_tokens: 2048 })
      assert.strictEqual(low.max_tokens, 4096 + 2048)
      const capped = yield* bodyOf({ ...hello, reasoning_effort: "high", max_tokens: 5000 })
      assert.deepStrictEqual(capped.thinking, { type: "enabled", budget_tokens: 4999 })
      assert.strictEqual(capped.max_tokens, 5000)
      const native = yield* bodyOf({ ...hello, thinking: { type: "enabled", budget_tokens: 3000 } } as any)
      assert.deepStrictEqual(native.thinking, { type: "enabled", budget_tokens: 3000 })
      assert.notProperty(yield* bodyOf({ ...hello, reasoning_effort: "none" }), "thinking")
    }))

  it.scopedLive("thinking blocks are replayed with their signatures, before the text and tool calls", () =>
    Effect.gen(function*() {
      const thinking_blocks = [
        { type: "thinking", thinking: "Let me look it up.", signature: "sig-abc" },
        { type: "redacted_thinking", data: "opaque" }
      ]
      const body = yield* bodyOf({
        model: MODEL,
        messages: [
          { role: "user", content: "weather?" },
          {
            role: "assistant",
            content: "Checking.",
            reasoning_content: "Let me look it up.",
            thinking_blocks,
            tool_calls: [{ id: "t1", type: "function", function: { name: "w", arguments: "{}" } }]
          } as any,
          { role: "tool", tool_call_id: "t1", content: "sunny" }
        ]
      })
      assert.deepStrictEqual(body.messages[1].content, [
        ...thinking_blocks,
        { type: "text", text: "Checking." },
        { type: "tool_use", id: "t1", name: "w", input: {} }
      ])
    }))

  it.scopedLive("n > 1 and logprobs fail with UnsupportedFeatureError before any I/O", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const n = yield* failure(withProvider(server, {}, (llm) => llm.chat({ ...hello, n: 2 })))
      const logprobs = yield* failure(withProvider(server, {}, (llm) => llm.chat({ ...hello, logprobs: true })))
      assert.strictEqual(n._tag, "UnsupportedFeatureError")
      assert.strictEqual(logprobs._tag, "UnsupportedFeatureError")
      assert.strictEqual(server.requests.length, 0)
    }))

  it.scopedLive("embeddings fail with UnsupportedFeatureError before any I/O", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const error = yield* failure(withProvider(server, {}, (llm) => llm.embed({ model: "m", input: "x" })))
      assert.strictEqual(error._tag, "UnsupportedFeatureError")
      if (error._tag === "UnsupportedFeatureError") assert.strictEqual(error.feature, "embeddings")
      assert.strictEqual(server.requests.length, 0)
    }))
})

describe("Anthropic: the stream's event sequence", () => {
  it.scopedLive("ping and unknown event types are ignored", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.streamReply([
        start(),
        { type: "ping" },
        { type: "brand_new_event", payload: { x: 1 } },
        ...textBlock(0, "Hel", "lo"),
        { type: "content_block_delta", index: 0, delta: { type: "citations_delta", citation: {} } },
        ...end("end_turn")
      ]))
      const all = yield* collect(server)
      const completion = yield* ChatStream.toCompletion(Stream.fromIterable(all))
      assert.strictEqual(completion.choices[0]!.message.content, "Hello")
      assert.strictEqual(completion.choices[0]!.finish_reason, "stop")
    }))

  // Constructed in the documented format of a web search answer (docs.anthropic.com, "Web search tool",
  // streaming): the server-side call, its streamed query, its result block, then the cited answer.
  const searchQuery = "{\"query\":\"weather in Paris today\"}"
  const searchResult = {
    type: "web_search_tool_result",
    tool_use_id: "srvtoolu_01",
    content: [{
      type: "web_search_result",
      title: "Paris weather",
      url: "https://example.com/paris",
      encrypted_content: "EqgfCioIARgBIiQ3",
      page_age: "December 4, 2026"
    }]
  }
  const serverToolStream = [
    start(),
    ...textBlock(0, "Let me look that up."),
    {
      type: "content_block_start",
      index: 1,
      content_block: { type: "server_tool_use", id: "srvtoolu_01", name: "web_search", input: {} }
    },
    { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: "" } },
    {
      type: "content_block_delta",
      index: 1,
      delta: { type: "input_json_delta", partial_json: searchQuery.slice(0, 12) }
    },
    { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: searchQuery.slice(12) } },
    { type: "content_block_stop", index: 1 },
    { type: "content_block_start", index: 2, content_block: searchResult },
    { type: "content_block_stop", index: 2 },
    { type: "content_block_start", index: 3, content_block: { type: "text", text: "", citations: [] } },
    {
      type: "content_block_delta",
      index: 3,
      delta: {
        type: "citations_delta",
        citation: { type: "web_search_result_location", url: "https://example.com/paris", cited_text: "Sunny" }
      }
    },
    { type: "content_block_delta", index: 3, delta: { type: "text_delta", text: "It is sunny in Paris." } },
    { type: "content_block_stop", index: 3 },
    ...toolBlock(4, "toolu_a", "get_time", ["{\"city\":\"Paris\"}"]),
    ...end("tool_use", { output_tokens: 40 })
  ]

  it.scopedLive("server-side tool blocks and their input_json_deltas are skipped; the stream decodes", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.streamReply(serverToolStream, { split: 5 }))
      const all = yield* collect(server)
      const completion = yield* ChatStream.toCompletion(Stream.fromIterable(all))
      const message = completion.choices[0]!.message
      assert.strictEqual(message.content, "Let me look that up.It is sunny in Paris.")
      // the server's own call is not ours to answer: only the client tool call comes out, as index 0
      assert.deepStrictEqual(message.tool_calls, [
        { id: "toolu_a", type: "function", function: { name: "get_time", arguments: "{\"city\":\"Paris\"}" } }
      ])
      const deltas = all.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []))
      assert.deepStrictEqual(deltas.map((d) => d.index), [0, 0])
      assert.strictEqual(completion.choices[0]!.finish_reason, "tool_calls")
      assert.strictEqual(all.filter((c) => c.choices.some((ch) => ch.finish_reason !== null)).length, 1)
      assert.deepStrictEqual(all.at(-1)!.choices, [])
      assert.strictEqual(all.at(-1)!.usage?.completion_tokens, 40)
    }))

  it.scopedLive("the non-streamed body of the same answer decodes to the same message", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.jsonReply(messageBody([
        { type: "text", text: "Let me look that up." },
        { type: "server_tool_use", id: "srvtoolu_01", name: "web_search", input: JSON.parse(searchQuery) },
        searchResult,
        { type: "text", text: "It is sunny in Paris.", citations: [] },
        { type: "tool_use", id: "toolu_a", name: "get_time", input: { city: "Paris" } }
      ], "tool_use")))
      const completion = yield* withProvider(server, {}, (llm) => llm.chat(hello))
      const message = completion.choices[0]!.message
      assert.strictEqual(message.content, "Let me look that up.It is sunny in Paris.")
      assert.deepStrictEqual(message.tool_calls?.map((c) => c.function.name), ["get_time"])
      assert.strictEqual(completion.choices[0]!.finish_reason, "tool_calls")
    }))

  it.scopedLive("input_json_delta fragments become tool-call deltas indexed from 0 among tool calls", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.streamReply([
        start(),
        ...textBlock(0, "Let me check."),
        ...toolBlock(1, "toolu_a", "get_weather", ["", "{\"ci", "ty\": \"Par", "is\"}"]),
        ...toolBlock(2, "toolu_b", "get_time", [""]),
        ...end("tool_use")
      ]))
      const all = yield* collect(server)
      const deltas = all.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []))
      assert.deepStrictEqual(deltas, [
        { index: 0, id: "toolu_a", type: "function", function: { name: "get_weather", arguments: "" } },
        { index: 0, function: { arguments: "{\"ci" } },
        { index: 0, function: { arguments: "ty\": \"Par" } },
        { index: 0, function: { arguments: "is\"}" } },
        { index: 1, id: "toolu_b", type: "function", function: { name: "get_time", arguments: "" } },
        { index: 1, function: { arguments: "{}" } }
      ])
      const completion = yield* ChatStream.toCompletion(Stream.fromIterable(all))
      assert.strictEqual(completion.choices[0]!.finish_reason, "tool_calls")
      assert.strictEqual(completion.choices[0]!.message.tool_calls![0]!.function.arguments, "{\"city\": \"Paris\"}")
    }))

  it.scopedLive("thinking_delta → reasoning_content; the signed block comes on delta.thinking_blocks", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.streamReply([
        start(),
        { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "", signature: "" } },
        { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "Hmm, " } },
        { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "Paris." } },
        { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "EqQBsig" } },
        { type: "content_block_stop", index: 0 },
        ...textBlock(1, "Paris."),
        ...end("end_turn", { output_tokens: 30, output_tokens_details: { thinking_tokens: 20 } } as any)
      ]))
      const all = yield* collect(server)
      const completion = yield* ChatStream.toCompletion(Stream.fromIterable(all))
      assert.strictEqual(completion.choices[0]!.message.reasoning_content, "Hmm, Paris.")
      assert.strictEqual(completion.choices[0]!.message.content, "Paris.")
      const blocks = all.flatMap((c) => c.choices.flatMap((ch) => (ch.delta as any).thinking_blocks ?? []))
      assert.deepStrictEqual(blocks, [{ type: "thinking", thinking: "Hmm, Paris.", signature: "EqQBsig" }])
      assert.strictEqual(all[all.length - 1]!.usage?.completion_tokens_details?.reasoning_tokens, 20)
    }))

  it.scopedLive("the non-streaming body keeps thinking blocks for the replay", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.jsonReply(messageBody([
        { type: "thinking", thinking: "Hmm.", signature: "sig1" },
        { type: "redacted_thinking", data: "opaque" },
        { type: "text", text: "Hi." }
      ], "end_turn")))
      const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
      const message = res.choices[0]!.message as any
      assert.strictEqual(message.reasoning_content, "Hmm.")
      assert.deepStrictEqual(message.thinking_blocks, [
        { type: "thinking", thinking: "Hmm.", signature: "sig1" },
        { type: "redacted_thinking", data: "opaque" }
      ])
    }))

  it.scopedLive("usage: message_start seeds it, message_delta overwrites it; cache tokens count in the prompt", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.streamReply([
        start({ input_tokens: 5, cache_creation_input_tokens: 100, cache_read_input_tokens: 2000, output_tokens: 1 }),
        ...textBlock(0, "ok"),
        { type: "message_delta", delta: { stop_reason: null }, usage: { output_tokens: 3 } },
        ...end("end_turn", { output_tokens: 7 })
      ]))
      const all = yield* collect(server)
      assert.deepStrictEqual(all[all.length - 1]!.usage, {
        prompt_tokens: 2105,
        completion_tokens: 7,
        total_tokens: 2112,
        prompt_tokens_details: { cached_tokens: 2000 }
      })
    }))

  const stopReasons: ReadonlyArray<readonly [string, string]> = [
    ["end_turn", "stop"],
    ["stop_sequence", "stop"],
    ["max_tokens", "length"],
    ["model_context_window_exceeded", "length"],
    ["refusal", "content_filter"],
    ["pause_turn", "length"],
    ["something_new", "stop"]
  ]
  for (const [stopReason, finish] of stopReasons) {
    it.scopedLive(`stop_reason ${stopReason} → ${finish}, streamed and not`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(
          FakeAnthropic.streamReply([start(), ...textBlock(0, "x"), ...end(stopReason)]),
          FakeAnthropic.jsonReply(messageBody([{ type: "text", text: "x" }], stopReason))
        )
        const streamed = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
        const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
        assert.strictEqual(streamed.choices[0]!.finish_reason, finish)
        assert.strictEqual(res.choices[0]!.finish_reason, finish)
      }))
  }

  it.scopedLive("tool_use → tool_calls; a tool call cut by max_tokens (no content_block_stop) is length", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeAnthropic.streamReply([start(), ...toolBlock(0, "t1", "f", ["{\"a\":1}"]), ...end("tool_use")]),
        FakeAnthropic.streamReply([start(), ...toolBlock(0, "t1", "f", ["{\"a\": [1, "], false), ...end("max_tokens")])
      )
      const complete = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
      const cut = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
      assert.strictEqual(complete.choices[0]!.finish_reason, "tool_calls")
      // Its arguments are not valid JSON: `tool_calls` would tell the caller to parse them.
      assert.strictEqual(cut.choices[0]!.finish_reason, "length")
      assert.strictEqual(cut.choices[0]!.message.tool_calls![0]!.function.arguments, "{\"a\": [1, ")
    }))

  it.scopedLive("a repeated message_start with the same id is ignored; with another id it fails", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeAnthropic.streamReply([start(), start(), ...textBlock(0, "ok"), ...end("end_turn")]),
        FakeAnthropic.streamReply([start(), ...textBlock(0, "ok"), start(undefined, "msg_other"), ...end("end_turn")])
      )
      const fine = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
      assert.strictEqual(fine.choices[0]!.message.content, "ok")
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "ResponseDecodeError")
    }))

  it.scopedLive("a stream that ends without message_stop fails with NetworkError, after what arrived", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.streamReply([start(), ...textBlock(0, "a", "b"), end("end_turn")[0]!]))
      const seen: Array<ChatCompletionChunk> = []
      const error = yield* failure(
        withProvider(server, {}, (llm) => Stream.runForEach(llm.stream(hello), (c) => Effect.sync(() => seen.push(c))))
      )
      assert.strictEqual(error._tag, "NetworkError")
      assert.strictEqual(seen.map((c) => c.choices[0]?.delta.content ?? "").join(""), "ab")
    }))

  it.scopedLive("events after message_stop are not read: the stream ends at message_stop", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue({
        headers: { "content-type": "text/event-stream" },
        chunks: [FakeAnthropic.sse([start(), ...textBlock(0, "done"), ...end("end_turn")])],
        hang: false,
        disconnectAfter: 1
      })
      // the server never finishes the chunked body; message_stop must end the stream all the same
      const completion = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
      assert.strictEqual(completion.choices[0]!.message.content, "done")
    }))
})

describe("Anthropic: errors inside a 200 stream", () => {
  it.scopedLive("event: error with overloaded_error mid-stream fails with ProviderError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.streamReply([
        start(),
        ...textBlock(0, "partial"),
        { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }
      ]))
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "ProviderError")
      assert.include(error.message, "Overloaded")
      assert.strictEqual(error.code, "overloaded_error")
    }))

  it.scopedLive("other error types in a stream map by the table (rate_limit_error, invalid_request_error)", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeAnthropic.streamReply([start(), { type: "error", error: { type: "rate_limit_error", message: "slow" } }]),
        FakeAnthropic.streamReply([start(), {
          type: "error",
          error: { type: "invalid_request_error", message: "prompt is too long: 210000 tokens > 200000 maximum" }
        }])
      )
      const rate = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      const context = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(rate._tag, "RateLimitError")
      assert.strictEqual(context._tag, "ContextLengthError")
    }))

  it.scoped("an overloaded_error as the first event is retried like a 529", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeAnthropic.streamReply([{ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }]),
        FakeAnthropic.streamReply(loadChunks("anthropic", "anthropic-text"))
      )
      const fiber = yield* Effect.fork(
        withProvider(server, { retry: { maxRetries: 1, initialDelay: "1 second", jitter: false } }, (llm) =>
          ChatStream.toCompletion(llm.stream(hello)))
      )
      yield* Effect.promise(() =>
        waitUntil(() =>
          server.requests.length === 1
        )
      )
      yield* TestClock.adjust("1 second")
      const completion = yield* Fiber.join(fiber)
      assert.strictEqual(server.requests.length, 2)
      assert.strictEqual(
        completion.choices[0]!.message.content,
        expectedFromWire(loadChunks("anthropic", "anthropic-text")).content
      )
    }))

  it.scopedLive("an error body inside a 200 (non-streaming) fails typed", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.jsonReply(FakeAnthropic.errorBody(529, { message: "Overloaded" })))
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "ProviderError")
    }))
})

describe("Anthropic: the error-mapping table", () => {
  const rows: ReadonlyArray<{
    readonly status: number
    readonly error: FakeAnthropic.ErrorBody
    readonly tag: LlmError["_tag"]
  }> = [
    { status: 400, error: { message: "max_tokens: Field required" }, tag: "InvalidRequestError" },
    {
      status: 400,
      error: { message: "prompt is too long: 208310 tokens > 200000 maximum" },
      tag: "ContextLengthError"
    },
    {
      status: 400,
      error: {
        message:
          "input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000, decrease input length or `max_tokens` and try again"
      },
      tag: "ContextLengthError"
    },
    {
      status: 400,
      error: { message: "Your credit balance is too low to access the Anthropic API." },
      tag: "QuotaExceededError"
    },
    { status: 401, error: { message: "invalid x-api-key" }, tag: "AuthenticationError" },
    { status: 402, error: { message: "billing problem" }, tag: "QuotaExceededError" },
    {
      status: 403,
      error: { message: "Your API key does not have permission to use the specified resource." },
      tag: "PermissionDeniedError"
    },
    { status: 404, error: { message: "model: claude-9" }, tag: "InvalidRequestError" },
    {
      status: 413,
      error: { message: "Request exceeds the maximum allowed number of bytes." },
      tag: "InvalidRequestError"
    },
    { status: 429, error: { message: "Number of request tokens has exceeded your rate limit" }, tag: "RateLimitError" },
    {
      status: 429,
      error: { message: "You have reached your specified workspace API spend limit" },
      tag: "QuotaExceededError"
    },
    { status: 500, error: { message: "Internal server error" }, tag: "ProviderError" },
    { status: 504, error: { message: "Request timed out" }, tag: "ProviderError" },
    { status: 529, error: { message: "Overloaded" }, tag: "ProviderError" },
    // the type decides over the status
    { status: 500, error: { message: "Overloaded", type: "overloaded_error" }, tag: "ProviderError" },
    { status: 400, error: { message: "no key", type: "authentication_error" }, tag: "AuthenticationError" }
  ]
  for (const row of rows) {
    it.scopedLive(`${row.status} ${row.error.type ?? ""} "${row.error.message.slice(0, 40)}" → ${row.tag}`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(FakeAnthropic.errorReply(row.status, row.error, { "request-id": "req_123" }))
        const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
        assert.strictEqual(error._tag, row.tag)
        assert.strictEqual(error.provider, "anthropic")
        assert.strictEqual(error.model, MODEL)
        if (error._tag !== "RetryExhausted") {
          assert.strictEqual(error.status, row.status)
          assert.strictEqual(error.requestId, "req_123")
          assert.include(error.message, row.error.message)
        }
      }))
  }

  it.scopedLive("rate_limit_error carries retry-after as retryAfter", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.errorReply(429, { message: "slow down" }, { "retry-after": "3" }))
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "RateLimitError")
      if (error._tag === "RateLimitError") {
        assert.deepStrictEqual(Option.map(error.retryAfter, Duration.toMillis), Option.some(3000))
        assert.strictEqual(error.code, "rate_limit_error")
      }
    }))

  it.scopedLive("bodies that are not Anthropic's map by status: Cloudflare's 413 page, a 529 with no body", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        { status: 413, headers: { "content-type": "text/html" }, body: "<html>413 Request Entity Too Large</html>" },
        { status: 529, body: "" },
        { status: 503, headers: { "content-type": "text/html" }, body: "<html>upstream unavailable</html>" }
      )
      const tooLarge = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      const overloaded = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      const unavailable = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(tooLarge._tag, "InvalidRequestError")
      assert.strictEqual(overloaded._tag, "ProviderError")
      assert.strictEqual(unavailable._tag, "ProviderError")
      assert.include(unavailable.body ?? "", "upstream unavailable")
    }))

  it.scopedLive("a request id in the body is used when the header is missing", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.jsonReply(
        { type: "error", error: { type: "invalid_request_error", message: "bad" }, request_id: "req_body" },
        400
      ))
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error.requestId, "req_body")
    }))

  it.scopedLive("the API key never appears in an error, even when the server echoes it", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeAnthropic.errorReply(401, { message: `invalid x-api-key: ${SECRET}` }))
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "AuthenticationError")
      for (
        const text of [
          error.message,
          String(error),
          JSON.stringify(error),
          error.body ?? "",
          Exit.fail(error).toString()
        ]
      ) {
        assert.notInclude(text, SECRET)
      }
    }))
})

describe("Anthropic: layerConfig", () => {
  it.scopedLive("reads ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL and ANTHROPIC_MODEL", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeAnthropic.responder())
      const config = ConfigProvider.fromMap(
        new Map([
          ["ANTHROPIC_API_KEY", SECRET],
          ["ANTHROPIC_BASE_URL", `${server.url}/v1`],
          ["ANTHROPIC_MODEL", "claude-from-env"]
        ])
      )
      const res = yield* LlmProvider.chat({ messages: [{ role: "user", content: "hi" }] }).pipe(
        Effect.provide(Anthropic.layerConfig({ retry: false })),
        Effect.provide(Http.layer()),
        Effect.withConfigProvider(config)
      )
      assert.strictEqual(res.choices[0]!.message.content, "Echo: hi")
      assert.strictEqual(server.requests[0]!.headers["x-api-key"], SECRET)
      assert.strictEqual(sent(server).model, "claude-from-env")
    }))
})

describe("Anthropic through Client", () => {
  const tools = [{
    type: "function" as const,
    function: {
      name: "get_weather",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
    }
  }]

  it("a full tool loop: the second request carries the first turn's tool call and result", async () => {
    const server = await FakeServer.start({ handler: FakeAnthropic.responder() })
    try {
      await using client = new Client({
        provider: "anthropic",
        apiKey: SECRET,
        baseUrl: `${server.url}/v1`,
        defaultModel: "claude-test",
        retry: false
      })
      const messages: Array<any> = [
        { role: "system", content: "Use tools." },
        { role: "user", content: "Paris" }
      ]
      const first = await client.chat.completions.create({ messages, tools })
      assert.strictEqual(first.provider, "anthropic")
      assert.strictEqual(first.choices[0]!.finish_reason, "tool_calls")
      const call = first.choices[0]!.message.tool_calls![0]!
      assert.deepStrictEqual(JSON.parse(call.function.arguments), { city: "Paris" })
      messages.push(first.choices[0]!.message, { role: "tool", tool_call_id: call.id, content: "18°C" })

      const stream = await client.chat.completions.create({ messages, tools, stream: true })
      let text = ""
      let finish: string | null = null
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? ""
        finish = chunk.choices[0]?.finish_reason ?? finish
      }
      assert.strictEqual(text, "Echo: 18°C")
      assert.strictEqual(finish, "stop")

      assert.strictEqual(server.requests.length, 2)
      assert.strictEqual(server.requests[1]!.headers["x-api-key"], SECRET)
      assert.deepStrictEqual((server.requests[1]!.json as any).messages, [
        { role: "user", content: "Paris" },
        {
          role: "assistant",
          content: [{ type: "tool_use", id: call.id, name: "get_weather", input: { city: "Paris" } }]
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "18°C" }] }
      ])
      assert.strictEqual((server.requests[1]!.json as any).system, "Use tools.")
      assert.strictEqual((server.requests[1]!.json as any).stream, true)

      const error = await client.embeddings.create({ input: "x" }).then(() => undefined, (e) => e)
      assert.strictEqual(error?._tag, "UnsupportedFeatureError")
      assert.strictEqual(server.requests.length, 2)
    } finally {
      await server.close()
    }
  })
})
