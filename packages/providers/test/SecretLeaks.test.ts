/**
 * No secret reaches anything a user can see. Every provider is driven down every error path (status errors, errors
 * inside 200 bodies and streams, decode errors, malformed events, timeouts, cut streams, retries that run out)
 * against a fake server that echoes the credential it received (the key, or Zhipu's signed JWT) in its headers
 * (`x-request-id` and others), its bodies and its events, with the key also placed where a 200-character snippet
 * cuts it in two. Each error is then read the ways a user reads it (`message`, `String`, `JSON.stringify`,
 * `util.inspect`, `Cause.pretty`), and so are the spans and log lines of the call.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { assert, describe, it } from "@effect/vitest"
import type { LlmError } from "@llm-api-router/core"
import { Http, isLlmError, LlmProvider } from "@llm-api-router/core"
import { RecordingTracer } from "@llm-api-router/core/testing"
import { Aliyun, Anthropic, DeepSeek, Gemini, Ollama, OpenAi, OpenRouter, Zhipu } from "@llm-api-router/providers"
import { Client } from "@llm-api-router/providers/Client"
import { FakeServer } from "@llm-api-router/providers/testing"
import * as Cause from "effect/Cause"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as util from "node:util"

const KEY = "sk-echo-4f1d9a7c2b8e6d3f5a0c9e7b1d2f4a6c"
const ZHIPU_ID = "echo7c2b8e6d"
const ZHIPU_SECRET = "Zq8Wm3Rt6Yp1Lk4Hs7Dv0Nc9Xb2Gf5Ja"
const ZHIPU_KEY = `${ZHIPU_ID}.${ZHIPU_SECRET}`

const { echoAuthorization, echoCredential } = FakeServer

/** What the server puts wherever it can: the credential it received, its whole authorization header, the key. */
const echo = (key: string) => `${key} credential=${echoCredential} authorization=${echoAuthorization}`

/** Request-id and other headers that carry the credential back. */
const echoHeaders = {
  "x-request-id": echoCredential,
  "request-id": echoCredential,
  "x-echo-authorization": echoAuthorization
}

/** Filler that puts what follows it across the 200-character cut of a quoted snippet, 15 characters before it. */
const pad = "x".repeat(185)

interface LayerOptions {
  readonly timeout?: { readonly firstByte?: Duration.DurationInput; readonly idle?: Duration.DurationInput }
  readonly retry?: {
    readonly maxRetries: number
    readonly initialDelay: Duration.DurationInput
    readonly jitter: boolean
  }
}

type ProviderLayer = Layer.Layer<LlmProvider.LlmProvider, ConfigError.ConfigError | LlmError, Http.HttpClient>

/** One provider's wire: how it says each thing, with `text` where the server echoes. */
interface Target {
  readonly name: string
  readonly key: string
  /** The key's parts that are secret on their own. */
  readonly secretParts: ReadonlyArray<string>
  readonly layer: (url: string, options: LayerOptions) => ProviderLayer
  /** The same provider as a `Client` config (the Promise API). */
  readonly config: (url: string) => ConstructorParameters<typeof Client>[0]
  readonly embeddings: boolean
  readonly errorBody: (status: number, text: string) => unknown
  /** A 200 body that is an error in the protocol's shape, when it has one. */
  readonly embeddedError?: ((text: string) => unknown) | undefined
  /** A 200 body of the wrong shape that quotes `text`. */
  readonly badCompletion: (text: string) => unknown
  readonly badEmbeddings: (text: string) => unknown
  readonly streamContentType: string
  readonly firstEvent: string
  readonly errorEvent: (text: string) => string
  /** An event whose payload is not JSON, `raw` as it is. */
  readonly malformedEvent: (raw: string) => string
  readonly badEvent: (text: string) => string
}

const sse = (data: string, eol = "\n") => `data: ${data}${eol}${eol}`

const openAiWire = {
  errorBody: (_status: number, text: string) => ({ error: { message: text, type: text, code: text, param: text } }),
  embeddedError: (text: string) => ({ error: { message: text, type: text, code: text } }),
  badCompletion: (text: string) => ({ id: text, object: "chat.completion", created: 1, model: "m", choices: text }),
  badEmbeddings: (text: string) => ({ object: "list", data: text, model: "m" }),
  streamContentType: "text/event-stream",
  firstEvent: sse(JSON.stringify({
    id: "c1",
    object: "chat.completion.chunk",
    created: 1,
    model: "m",
    choices: [{ index: 0, delta: { role: "assistant", content: "hi" }, finish_reason: null }]
  })),
  errorEvent: (text: string) => sse(JSON.stringify({ error: { message: text, type: text, code: text } })),
  malformedEvent: (raw: string) => sse(raw),
  badEvent: (text: string) => sse(JSON.stringify({ id: "c1", object: "chat.completion.chunk", choices: text }))
}

