import { assert, describe, it } from "@effect/vitest"
import type { ChatCompletionChunk, ChatCompletionRequest, ChatMessage, LlmError } from "@llm-api-router/core"
import { ChatStream, Http, LlmProvider } from "@llm-api-router/core"
import { Gemini } from "@llm-api-router/providers"
import { Client } from "@llm-api-router/providers/Client"
import { FakeGemini, FakeServer } from "@llm-api-router/providers/testing"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as CallId from "../src/internal/gemini/callId.js"
import { loadChunks, loadJson } from "./fixtures.js"
import { awkwardCuts, failure, settle, waitUntil } from "./helpers.js"

const SECRET = "AIzaSy-test-0123456789-SECRET"
const apiKey = Redacted.make(SECRET)
const MODEL = "gemini-2.5-flash"
const hello: ChatCompletionRequest = { model: MODEL, messages: [{ role: "user", content: "hi" }] }

const withProvider = <A, E>(
  server: FakeServer.FakeServer,
  options: Partial<Gemini.Options>,
  f: (llm: LlmProvider.Service) => Effect.Effect<A, E>
) =>
  Effect.flatMap(LlmProvider.LlmProvider, f).pipe(
    Effect.provide(Gemini.layer({ apiKey, baseUrl: `${server.url}/v1beta`, retry: false, ...options })),
    Effect.provide(Http.layer())
  )

/** An independent fold of raw Gemini chunks: what a stream of them must assemble to. */
const expectedFromWire = (chunks: ReadonlyArray<any>) => {
  let content = ""
  let reasoning = ""
  let usage: any = undefined
  const calls: Array<{ name: string; arguments: string; signature: string | undefined }> = []
  for (const chunk of chunks) {
    if (chunk.usageMetadata) usage = chunk.usageMetadata
    for (const part of chunk.candidates?.[0]?.content?.parts ?? []) {
      if (part.functionCall) {
        calls.push({
          name: part.functionCall.name,
          arguments: JSON.stringify(part.functionCall.args ?? {}),
          signature: part.thoughtSignature
        })
      } else if (typeof part.text === "string") {
        if (part.thought) reasoning += part.text
        else content += part.text
      }
    }
  }
  return { content, reasoning, usage, calls }
}

/** A constructed stream (not recorded): CJK and emoji text, a thought summary, CRLF framing. */
const multiByte = [
  {
    candidates: [{
      content: { parts: [{ text: "先看看天气…", thought: true }, { text: "巴黎今天 18°C，" }], role: "model" },
      index: 0
    }],
    usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 },
    modelVersion: MODEL,
    responseId: "constructed-cjk"
  },
  {
    candidates: [{ content: { parts: [{ text: "多云 ☁️ 🌧" }], role: "model" }, index: 0 }],
    usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 8, thoughtsTokenCount: 44, totalTokenCount: 61 },
    modelVersion: MODEL,
    responseId: "constructed-cjk"
  },
  {
    candidates: [{
      content: { parts: [{ text: "", thoughtSignature: "EqsFCqgFAb4+9vvt" }], role: "model" },
      finishReason: "STOP",
      index: 0
    }],
    usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 8, thoughtsTokenCount: 44, totalTokenCount: 61 },
    modelVersion: MODEL,
    responseId: "constructed-cjk"
  }
]

const chunkings: ReadonlyArray<{ readonly name: string; readonly options: FakeGemini.StreamReplyOptions }> = [
  { name: "one event per write", options: {} },
  { name: "7-byte pieces", options: { split: 7 } },
  { name: "3-byte pieces", options: { split: 3 } },
  { name: "LF framing in 64-byte pieces", options: { lineEnding: "\n", split: 64 } }
]

const response = (parts: ReadonlyArray<unknown>, extra: Record<string, unknown> = {}, usageMetadata?: unknown) => ({
  candidates: [{ content: { parts, role: "model" }, finishReason: "STOP", index: 0, ...extra }],
  ...(usageMetadata !== undefined ? { usageMetadata } : {}),
  modelVersion: MODEL,
  responseId: "resp-1"
})

