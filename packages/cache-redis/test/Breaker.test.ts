import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as internal from "../src/internal/redis.js"

// A probe the test settles by hand.
const controlled = () => {
  const probes: Array<{ resolve: () => void; reject: () => void }> = []
  const probe = () =>
    new Promise<void>((resolve, reject) => {
      probes.push({ resolve, reject: () => reject(new Error("no answer")) })
    })
  return { probe, probes }
}

const tick = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

describe("the Redis circuit breaker (TestClock)", () => {
  it.effect("opens after `failures` consecutive failures; a success in between resets the count", () =>
    Effect.gen(function*() {
      const { probe } = controlled()
      const breaker = internal.makeBreaker({ failures: 3, cooldownMillis: 1000, clock: yield* Effect.clock, probe })
      breaker.failure()
      breaker.failure()
      breaker.success()
      breaker.failure()
      breaker.failure()
      assert.isTrue(breaker.allow())
      breaker.failure()
      assert.strictEqual(breaker.state(), "open")
      assert.isFalse(breaker.allow())
    }))

  it.effect("while open nothing is sent; after the cooldown one background probe, callers still pass by", () =>
    Effect.gen(function*() {
      const { probe, probes } = controlled()
      const breaker = internal.makeBreaker({ failures: 1, cooldownMillis: 1000, clock: yield* Effect.clock, probe })
      breaker.failure()
      yield* TestClock.adjust("999 millis")
      assert.isFalse(breaker.allow())
      assert.strictEqual(probes.length, 0)
      yield* TestClock.adjust("1 millis")
      // the call that finds the cooldown over starts the probe but does not wait for it
      assert.isFalse(breaker.allow())
      assert.strictEqual(breaker.state(), "probing")
      for (let i = 0; i < 10; i++) assert.isFalse(breaker.allow())
      assert.strictEqual(probes.length, 1)
      // a failed probe opens it for another cooldown
      probes[0]!.reject()
      yield* tick
      assert.strictEqual(breaker.state(), "open")
      yield* TestClock.adjust("500 millis")
      assert.isFalse(breaker.allow())
      assert.strictEqual(probes.length, 1)
      yield* TestClock.adjust("500 millis")
      assert.isFalse(breaker.allow())
      assert.strictEqual(probes.length, 2)
      // a probe that answers closes it
      probes[1]!.resolve()
      yield* tick
      assert.strictEqual(breaker.state(), "closed")
      assert.isTrue(breaker.allow())
    }))

  it.effect("once stopped (the connection closed), it never probes again", () =>
    Effect.gen(function*() {
      const { probe, probes } = controlled()
      const breaker = internal.makeBreaker({ failures: 1, cooldownMillis: 10, clock: yield* Effect.clock, probe })
      breaker.failure()
      breaker.stop()
      yield* TestClock.adjust("1 hour")
      assert.isFalse(breaker.allow())
      assert.strictEqual(probes.length, 0)
    }))
})
