import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import type { ChatCompletionRequest } from "../src/Domain.js"
import { ProviderError, RateLimitError } from "../src/LlmError.js"
import * as Router from "../src/Router.js"
import { MockProvider } from "../src/testing.js"

const ask = (model?: string): ChatCompletionRequest => ({
  messages: [{ role: "user", content: "hi there" }],
  ...(model !== undefined ? { model } : {})
})

const down = (name: string) => new ProviderError({ provider: name, message: "503 overloaded", status: 503 })

const always = (step: MockProvider.Step): MockProvider.Script => () => step

const member = (name: string, defaultModel: string, script: MockProvider.Script = always(MockProvider.reply(name))) =>
  MockProvider.make(script, { name, defaultModel })

const modelsAsked = (mock: MockProvider.Service) =>
  Effect.map(mock.calls, (calls) => calls.map((call) => call.request.model))

const contentOf = (
  completion: { readonly choices: ReadonlyArray<{ readonly message: { readonly content: unknown } }> }
) => completion.choices[0]!.message.content

describe("Router models", () => {
  it.scoped("an alias goes to each member under its own name, on fallback too", () =>
    Effect.gen(function*() {
      const a = yield* member("openai", "gpt-4o-mini", always(MockProvider.fail(down("openai"))))
      const b = yield* member("deepseek", "deepseek-v4-flash")
      const { provider } = yield* Router.make([
        Router.member("openai", a.provider, { models: { fast: "gpt-4o-mini", smart: "gpt-4o" } }),
        Router.member("deepseek", b.provider, { models: { fast: "deepseek-v4-flash", smart: "deepseek-v4-pro" } })
      ])
      assert.strictEqual(contentOf(yield* provider.chat(ask("smart"))), "deepseek")
      assert.deepStrictEqual(yield* modelsAsked(a.mock), ["gpt-4o"])
      assert.deepStrictEqual(yield* modelsAsked(b.mock), ["deepseek-v4-pro"])
    }))

  it.scoped("a model only one member serves goes only to it: its failure does not fall back to the others", () =>
    Effect.gen(function*() {
      const a = yield* member("openai", "gpt-4o-mini", always(MockProvider.fail(down("openai"))))
      const b = yield* member("deepseek", "deepseek-v4-flash")
      const { provider } = yield* Router.make([
        Router.member("openai", a.provider, { models: ["gpt-4o-mini", "gpt-4o"] }),
        Router.member("deepseek", b.provider, { models: ["deepseek-v4-flash"] })
      ])
      const error = yield* Effect.flip(provider.chat(ask("gpt-4o-mini")))
      assert.strictEqual(error._tag, "ProviderError")
      assert.strictEqual(error.provider, "openai")
      assert.deepStrictEqual(yield* modelsAsked(b.mock), [])
      // DeepSeek's own name reaches only DeepSeek.
      assert.strictEqual(contentOf(yield* provider.chat(ask("deepseek-v4-flash"))), "deepseek")
      assert.strictEqual((yield* a.mock.calls).length, 1)
    }))

  it.scoped("a request without a model goes to every member, each with its default model", () =>
    Effect.gen(function*() {
      const a = yield* member("openai", "gpt-4o-mini", always(MockProvider.fail(down("openai"))))
      const b = yield* member("deepseek", "deepseek-v4-flash")
      const { provider } = yield* Router.make([
        Router.member("openai", a.provider, { models: { fast: "gpt-4o" } }),
        Router.member("deepseek", b.provider, { models: { fast: "deepseek-v4-pro" } })
      ])
      assert.strictEqual(contentOf(yield* provider.chat(ask())), "deepseek")
      assert.deepStrictEqual(yield* modelsAsked(a.mock), ["gpt-4o-mini"])
      assert.deepStrictEqual(yield* modelsAsked(b.mock), ["deepseek-v4-flash"])
    }))

  it.scoped("a model no member serves fails before any member is asked, naming the model", () =>
    Effect.gen(function*() {
      const a = yield* member("openai", "gpt-4o-mini")
      const b = yield* member("deepseek", "deepseek-v4-flash")
      const { provider } = yield* Router.make([
        Router.member("openai", a.provider, { models: { fast: "gpt-4o-mini" } }),
        Router.member("deepseek", b.provider, { models: ["deepseek-v4-flash"] })
      ], { name: "mixed" })
      for (
        const failed of [
          provider.chat(ask("gpt-5")),
          Stream.runDrain(provider.stream(ask("gpt-5"))),
          provider.embed({ input: ["a"], model: "gpt-5" })
        ]
      ) {
        const error = yield* Effect.flip(failed)
        assert.strictEqual(error._tag, "InvalidRequestError")
        if (error._tag !== "InvalidRequestError") continue
        assert.strictEqual(error.source, "client")
        assert.strictEqual(error.param, "model")
        assert.strictEqual(error.model, "gpt-5")
        assert.include(error.message, "\"gpt-5\"")
        assert.include(error.message, "\"fast\"")
        assert.include(error.message, "mixed")
      }
      assert.strictEqual((yield* a.mock.calls).length + (yield* b.mock.calls).length, 0)
    }))

  it.scoped("a member that declares no models takes its default and every model no other member declares", () =>
    Effect.gen(function*() {
      const a = yield* member("openai", "gpt-4o-mini")
      const b = yield* member("local", "llama3")
      const { provider } = yield* Router.make([
        Router.member("openai", a.provider, { models: ["gpt-4o-mini", "gpt-4o"] }),
        Router.member("local", b.provider)
      ], { strategy: "round-robin" })
      // gpt-4o is declared by openai: never sent to the catch-all, whatever the rotation.
      for (let i = 0; i < 4; i++) assert.strictEqual(contentOf(yield* provider.chat(ask("gpt-4o"))), "openai")
      assert.strictEqual((yield* b.mock.calls).length, 0)
      // Not declared by anyone: only the catch-all serves it, under the name asked.
      for (let i = 0; i < 2; i++) assert.strictEqual(contentOf(yield* provider.chat(ask("qwen3:8b"))), "local")
      assert.deepStrictEqual(yield* modelsAsked(b.mock), ["qwen3:8b", "qwen3:8b"])
      assert.strictEqual((yield* a.mock.calls).length, 4)
    }))

  it.scoped("streams and embeddings are sent under the member's own name", () =>
    Effect.gen(function*() {
      const a = yield* member("a", "model-a", always(MockProvider.fail(down("a"))))
      const b = yield* member(
        "b",
        "model-b",
        (call) => call.method === "embed" ? MockProvider.embeddings([[1, 0]]) : MockProvider.stream("from b")
      )
      const { provider } = yield* Router.make([
        Router.member("a", a.provider, { models: { chat: "a-chat", vectors: "a-embed" } }),
        Router.member("b", b.provider, { models: { chat: "b-chat", vectors: "b-embed" } })
      ])
      const chunks = yield* Stream.runCollect(provider.stream(ask("chat")))
      assert.isAbove(chunks.length, 1)
      const embedded = yield* provider.embed({ input: ["x"], model: "vectors" })
      assert.deepStrictEqual(embedded.data[0]!.embedding, [1, 0])
      assert.deepStrictEqual(yield* modelsAsked(a.mock), ["a-chat", "a-embed"])
      assert.deepStrictEqual(yield* modelsAsked(b.mock), ["b-chat", "b-embed"])
    }))

  it.scoped("a hedge goes only to a member that serves the model, under its name", () =>
    Effect.gen(function*() {
      const a = yield* member("a", "model-a", always(MockProvider.reply("slow a", { delay: "10 seconds" })))
      const b = yield* member("b", "model-b")
      const c = yield* member("c", "model-c", always(MockProvider.reply("c", { delay: "1 second" })))
      const { provider } = yield* Router.make([
        Router.member("a", a.provider, { models: { fast: "a-fast" } }),
        Router.member("b", b.provider, { models: ["model-b"] }),
        Router.member("c", c.provider, { models: { fast: "c-fast" } })
      ], { hedge: { after: "2 seconds" } })
      const fiber = yield* Effect.fork(provider.chat(ask("fast")))
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual(contentOf(yield* Fiber.join(fiber)), "c")
      assert.deepStrictEqual(yield* modelsAsked(a.mock), ["a-fast"])
      assert.deepStrictEqual(yield* modelsAsked(b.mock), [])
      assert.deepStrictEqual(yield* modelsAsked(c.mock), ["c-fast"])
    }))

  it.scoped("while the only member serving a model cools down, the call fails rather than going elsewhere", () =>
    Effect.gen(function*() {
      const a = yield* member(
        "a",
        "model-a",
        always(MockProvider.fail(
          new RateLimitError({ provider: "a", message: "slow down", retryAfter: Option.some(Duration.minutes(1)) })
        ))
      )
      const b = yield* member("b", "model-b")
      const { provider, router } = yield* Router.make([
        Router.member("a", a.provider, { models: ["model-a"] }),
        Router.member("b", b.provider, { models: ["model-b"] })
      ], { cooldown: { maxWait: 0 } })
      yield* Effect.flip(provider.chat(ask("model-a")))
      assert.strictEqual((yield* router.members)[0]!.state, "cooling-down")
      const error = yield* Effect.flip(provider.chat(ask("model-a")))
      assert.strictEqual(error._tag, "RateLimitError")
      assert.strictEqual((yield* a.mock.calls).length, 1)
      assert.strictEqual((yield* b.mock.calls).length, 0)
      // The other model is unaffected.
      assert.strictEqual(contentOf(yield* provider.chat(ask("model-b"))), "b")
      assert.deepStrictEqual((yield* router.members).map((m) => m.models), [["model-a"], ["model-b"]])
    }))

  it("members' models are validated, naming the field", () => {
    const bad = [
      [{ models: [] }, "models"],
      [{ models: ["ok", ""] }, "models[1]"],
      [{ models: { fast: 3 } }, "models.fast"],
      [{ models: "gpt-4o" }, "models"],
      [{ models: {} }, "models"]
    ] as const
    for (const [options, param] of bad) {
      const result = Router.validateMemberOptions(options, "r", "")
      assert.isTrue(Either.isLeft(result), JSON.stringify(options))
      if (Either.isLeft(result)) assert.strictEqual(result.left.param, param)
    }
    assert.isTrue(Either.isRight(Router.validateMemberOptions({ models: { fast: "x" } })))
    assert.isTrue(Either.isRight(Router.validateMemberOptions({ models: ["x", "y"] })))
  })

  it.effect("Router.make dies on a member's bad models, naming the member", () =>
    Effect.gen(function*() {
      const a = yield* member("a", "model-a")
      const exit = yield* Effect.exit(
        Effect.scoped(Router.make([Router.member("a", a.provider, { models: [""] })]))
      )
      assert.isTrue(exit._tag === "Failure")
      assert.include(String(JSON.stringify(exit)), "members[0].models[0]")
    }))
})