describe("Gemini: recorded responses replay through the real HTTP path", () => {
  const streams = [
    { name: "google-text", wire: loadChunks("gemini", "google-text") },
    { name: "google-tool-call", wire: loadChunks("gemini", "google-tool-call") },
    { name: "constructed multi-byte", wire: multiByte }
  ]
  for (const { name, wire } of streams) {
    const expected = expectedFromWire(wire)
    for (const { name: chunking, options } of chunkings) {
      it.scopedLive(`${name}: ${chunking}`, () =>
        Effect.gen(function*() {
          const server = yield* FakeServer.make()
          server.enqueue(FakeGemini.streamReply(wire, options))
          const all = yield* withProvider(server, {}, (llm) => Stream.runCollect(llm.stream(hello))).pipe(
            Effect.map((chunks) => Array.from(chunks))
          )
          const completion = yield* ChatStream.toCompletion(Stream.fromIterable(all))
          const choice = completion.choices[0]!
          assert.strictEqual(choice.message.content ?? "", expected.content)
          assert.strictEqual(choice.message.reasoning_content ?? "", expected.reasoning)
          const calls = choice.message.tool_calls ?? []
          assert.deepStrictEqual(
            calls.map((c) => ({ name: c.function.name, arguments: c.function.arguments })),
            expected.calls.map((c) => ({ name: c.name, arguments: c.arguments }))
          )
          // the signature rides in the id, byte for byte
          assert.deepStrictEqual(
            calls.map((c) => CallId.decode(c.id).signature),
            expected.calls.map((c) => c.signature)
          )
          assert.strictEqual(choice.finish_reason, expected.calls.length > 0 ? "tool_calls" : "stop")
          assert.strictEqual(completion.id, (wire[0] as any).responseId)
          assert.strictEqual(completion.provider, "gemini")
          const last = all[all.length - 1]!
          assert.deepStrictEqual(last.choices, [])
          const u = expected.usage
          assert.deepStrictEqual(last.usage, {
            prompt_tokens: u.promptTokenCount,
            completion_tokens: u.candidatesTokenCount + u.thoughtsTokenCount,
            total_tokens: u.totalTokenCount,
            completion_tokens_details: { reasoning_tokens: u.thoughtsTokenCount }
          })
          assert.isTrue(all.slice(0, -1).every((c) => c.usage === undefined))
          assert.strictEqual(all[0]!.choices[0]!.delta.role, "assistant")
          assert.strictEqual(all.filter((c) => c.choices.some((ch) => ch.finish_reason !== null)).length, 1)
        }))
    }
    it.scopedLive(`${name}: cuts inside multi-byte characters and CRLF pairs`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        const body = FakeGemini.sse(wire)
        const cuts = awkwardCuts(body)
        assert.isTrue(cuts.length > 0)
        server.enqueue({ headers: { "content-type": "text/event-stream" }, chunks: [body], split: cuts })
        const completion = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
        assert.strictEqual(completion.choices[0]!.message.content ?? "", expected.content)
        assert.strictEqual(completion.choices[0]!.message.reasoning_content ?? "", expected.reasoning)
      }))
  }

  for (const name of ["google-text", "google-tool-call"]) {
    it.scopedLive(`${name}.json: the non-streaming body`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        const body = loadJson("gemini", name) as any
        server.enqueue(FakeGemini.jsonReply(body))
        const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
        const expected = expectedFromWire([body])
        const message = res.choices[0]!.message
        assert.strictEqual(res.id, body.responseId)
        assert.strictEqual(res.model, body.modelVersion)
        assert.strictEqual(res.provider, "gemini")
        assert.strictEqual(message.content ?? "", expected.content)
        assert.deepStrictEqual(
          (message.tool_calls ?? []).map((c) => ({
            name: c.function.name,
            arguments: c.function.arguments,
            signature: CallId.decode(c.id).signature
          })),
          expected.calls
        )
        assert.strictEqual(res.choices[0]!.finish_reason, expected.calls.length > 0 ? "tool_calls" : "stop")
        const u = body.usageMetadata
        assert.strictEqual(res.usage?.prompt_tokens, u.promptTokenCount)
        assert.strictEqual(res.usage?.completion_tokens, u.candidatesTokenCount + (u.thoughtsTokenCount ?? 0))
        assert.strictEqual(res.usage?.total_tokens, u.totalTokenCount)
      }))
  }
})

