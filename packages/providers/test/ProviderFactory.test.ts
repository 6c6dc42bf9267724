import { assert, describe, it } from "@effect/vitest"
import type { ChatCompletion } from "@llm-api-router/core"
import { Http, InvalidRequestError, LlmProvider } from "@llm-api-router/core"
import { OpenAiCompatible } from "@llm-api-router/providers"
import { Client } from "@llm-api-router/providers/Client"
import type * as ProviderConfig from "@llm-api-router/providers/ProviderConfig"
import * as ProviderFactory from "@llm-api-router/providers/ProviderFactory"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"

const hello = { messages: [{ role: "user" as const, content: "hi" }] }

const noEnv = ConfigProvider.fromMap(new Map())

/** Builds the provider picked by `config` and fails with the layer's error, if any. */
const buildError = (config: ProviderConfig.ProviderConfig) =>
  Layer.build(ProviderFactory.layer(config)).pipe(
    Effect.scoped,
    Effect.provide(Http.layer()),
    Effect.withConfigProvider(noEnv),
    Effect.flip
  )

const chatThrough = (config: ProviderConfig.ProviderConfig) =>
  LlmProvider.chat(hello).pipe(Effect.provide(ProviderFactory.layer(config)), Effect.provide(Http.layer()))

const echoCompletion = (content: string): ChatCompletion => ({
  id: "echo-1",
  object: "chat.completion",
  created: 0,
  model: "echo",
  choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }]
})

describe("ProviderFactory", () => {
  it("lists the built-in providers", () => {
    const names = ProviderFactory.providers()
    assert.include(names, "openai")
    assert.include(names, "openai-compatible")
  })

  it.effect("an unknown provider fails the layer naming provider, and listing the known ones", () =>
    Effect.gen(function*() {
      const error = yield* buildError({ provider: "no-such-provider" })
      assert.instanceOf(error, InvalidRequestError)
      assert.strictEqual(error.param, "provider")
      assert.strictEqual(error.source, "client")
      assert.include(error.message, "no-such-provider")
      for (const name of ProviderFactory.providers()) assert.include(error.message, JSON.stringify(name))
    }))

  it.effect("openai-compatible without a baseUrl is rejected naming baseUrl", () =>
    Effect.gen(function*() {
      const error = yield* buildError({ provider: "openai-compatible" })
      assert.instanceOf(error, InvalidRequestError)
      assert.strictEqual(error.param, "baseUrl")
    }))

  it.effect("openai without a key anywhere is rejected naming apiKey and its variable", () =>
    Effect.gen(function*() {
      const error = yield* buildError({ provider: "openai" })
      assert.strictEqual(error.param, "apiKey")
      assert.include(error.message, "OPENAI_API_KEY")
    }))

  it.scopedLive("openai-compatible needs no key and sends none", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make({ handler: FakeOpenAi.responder() })
      const res = yield* chatThrough({ provider: "openai-compatible", baseUrl: `${server.url}/v1`, defaultModel: "m" })
      assert.strictEqual(res.choices[0]?.message.content, "Echo: hi")
      assert.notProperty(server.requests[0]!.headers, "authorization")
    }))

  it.scopedLive("openai reads a missing key through the ConfigProvider in context", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make({ handler: FakeOpenAi.responder() })
      yield* chatThrough({ provider: "openai", baseUrl: `${server.url}/v1`, defaultModel: "m", retry: false }).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OPENAI_API_KEY", "sk-from-config"]])))
      )
      assert.strictEqual(server.requests[0]!.headers.authorization, "Bearer sk-from-config")
    }))

  it.effect("a registered provider is picked by name, and receives the validated config", () =>
    Effect.gen(function*() {
      const seen: Array<ProviderConfig.Resolved> = []
      ProviderFactory.register("echo-test", (config) => {
        seen.push(config)
        return Layer.succeed(
          LlmProvider.LlmProvider,
          LlmProvider.make({
            info: {
              name: "echo-test",
              defaultModel: config.defaultModel,
              capabilities: { streaming: true, tools: true, embeddings: false, vision: true, jsonSchema: true }
            },
            chat: (request) => Effect.succeed(echoCompletion(`${request.model}: ${request.messages.length}`)),
            stream: () => Stream.never
          })
        )
      }, { apiKeyEnv: "ECHO_TEST_KEY" })
      assert.include(ProviderFactory.providers(), "echo-test")

      const config = { provider: "echo-test", apiKey: "k-echo", defaultModel: "echo-1", timeout: "2 seconds" } as const
      const res = yield* chatThrough(config)
      assert.strictEqual(res.choices[0]?.message.content, "echo-1: 1")
      const resolved = seen[0]!
      assert.isTrue(Redacted.isRedacted(resolved.apiKey))
      assert.strictEqual(Redacted.value(resolved.apiKey!), "k-echo")
      assert.isTrue(Duration.equals(resolved.timeout!.total!, Duration.seconds(2)))

      // The key comes from the registration's variable when not given.
      const missing = yield* buildError({ provider: "echo-test" })
      assert.strictEqual(missing.param, "apiKey")
      assert.include(missing.message, "ECHO_TEST_KEY")

      // The Promise facade picks it up too.
      const client = new Client(config)
      const viaClient = yield* Effect.promise(() => client.chat.completions.create(hello))
      assert.strictEqual(viaClient.choices[0]?.message.content, "echo-1: 1")
      yield* Effect.promise(() => client.close())
    }))

  it.scopedLive("a registration can reuse a protocol module through commonOptions", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make({ handler: FakeOpenAi.responder() })
      ProviderFactory.register("gateway-test", (config) =>
        OpenAiCompatible.layer({
          ...ProviderFactory.commonOptions(config),
          name: "gateway-test",
          baseUrl: config.baseUrl ?? "https://gateway.invalid/v1",
          headers: { ...config.headers, "x-gateway": "yes" }
        }))
      const res = yield* chatThrough({
        provider: "gateway-test",
        apiKey: "gw-key",
        baseUrl: `${server.url}/v1`,
        defaultModel: "m",
        headers: { "x-user": "u" }
      })
      assert.strictEqual(res.choices[0]?.message.content, "Echo: hi")
      const request = server.requests[0]!
      assert.strictEqual(request.headers["x-gateway"], "yes")
      assert.strictEqual(request.headers["x-user"], "u")
      assert.strictEqual(request.headers.authorization, "Bearer gw-key")
    }))

  // Last: the table is process-global, so this replaces the built-in for the rest of the file.
  it.effect("register replaces a built-in", () =>
    Effect.gen(function*() {
      ProviderFactory.register("openai-compatible", () =>
        Layer.succeed(
          LlmProvider.LlmProvider,
          LlmProvider.make({
            info: {
              name: "replaced",
              defaultModel: "r",
              capabilities: { streaming: true, tools: true, embeddings: false, vision: true, jsonSchema: true }
            },
            chat: () => Effect.succeed(echoCompletion("replaced")),
            stream: () => Stream.never
          })
        ), { requiresApiKey: false, requiresBaseUrl: true })
      const res = yield* chatThrough({ provider: "openai-compatible", baseUrl: "http://127.0.0.1:9/v1" })
      assert.strictEqual(res.choices[0]?.message.content, "replaced")
    }))
})
