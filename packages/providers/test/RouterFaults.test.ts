/**
 * The router under injected faults, over real sockets: three OpenAI-compatible fake servers behind one router.
 *
 * Phase 1 is scripted: one member fails every request, another throttles with a Retry-After, and the test checks
 * that the cooldowns and fallbacks happen exactly where they must. Phase 2 sends 2,000 requests (a third of them
 * streams) with 20 % of the answers faulty, and checks that every call ends in a success or a tagged error, that no
 * defect and no unhandled rejection occurs, that the sockets go back to the baseline and that memory stays bounded.
 * Real time, short delays: the whole file runs in a few seconds.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { ChatCompletionRequest, LlmError } from "@llm-api-router/core"
import { Http, LlmProvider, Router, Telemetry } from "@llm-api-router/core"
import { OpenAi } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
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

type Fault =
  | "429-retry-after"
  | "429"
  | "500"
  | "502"
  | "503"
  | "529"
  | "reset"
  | "slow-first-byte"
  | "cut-mid-stream"
  | "malformed-json"

const faults: ReadonlyArray<Fault> = [
  "429-retry-after",
  "429",
  "500",
  "502",
  "503",
  "529",
  "reset",
  "slow-first-byte",
  "cut-mid-stream",
  "malformed-json"
]

// A small deterministic PRNG (mulberry32): the same faults on every run.
const prng = (seed: number) => () => {
  seed = (seed + 0x6D2B79F5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const faultReply = (fault: Fault, request: FakeServer.RecordedRequest, ok: FakeServer.Reply): FakeServer.Reply => {
  const streaming = (request.json as { stream?: boolean } | undefined)?.stream === true
  switch (fault) {
    case "429-retry-after":
      return FakeOpenAi.errorReply(429, { message: "Rate limit reached", code: "rate_limit_exceeded" }, {
        "retry-after-ms": "150"
      })
    case "429":
      return FakeOpenAi.errorReply(429, { message: "Rate limit reached", code: "rate_limit_exceeded" })
    case "500":
    case "502":
    case "503":
    case "529":
      return FakeOpenAi.errorReply(Number(fault), { message: `upstream ${fault}` })
    case "reset":
      // The fake server cuts right after the status line and headers, before any byte of the body.
      return { ...ok, disconnectAfter: 0 }
    case "slow-first-byte":
      return { ...ok, headersDelay: 400 }
    case "cut-mid-stream":
      return streaming ? { ...ok, disconnectAfter: 3 } : { ...ok, split: 16, disconnectAfter: 2 }
    case "malformed-json":
      return streaming
        ? FakeOpenAi.streamReply(["{\"id\":\"x\",\"choices\":[{\"delta\":"])
        : { status: 200, headers: { "content-type": "application/json" }, body: "{\"id\": oops" }
  }
}

interface Servers {
  readonly servers: ReadonlyArray<FakeServer.FakeServer>
  readonly injected: Record<string, number>
  /** `undefined`: healthy; a function: the scripted answer of every request (phase 1). */
  script: Array<((request: FakeServer.RecordedRequest) => FakeServer.Reply) | undefined>
  faultRate: number
}

const hi: ChatCompletionRequest = { messages: [{ role: "user", content: "tell me three words" }] }

const apiKey = Redacted.make("sk-test")