describe("Gemini: the wire request", () => {
  it.scopedLive("a conversation with a system prompt, an image, a tool call and its result", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const recorded = loadJson("gemini", "google-tool-call") as any
      const signature = recorded.candidates[0].content.parts[0].thoughtSignature
      server.enqueue(FakeGemini.jsonReply(recorded), FakeGemini.jsonReply(loadJson("gemini", "google-text")))
      const tools: ChatCompletionRequest["tools"] = [{
        type: "function",
        function: {
          name: "weather",
          description: "Current weather",
          strict: true,
          parameters: {
            $schema: "http://json-schema.org/draft-07/schema#",
            type: "object",
            properties: { location: { type: "string" } },
            required: ["location"],
            additionalProperties: false
          }
        }
      }]
      const messages: Array<ChatMessage> = [
        { role: "system", content: "be terse" },
        {
          role: "user",
          content: [
            { type: "text", text: "What is this, and the weather there?" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }
          ]
        }
      ]
      const first = yield* withProvider(server, { headers: { "x-team": "a" } }, (llm) =>
        llm.chat({
          model: MODEL,
          messages,
          tools,
          tool_choice: "required",
          temperature: 0.2,
          top_p: 0.9,
          max_tokens: 100,
          stop: "END",
          seed: 7,
          n: 1
        }))
      const call = first.choices[0]!.message.tool_calls![0]!
      yield* withProvider(server, {}, (llm) =>
        llm.chat({
          model: MODEL,
          messages: [
            ...messages,
            first.choices[0]!.message,
            { role: "tool", tool_call_id: call.id, content: "18°C, cloudy" }
          ],
          tools
        }))
      const [one, two] = server.requests
      assert.strictEqual(one!.method, "POST")
      assert.strictEqual(one!.path, `/v1beta/models/${MODEL}:generateContent`)
      assert.strictEqual(one!.headers["x-goog-api-key"], SECRET)
      assert.strictEqual(one!.headers["x-team"], "a")
      assert.strictEqual(one!.headers["content-type"], "application/json")
      assert.isUndefined(one!.headers["authorization"])
      for (const request of server.requests) {
        assert.notInclude(request.path, SECRET)
        assert.notInclude(request.path, "key=")
      }
      const declarations = [{
        functionDeclarations: [{
          name: "weather",
          description: "Current weather",
          parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] }
        }]
      }]
      const userTurn = {
        role: "user",
        parts: [
          { text: "What is this, and the weather there?" },
          { inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } }
        ]
      }
      assert.deepStrictEqual(one!.json, {
        contents: [userTurn],
        systemInstruction: { parts: [{ text: "be terse" }] },
        tools: declarations,
        toolConfig: { functionCallingConfig: { mode: "ANY" } },
        generationConfig: {
          temperature: 0.2,
          topP: 0.9,
          maxOutputTokens: 100,
          stopSequences: ["END"],
          seed: 7,
          candidateCount: 1
        }
      })
      assert.deepStrictEqual(two!.json, {
        contents: [
          userTurn,
          {
            role: "model",
            parts: [{
              functionCall: { name: "weather", args: { location: "San Francisco" } },
              thoughtSignature: signature
            }]
          },
          {
            role: "user",
            parts: [{ functionResponse: { name: "weather", response: { output: "18°C, cloudy" } } }]
          }
        ],
        systemInstruction: { parts: [{ text: "be terse" }] },
        tools: declarations
      })
    }))

  it.scopedLive("stream: streamGenerateContent?alt=sse, asking for an event stream", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeGemini.streamReply(loadChunks("gemini", "google-text")))
      yield* withProvider(server, { defaultModel: "models/gemini-2.0-flash" }, (llm) =>
        Stream.runDrain(llm.stream({ messages: [{ role: "user", content: "hi" }] })))
      const request = server.requests[0]!
      assert.strictEqual(request.path, "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse")
      assert.strictEqual(request.headers["accept"], "text/event-stream")
      assert.strictEqual(request.headers["x-goog-api-key"], SECRET)
      assert.deepStrictEqual(request.json, { contents: [{ role: "user", parts: [{ text: "hi" }] }] })
    }))

  it.scopedLive("tool results answering one turn go in one user content, each named after its call", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeGemini.jsonReply(response([{ text: "ok" }])))
      yield* withProvider(server, {}, (llm) =>
        llm.chat({
          model: MODEL,
          messages: [
            { role: "user", content: "Paris and Rome?" },
            {
              role: "assistant",
              content: "Checking.",
              tool_calls: [
                { id: "a", type: "function", function: { name: "weather", arguments: "{\"city\":\"Paris\"}" } },
                { id: "b", type: "function", function: { name: "time", arguments: "" } }
              ]
            },
            { role: "tool", tool_call_id: "b", content: "noon" },
            { role: "tool", tool_call_id: "a", content: [{ type: "text", text: "18°C" }] },
            { role: "user", content: "thanks" }
          ]
        }))
      const contents = (server.requests[0]!.json as any).contents
      assert.deepStrictEqual(contents.slice(1), [
        {
          role: "model",
          parts: [
            { text: "Checking." },
            // a turn from elsewhere has no signature: the documented placeholder goes on its first call
            {
              functionCall: { name: "weather", args: { city: "Paris" } },
              thoughtSignature: Gemini.skipThoughtSignature
            },
            { functionCall: { name: "time", args: {} } }
          ]
        },
        {
          role: "user",
          parts: [
            { functionResponse: { name: "time", response: { output: "noon" } } },
            { functionResponse: { name: "weather", response: { output: "18°C" } } },
            { text: "thanks" }
          ]
        }
      ])
    }))

  it.scopedLive("thoughtSignatureFallback: false sends no placeholder", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeGemini.jsonReply(response([{ text: "ok" }])))
      yield* withProvider(server, { thoughtSignatureFallback: false }, (llm) =>
        llm.chat({
          model: MODEL,
          messages: [
            { role: "user", content: "x" },
            {
              role: "assistant",
              tool_calls: [{ id: "a", type: "function", function: { name: "f", arguments: "{}" } }]
            },
            { role: "tool", tool_call_id: "a", content: "1" }
          ]
        }))
      assert.deepStrictEqual((server.requests[0]!.json as any).contents[1].parts, [{
        functionCall: { name: "f", args: {} }
      }])
    }))

  it.scopedLive("Google's extra_content.google.thought_signature on a tool call is sent back too", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeGemini.jsonReply(response([{ text: "ok" }])))
      const call = {
        id: "a",
        type: "function" as const,
        function: { name: "f", arguments: "{}" },
        extra_content: { google: { thought_signature: "c2ln" } }
      }
      yield* withProvider(server, {}, (llm) =>
        llm.chat({
          model: MODEL,
          messages: [{ role: "user", content: "x" }, { role: "assistant", tool_calls: [call] }, {
            role: "tool",
            tool_call_id: "a",
            content: "1"
          }]
        }))
      assert.strictEqual((server.requests[0]!.json as any).contents[1].parts[0].thoughtSignature, "c2ln")
    }))

  const choices: ReadonlyArray<{ readonly choice: ChatCompletionRequest["tool_choice"]; readonly config: unknown }> = [
    { choice: "auto", config: { mode: "AUTO" } },
    { choice: "required", config: { mode: "ANY" } },
    { choice: "none", config: { mode: "NONE" } },
    {
      choice: { type: "function", function: { name: "weather" } },
      config: { mode: "ANY", allowedFunctionNames: ["weather"] }
    }
  ]
  for (const { choice, config } of choices) {
    it.scopedLive(`tool_choice ${JSON.stringify(choice)} → ${JSON.stringify(config)}`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(FakeGemini.jsonReply(response([{ text: "ok" }])))
        yield* withProvider(server, {}, (llm) =>
          llm.chat({
            ...hello,
            tools: [{ type: "function", function: { name: "weather" } }],
            tool_choice: choice!
          }))
        assert.deepStrictEqual((server.requests[0]!.json as any).toolConfig, { functionCallingConfig: config })
        assert.deepStrictEqual((server.requests[0]!.json as any).tools, [{
          functionDeclarations: [{ name: "weather" }]
        }])
      }))
  }

  it.scopedLive("JSON Schema is lowered to Gemini's subset", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeGemini.jsonReply(response([{ text: "ok" }])))
      const parameters = {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        type: "object",
        additionalProperties: false,
        $defs: { unit: { type: "string", enum: ["C", "F"], description: "unit" } },
        properties: {
          city: { type: ["string", "null"], format: "uri", minLength: 1 },
          unit: { $ref: "#/$defs/unit" },
          kind: { const: "forecast" },
          days: { oneOf: [{ type: "integer", format: "int32" }, { type: "null" }] },
          tags: { type: "array", items: { type: "string", additionalProperties: false } },
          any: { type: ["string", "number"] },
          empty: { type: "object", properties: {} }
        },
        required: ["city", "ghost"]
      }
      yield* withProvider(server, {}, (llm) =>
        llm.chat({
          ...hello,
          tools: [
            { type: "function", function: { name: "weather", parameters } },
            { type: "function", function: { name: "now", parameters: { type: "object", properties: {} } } }
          ],
          response_format: {
            type: "json_schema",
            json_schema: {
              name: "out",
              strict: true,
              schema: { type: "object", properties: { a: { type: "integer" } } }
            }
          }
        }))
      const body = server.requests[0]!.json as any
      assert.deepStrictEqual(body.tools[0].functionDeclarations, [
        {
          name: "weather",
          parameters: {
            type: "object",
            properties: {
              city: { type: "string", nullable: true, minLength: 1 },
              unit: { type: "string", enum: ["C", "F"], description: "unit" },
              kind: { type: "string", enum: ["forecast"] },
              days: { nullable: true, type: "integer", format: "int32" },
              tags: { type: "array", items: { type: "string" } },
              any: { anyOf: [{ type: "string" }, { type: "number" }] },
              empty: { type: "object" }
            },
            required: ["city"]
          }
        },
        // a function without arguments is declared without parameters
        { name: "now" }
      ])
      assert.deepStrictEqual(body.generationConfig, {
        responseMimeType: "application/json",
        responseSchema: { type: "object", properties: { a: { type: "integer" } } }
      })
    }))

  it.scopedLive("schemaMode json-schema: parametersJsonSchema and responseJsonSchema", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeGemini.jsonReply(response([{ text: "ok" }])))
      const schema = {
        $schema: "x",
        type: "object",
        properties: { a: { type: "string" } },
        additionalProperties: false
      }
      yield* withProvider(server, { schemaMode: "json-schema" }, (llm) =>
        llm.chat({
          ...hello,
          tools: [{ type: "function", function: { name: "f", parameters: schema } }],
          response_format: { type: "json_schema", json_schema: { name: "out", schema } }
        }))
      const body = server.requests[0]!.json as any
      const expected = { type: "object", properties: { a: { type: "string" } }, additionalProperties: false }
      assert.deepStrictEqual(body.tools[0].functionDeclarations[0].parametersJsonSchema, expected)
      assert.deepStrictEqual(body.generationConfig.responseJsonSchema, expected)
    }))

  it.scopedLive("json_object, reasoning effort and Gemini's own knobs", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeGemini.jsonReply(response([{ text: "{}" }])))
      const safetySettings = [{ category: "HARM_CATEGORY_HARASSMENT", threshold: "BLOCK_ONLY_HIGH" }]
      yield* withProvider(server, {}, (llm) =>
        llm.chat({
          ...hello,
          response_format: { type: "json_object" },
          reasoning_effort: "low",
          safetySettings,
          generationConfig: { topK: 40 }
        } as ChatCompletionRequest))
      const body = server.requests[0]!.json as any
      assert.deepStrictEqual(body.generationConfig, {
        responseMimeType: "application/json",
        thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 },
        topK: 40
      })
      assert.deepStrictEqual(body.safetySettings, safetySettings)
    }))

  it.scopedLive("includeThoughts asks for thought summaries on every request", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeGemini.jsonReply(response([{ text: "ok" }])))
      yield* withProvider(server, { includeThoughts: true }, (llm) => llm.chat(hello))
      assert.deepStrictEqual((server.requests[0]!.json as any).generationConfig, {
        thinkingConfig: { includeThoughts: true }
      })
    }))
})

