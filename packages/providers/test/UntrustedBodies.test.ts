/**
 * Untrusted bodies on every protocol family (issue 12 §7-8), over a real loopback socket: JSON nested 100,000 deep in
 * a body and in a stream event, a body and a stream event without end past their caps (small caps, bodies made
 * lazily as the client reads), and the next call on the same pool succeeding. Plus the phase a bare `timeout`
 * reports.
 */
import { assert, describe, it } from "@effect/vitest"
import type { ChatCompletionRequest, HttpTransport, LlmError } from "@llm-api-router/core"
import { Http, LlmProvider } from "@llm-api-router/core"
import { Aliyun, Anthropic, Gemini, Ollama, OpenAi } from "@llm-api-router/providers"
import { Client } from "@llm-api-router/providers/Client"
import {
  FakeAnthropic,
  FakeDashScope,
  FakeGemini,
  FakeOllama,
  FakeOpenAi,
  FakeServer
} from "@llm-api-router/providers/testing"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"

const apiKey = Redacted.make("sk-untrusted-bodies-test")
const hello: ChatCompletionRequest = { model: "m-1", messages: [{ role: "user", content: "hi" }] }
const KiB = 1024
const small: HttpTransport.Limits = { body: 64 * KiB, event: 64 * KiB }

interface Family {
  readonly name: string
  readonly layer: (
    url: string,
    limits?: HttpTransport.Limits
  ) => Layer.Layer<LlmProvider.LlmProvider, unknown, Http.HttpClient>
  readonly responder: () => FakeServer.Handler
  /** One stream event carrying `payload` in the family's framing. */
  readonly frame: (payload: string) => string
  /** What comes before the payload of an event (`data: `), for a payload that never ends. */
  readonly prefix: string
  readonly contentType: string
}

const sse = (payload: string) => `data: ${payload}\n\n`

const families: ReadonlyArray<Family> = [
  {
    name: "OpenAI-compatible",
    layer: (url, limits) => OpenAi.layer({ apiKey, baseUrl: `${url}/v1`, retry: false, limits }),
    responder: () => FakeOpenAi.responder(),
    frame: sse,
    prefix: "data: ",
    contentType: "text/event-stream"
  },
  {
    name: "Anthropic",
    layer: (url, limits) => Anthropic.layer({ apiKey, baseUrl: `${url}/v1`, retry: false, limits }),
    responder: () => FakeAnthropic.responder(),
    frame: (payload) => `event: message_start\ndata: ${payload}\n\n`,
    prefix: "event: message_start\ndata: ",
    contentType: "text/event-stream"
  },
  {
    name: "Gemini",
    layer: (url, limits) => Gemini.layer({ apiKey, baseUrl: `${url}/v1beta`, retry: false, limits }),
    responder: () => FakeGemini.responder(),
    frame: (payload) => `data: ${payload}\r\n\r\n`,
    prefix: "data: ",
    contentType: "text/event-stream"
  },
  {
    name: "DashScope",
    layer: (url, limits) => Aliyun.layer({ apiKey, baseUrl: `${url}/api/v1`, retry: false, limits }),
    responder: () => FakeDashScope.responder(),
    frame: (payload) => `id:1\nevent:result\n:HTTP_STATUS/200\ndata:${payload}\n\n`,
    prefix: "id:1\nevent:result\ndata:",
    contentType: "text/event-stream"
  },
  {
    name: "Ollama",
    layer: (url, limits) => Ollama.layer({ baseUrl: url, retry: false, limits }),
    responder: () => FakeOllama.responder(),
    frame: (payload) => `${payload}\n`,
    prefix: "",
    contentType: "application/x-ndjson"
  }
]

const deepArray = "[".repeat(100_000) + "]".repeat(100_000)
// the deep part inside an envelope that is otherwise each protocol's own
const deepInEnvelope = JSON.stringify({
  id: "x",
  choices: [{ index: 0, message: { role: "assistant", content: "placeholder" }, finish_reason: "stop" }],
  candidates: [{ content: { parts: [{ text: "placeholder" }] } }],
  output: { text: "placeholder" },
  message: { role: "assistant", content: "placeholder" },
  type: "message_start"
}).replaceAll("\"placeholder\"", deepArray)

/** Pieces of `piece` without end: a line that never finishes. */
const forever = (first: string, piece: string) => () => {
  let started = false
  return {
    next: (): IteratorResult<string> => {
      if (!started) {
        started = true
        return { done: false, value: first }
      }
      return { done: false, value: piece }
    }
  }
}

const run = <A, E>(
  family: Family,
  server: FakeServer.FakeServer,
  f: (llm: LlmProvider.Service) => Effect.Effect<A, E>,
  limits?: HttpTransport.Limits
): Effect.Effect<A, unknown> =>
  Effect.flatMap(LlmProvider.LlmProvider, f).pipe(
    Effect.provide(family.layer(server.url, limits)),
    Effect.provide(Http.layer())
  )

/** The error `effect` fails with; a success fails the test. */
const failure = <A>(effect: Effect.Effect<A, LlmError>): Effect.Effect<LlmError> =>
  Effect.matchEffect(effect, {
    onFailure: Effect.succeed,
    onSuccess: () => Effect.dieMessage("expected the call to fail")
  })

/** Runs `failing` and then a normal call on one provider and one pool: the pool must still serve. */
const thenNext = <A>(
  family: Family,
  server: FakeServer.FakeServer,
  failing: (llm: LlmProvider.Service) => Effect.Effect<A, LlmError>,
  limits?: HttpTransport.Limits
) =>
  run(family, server, (llm) =>
    Effect.gen(function*() {
      const error = yield* failure(failing(llm))
      server.setHandler(family.responder())
      const next = yield* llm.chat(hello)
      const streamed = yield* Stream.runCollect(llm.stream(hello))
      return { error, next, streamed }
    }), limits)

