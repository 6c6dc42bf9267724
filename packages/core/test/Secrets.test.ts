import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as util from "node:util"
import { ProviderError, RateLimitError, RetryExhausted } from "../src/LlmError.js"
import * as LlmProvider from "../src/LlmProvider.js"
import * as Secrets from "../src/Secrets.js"
import { recordingTracer } from "./tracing.js"

const KEY = "sk-live-9f8e7d6c5b4a"

describe("Secrets", () => {
  it("replaces a key as it is, JSON-escaped and URL-encoded, longest first", () => {
    const odd = "k\"ey/+=&\\x"
    const { scrub } = Secrets.make([Redacted.make(KEY), odd, "sk-live"])
    assert.strictEqual(scrub(`a ${KEY} b sk-live c`), "a [REDACTED] b [REDACTED] c")
    assert.strictEqual(scrub(JSON.stringify({ k: odd })), "{\"k\":\"[REDACTED]\"}")
    assert.strictEqual(scrub(`?key=${encodeURIComponent(odd)}`), "?key=[REDACTED]")
  })

  it("replaces the start of a secret cut short at an ellipsis or at the end of the text", () => {
    const { scrub } = Secrets.make([KEY])
    assert.strictEqual(scrub(`quoted: ${KEY.slice(0, 11)}…`), "quoted: [REDACTED]…")
    assert.strictEqual(scrub(`quoted: ${KEY.slice(0, 6)}… (HTTP 500)`), "quoted: [REDACTED]… (HTTP 500)")
    assert.strictEqual(scrub(`tail ${KEY.slice(0, 9)}`), "tail [REDACTED]")
    // three characters say nothing; a prefix in the middle of a text was not cut there
    assert.strictEqual(scrub("ends in sk-"), "ends in sk-")
    assert.strictEqual(scrub(`${KEY.slice(0, 9)} and more`), `${KEY.slice(0, 9)} and more`)
  })

  it("ignores empty secrets, and with none returns texts and errors as they are", () => {
    const secrets = Secrets.make(["", undefined])
    assert.isTrue(secrets.isEmpty())
    const error = new ProviderError({ provider: "p", message: "m" })
    assert.strictEqual(secrets.scrubError(error), error)
    assert.strictEqual(secrets.scrub("unchanged"), "unchanged")
  })

  it("takes the credentials of sensitive headers, after their scheme, and only those long enough", () => {
    const { scrub } = Secrets.make([], {
      headers: {
        authorization: "Bearer gateway-token-123",
        "x-goog-api-key": "AIzaSy-google-key",
        "proxy-authorization": `Basic ${btoa("user:hunter2hunter2")}`,
        "x-custom-token": "short",
        "openai-organization": "org-public-1234"
      }
    })
    assert.strictEqual(scrub("t=gateway-token-123"), "t=[REDACTED]")
    assert.strictEqual(scrub("AIzaSy-google-key"), "[REDACTED]")
    assert.strictEqual(scrub("pw hunter2hunter2"), "pw [REDACTED]")
    assert.strictEqual(scrub("short org-public-1234"), "short org-public-1234")
    assert.isTrue(Secrets.isSensitiveHeader("x-api-key"))
    assert.isTrue(Secrets.isSensitiveHeader("api-key"))
    assert.isTrue(Secrets.isSensitiveHeader("Authorization"))
    assert.isFalse(Secrets.isSensitiveHeader("anthropic-version"))
  })

  it("takes the password of a URL, raw and decoded, and none from a URL without one", () => {
    assert.deepStrictEqual(Secrets.fromUrl("redis://default:p%40ss-word@localhost:6379/0"), [
      "p%40ss-word",
      "p@ss-word"
    ])
    assert.deepStrictEqual(Secrets.fromUrl("rediss://token-only@host"), ["token-only"])
    assert.deepStrictEqual(Secrets.fromUrl("redis://localhost:6379"), [])
    assert.deepStrictEqual(Secrets.fromUrl("not a url"), [])
    const { scrub } = Secrets.make([], { urls: [Redacted.make("redis://u:s3cr3t-pass@h:1")] })
    assert.strictEqual(scrub("WRONGPASS s3cr3t-pass"), "WRONGPASS [REDACTED]")
  })

  it("learns derived secrets, keeping the most recent maxDerived", () => {
    const secrets = Secrets.make([KEY], { maxDerived: 2 })
    secrets.add("token-one-aaaa")
    secrets.add(Redacted.make("token-two-bbbb"))
    assert.strictEqual(secrets.scrub("token-one-aaaa token-two-bbbb"), "[REDACTED] [REDACTED]")
    secrets.add("token-three-cc")
    assert.strictEqual(secrets.scrub("token-one-aaaa token-three-cc"), "token-one-aaaa [REDACTED]")
    // the key itself is never dropped
    assert.strictEqual(secrets.scrub(KEY), "[REDACTED]")
  })

  it("scrubs every string field of an error and of its lastError, keeping its class and where it was made", () => {
    const secrets = Secrets.make([KEY])
    const last = new RateLimitError({
      provider: "p",
      message: `p: slow down ${KEY}`,
      requestId: KEY,
      code: `c-${KEY}`,
      body: `{"k":"${KEY}"}`
    })
    const error = new RetryExhausted({
      provider: "p",
      message: `p: gave up: ${last.message}`,
      attempts: 2,
      lastError: last
    })
    const clean = secrets.scrubError(error)
    assert.instanceOf(clean, RetryExhausted)
    assert.instanceOf(clean.lastError, RateLimitError)
    assert.strictEqual(clean.attempts, 2)
    assert.strictEqual(clean.lastError.requestId, "[REDACTED]")
    assert.strictEqual(clean.lastError.code, "c-[REDACTED]")
    for (
      const text of [
        clean.message,
        String(clean),
        JSON.stringify(clean),
        util.inspect(clean, { depth: 10 }),
        clean.stack ?? "",
        Cause.pretty(Cause.fail(clean))
      ]
    ) {
      assert.notInclude(text, KEY)
    }
    assert.include(clean.stack ?? "", "Secrets.test.ts")
    // an error with nothing to scrub is the same value
    const plain = new ProviderError({ provider: "p", message: "fine" })
    assert.strictEqual(secrets.scrubError(plain), plain)
    // anything else is not ours to change
    const foreign = { _tag: "X", message: KEY }
    assert.strictEqual(secrets.scrubError(foreign), foreign)
  })

  it.effect("LlmProvider.make scrubs a provider's errors, and what the response puts in the call's span", () =>
    Effect.gen(function*() {
      const secrets = Secrets.make([KEY])
      let fail = false
      const provider = LlmProvider.make({
        info: {
          name: "p",
          defaultModel: "m",
          capabilities: { streaming: true, tools: true, embeddings: true, vision: true, jsonSchema: true }
        },
        retry: false,
        secrets,
        chat: () =>
          fail
            ? Effect.fail(new ProviderError({ provider: "p", message: `p: echoed ${KEY}`, requestId: KEY }))
            : Effect.succeed({
              id: `id-${KEY}`,
              object: "chat.completion" as const,
              created: 0,
              model: `model-${KEY}`,
              choices: [{
                index: 0,
                message: { role: "assistant" as const, content: "ok" },
                finish_reason: "stop" as const
              }]
            }),
        stream: () => Stream.fail(new ProviderError({ provider: "p", message: `p: event ${KEY}` }))
      })
      const { spans, tracer } = yield* recordingTracer
      const hi = { messages: [{ role: "user" as const, content: "hi" }] }
      yield* provider.chat(hi).pipe(Effect.withTracer(tracer))
      fail = true
      const failed = yield* Effect.flip(provider.chat(hi))
      const streamed = yield* Effect.flip(Stream.runDrain(provider.stream(hi)))
      assert.strictEqual(failed.message, "p: echoed [REDACTED]")
      assert.strictEqual(failed.requestId, "[REDACTED]")
      assert.strictEqual(streamed.message, "p: event [REDACTED]")
      const attributes = spans.find((span) => span.name === "LlmProvider.chat")!.attributes
      assert.strictEqual(attributes.get("gen_ai.response.id"), "id-[REDACTED]")
      assert.strictEqual(attributes.get("gen_ai.response.model"), "model-[REDACTED]")
    }))
})