describe("Gemini: invalid input is rejected before any I/O", () => {
  const cases: ReadonlyArray<
    { readonly name: string; readonly messages: ReadonlyArray<ChatMessage>; readonly param: string }
  > = [
    {
      name: "tool-call arguments that are not a JSON object",
      messages: [
        { role: "user", content: "x" },
        { role: "assistant", tool_calls: [{ id: "a", type: "function", function: { name: "f", arguments: "[1" } }] }
      ],
      param: "messages[1].tool_calls[0].function.arguments"
    },
    {
      name: "a tool result answering no earlier call",
      messages: [{ role: "user", content: "x" }, { role: "tool", tool_call_id: "nope", content: "1" }],
      param: "messages[1].tool_call_id"
    }
  ]
  for (const { messages, name, param } of cases) {
    it.scopedLive(name, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.setHandler(FakeGemini.responder())
        const request = { model: MODEL, messages }
        const errors = [
          yield* failure(withProvider(server, {}, (llm) => llm.chat(request))),
          yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(request))))
        ]
        for (const error of errors) {
          assert.strictEqual(error._tag, "InvalidRequestError")
          if (error._tag === "InvalidRequestError") {
            assert.strictEqual(error.source, "client")
            assert.strictEqual(error.param, param)
          }
        }
        assert.strictEqual(server.requests.length, 0)
      }))
  }
})