const openAiLike = (
  name: string,
  path: string,
  layer: (url: string, options: LayerOptions) => ProviderLayer,
  embeddings = true
): Target => ({
  name,
  key: KEY,
  secretParts: [],
  layer,
  config: (url) => ({ provider: name, apiKey: KEY, baseUrl: `${url}${path}`, retry: false }),
  embeddings,
  ...openAiWire
})

const apiKey = Redacted.make(KEY)

const targets: ReadonlyArray<Target> = [
  openAiLike("openai", "/v1", (url, o) => OpenAi.layer({ apiKey, baseUrl: `${url}/v1`, retry: false, ...o })),
  openAiLike(
    "openrouter",
    "/api/v1",
    (url, o) => OpenRouter.layer({ apiKey, baseUrl: `${url}/api/v1`, retry: false, ...o })
  ),
  openAiLike("deepseek", "", (url, o) => DeepSeek.layer({ apiKey, baseUrl: url, retry: false, ...o }), false),
  {
    ...openAiLike("zhipu", "/api/paas/v4", (url, o) =>
      Zhipu.layer({
        apiKey: Redacted.make(ZHIPU_KEY),
        auth: "jwt",
        baseUrl: `${url}/api/paas/v4`,
        retry: false,
        ...o
      })),
    key: ZHIPU_KEY,
    secretParts: [ZHIPU_SECRET],
    config: (url) => ({
      provider: "zhipu",
      apiKey: ZHIPU_KEY,
      baseUrl: `${url}/api/paas/v4`,
      retry: false,
      options: { auth: "jwt" }
    })
  },
  {
    name: "anthropic",
    key: KEY,
    secretParts: [],
    config: (url) => ({ provider: "anthropic", apiKey: KEY, baseUrl: `${url}/v1`, retry: false }),
    layer: (url, o) => Anthropic.layer({ apiKey, baseUrl: `${url}/v1`, retry: false, ...o }),
    embeddings: false,
    errorBody: (_status, text) => ({ type: "error", error: { type: text, message: text }, request_id: text }),
    embeddedError: (text) => ({ type: "error", error: { type: "api_error", message: text }, request_id: text }),
    badCompletion: (text) => ({ id: text, type: "message", role: "assistant", model: "m", content: text }),
    badEmbeddings: () => ({}),
    streamContentType: "text/event-stream",
    firstEvent: `event: message_start\n${
      sse(JSON.stringify({
        type: "message_start",
        message: {
          id: "msg_1",
          type: "message",
          role: "assistant",
          model: "m",
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 1, output_tokens: 0 }
        }
      }))
    }`,
    errorEvent: (text) =>
      `event: error\n${sse(JSON.stringify({ type: "error", error: { type: text, message: text } }))}`,
    malformedEvent: (raw) => `event: content_block_delta\n${sse(raw)}`,
    badEvent: (text) =>
      `event: content_block_delta\n${sse(JSON.stringify({ type: "content_block_delta", index: 0, delta: text }))}`
  },
  {
    name: "gemini",
    key: KEY,
    secretParts: [],
    config: (url) => ({ provider: "gemini", apiKey: KEY, baseUrl: `${url}/v1beta`, retry: false }),
    layer: (url, o) => Gemini.layer({ apiKey, baseUrl: `${url}/v1beta`, retry: false, ...o }),
    embeddings: true,
    errorBody: (status, text) => ({ error: { code: status, message: text, status: text } }),
    embeddedError: (text) => ({ error: { code: 500, message: text, status: "INTERNAL" } }),
    badCompletion: (text) => ({ candidates: text, responseId: text }),
    badEmbeddings: (text) => ({ embeddings: text }),
    streamContentType: "text/event-stream",
    firstEvent: sse(
      JSON.stringify({ candidates: [{ content: { role: "model", parts: [{ text: "hi" }] }, index: 0 }] }),
      "\r\n"
    ),
    errorEvent: (text) => sse(JSON.stringify({ error: { code: 500, message: text, status: "INTERNAL" } }), "\r\n"),
    malformedEvent: (raw) => sse(raw, "\r\n"),
    badEvent: (text) => sse(JSON.stringify({ candidates: text }), "\r\n")
  },
  {
    name: "aliyun",
    key: KEY,
    secretParts: [],
    config: (url) => ({ provider: "aliyun", apiKey: KEY, baseUrl: `${url}/api/v1`, retry: false }),
    layer: (url, o) => Aliyun.layer({ apiKey, baseUrl: `${url}/api/v1`, retry: false, ...o }),
    embeddings: true,
    errorBody: (_status, text) => ({ code: text, message: text, request_id: text }),
    badCompletion: (text) => ({ output: text, request_id: text }),
    badEmbeddings: (text) => ({ output: { embeddings: text }, request_id: text }),
    streamContentType: "text/event-stream;charset=UTF-8",
    firstEvent: `id:1\nevent:result\n:HTTP_STATUS/200\ndata:${
      JSON.stringify({
        output: {
          choices: [{ message: { role: "assistant", content: "hi" }, finish_reason: "null" }]
        },
        usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
        request_id: "r1"
      })
    }\n\n`,
    errorEvent: (text) =>
      `id:2\nevent:error\n:HTTP_STATUS/500\ndata:${
        JSON.stringify({ code: text, message: text, request_id: text })
      }\n\n`,
    malformedEvent: (raw) => `id:2\nevent:result\n:HTTP_STATUS/200\ndata:${raw}\n\n`,
    badEvent: (text) => `id:2\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify({ output: text })}\n\n`
  },
  {
    name: "ollama",
    key: KEY,
    secretParts: [],
    config: (url) => ({ provider: "ollama", apiKey: KEY, baseUrl: url, retry: false }),
    layer: (url, o) => Ollama.layer({ apiKey, baseUrl: url, retry: false, ...o }),
    embeddings: true,
    errorBody: (_status, text) => ({ error: text }),
    badCompletion: (text) => ({ model: text, created_at: text, message: text, done: true }),
    badEmbeddings: (text) => ({ model: "m", embeddings: text }),
    streamContentType: "application/x-ndjson",
    firstEvent: JSON.stringify({
      model: "m",
      created_at: "2025-01-01T00:00:00Z",
      message: { role: "assistant", content: "hi" },
      done: false
    }) + "\n",
    errorEvent: (text) => JSON.stringify({ error: text }) + "\n",
    malformedEvent: (raw) => raw + "\n",
    badEvent: (text) => JSON.stringify({ model: "m", message: text, done: false }) + "\n"
  }
]

