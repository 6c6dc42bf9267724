import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import { InvalidRequestError } from "../src/LlmError.js"
import * as MockProvider from "../src/MockProvider.js"
import * as Router from "../src/Router.js"

describe("Router options are checked before the router is built", () => {
  const cases: ReadonlyArray<readonly [unknown, string]> = [
    [{ cooldown: { duration: "soon" } }, "cooldown.duration"],
    [{ cooldown: { window: -1 } }, "cooldown.window"],
    [{ cooldown: { maxWait: NaN } }, "cooldown.maxWait"],
    [{ cooldown: { failures: 0 } }, "cooldown.failures"],
    [{ cooldown: { countsAsFailure: "yes" } }, "cooldown.countsAsFailure"],
    [{ cooldown: { duraton: "1 second" } }, "cooldown.duraton"],
    [{ cooldown: true }, "cooldown"],
    [{ hedge: { after: "soon" } }, "hedge.after"],
    [{ hedge: {} }, "hedge.after"],
    [{ hedge: { after: "p95", minSamples: 0 } }, "hedge.minSamples"],
    [{ latencyAlpha: 0 }, "latencyAlpha"],
    [{ latencyAlpha: 1.5 }, "latencyAlpha"],
    [{ fallbackOn: true }, "fallbackOn"],
    [{ name: "" }, "name"],
    [{ strategy: "random" }, "strategy"],
    [{ stratgey: "fallback" }, "stratgey"]
  ]

  it("validateOptions names the bad field", () => {
    for (const [options, param] of cases) {
      const result = Router.validateOptions(options)
      assert.isTrue(Either.isLeft(result), JSON.stringify(options))
      if (Either.isLeft(result)) {
        assert.instanceOf(result.left, InvalidRequestError)
        assert.strictEqual(result.left.param, param)
      }
    }
    const good = Router.validateOptions({ cooldown: { duration: "5 seconds", maxWait: 100 }, hedge: { after: "p95" } })
    assert.isTrue(Either.isRight(good))
  })

  it("validateMemberOptions names the bad field", () => {
    const result = Router.validateMemberOptions({ rateLimit: { requestsPerMinute: -1 } }, "r", "providers[1]")
    assert.isTrue(Either.isLeft(result))
    if (Either.isLeft(result)) assert.strictEqual(result.left.param, "providers[1].rateLimit.requestsPerMinute")
  })

  it.effect("Router.make with bad options dies with the InvalidRequestError, before building a member", () =>
    Effect.gen(function*() {
      const member = Router.member("a", MockProvider.layer([]))
      const exit = yield* Effect.exit(Effect.scoped(Router.make([member], { cooldown: { duration: "soon" } } as any)))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const defect = Cause.dieOption(exit.cause)
        assert.isTrue(defect._tag === "Some" && defect.value instanceof InvalidRequestError)
        if (defect._tag === "Some") assert.strictEqual((defect.value as InvalidRequestError).param, "cooldown.duration")
      }
    }))
})