describe("Gemini: the error-mapping table", () => {
  const rows: ReadonlyArray<{
    readonly name: string
    readonly status: number
    readonly error: FakeGemini.ErrorBody
    readonly tag: LlmError["_tag"]
  }> = [
    {
      name: "bad key (400 API_KEY_INVALID)",
      status: 400,
      error: {
        message: "API key not valid. Please pass a valid API key.",
        details: [FakeGemini.errorInfo("API_KEY_INVALID")]
      },
      tag: "AuthenticationError"
    },
    {
      name: "INVALID_ARGUMENT",
      status: 400,
      error: { message: "* GenerateContentRequest.contents[1].parts: contents.parts must not be empty." },
      tag: "InvalidRequestError"
    },
    {
      name: "INVALID_ARGUMENT, prompt too long",
      status: 400,
      error: { message: "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)." },
      tag: "ContextLengthError"
    },
    {
      name: "FAILED_PRECONDITION",
      status: 400,
      error: { message: "User location is not supported for the API use.", status: "FAILED_PRECONDITION" },
      tag: "PermissionDeniedError"
    },
    {
      name: "UNAUTHENTICATED",
      status: 401,
      error: { message: "Request had invalid authentication credentials." },
      tag: "AuthenticationError"
    },
    {
      name: "PERMISSION_DENIED",
      status: 403,
      error: { message: "You do not have permission to access tuned model tunedModels/x." },
      tag: "PermissionDeniedError"
    },
    {
      name: "no key (403 unregistered callers)",
      status: 403,
      error: { message: "Method doesn't allow unregistered callers (callers without established identity)." },
      tag: "AuthenticationError"
    },
    {
      name: "NOT_FOUND",
      status: 404,
      error: {
        message: "models/gemini-9 is not found for API version v1beta, or is not supported for generateContent."
      },
      tag: "InvalidRequestError"
    },
    { name: "INTERNAL", status: 500, error: { message: "An internal error has occurred." }, tag: "ProviderError" },
    {
      name: "UNAVAILABLE",
      status: 503,
      error: { message: "The model is overloaded. Please try again later." },
      tag: "ProviderError"
    },
    { name: "DEADLINE_EXCEEDED", status: 504, error: { message: "Deadline expired." }, tag: "ProviderError" }
  ]
  for (const row of rows) {
    it.scopedLive(`${row.status} ${row.name} → ${row.tag}`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(FakeGemini.errorReply(row.status, row.error))
        const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
        assert.strictEqual(error._tag, row.tag)
        assert.strictEqual(error.provider, "gemini")
        assert.strictEqual(error.model, MODEL)
        if (error._tag !== "RetryExhausted") {
          assert.strictEqual(error.status, row.status)
          assert.include(error.message, row.error.message)
          assert.strictEqual(error.code, row.error.status ?? canonical(row.status))
        }
      }))
  }

  it.scopedLive("429 RESOURCE_EXHAUSTED (recorded body) → RateLimitError with RetryInfo's delay", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeGemini.jsonReply(loadJson("gemini", "google-429-retry-info"), 429))
      const error = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "RateLimitError")
      if (error._tag === "RateLimitError") {
        assert.strictEqual(error.code, "RESOURCE_EXHAUSTED")
        assert.strictEqual(error.status, 429)
        assert.deepStrictEqual(Option.map(error.retryAfter, Duration.toMillis), Option.some(34400))
      }
    }))

  it.scoped("the RetryInfo delay is waited for (TestClock), then the call succeeds", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeGemini.jsonReply(loadJson("gemini", "google-429-retry-info"), 429),
        FakeGemini.jsonReply(loadJson("gemini", "google-text"))
      )
      const fiber = yield* Effect.fork(
        withProvider(server, { retry: { maxRetries: 1, jitter: false } }, (llm) => llm.chat(hello))
      )
      yield* Effect.promise(() => waitUntil(() => server.requests.length === 1))
      yield* TestClock.adjust("34 seconds")
      yield* Effect.promise(() => settle())
      assert.strictEqual(server.requests.length, 1)
      yield* TestClock.adjust("400 millis")
      const res = yield* Fiber.join(fiber)
      assert.strictEqual(server.requests.length, 2)
      assert.strictEqual(res.object, "chat.completion")
    }))

  it.scopedLive("a bad key is not retried, with the default retry policy", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeGemini.responder({ apiKey: "another key" }))
      const error = yield* failure(withProvider(server, { retry: undefined }, (llm) => llm.chat(hello)))
      assert.strictEqual(error._tag, "AuthenticationError")
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("the API key never appears in an error, even when the server echoes it", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeGemini.errorReply(400, {
        message: `API key not valid: ${SECRET}`,
        details: [FakeGemini.errorInfo("API_KEY_INVALID")]
      }))
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

const canonical = (status: number): string =>
  ({
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED"
  } as Record<number, string>)[status]!