describe("Router under injected faults", () => {
  const fixture: Servers = { servers: [], injected: {}, script: [undefined, undefined, undefined], faultRate: 0 }
  const unhandled: Array<unknown> = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  let runtime: ManagedRuntime.ManagedRuntime<LlmProvider.LlmProvider | Router.Router, never>

  beforeAll(async () => {
    process.on("unhandledRejection", onUnhandled)
    const random = prng(20_000)
    const servers: Array<FakeServer.FakeServer> = []
    for (let i = 0; i < 3; i++) {
      const responder = FakeOpenAi.responder({ words: 6 })
      const server = await FakeServer.start({
        handler: (request) => {
          const scripted = fixture.script[i]
          if (scripted !== undefined) return scripted(request)
          const ok = responder(request)!
          if (random() >= fixture.faultRate) return ok
          const fault = faults[Math.floor(random() * faults.length)]!
          fixture.injected[fault] = (fixture.injected[fault] ?? 0) + 1
          return faultReply(fault, request, ok)
        }
      })
      servers.push(server)
    }
    ;(fixture as { servers: ReadonlyArray<FakeServer.FakeServer> }).servers = servers
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
    runtime = ManagedRuntime.make(
      Router.layer([member("a", servers[0]!), member("b", servers[1]!), member("c", servers[2]!)], {
        name: "faults",
        strategy: "round-robin",
        cooldown: { failures: 3, window: "1 second", duration: "400 millis", maxWait: "2 seconds" },
        hedge: { after: "p95", minSamples: 20 }
      }).pipe(Layer.provide(Http.layer({ connections: 16 })))
    )
  })

  afterAll(async () => {
    await runtime?.dispose()
    await Promise.all(fixture.servers.map((server) => server.close()))
    process.off("unhandledRejection", onUnhandled)
  })

  it.live(
    "phase 1: a member that always fails is cooled down after 3 failures; a Retry-After cools one at once",
    () =>
      Effect.gen(function*() {
        const [a, b, c] = fixture.servers
        fixture.script = [
          () => FakeOpenAi.errorReply(503, { message: "a is down" }),
          undefined,
          undefined
        ]
        const fallbacks = Metric.tagged(
          Metric.tagged(Metric.tagged(Telemetry.fallbacks, "router", "faults"), "from", "a"),
          "reason",
          "ProviderError"
        )
        const before = (yield* Metric.value(fallbacks)).count
        for (let i = 0; i < 9; i++) {
          const completion = yield* Effect.promise(() => runtime.runPromise(LlmProvider.chat(hi)))
          assert.notStrictEqual(completion.provider, "a")
        }
        // Round-robin puts a first on every third call: it fails on calls 1, 4 and 7, and is then cooling down.
        assert.strictEqual(a!.requests.length, 3)
        assert.strictEqual((yield* Metric.value(fallbacks)).count - before, 3)
        const status = yield* Effect.promise(() => runtime.runPromise(Router.members))
        assert.strictEqual(status[0]!.state, "cooling-down")

        // While a cools down, round-robin's turns for a go to the next member.
        for (let i = 0; i < 3; i++) yield* Effect.promise(() => runtime.runPromise(LlmProvider.chat(hi)))
        assert.strictEqual(a!.requests.length, 3)
        yield* Effect.sleep("450 millis") // a's cooldown ends
        fixture.script = [undefined, undefined, undefined]
        // b throttles with retry-after-ms: 1000: one answer is enough to skip it for that long.
        fixture.script = [
          undefined,
          () =>
            FakeOpenAi.errorReply(429, { message: "slow down", code: "rate_limit_exceeded" }, {
              "retry-after-ms": "1000"
            }),
          undefined
        ]
        const bBefore = b!.requests.length
        const cBefore = c!.requests.length
        for (let i = 0; i < 6; i++) yield* Effect.promise(() => runtime.runPromise(LlmProvider.chat(hi)))
        assert.strictEqual(b!.requests.length - bBefore, 1)
        const after = yield* Effect.promise(() => runtime.runPromise(Router.members))
        assert.strictEqual(after[1]!.state, "cooling-down")
        assert.strictEqual(after[0]!.state, "available") // the probe to a succeeded
        assert.isAbove(c!.requests.length - cBefore, 0)
        yield* Effect.sleep("1000 millis")
      }).pipe(Effect.ensuring(Effect.sync(() => {
        fixture.script = [undefined, undefined, undefined]
      }))),
    20_000
  )

  it.live(
    "phase 2: 2,000 requests at 20 % faults end in successes or tagged errors; sockets and memory are bounded",
    () =>
      Effect.gen(function*() {
        fixture.faultRate = 0.2
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
                ? LlmProvider.stream(hi).pipe(Stream.runCount, Effect.asVoid)
                : Effect.asVoid(LlmProvider.chat(hi))
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
        // Figures for the report.
        console.log(JSON.stringify(
          {
            requests: total,
            seconds,
            outcomes,
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
        assert.isAbove(outcomes.ok ?? 0, total * 0.85)
        // Every fault kind was injected, and the router put members in cooldown and hedged.
        for (const fault of faults) assert.isAbove(fixture.injected[fault] ?? 0, 0, fault)
        assert.isAbove(statuses.reduce((n, s) => n + s.cooldowns, 0), 0)
        assert.isAbove(hedges.count, 0)
        assert.deepStrictEqual(statuses.map((s) => s.inFlight), [0, 0, 0])
        // The pool is bounded (16 per origin), and what 2,000 calls leave behind (after a full GC) is small.
        assert.isAtMost(peakSockets, 3 * 16 + 3)
        assert.isBelow(heapGrowth, 32)

        // After the calls, the sockets go back to the baseline: what the pool keeps alive, at most its size, and none
        // once the client is closed.
        yield* Effect.promise(() => runtime.dispose())
        for (let i = 0; i < 50 && fixture.servers.some((s) => s.openSockets() > 0); i++) {
          yield* Effect.sleep("20 millis")
        }
        assert.deepStrictEqual(fixture.servers.map((s) => s.openSockets()), [0, 0, 0])
      }),
    60_000
  )
})