const chatRequest = { model: "m", messages: [{ role: "user" as const, content: "hello" }] }

type Call = Effect.Effect<unknown, LlmError, LlmProvider.LlmProvider>
const chat: Call = LlmProvider.chat(chatRequest)
const stream: Call = Stream.runDrain(LlmProvider.stream(chatRequest))
const embed: Call = LlmProvider.embed({ model: "e", input: ["hello"] })

interface Scenario {
  readonly name: string
  readonly call: Call
  readonly replies: (target: Target) => ReadonlyArray<FakeServer.Reply>
  readonly options?: LayerOptions
  /** The tags the path must end in: proof that the scenario drove the path it names. */
  readonly tags: ReadonlyArray<LlmError["_tag"]>
  readonly when?: (target: Target) => boolean
  /** Where the provider is pointed instead of the fake server. */
  readonly baseUrl?: ((serverUrl: string) => string) | undefined
  /** Secrets beyond the key and the credentials sent. */
  readonly secrets?: ReadonlyArray<string> | undefined
}

const URL_PASSWORD = "pw-in-url-7Hq2Zx9K"

const json = (status: number, body: unknown): FakeServer.Reply => ({
  status,
  headers: { ...echoHeaders, "content-type": "application/json" },
  body: JSON.stringify(body)
})

const streamed = (
  target: Target,
  events: ReadonlyArray<string>,
  extra?: Partial<FakeServer.Reply>
): FakeServer.Reply => ({
  status: 200,
  headers: { ...echoHeaders, "content-type": target.streamContentType },
  chunks: events,
  ...extra
})

const html = (status: number, key: string): FakeServer.Reply => ({
  status,
  headers: { ...echoHeaders, "content-type": "text/html" },
  // the key straddles the 200th character of any snippet of the body
  body: `<html>${pad}${echo(key)}</html>`
})