describe("Gemini: quirks", () => {
  it.scopedLive("finishReason STOP with a functionCall part is tool_calls; ids are generated and distinct", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeGemini.jsonReply(response([
        { functionCall: { name: "weather", args: { city: "Paris" } }, thoughtSignature: "c2ln" },
        { functionCall: { name: "weather", args: { city: "Rome" } } }
      ])))
      const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
      const calls = res.choices[0]!.message.tool_calls!
      assert.strictEqual(res.choices[0]!.finish_reason, "tool_calls")
      assert.strictEqual(res.choices[0]!.message.content, null)
      assert.strictEqual(calls.length, 2)
      assert.notStrictEqual(calls[0]!.id, calls[1]!.id)
      assert.isTrue(calls.every((c) => c.id.startsWith("call_")))
      assert.strictEqual(CallId.decode(calls[0]!.id).signature, "c2ln")
      // only the first call of a parallel batch carries a signature
      assert.isUndefined(CallId.decode(calls[1]!.id).signature)
      assert.deepStrictEqual(calls.map((c) => c.function.arguments), ["{\"city\":\"Paris\"}", "{\"city\":\"Rome\"}"])
    }))

  it.scopedLive("Gemini's own functionCall.id is kept, and echoed on the call and its response", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        FakeGemini.jsonReply(response([{ functionCall: { id: "fc-7", name: "f", args: {} } }])),
        FakeGemini.jsonReply(response([{ text: "ok" }]))
      )
      const first = yield* withProvider(server, {}, (llm) => llm.chat(hello))
      const call = first.choices[0]!.message.tool_calls![0]!
      assert.strictEqual(CallId.decode(call.id).base, "fc-7")
      yield* withProvider(server, { thoughtSignatureFallback: false }, (llm) =>
        llm.chat({
          model: MODEL,
          messages: [...hello.messages, first.choices[0]!.message, {
            role: "tool",
            tool_call_id: call.id,
            content: "1"
          }]
        }))
      const contents = (server.requests[1]!.json as any).contents
      assert.deepStrictEqual(contents[1].parts, [{ functionCall: { id: "fc-7", name: "f", args: {} } }])
      assert.deepStrictEqual(contents[2].parts, [{
        functionResponse: { id: "fc-7", name: "f", response: { output: "1" } }
      }])
    }))

  it.scopedLive("streamed parallel calls become deltas with indexes 0 and 1, each complete", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const chunk = response([
        { functionCall: { name: "a", args: { x: 1 } } },
        { functionCall: { name: "b" } }
      ], { finishReason: undefined })
      server.enqueue(FakeGemini.streamReply([chunk, response([{ text: "" }])]))
      const all = yield* withProvider(server, {}, (llm) => Stream.runCollect(llm.stream(hello)))
      const deltas = Array.from(all).flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []))
      assert.deepStrictEqual(deltas.map((d) => [d.index, d.function?.name, d.function?.arguments]), [
        [0, "a", "{\"x\":1}"],
        [1, "b", "{}"]
      ])
      const last = Array.from(all).find((c) => c.choices.some((ch) => ch.finish_reason !== null))
      assert.strictEqual(last?.choices[0]!.finish_reason, "tool_calls")
    }))

  it.scopedLive("thought parts are reasoning_content, not content", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeGemini.jsonReply(response([{ text: "Let me count.", thought: true }, { text: "3" }])))
      const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
      assert.strictEqual(res.choices[0]!.message.content, "3")
      assert.strictEqual(res.choices[0]!.message.reasoning_content, "Let me count.")
    }))

  it.scopedLive("a blocked prompt (promptFeedback.blockReason) is a ContentFilterError, in chat and stream", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const blocked = {
        promptFeedback: { blockReason: "PROHIBITED_CONTENT" },
        usageMetadata: { promptTokenCount: 5, totalTokenCount: 5 },
        modelVersion: MODEL
      }
      server.enqueue(FakeGemini.jsonReply(blocked), FakeGemini.streamReply([blocked]))
      const chat = yield* failure(withProvider(server, {}, (llm) => llm.chat(hello)))
      const stream = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      for (const error of [chat, stream]) {
        assert.strictEqual(error._tag, "ContentFilterError")
        assert.strictEqual(error.code, "PROHIBITED_CONTENT")
      }
    }))

  const finishes: ReadonlyArray<readonly [string, string]> = [
    ["SAFETY", "content_filter"],
    ["RECITATION", "content_filter"],
    ["BLOCKLIST", "content_filter"],
    ["PROHIBITED_CONTENT", "content_filter"],
    ["SPII", "content_filter"],
    ["MAX_TOKENS", "length"],
    ["OTHER", "stop"],
    ["MALFORMED_FUNCTION_CALL", "stop"]
  ]
  for (const [wire, ours] of finishes) {
    it.scopedLive(`finishReason ${wire} → ${ours}`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(
          FakeGemini.jsonReply(response([{ text: "par" }], { finishReason: wire })),
          FakeGemini.streamReply([response([{ text: "par" }], { finishReason: wire })])
        )
        const res = yield* withProvider(server, {}, (llm) => llm.chat(hello))
        const streamed = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
        assert.strictEqual(res.choices[0]!.finish_reason, ours)
        assert.strictEqual(streamed.choices[0]!.finish_reason, ours)
      }))
  }

  it.scopedLive("streamed usage is a running total: the last one wins, cached and thought tokens mapped", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const usage = (candidates: number) => ({
        promptTokenCount: 100,
        cachedContentTokenCount: 60,
        candidatesTokenCount: candidates,
        thoughtsTokenCount: 7,
        totalTokenCount: 107 + candidates
      })
      server.enqueue(FakeGemini.streamReply([
        response([{ text: "a" }], { finishReason: undefined }, usage(1)),
        response([{ text: "b" }], { finishReason: undefined }, usage(2)),
        response([{ text: "" }], {}, usage(3))
      ]))
      const completion = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
      assert.deepStrictEqual(completion.usage, {
        prompt_tokens: 100,
        completion_tokens: 10,
        total_tokens: 110,
        prompt_tokens_details: { cached_tokens: 60 },
        completion_tokens_details: { reasoning_tokens: 7 }
      })
    }))

  it.scopedLive("an {\"error\": …} event inside a 200 stream fails typed", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeGemini.streamReply([
        response([{ text: "a" }], { finishReason: undefined }),
        FakeGemini.errorEnvelope(503, { message: "The model is overloaded." })
      ]))
      const seen: Array<ChatCompletionChunk> = []
      const error = yield* failure(
        withProvider(server, {}, (llm) => Stream.runForEach(llm.stream(hello), (c) => Effect.sync(() => seen.push(c))))
      )
      assert.strictEqual(error._tag, "ProviderError")
      assert.strictEqual(error.status, 503)
      assert.include(error.message, "overloaded")
      assert.strictEqual(seen.length, 1)
    }))

  it.scopedLive("a raw JSON error tail (no data:) ending a 200 stream fails typed", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const tail = JSON.stringify(loadJson("gemini", "google-429-retry-info"), null, 2)
      server.enqueue({
        headers: { "content-type": "text/event-stream" },
        chunks: [FakeGemini.sse([response([{ text: "a" }], { finishReason: undefined })]), tail],
        split: 5
      })
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "RateLimitError")
      if (error._tag === "RateLimitError") {
        assert.deepStrictEqual(Option.map(error.retryAfter, Duration.toMillis), Option.some(34400))
      }
    }))

  it.scopedLive("a last event without its blank line is still read", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const body = FakeGemini.sse([response([{ text: "a" }], { finishReason: undefined })]) +
        `data: ${JSON.stringify(response([{ text: "b" }]))}`
      server.enqueue({ headers: { "content-type": "text/event-stream" }, chunks: [body] })
      const completion = yield* withProvider(server, {}, (llm) => ChatStream.toCompletion(llm.stream(hello)))
      assert.strictEqual(completion.choices[0]!.message.content, "ab")
      assert.strictEqual(completion.choices[0]!.finish_reason, "stop")
    }))

  it.scopedLive("a stream that ends without a finishReason fails with NetworkError after what arrived", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const wire = loadChunks("gemini", "google-text")
      server.enqueue(FakeGemini.streamReply(wire.slice(0, 2)))
      const seen: Array<ChatCompletionChunk> = []
      const error = yield* failure(
        withProvider(server, {}, (llm) => Stream.runForEach(llm.stream(hello), (c) => Effect.sync(() => seen.push(c))))
      )
      assert.strictEqual(error._tag, "NetworkError")
      assert.strictEqual(seen.length, 2)
    }))

  it.scopedLive("a connection cut mid-stream fails with NetworkError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeGemini.streamReply(loadChunks("gemini", "google-text"), { disconnectAfter: 1 }))
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "NetworkError")
    }))

  it.scopedLive("an error status on a stream, JSON under text/event-stream, fails typed before any chunk", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue({
        ...FakeGemini.errorReply(404, { message: "models/x is not found for API version v1beta" }),
        headers: { "content-type": "text/event-stream" }
      })
      const error = yield* failure(withProvider(server, {}, (llm) => Stream.runDrain(llm.stream(hello))))
      assert.strictEqual(error._tag, "InvalidRequestError")
      assert.strictEqual(error.status, 404)
    }))
})

