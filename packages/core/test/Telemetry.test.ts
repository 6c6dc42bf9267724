import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import type * as Tracer from "effect/Tracer"
import type { ChatCompletionRequest } from "../src/Domain.js"
import { ProviderError } from "../src/LlmError.js"
import * as LlmProvider from "../src/LlmProvider.js"
import * as Telemetry from "../src/Telemetry.js"
import { MockProvider } from "../src/testing.js"
import { recordingTracer } from "./tracing.js"

const hi: ChatCompletionRequest = { messages: [{ role: "user", content: "hi there" }] }
const usage = { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 }

const tagged = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  tags: Record<string, string>
): Metric.Metric<Type, In, Out> =>
  Object.entries(tags).reduce((m, [key, value]) => Metric.tagged(m, key, value), metric)

/** The span the provider's own code runs under. */
const spanInside = (name: string) => {
  let seen: Option.Option<Tracer.AnySpan> = Option.none()
  const info: LlmProvider.ProviderInfo = {
    name,
    defaultModel: "m",
    capabilities: { streaming: true, tools: true, embeddings: true, vision: true, jsonSchema: true }
  }
  const provider = LlmProvider.make({
    info,
    retry: false,
    chat: () =>
      Effect.map(Effect.option(Effect.currentSpan), (span) => {
        seen = span
        return {
          id: "c-1",
          object: "chat.completion" as const,
          created: 0,
          model: "m",
          choices: [{
            index: 0,
            message: { role: "assistant" as const, content: "ok" },
            finish_reason: "stop" as const
          }]
        }
      }),
    stream: () => Stream.empty
  })
  return { provider, seen: () => seen }
}

