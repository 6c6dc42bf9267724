/**
 * The router under injected faults, over real sockets: three OpenAI-compatible fake servers behind one router.
 *
 * Phase 1 is scripted and runs on `TestClock`: one member fails every request, another throttles with a
 * Retry-After, and the test checks that the cooldowns and fallbacks happen exactly where they must. Phase 2 sends
 * 2,000 requests (a third of them streams) with 20 % of the answers faulty, and checks that every call ends in a
 * success or a tagged error, that every call the router could save was saved, that no defect and no unhandled
 * rejection occurs, that the sockets go back to the baseline and that memory stays bounded.
 *
 * Phase 2's faults do not depend on the machine: each (call, member) pair draws its fault from a generator seeded
 * by the call's index and the member's, never by arrival order, so the same calls meet the same faults on every
 * run, and the bound on failures is computed from those draws (see `unsavable`).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { ChatCompletionRequest, LlmError } from "@llm-api-router/core"
import { Http, LlmProvider, Router, Telemetry } from "@llm-api-router/core"
import { OpenAi } from "@llm-api-router/providers"
import { FakeFaults, FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as v8 from "node:v8"
import * as vm from "node:vm"

// A full collection before each heap reading, so that the figure is what is retained, not garbage not yet swept.
v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void
const retainedHeap = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const seed = 20_000

/**
 * Whether the router may be unable to save call `call`, whatever the order it tries the members in. A call tries
 * each member at most once, so it fails when all three members fail it; and a stream cut after its first chunk
 * cannot fall back (the caller has the chunk), so a stream that one of its members cuts may fail too. Every other
 * call must succeed: an attempt that fails falls back, and a member that is cooling down or being probed is waited
 * for (`cooldown.maxWait`).
 */
const unsavable = (call: number, streaming: boolean, rate: number): boolean => {
  const drawn = [0, 1, 2].map((member) => FakeFaults.draw(seed, call, member, rate))
  return drawn.every(FakeFaults.failsAttempt) ||
    drawn.some((fault) => FakeFaults.failsAfterFirstChunk(fault, streaming))
}

interface Servers {
  readonly servers: ReadonlyArray<FakeServer.FakeServer>
  readonly injected: Record<string, number>
  /** How often each member saw each call (keyed `member:call`): a call tries a member at most once. */
  readonly seen: Map<string, number>
  /** `undefined`: healthy; a function: the scripted answer of every request (phase 1). */
  script: Array<((request: FakeServer.RecordedRequest) => FakeServer.Reply) | undefined>
  faultRate: number
}

const hi: ChatCompletionRequest = { messages: [{ role: "user", content: "tell me three words" }] }

const apiKey = Redacted.make("sk-test")

const member = (name: string, server: FakeServer.FakeServer) =>
  Router.member(
    name,
    OpenAi.layer({
      apiKey,
      baseUrl: `${server.url}/v1`,
      defaultModel: `model-${name}`,
      retry: false,
      timeout: { firstByte: "2 seconds", idle: "2 seconds", total: "5 seconds" }
    })
  )