const scenarios: ReadonlyArray<Scenario> = [
  {
    name: "chat: 401 with the key in the error body",
    call: chat,
    replies: (t) => [json(401, t.errorBody(401, echo(t.key)))],
    tags: ["AuthenticationError"]
  },
  {
    name: "chat: 400 naming the key as param and code",
    call: chat,
    replies: (t) => [json(400, t.errorBody(400, echo(t.key)))],
    tags: ["InvalidRequestError", "AuthenticationError", "PermissionDeniedError"]
  },
  {
    name: "chat: 429 echoing the key",
    call: chat,
    replies: (t) => [{ ...json(429, t.errorBody(429, echo(t.key))), headers: { ...echoHeaders, "retry-after": "0" } }],
    tags: ["RateLimitError", "QuotaExceededError"]
  },
  {
    name: "chat: 500 with an HTML page that is cut at 200 characters inside the key",
    call: chat,
    replies: (t) => [html(500, t.key)],
    tags: ["ProviderError"]
  },
  {
    name: "chat: 200 with a body that is not JSON",
    call: chat,
    replies: (t) => [html(200, t.key)],
    tags: ["ResponseDecodeError"]
  },
  {
    name: "chat: 200 whose JSON does not match the protocol, quoting the key",
    call: chat,
    replies: (t) => [json(200, t.badCompletion(echo(t.key)))],
    tags: ["ResponseDecodeError"]
  },
  {
    name: "chat: 200 carrying an error",
    call: chat,
    replies: (t) => [json(200, t.embeddedError!(echo(t.key)))],
    tags: ["ProviderError", "InvalidRequestError", "AuthenticationError"],
    when: (t) => t.embeddedError !== undefined
  },
  {
    name: "chat: first-byte timeout",
    call: chat,
    replies: (t) => [{ ...json(200, t.badCompletion("late")), headersDelay: 10_000 }],
    options: { timeout: { firstByte: "200 millis" } },
    tags: ["TimeoutError"]
  },
  {
    name: "chat: retries run out on 500s echoing the key",
    call: chat,
    replies: (t) => [json(500, t.errorBody(500, echo(t.key))), json(503, t.errorBody(503, echo(t.key)))],
    options: { retry: { maxRetries: 1, initialDelay: "1 millis", jitter: false } },
    tags: ["RetryExhausted"]
  },
  {
    name: "stream: 401 with the key in the error body",
    call: stream,
    replies: (t) => [json(401, t.errorBody(401, echo(t.key)))],
    tags: ["AuthenticationError"]
  },
  {
    name: "stream: an error event first",
    call: stream,
    replies: (t) => [streamed(t, [t.errorEvent(echo(t.key))])],
    tags: ["ProviderError", "InvalidRequestError", "AuthenticationError", "RateLimitError"]
  },
  {
    name: "stream: an error event after a chunk",
    call: stream,
    replies: (t) => [streamed(t, [t.firstEvent, t.errorEvent(echo(t.key))])],
    tags: ["ProviderError", "InvalidRequestError", "AuthenticationError", "RateLimitError"]
  },
  {
    name: "stream: a malformed event quoting the key whole",
    call: stream,
    replies: (t) => [streamed(t, [t.firstEvent, t.malformedEvent(`not json ${echo(t.key)}`)])],
    tags: ["ResponseDecodeError"]
  },
  {
    name: "stream: a malformed event whose 200-character snippet cuts the key",
    call: stream,
    replies: (t) => [streamed(t, [t.firstEvent, t.malformedEvent(`${pad}${echo(t.key)}`)])],
    tags: ["ResponseDecodeError"]
  },
  {
    name: "stream: a malformed event whose snippet cuts the echoed credential",
    call: stream,
    replies: (t) => [streamed(t, [t.firstEvent, t.malformedEvent(`${pad}${echoCredential} ${t.key}`)])],
    tags: ["ResponseDecodeError"]
  },
  {
    name: "stream: an event that does not match the protocol, quoting the key",
    call: stream,
    replies: (t) => [streamed(t, [t.firstEvent, t.badEvent(echo(t.key))])],
    tags: ["ResponseDecodeError"]
  },
  {
    name: "stream: cut after the first chunk",
    call: stream,
    replies: (t) => [streamed(t, [t.firstEvent], { disconnectAfter: 1 })],
    tags: ["NetworkError"]
  },
  {
    name: "stream: idle timeout after the headers",
    call: stream,
    replies: (t) => [streamed(t, [t.firstEvent, t.firstEvent], { chunkDelay: 10_000 })],
    options: { timeout: { idle: "200 millis" } },
    tags: ["TimeoutError"]
  },
  {
    name: "chat: connection refused, with a password in the base URL",
    call: chat,
    replies: () => [],
    // port 9 (discard) on the loopback interface: nothing listens there
    baseUrl: () => `http://gateway-user:${URL_PASSWORD}@127.0.0.1:9`,
    secrets: [URL_PASSWORD],
    tags: ["NetworkError", "InvalidRequestError"]
  },
  {
    name: "embeddings: 400 with the key in the error body",
    call: embed,
    replies: (t) => [json(400, t.errorBody(400, echo(t.key)))],
    tags: ["InvalidRequestError", "AuthenticationError", "PermissionDeniedError"],
    when: (t) => t.embeddings
  },
  {
    name: "embeddings: 200 whose JSON does not match the protocol, quoting the key",
    call: embed,
    replies: (t) => [json(200, t.badEmbeddings(echo(t.key)))],
    tags: ["ResponseDecodeError"],
    when: (t) => t.embeddings
  }
]