describe("Telemetry", () => {
  it.scoped("a stream's span carries the response model, id and usage; the stream records its tokens", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recordingTracer
      const { provider } = yield* MockProvider.make([MockProvider.stream("one two three", { usage })], {
        name: "tel-stream"
      })
      const chunks = yield* Stream.runCollect(provider.stream(hi)).pipe(Effect.withTracer(tracer))
      assert.isAbove(chunks.length, 3)
      const span = spans.find((s) => s.name === "LlmProvider.stream")
      assert.isDefined(span)
      const attributes = span!.attributes
      assert.strictEqual(attributes.get("gen_ai.provider.name"), "tel-stream")
      assert.strictEqual(attributes.get("gen_ai.operation.name"), "chat")
      assert.strictEqual(attributes.get("gen_ai.request.model"), "mock-model")
      assert.strictEqual(attributes.get("gen_ai.response.model"), "mock-model")
      assert.isString(attributes.get("gen_ai.response.id"))
      assert.strictEqual(attributes.get("gen_ai.usage.input_tokens"), 7)
      assert.strictEqual(attributes.get("gen_ai.usage.output_tokens"), 5)
      assert.strictEqual(span!.status._tag, "Ended")
      const output = tagged(Telemetry.tokens, { provider: "tel-stream", model: "mock-model", type: "output" })
      assert.strictEqual((yield* Metric.value(output)).count, 5)
      const ok = tagged(Telemetry.requests, {
        provider: "tel-stream",
        model: "mock-model",
        operation: "stream",
        outcome: "ok"
      })
      assert.strictEqual((yield* Metric.value(ok)).count, 1)
    }))

  it.effect("under a tracer, a provider's code runs inside the call's span", () =>
    Effect.gen(function*() {
      const { tracer } = yield* recordingTracer
      const { provider, seen } = spanInside("tel-inside")
      yield* provider.chat(hi).pipe(Effect.withSpan("caller"), Effect.withTracer(tracer))
      const span = seen()
      assert.isTrue(Option.isSome(span) && span.value._tag === "Span" && span.value.name === "LlmProvider.chat")
    }))

  it.effect("under Effect's built-in tracer no span is made for the call: its spans are never exported", () =>
    Effect.gen(function*() {
      const { provider, seen } = spanInside("tel-builtin")
      yield* provider.chat(hi).pipe(Effect.withSpan("caller"))
      const span = seen()
      assert.isTrue(Option.isSome(span) && span.value._tag === "Span" && span.value.name === "caller")
      // the metrics are recorded all the same
      const ok = tagged(Telemetry.requests, { provider: "tel-builtin", model: "m", operation: "chat", outcome: "ok" })
      assert.strictEqual((yield* Metric.value(ok)).count, 1)
    }))

  it.effect("the caller's metric tags are added to every metric of the call", () =>
    Effect.gen(function*() {
      const { provider } = yield* MockProvider.make([MockProvider.reply({ content: "ok", usage })], {
        name: "tel-tags"
      })
      yield* provider.chat(hi).pipe(Effect.tagMetrics("tenant", "acme"))
      const withTenant = tagged(Telemetry.requests, {
        provider: "tel-tags",
        model: "mock-model",
        operation: "chat",
        outcome: "ok",
        tenant: "acme"
      })
      assert.strictEqual((yield* Metric.value(withTenant)).count, 1)
      const input = tagged(Telemetry.tokens, {
        provider: "tel-tags",
        model: "mock-model",
        type: "input",
        tenant: "acme"
      })
      assert.strictEqual((yield* Metric.value(input)).count, 7)
    }))

  it.effect("a failure counts under its tag, an interruption as interrupted, with the call's duration", () =>
    Effect.gen(function*() {
      const failure = new ProviderError({ provider: "tel-out", message: "503", status: 503 })
      const { provider } = yield* MockProvider.make([
        MockProvider.fail(failure, { delay: "2 seconds" }),
        MockProvider.reply("slow", { delay: "1 minute" })
      ], { name: "tel-out" })
      const failed = yield* Effect.fork(Effect.either(provider.chat(hi)))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(failed)
      const slow = yield* Effect.fork(provider.chat(hi))
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.interrupt(slow)
      const outcome = (outcome: string) =>
        Metric.value(
          tagged(Telemetry.requests, { provider: "tel-out", model: "mock-model", operation: "chat", outcome })
        )
      assert.strictEqual((yield* outcome("ProviderError")).count, 1)
      assert.strictEqual((yield* outcome("interrupted")).count, 1)
      const latency = yield* Metric.value(tagged(Telemetry.latency, { provider: "tel-out", operation: "chat" }))
      assert.strictEqual(latency.count, 2)
      assert.strictEqual(latency.sum, 5000)
    }))

  it.effect("a retried call and a retried stream count their retries", () =>
    Effect.gen(function*() {
      const down = () => new ProviderError({ provider: "tel-retry", message: "503", status: 503 })
      const { provider } = yield* MockProvider.make([
        MockProvider.fail(down()),
        MockProvider.reply("ok"),
        MockProvider.fail(down()),
        MockProvider.fail(down()),
        MockProvider.stream("ok")
      ], { name: "tel-retry", retry: { initialDelay: "1 second", jitter: false } })
      const retried = tagged(Telemetry.retries, { provider: "tel-retry" })
      const chat = yield* Effect.fork(provider.chat(hi))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(chat)
      assert.strictEqual((yield* Metric.value(retried)).count, 1)
      const stream = yield* Effect.fork(Stream.runCollect(provider.stream(hi)))
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("2 seconds")
      const chunks = yield* Fiber.join(stream)
      assert.isAbove(chunks.length, 0)
      assert.strictEqual((yield* Metric.value(retried)).count, 3)
    }))

  it.effect("cache lookups are counted by provider and result", () =>
    Effect.gen(function*() {
      yield* Telemetry.recordCacheLookup("tel-cache", true)
      yield* Telemetry.recordCacheLookup("tel-cache", true)
      yield* Telemetry.recordCacheLookup("tel-cache", false)
      const hits = yield* Metric.value(tagged(Telemetry.cacheLookups, { provider: "tel-cache", result: "hit" }))
      const misses = yield* Metric.value(tagged(Telemetry.cacheLookups, { provider: "tel-cache", result: "miss" }))
      assert.deepStrictEqual([hits.count, misses.count], [2, 1])
    }))
})