describe("Router under injected faults", () => {
  const fixture: Servers = {
    servers: [],
    injected: {},
    seen: new Map(),
    script: [undefined, undefined, undefined],
    faultRate: 0
  }
  const unhandled: Array<unknown> = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  let runtime: ManagedRuntime.ManagedRuntime<LlmProvider.LlmProvider | Router.Router, never>

  beforeAll(async () => {
    process.on("unhandledRejection", onUnhandled)
    const servers: Array<FakeServer.FakeServer> = []
    for (let i = 0; i < 3; i++) {
      const responder = FakeOpenAi.responder({ words: 6 })
      const faulty = FakeFaults.handler({
        server: i,
        seed,
        rate: () => fixture.faultRate,
        ok: (request) => responder(request)!,
        onFault: (fault) => {
          fixture.injected[fault] = (fixture.injected[fault] ?? 0) + 1
        },
        onCall: (call, times) => {
          fixture.seen.set(`${i}:${call}`, times)
        }
      })
      const server = await FakeServer.start({
        handler: (request) => fixture.script[i]?.(request) ?? faulty(request)
      })
      servers.push(server)
    }
    ;(fixture as { servers: ReadonlyArray<FakeServer.FakeServer> }).servers = servers
    runtime = ManagedRuntime.make(
      Router.layer([member("a", servers[0]!), member("b", servers[1]!), member("c", servers[2]!)], {
        name: "faults",
        strategy: "round-robin",
        // `maxWait` is left at its default: what a user gets.
        cooldown: { failures: 3, window: "1 second", duration: "400 millis" },
        hedge: { after: "p95", minSamples: 20 }
      }).pipe(Layer.provide(Http.layer({ connections: 16 })))
    )
  })

  afterAll(async () => {
    await runtime?.dispose()
    await Promise.all(fixture.servers.map((server) => server.close()))
    process.off("unhandledRejection", onUnhandled)
  })

  it.scoped(
    "phase 1: a member that always fails is cooled down after 3 failures; a Retry-After cools one at once",
    () =>
      Effect.gen(function*() {
        // A router of its own, on the test's clock: the cooldowns end when the test says so, however slow the
        // machine. The sockets are real.
        const context = yield* Layer.build(
          Router.layer([
            member("a", fixture.servers[0]!),
            member("b", fixture.servers[1]!),
            member("c", fixture.servers[2]!)
          ], {
            name: "scripted",
            strategy: "round-robin",
            cooldown: { failures: 3, window: "1 second", duration: "400 millis" }
          }).pipe(Layer.provide(Http.layer({ connections: 4 })))
        )
        const provider = Context.get(context, LlmProvider.LlmProvider)
        const router = Context.get(context, Router.Router)
        const requestsTo = (server: number) => fixture.servers[server]!.requests.length
        fixture.script = [
          () => FakeOpenAi.errorReply(503, { message: "a is down" }),
          undefined,
          undefined
        ]
        const fallbacks = Metric.tagged(
          Metric.tagged(Metric.tagged(Telemetry.fallbacks, "router", "scripted"), "from", "a"),
          "reason",
          "ProviderError"
        )
        const before = (yield* Metric.value(fallbacks)).count
        const aBefore = requestsTo(0)
        for (let i = 0; i < 9; i++) {
          const completion = yield* provider.chat(hi)
          assert.notStrictEqual(completion.provider, "a")
        }
        // Round-robin puts a first on every third call: it fails on calls 1, 4 and 7, and is then cooling down.
        assert.strictEqual(requestsTo(0) - aBefore, 3)
        assert.strictEqual((yield* Metric.value(fallbacks)).count - before, 3)
        assert.strictEqual((yield* router.members)[0]!.state, "cooling-down")

        // While a cools down, round-robin's turns for a go to the next member.
        for (let i = 0; i < 3; i++) yield* provider.chat(hi)
        assert.strictEqual(requestsTo(0) - aBefore, 3)
        yield* TestClock.adjust("400 millis") // a's cooldown ends
        // b throttles with retry-after-ms: 1000: one answer is enough to skip it for that long.
        fixture.script = [
          undefined,
          () =>
            FakeOpenAi.errorReply(429, { message: "slow down", code: "rate_limit_exceeded" }, {
              "retry-after-ms": "1000"
            }),
          undefined
        ]
        const bBefore = requestsTo(1)
        const cBefore = requestsTo(2)
        for (let i = 0; i < 6; i++) yield* provider.chat(hi)
        assert.strictEqual(requestsTo(1) - bBefore, 1)
        const after = yield* router.members
        assert.strictEqual(after[1]!.state, "cooling-down")
        assert.strictEqual(after[1]!.cooldownUntil, 400 + 1000)
        assert.strictEqual(after[0]!.state, "available") // the probe to a succeeded
        assert.isAbove(requestsTo(2) - cBefore, 0)
      }).pipe(Effect.ensuring(Effect.sync(() => {
        fixture.script = [undefined, undefined, undefined]
      }))),
    20_000
  )

  it.live(
    "phase 2: 2,000 requests at 20 % faults end in successes or tagged errors; sockets and memory are bounded",
    () =>
      Effect.gen(function*() {
        const rate = 0.2
        fixture.faultRate = rate
        const heapBefore = retainedHeap()
        const started = Date.now()
        const outcomes: Record<string, number> = {}
        const defects: Array<string> = []
        let peakSockets = 0
        const total = 2000
        yield* Effect.forEach(
          Array.from({ length: total }, (_, i) => i),
          (i) =>
            Effect.gen(function*() {
              const streaming = i % 3 === 0
              const call = streaming
                ? LlmProvider.stream(FakeFaults.numbered(i)).pipe(Stream.runCount, Effect.asVoid)
                : Effect.asVoid(LlmProvider.chat(FakeFaults.numbered(i)))
              const exit = yield* Effect.promise(() => runtime.runPromiseExit(call))
              const key = Exit.isSuccess(exit)
                ? "ok"
                : Cause.isFailType(exit.cause)
                ? (exit.cause.error as LlmError)._tag
                : "defect"
              if (key === "defect" && Exit.isFailure(exit)) defects.push(Cause.pretty(exit.cause))
              outcomes[key] = (outcomes[key] ?? 0) + 1
              const open = fixture.servers.reduce((n, s) => n + s.openSockets(), 0)
              if (open > peakSockets) peakSockets = open
            }),
          { concurrency: 32, discard: true }
        )
        fixture.faultRate = 0
        const seconds = (Date.now() - started) / 1000
        const heapGrowth = (retainedHeap() - heapBefore) / 1024 / 1024
        const statuses = yield* Effect.promise(() => runtime.runPromise(Router.members))
        const hedges = yield* Metric.value(
          Metric.tagged(Telemetry.hedges, "router", "faults").pipe(Metric.tagged("member", "a"))
        )

        const counted = Object.values(outcomes).reduce((a, b) => a + b, 0)
        let bound = 0
        for (let i = 0; i < total; i++) if (unsavable(i, i % 3 === 0, rate)) bound++
        // Figures for the report.
        console.log(JSON.stringify(
          {
            requests: total,
            seconds,
            outcomes,
            unsavable: bound,
            injected: fixture.injected,
            peakSockets,
            heapGrowthMiB: Math.round(heapGrowth),
            hedgesFromA: hedges.count,
            members: statuses.map((s) => ({
              name: s.name,
              requests: s.requests,
              successes: s.successes,
              failures: s.failures,
              cooldowns: s.cooldowns,
              inFlight: s.inFlight
            }))
          },
          null,
          2
        ))

        assert.strictEqual(counted, total)
        assert.deepStrictEqual(defects, [])
        assert.strictEqual(outcomes.defect, undefined)
        assert.deepStrictEqual(unhandled, [])
        // Every call the router could save was saved (about 2.6 % of the calls cannot be, at this rate).
        assert.isAtLeast(outcomes.ok ?? 0, total - bound)
        // A call tries each member at most once.
        assert.isAtMost(Math.max(...fixture.seen.values()), 1)
        // Every fault kind was injected, and the router put members in cooldown and hedged.
        for (const fault of FakeFaults.kinds) assert.isAbove(fixture.injected[fault] ?? 0, 0, fault)
        assert.isAbove(statuses.reduce((n, s) => n + s.cooldowns, 0), 0)
        assert.isAbove(hedges.count, 0)
        assert.deepStrictEqual(statuses.map((s) => s.inFlight), [0, 0, 0])
        // The pool is bounded: at most 16 live connections per origin, and at most one socket per attempt in
        // flight (32 calls, each at most two attempts at once when hedged) that the client has closed (a cut, a
        // timeout, a hedge that lost) and the server has not yet seen close. What 2,000 calls leave behind (after
        // a full GC) is small.
        assert.isAtMost(peakSockets, 3 * 16 + 2 * 32)
        assert.isBelow(heapGrowth, 32)

        // After the calls, the sockets go back to the baseline: what the pool keeps alive, at most its size, and none
        // once the client is closed.
        yield* Effect.promise(() => runtime.dispose())
        for (let i = 0; i < 50 && fixture.servers.some((s) => s.openSockets() > 0); i++) {
          yield* Effect.sleep("20 millis")
        }
        assert.deepStrictEqual(fixture.servers.map((s) => s.openSockets()), [0, 0, 0])
      }),
    120_000
  )
})
