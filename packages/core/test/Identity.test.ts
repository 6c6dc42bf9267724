import { assert, describe, it } from "@effect/vitest"
import { Identity, LlmProvider, ResponseCache, Router } from "@llm-api-router/core"
import { MockProvider } from "@llm-api-router/core/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { createHash } from "node:crypto"
import { inspect } from "node:util"

const key = "sk-live-abcdefghijklmnop"
const credential = Redacted.make(key)

describe("Identity", () => {
  it("a fingerprint is 64 hex digits, the same for the same credential and headers, in any header case", () => {
    const a = Identity.make({ credential, headers: { "OpenAI-Organization": "org-1" } })
    const b = Identity.make({ credential: Redacted.make(key), headers: { "openai-organization": "org-1" } })
    assert.match(a.fingerprint(), /^[0-9a-f]{64}$/)
    assert.strictEqual(a.fingerprint(), b.fingerprint())
  })

  it("changes with the credential, an identity header, a marked header or the secret; not with other headers", () => {
    const base = Identity.make({ credential, headers: { "x-title": "app" } })
    const fingerprints = [
      base.fingerprint(),
      Identity.make({ credential: Redacted.make(`${key}x`) }).fingerprint(),
      Identity.make({}).fingerprint(),
      Identity.make({ credential, headers: { "openai-organization": "org-1" } }).fingerprint(),
      Identity.make({ credential, headers: { "openai-project": "p-1" } }).fingerprint(),
      Identity.make({ credential, headers: { "x-tenant": "acme" } }).fingerprint({ headers: ["X-Tenant"] }),
      base.fingerprint({ secret: Redacted.make("deployment secret") })
    ]
    assert.strictEqual(new Set(fingerprints).size, fingerprints.length)
    assert.strictEqual(Identity.make({ credential }).fingerprint(), base.fingerprint())
    assert.strictEqual(
      Identity.make({ credential, headers: { "x-tenant": "acme" } }).fingerprint(),
      base.fingerprint()
    )
  })

  it("is an HMAC, not a plain hash of the key, and never prints the key", () => {
    const identity = Identity.make({ credential, headers: { authorization: `Bearer ${key}` } })
    const fingerprint = identity.fingerprint()
    assert.notStrictEqual(fingerprint, createHash("sha256").update(key).digest("hex"))
    for (const text of [fingerprint, String(identity), JSON.stringify({ identity }), inspect(identity)]) {
      assert.notInclude(text, key)
      assert.notInclude(text, key.slice(8, 16))
    }
    assert.isTrue(Identity.isIdentity(identity))
  })

  it("combine depends on every member's name, base URL and fingerprint, in order", () => {
    const one = { name: "a", baseUrl: "http://a", identity: Identity.make({ credential }) }
    const two = { name: "b", identity: Identity.make({ credential: Redacted.make("other") }) }
    const combined = [
      Identity.combine([one, two]).fingerprint(),
      Identity.combine([two, one]).fingerprint(),
      Identity.combine([{ ...one, baseUrl: "http://elsewhere" }, two]).fingerprint(),
      Identity.combine([one, { ...two, identity: Identity.make({ credential }) }]).fingerprint(),
      Identity.combine([one, { name: "b" }]).fingerprint()
    ]
    assert.strictEqual(new Set(combined).size, combined.length)
    assert.strictEqual(Identity.combine([one, two]).fingerprint(), combined[0])
  })
})

describe("ResponseCache keys and identities", () => {
  const info: LlmProvider.ProviderInfo = {
    name: "p",
    defaultModel: "m",
    capabilities: { streaming: true, tools: true, embeddings: true, vision: true, jsonSchema: true }
  }
  const ask = { messages: [{ role: "user" as const, content: "x" }] }

  it("the key depends on the identity unless entries are shared across credentials", () => {
    const mine = { ...info, identity: Identity.make({ credential }) }
    const theirs = { ...info, identity: Identity.make({ credential: Redacted.make("sk-theirs") }) }
    assert.notStrictEqual(ResponseCache.key(mine, ask), ResponseCache.key(theirs, ask))
    assert.notStrictEqual(
      ResponseCache.embeddingKey(mine, { input: "x" }),
      ResponseCache.embeddingKey(theirs, { input: "x" })
    )
    const shared = { shareAcrossCredentials: true }
    assert.strictEqual(ResponseCache.key(mine, ask, shared), ResponseCache.key(theirs, ask, shared))
    assert.strictEqual(ResponseCache.key(mine, ask, shared), ResponseCache.key(info, ask, shared))
    assert.notStrictEqual(
      ResponseCache.key(mine, ask),
      ResponseCache.key(mine, ask, { identitySecret: Redacted.make("deployment secret") })
    )
    assert.notInclude(ResponseCache.key(mine, ask), key)
  })

  it("an entry stored under the previous key format (v1, without identity) is a miss", () =>
    Effect.gen(function*() {
      const store = yield* ResponseCache.makeMemory()
      const mock = yield* MockProvider.make(() => MockProvider.reply("fresh"), { name: "p", defaultModel: "m" })
      const cached = ResponseCache.cached(mock.provider, store)
      const v1 = createHash("sha256")
        .update("v1\np\n\n")
        .update(JSON.stringify({ messages: [{ content: "x", role: "user" }], model: "m" }))
        .digest("hex")
      const stale = yield* ResponseCache.cached(
        (yield* MockProvider.make(() => MockProvider.reply("stale"), { name: "p", defaultModel: "m" })).provider,
        yield* ResponseCache.makeMemory()
      ).chat(ask)
      yield* store.set(v1, { _tag: "Completion", completion: stale }, { _tag: "None" } as never)
      const answer = yield* cached.chat(ask)
      assert.strictEqual(answer.choices[0]!.message.content, "fresh")
      assert.strictEqual((yield* mock.mock.calls).length, 1)
    }).pipe(Effect.runPromise))

  it("two routers over members with different keys do not share entries; the same members do", () =>
    Effect.gen(function*() {
      const store = yield* ResponseCache.makeMemory()
      const routed = (apiKey: string) =>
        Effect.gen(function*() {
          const mock = yield* MockProvider.make(() => MockProvider.reply("ok"), { name: "a" })
          const member = {
            ...mock.provider,
            info: { ...mock.provider.info, identity: Identity.make({ credential: Redacted.make(apiKey) }) }
          }
          const context = yield* Layer.build(Router.layer([Router.member("a", member)]))
          const router = yield* Effect.provide(LlmProvider.LlmProvider, context)
          return { cached: ResponseCache.cached(router, store), calls: mock.mock.calls }
        })
      const one = yield* routed("sk-one")
      const two = yield* routed("sk-two")
      const three = yield* routed("sk-one")
      yield* one.cached.chat(ask)
      yield* two.cached.chat(ask)
      yield* three.cached.chat(ask)
      assert.deepStrictEqual(
        [(yield* one.calls).length, (yield* two.calls).length, (yield* three.calls).length],
        [1, 1, 0]
      )
    }).pipe(Effect.scoped, Effect.runPromise))
})