/** Every secret of a call: the key, its secret parts, and every credential the server received. */
const secretsOf = (target: Target, server: FakeServer.FakeServer): Array<string> => {
  const out = new Set<string>([target.key, ...target.secretParts])
  for (const request of server.requests) {
    for (const name of ["authorization", "x-api-key", "x-goog-api-key", "api-key"]) {
      const value = request.headers[name]
      if (value === undefined) continue
      out.add(value)
      const space = value.indexOf(" ")
      if (space > 0) out.add(value.slice(space + 1))
    }
  }
  return [...out]
}

const PIECE = 8

/** Every 8-character piece of every secret: a secret cut short is a leak too. */
const piecesOf = (secrets: ReadonlyArray<string>): Array<string> => {
  const out = new Set<string>()
  for (const secret of secrets) {
    if (secret.length <= PIECE) out.add(secret)
    for (let i = 0; i + PIECE <= secret.length; i++) out.add(secret.slice(i, i + PIECE))
  }
  return [...out]
}

/** The ways a user reads an error. */
const textsOfError = (error: unknown): Array<[string, string]> => [
  ["message", (error as Error).message],
  ["String", String(error)],
  ["JSON.stringify", JSON.stringify(error)],
  ["util.inspect", util.inspect(error, { depth: 10 })],
  ["stack", (error as Error).stack ?? ""],
  ["Cause.pretty(fail)", Cause.pretty(Cause.fail(error))]
]

const textsOfSpans = (spans: ReadonlyArray<RecordingTracer.RecordingTracer["spans"][number]>) => {
  const out: Array<[string, string]> = []
  for (const span of spans) {
    for (const [key, value] of span.attributes) {
      out.push([`span ${span.name} attribute ${key}`, typeof value === "string" ? value : util.inspect(value)])
    }
    if (span.status._tag === "Ended" && Exit.isFailure(span.status.exit)) {
      out.push([`span ${span.name} end`, Cause.pretty(span.status.exit.cause)])
    }
    const events = (span as unknown as { readonly events?: unknown }).events
    if (events !== undefined) out.push([`span ${span.name} events`, util.inspect(events, { depth: 10 })])
  }
  return out
}

/** What a promise rejected with; fails the test if it resolved. */
const rejectionOf = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error("expected a rejection")
}

/** The Promise API's calls, and the paths they are driven down. */
const promiseScenarios: ReadonlyArray<{
  readonly name: string
  readonly call: (client: Client) => Promise<unknown>
  readonly replies: (target: Target) => ReadonlyArray<FakeServer.Reply>
}> = [
  {
    name: "chat: 401 with the key in the error body",
    call: (client) => client.chat.completions.create(chatRequest),
    replies: (t) => [json(401, t.errorBody(401, echo(t.key)))]
  },
  {
    name: "chat: 200 whose JSON does not match the protocol",
    call: (client) => client.chat.completions.create(chatRequest),
    replies: (t) => [json(200, t.badCompletion(echo(t.key)))]
  },
  {
    name: "stream: an error event after a chunk",
    call: async (client) => {
      for await (const _ of await client.chat.completions.create({ ...chatRequest, stream: true })) {
        // drained
      }
    },
    replies: (t) => [streamed(t, [t.firstEvent, t.errorEvent(echo(t.key))])]
  },
  {
    name: "stream: a malformed event whose snippet cuts the key",
    call: async (client) => {
      for await (const _ of await client.chat.completions.create({ ...chatRequest, stream: true })) {
        // drained
      }
    },
    replies: (t) => [streamed(t, [t.firstEvent, t.malformedEvent(`${pad}${echo(t.key)}`)])]
  }
]

