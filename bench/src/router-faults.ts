/**
 * How many calls the router saves under injected faults: three OpenAI-compatible fake servers behind one
 * round-robin router (the fault suite's configuration), the ten fault kinds of `FakeFaults`, 2,000 calls (a third
 * of them streams) at concurrency 32.
 *
 * Scenarios: members without retries (`retry: false`) at 10, 20 and 40 % faults, each set beside the theoretical
 * success rate; and members with their default retries at 20 %. Every scenario also reports defects, unhandled
 * rejections, the members' requests still in flight, and the sockets left open after the router is closed; all
 * must be 0.
 *
 *   pnpm bench:router-faults            (about a minute)
 *
 * The theoretical rate, for members without retries: a call tries each member at most once. A JSON call fails when
 * all three members fail it: p³, with p the rate of failing kinds (9 of 10: a slow first byte only delays). A
 * stream fails when all three fail it before its first chunk (q³, q: 8 of 10 kinds), or when the member that
 * serves it cuts it after its first chunk (c(1 + q + q²), c: 1 of 10 kinds).
 */
import type { LlmError } from "@llm-api-router/core"
import { Http, LlmProvider, Router } from "@llm-api-router/core"
import { OpenAi } from "@llm-api-router/providers"
import { FakeFaults, FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"

const total = 2000
const concurrency = 32

interface Scenario {
  readonly rate: number
  readonly retries: boolean
}

const theoretical = (rate: number): number => {
  const p = rate * 0.9
  const q = rate * 0.8
  const c = rate * 0.1
  const json = 1 - p ** 3
  const stream = 1 - q ** 3 - c * (1 + q + q * q)
  return (2 / 3) * json + (1 / 3) * stream
}

const run = async (scenario: Scenario) => {
  const unhandled: Array<unknown> = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  process.on("unhandledRejection", onUnhandled)
  const servers = await Promise.all([0, 1, 2].map((server) => {
    const responder = FakeOpenAi.responder({ words: 6 })
    return FakeServer.start({
      handler: FakeFaults.handler({ server, seed: 7, rate: scenario.rate, ok: (request) => responder(request)! })
    })
  }))
  const member = (name: string, server: FakeServer.FakeServer) =>
    Router.member(
      name,
      OpenAi.layer({
        apiKey: Redacted.make("sk-bench"),
        baseUrl: `${server.url}/v1`,
        defaultModel: `model-${name}`,
        ...(scenario.retries ? {} : { retry: false as const }),
        timeout: { firstByte: "2 seconds", idle: "2 seconds", total: "30 seconds" }
      })
    )
  const runtime = ManagedRuntime.make(
    Router.layer([member("a", servers[0]!), member("b", servers[1]!), member("c", servers[2]!)], {
      name: "faults",
      strategy: "round-robin",
      cooldown: { failures: 3, window: "1 second", duration: "400 millis" },
      hedge: { after: "p95", minSamples: 20 }
    }).pipe(Layer.provide(Http.layer({ connections: 16 })))
  )
  const outcomes: Record<string, number> = {}
  const succeeded = { json: 0, stream: 0 }
  const started = Date.now()
  await runtime.runPromise(Effect.forEach(
    Array.from({ length: total }, (_, i) => i),
    (i) =>
      Effect.gen(function*() {
        const call = i % 3 === 0
          ? LlmProvider.stream(FakeFaults.numbered(i)).pipe(Stream.runDrain)
          : Effect.asVoid(LlmProvider.chat(FakeFaults.numbered(i)))
        const exit = yield* Effect.exit(call)
        const key = Exit.isSuccess(exit)
          ? "ok"
          : Cause.isFailType(exit.cause)
          ? (exit.cause.error as LlmError)._tag
          : "defect"
        outcomes[key] = (outcomes[key] ?? 0) + 1
        if (key === "ok") succeeded[i % 3 === 0 ? "stream" : "json"]++
      }),
    { concurrency, discard: true }
  ))
  const seconds = (Date.now() - started) / 1000
  const members = await runtime.runPromise(Router.members)
  await runtime.dispose()
  for (let i = 0; i < 100 && servers.some((s) => s.openSockets() > 0); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const socketsLeft = servers.reduce((n, s) => n + s.openSockets(), 0)
  await Promise.all(servers.map((s) => s.close()))
  process.off("unhandledRejection", onUnhandled)
  const success = (outcomes.ok ?? 0) / total
  return {
    faults: `${Math.round(scenario.rate * 100)} %`,
    retries: scenario.retries ? "default" : "none",
    success: `${(success * 100).toFixed(2)} %`,
    json: `${(succeeded.json / (total - Math.ceil(total / 3)) * 100).toFixed(2)} %`,
    streams: `${(succeeded.stream / Math.ceil(total / 3) * 100).toFixed(2)} %`,
    theoretical: scenario.retries ? "–" : `${(theoretical(scenario.rate) * 100).toFixed(2)} %`,
    seconds: seconds.toFixed(1),
    failures: Object.entries(outcomes).filter(([k]) => k !== "ok").map(([k, v]) => `${k} ${v}`).join(", ") || "–",
    defects: outcomes.defect ?? 0,
    unhandled: unhandled.length,
    inFlight: members.reduce((n, m) => n + m.inFlight, 0),
    socketsLeft
  }
}

const scenarios: ReadonlyArray<Scenario> = [
  { rate: 0.1, retries: false },
  { rate: 0.2, retries: false },
  { rate: 0.4, retries: false },
  { rate: 0.2, retries: true }
]

const rows = []
for (const scenario of scenarios) rows.push(await run(scenario))
const columns = Object.keys(rows[0]!) as Array<keyof (typeof rows)[number]>
console.log(`| ${columns.join(" | ")} |`)
console.log(`|${columns.map(() => "---").join("|")}|`)
for (const row of rows) console.log(`| ${columns.map((c) => row[c]).join(" | ")} |`)