describe("Gemini: embeddings", () => {
  it.scopedLive("250 inputs → 3 batchEmbedContents calls (100, 100, 50), results in input order", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      // each vector is [the input's number]; the first batch answers last, so order cannot come from timing
      server.setHandler((request) => {
        const requests = (request.json as any).requests as Array<any>
        const values = requests.map((r) => ({ values: [Number(r.content.parts[0].text.slice(6))] }))
        return { ...FakeGemini.jsonReply({ embeddings: values }), headersDelay: values[0].values[0] === 0 ? 100 : 0 }
      })
      const input = Array.from({ length: 250 }, (_, i) => `input ${i}`)
      const res = yield* withProvider(
        server,
        {},
        (llm) => llm.embed({ model: "gemini-embedding-001", input, dimensions: 768 })
      )
      assert.strictEqual(server.requests.length, 3)
      assert.deepStrictEqual(
        server.requests.map((r) => (r.json as any).requests.length).sort((a, b) => b - a),
        [100, 100, 50]
      )
      for (const request of server.requests) {
        assert.strictEqual(request.path, "/v1beta/models/gemini-embedding-001:batchEmbedContents")
        assert.strictEqual(request.headers["x-goog-api-key"], SECRET)
      }
      assert.deepStrictEqual((server.requests[0]!.json as any).requests[0], {
        model: "models/gemini-embedding-001",
        content: { parts: [{ text: (server.requests[0]!.json as any).requests[0].content.parts[0].text }] },
        outputDimensionality: 768
      })
      assert.deepStrictEqual(res.data.map((d) => d.index), input.map((_, i) => i))
      assert.deepStrictEqual(res.data.map((d) => d.embedding[0]), input.map((_, i) => i))
      assert.strictEqual(res.provider, "gemini")
    }))

  it.scopedLive("the responder's vectors come back with outputDimensionality values", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeGemini.responder())
      const res = yield* withProvider(server, {}, (llm) =>
        llm.embed({ model: "models/gemini-embedding-001", input: "hello", dimensions: 16 }))
      assert.strictEqual(res.data.length, 1)
      assert.strictEqual(res.data[0]!.embedding.length, 16)
    }))

  it.scopedLive("a batch answering the wrong number of vectors is a ResponseDecodeError", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(FakeGemini.jsonReply({ embeddings: [{ values: [1] }] }))
      const error = yield* failure(withProvider(server, {}, (llm) => llm.embed({ model: "e", input: ["a", "b"] })))
      assert.strictEqual(error._tag, "ResponseDecodeError")
    }))
})