describe("SecretLeaks", () => {
  it("covers every provider", () => {
    assert.deepStrictEqual(targets.map((t) => t.name).sort(), [
      "aliyun",
      "anthropic",
      "deepseek",
      "gemini",
      "ollama",
      "openai",
      "openrouter",
      "zhipu"
    ])
  })

  // the transport's own path over `Http.layer`, and the generic one over any other `HttpClient`
  const clients: ReadonlyArray<readonly [string, Layer.Layer<Http.HttpClient>]> = [
    ["", Http.layer()],
    [" (a plain HttpClient)", FetchHttpClient.layer]
  ]

  for (const target of targets) {
    describe(target.name, () => {
      for (const scenario of promiseScenarios) {
        it(`Promise API: ${scenario.name}`, async () => {
          const server = await FakeServer.start()
          try {
            for (const reply of scenario.replies(target)) server.enqueue({ ...reply, echo: true })
            await using client = new Client(target.config(server.url))
            const error = await rejectionOf(scenario.call(client))
            assert.isTrue(isLlmError(error), `rejected with ${String(error)}`)
            assert.isAtLeast(server.requests.length, 1)
            const pieces = piecesOf(secretsOf(target, server))
            for (const [where, text] of textsOfError(error)) {
              for (const piece of pieces) {
                if (text.includes(piece)) assert.fail(`${where} leaks ${JSON.stringify(piece)}:\n${text}`)
              }
            }
          } finally {
            await server.close()
          }
        })
      }
      for (const scenario of scenarios) {
        if (scenario.when !== undefined && !scenario.when(target)) continue
        for (const [client, httpLayer] of clients) {
          it.scopedLive(`${scenario.name}${client}`, () =>
            Effect.gen(function*() {
              const server = yield* FakeServer.make()
              for (const reply of scenario.replies(target)) server.enqueue({ ...reply, echo: true })
              const { spans, tracer } = yield* RecordingTracer.make
              const logs: Array<string> = []
              const logger = Logger.make(({ annotations, message }) => {
                logs.push(util.inspect({ message, annotations: [...annotations] }, { depth: 10 }))
              })
              const exit = yield* scenario.call.pipe(
                Effect.provide(
                  target.layer(scenario.baseUrl ? scenario.baseUrl(server.url) : server.url, scenario.options ?? {})
                ),
                Effect.provide(httpLayer),
                Effect.withTracer(tracer),
                Effect.exit,
                Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
                Logger.withMinimumLogLevel(LogLevel.All)
              )
              assert.isTrue(Exit.isFailure(exit), "the call must fail")
              if (!Exit.isFailure(exit)) return
              const error = Option.getOrThrow(Cause.failureOption(exit.cause))
              assert.include(scenario.tags, error._tag, `ended in ${error._tag}: ${error.message}`)
              const secrets = [...secretsOf(target, server), ...(scenario.secrets ?? [])]
              if (scenario.baseUrl === undefined) {
                // the echo really happened: the server had a credential to send back
                assert.isAtLeast(server.requests.length, 1)
                assert.isAtLeast(secrets.length, target.name === "zhipu" ? 4 : 1)
              }

              const texts: Array<[string, string]> = [
                ...textsOfError(error),
                ["Cause.pretty(exit)", Cause.pretty(exit.cause)],
                ...textsOfSpans(spans),
                ...logs.map((line, i): [string, string] => [`log ${i}`, line])
              ]
              assert.isAtLeast(spans.length, 1, "the call made a span")
              const pieces = piecesOf(secrets)
              for (const [where, text] of texts) {
                for (const piece of pieces) {
                  if (text.includes(piece)) {
                    assert.fail(`${where} leaks ${JSON.stringify(piece)}:\n${text}`)
                  }
                }
              }
              // the scrubbed texts still say what happened
              assert.notStrictEqual(error.message, "")
            }))
        }
      }
    })
  }
})