for (const family of families) {
  describe(`untrusted bodies: ${family.name}`, () => {
    it.scopedLive("100,000-deep JSON as a body is ResponseDecodeError, and the next calls succeed", () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue({ headers: { "content-type": "application/json" }, body: deepArray })
        const { error, next, streamed } = yield* thenNext(family, server, (llm) => llm.chat(hello))
        assert.strictEqual(error._tag, "ResponseDecodeError")
        assert.include(error.message, "nested deeper than 256 levels")
        assert.strictEqual(next.choices.length, 1)
        assert.isAbove(Chunk.size(streamed), 0)
      }))

    it.scopedLive("100,000-deep JSON inside a valid envelope is ResponseDecodeError", () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue({ headers: { "content-type": "application/json" }, body: deepInEnvelope })
        const error = yield* run(family, server, (llm) => failure(llm.chat(hello)))
        assert.strictEqual(error._tag, "ResponseDecodeError")
      }))

    it.scopedLive("100,000-deep JSON in a stream event is ResponseDecodeError, not a defect", () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue({ headers: { "content-type": family.contentType }, chunks: [family.frame(deepArray)] })
        const { error, next } = yield* thenNext(family, server, (llm) => Stream.runDrain(llm.stream(hello)))
        assert.strictEqual(error._tag, "ResponseDecodeError")
        assert.include(error.message, "nested deeper than 256 levels")
        assert.strictEqual(next.choices.length, 1)
        server.setHandler(undefined)
        server.enqueue({ headers: { "content-type": family.contentType }, chunks: [family.frame(deepInEnvelope)] })
        const inEnvelope = yield* run(family, server, (llm) => failure(Stream.runDrain(llm.stream(hello))))
        assert.strictEqual(inEnvelope._tag, "ResponseDecodeError")
      }))

    it.scopedLive("a stream event without end fails at limits.event, the socket closes, the next calls succeed", () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue({
          headers: { "content-type": family.contentType },
          generate: forever(family.prefix, "x".repeat(4 * KiB))
        })
        const { error, next, streamed } = yield* thenNext(
          family,
          server,
          (llm) => Stream.runDrain(llm.stream(hello)),
          small
        )
        assert.strictEqual(error._tag, "ResponseDecodeError")
        assert.include(error.message, "longer than 65,536 characters (limits.event)")
        yield* Effect.promise(() => server.awaitClientClose(1))
        assert.strictEqual(next.choices.length, 1)
        assert.isAbove(Chunk.size(streamed), 0)
      }))

    it.scopedLive("a body without end fails at limits.body, the socket closes, the next calls succeed", () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue({
          headers: { "content-type": "application/json" },
          generate: forever("{\"id\":\"", "x".repeat(4 * KiB))
        })
        const { error, next } = yield* thenNext(family, server, (llm) => llm.chat(hello), small)
        assert.strictEqual(error._tag, "ResponseDecodeError")
        assert.include(error.message, "larger than 64 KiB (limits.body)")
        yield* Effect.promise(() => server.awaitClientClose(1))
        assert.strictEqual(next.choices.length, 1)
      }))
  })
}

describe("untrusted bodies through the Client", () => {
  it("limits in the config reach the transport; a bad one is refused naming the field", async () => {
    const server = await FakeServer.start()
    try {
      server.enqueue({ headers: { "content-type": "application/json" }, generate: forever("[", "1,".repeat(2048)) })
      await using client = new Client({
        provider: "openai",
        apiKey: "sk-test",
        baseUrl: `${server.url}/v1`,
        retry: false,
        limits: { body: 64 * KiB }
      })
      const error = await client.chat.completions.create(hello).then(() => undefined, (e: unknown) => e)
      assert.strictEqual((error as LlmError)._tag, "ResponseDecodeError")
      assert.include((error as LlmError).message, "limits.body")
      server.setHandler(FakeOpenAi.responder())
      const next = await client.chat.completions.create(hello)
      assert.strictEqual(next.choices.length, 1)
    } finally {
      await server.close()
    }
    assert.throws(
      () => new Client({ provider: "openai", apiKey: "sk-test", limits: { body: -1 } }),
      /limits\.body/
    )
  })

  it("a bare timeout is reported as total, through the Client and through a provider's layer", async () => {
    const server = await FakeServer.start()
    try {
      server.setHandler(() => ({ hang: true }))
      await using client = new Client({
        provider: "openai",
        apiKey: "sk-test",
        baseUrl: `${server.url}/v1`,
        retry: false,
        timeout: 80
      })
      const error = await client.chat.completions.create(hello).then(() => undefined, (e: unknown) => e)
      assert.strictEqual((error as LlmError)._tag, "TimeoutError")
      assert.strictEqual((error as { phase?: string }).phase, "total")
      const viaLayer = await Effect.runPromise(
        Effect.flip(Effect.flatMap(LlmProvider.LlmProvider, (llm) => llm.chat(hello))).pipe(
          Effect.provide(OpenAi.layer({ apiKey, baseUrl: `${server.url}/v1`, retry: false, timeout: 80 })),
          Effect.provide(Http.layer())
        )
      )
      assert.strictEqual(viaLayer._tag === "TimeoutError" && viaLayer.phase, "total")
    } finally {
      await server.close()
    }
  })
})