describe("Gemini: through Client", () => {
  it.scopedLive("chat, stream and a two-turn tool loop whose second request carries the call and its result", () =>
    Effect.promise(async () => {
      const server = await FakeServer.start({ handler: FakeGemini.responder({ apiKey: SECRET }) })
      try {
        await using client = new Client({
          provider: "gemini",
          apiKey: SECRET,
          baseUrl: `${server.url}/v1beta`,
          defaultModel: MODEL,
          retry: false
        })
        const plain = await client.chat.completions.create({ messages: [{ role: "user", content: "hello there" }] })
        assert.strictEqual(plain.choices[0]?.message.content, "Echo: hello there")
        const stream = await client.chat.completions.create({
          messages: [{ role: "user", content: "hello there" }],
          stream: true
        })
        const accumulator = ChatStream.makeAccumulator()
        for await (const chunk of stream) accumulator.push(chunk)
        assert.strictEqual(accumulator.result().choices[0]?.message.content, "Echo: hello there")

        const tools: ChatCompletionRequest["tools"] = [{
          type: "function",
          function: {
            name: "get_weather",
            parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
          }
        }]
        const messages: Array<ChatMessage> = [{ role: "user", content: "Paris" }]
        // the first turn streams, so the signature must survive the delta path and toCompletion
        const turn = await client.chat.completions.create({ messages, tools, stream: true })
        const folded = ChatStream.makeAccumulator()
        for await (const chunk of turn) folded.push(chunk)
        const first = folded.result().choices[0]!
        assert.strictEqual(first.finish_reason, "tool_calls")
        const call = first.message.tool_calls![0]!
        assert.strictEqual(call.function.arguments, "{\"city\":\"Paris\"}")
        messages.push(first.message, { role: "tool", tool_call_id: call.id, content: "18°C" })
        const second = await client.chat.completions.create({ messages, tools })
        assert.strictEqual(second.choices[0]?.finish_reason, "stop")
        assert.include(second.choices[0]?.message.content ?? "", "18°C")

        const wire = server.requests[server.requests.length - 1]!
        assert.strictEqual(wire.path, `/v1beta/models/${MODEL}:generateContent`)
        const expectedSignature = Buffer.from("fake-signature-3").toString("base64")
        assert.deepStrictEqual((wire.json as any).contents, [
          { role: "user", parts: [{ text: "Paris" }] },
          {
            role: "model",
            parts: [{
              functionCall: { name: "get_weather", args: { city: "Paris" } },
              thoughtSignature: expectedSignature
            }]
          },
          { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { output: "18°C" } } }] }
        ])
      } finally {
        await server.close()
      }
    }))
})

describe("Gemini: configuration", () => {
  it.scopedLive("layerConfig reads GOOGLE_API_KEY when GEMINI_API_KEY is not set", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.setHandler(FakeGemini.responder())
      yield* LlmProvider.chat(hello).pipe(
        Effect.provide(
          Gemini.layerConfig({ baseUrl: `${server.url}/v1beta`, retry: false }).pipe(
            Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["GOOGLE_API_KEY", "from-google"]]))))
          )
        ),
        Effect.provide(Http.layer())
      )
      assert.strictEqual(server.requests[0]!.headers["x-goog-api-key"], "from-google")
    }))

  it.effect("a baseUrl that is not a URL is rejected naming the field", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        LlmProvider.info.pipe(
          Effect.provide(Gemini.layer({ apiKey, baseUrl: "localhost:1" })),
          Effect.provide(Http.layer())
        )
      )
      assert.strictEqual(error._tag, "InvalidRequestError")
      if (error._tag === "InvalidRequestError") assert.strictEqual(error.param, "baseUrl")
    }))

  it("a tool-call id carries any signature and Gemini id through a round trip", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.stringMatching(/^[A-Za-z0-9-]{1,20}$/),
        FastCheck.boolean(),
        FastCheck.option(FastCheck.oneof(FastCheck.string(), FastCheck.base64String()), { nil: undefined }),
        (base, fromGemini, signature) => {
          const id = CallId.encode(base, fromGemini, signature)
          assert.match(id, /^[A-Za-z0-9_-]+$/)
          const decoded = CallId.decode(id)
          assert.strictEqual(decoded.base, base)
          assert.strictEqual(decoded.geminiId, fromGemini ? base : undefined)
          assert.strictEqual(decoded.signature, signature === "" ? undefined : signature)
        }
      )
    )
  })
})
