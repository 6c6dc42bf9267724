/**
 * Whatever a caller passes, every public entry ends in a success or one of the library's tagged errors: requests,
 * per-call options and configs are generated (fixed seeds), hostile values among them (null-prototype objects,
 * throwing accessors, Proxies, BigInt, Symbol, circular structures, NaN, megabyte strings), and sent through a
 * plain, a cached, a routed and a cached routed client over a real socket. No method throws synchronously, no
 * rejected input reaches the server, and a config that constructs answers a valid call.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Core from "@llm-api-router/core"
import { InvalidRequestError, isLlmError, LlmProvider } from "@llm-api-router/core"
import { Client } from "@llm-api-router/providers/Client"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"

const KEY = "sk-fuzz-0123456789"

// A property's verdict is on behaviour: on a loaded machine its few thousand calls may take long, and that is no
// failure.
const fuzzTimeout = 180_000

let server: FakeServer.FakeServer

beforeAll(async () => {
  server = await FakeServer.start()
  server.setHandler(FakeOpenAi.responder())
})
afterAll(() => server.close())

// ---------------------------------------------------------------------------------------------
// what an outcome may be
// ---------------------------------------------------------------------------------------------

const errorClasses: Record<string, new(...args: Array<any>) => unknown> = {
  AuthenticationError: Core.AuthenticationError,
  PermissionDeniedError: Core.PermissionDeniedError,
  RateLimitError: Core.RateLimitError,
  QuotaExceededError: Core.QuotaExceededError,
  InvalidRequestError: Core.InvalidRequestError,
  ContextLengthError: Core.ContextLengthError,
  ContentFilterError: Core.ContentFilterError,
  ProviderError: Core.ProviderError,
  TimeoutError: Core.TimeoutError,
  NetworkError: Core.NetworkError,
  ResponseDecodeError: Core.ResponseDecodeError,
  UnsupportedFeatureError: Core.UnsupportedFeatureError,
  RetryExhausted: Core.RetryExhausted
}

const describeValue = (u: unknown): string => {
  try {
    return u instanceof Error ? `${u.constructor.name}: ${u.message}` : String(u)
  } catch {
    return typeof u
  }
}

/** Fails the test unless `e` is one of our tagged errors, of its class, with a readable message. */
const assertOurs = (e: unknown, where: string): void => {
  assert.isTrue(isLlmError(e), `${where}: not one of our errors: ${describeValue(e)}`)
  const tag = (e as { _tag: string })._tag
  assert.isTrue(e instanceof errorClasses[tag]!, `${where}: a ${tag} that is not an instance of its class`)
  const message = (e as { message: unknown }).message
  assert.isString(message)
  assert.isBelow((message as string).length, 2000, `${where}: the message is not bounded`)
}

const assertRejected = (e: unknown, where: string): InvalidRequestError => {
  assertOurs(e, where)
  assert.instanceOf(e, InvalidRequestError, `${where}: expected an InvalidRequestError, got ${describeValue(e)}`)
  assert.strictEqual((e as InvalidRequestError).source, "client", where)
  return e as InvalidRequestError
}

const isPlainObject = (u: unknown): boolean => {
  try {
    return typeof u === "object" && u !== null && Object.getPrototypeOf(u) === Object.prototype
  } catch {
    return false
  }
}

type Outcome = { readonly _tag: "Success"; readonly value: unknown } | {
  readonly _tag: "Failure"
  readonly error: unknown
}

/** Runs a Promise-returning call: a synchronous throw fails the test, a rejection is an outcome. */
const settle = async (where: string, call: () => Promise<unknown>): Promise<Outcome> => {
  let promise: Promise<unknown>
  try {
    promise = call()
  } catch (e) {
    assert.fail(`${where}: threw synchronously: ${describeValue(e)}`)
  }
  try {
    return { _tag: "Success", value: await promise }
  } catch (error) {
    return { _tag: "Failure", error }
  }
}

// ---------------------------------------------------------------------------------------------
// hostile values
// ---------------------------------------------------------------------------------------------

const nullProto = (fields: Record<string, unknown>): Record<string, unknown> =>
  Object.assign(Object.create(null) as Record<string, unknown>, fields)

const throwingGetter = (key: string, base: Record<string, unknown> = {}): Record<string, unknown> =>
  Object.defineProperty({ ...base }, key, {
    enumerable: true,
    get: () => {
      throw new Error(`boom: ${key}`)
    }
  })

const throwingProxy = (): object => {
  const trap = () => {
    throw new TypeError("trapped")
  }
  return new Proxy({}, { get: trap, has: trap, ownKeys: trap, getPrototypeOf: trap, getOwnPropertyDescriptor: trap })
}

const circular = (): Record<string, unknown> => {
  const o: Record<string, unknown> = { role: "user" }
  o.content = o
  o.self = o
  return o
}

const deep = (() => {
  let v: unknown = "bottom"
  for (let i = 0; i < 100_000; i++) v = [v]
  return v
})()

const megabyte = "x".repeat(1 << 20)

/**
 * A hostile value as fast-check carries it: a factory, made into the value inside the property (fast-check itself
 * inspects the values it generates, and a throwing Proxy would throw at it).
 */
class Hostile {
  constructor(readonly label: string, readonly make: () => unknown) {}
  toString(): string {
    return this.label
  }
}

const box = (label: string, make: () => unknown) => fc.constant(new Hostile(label, make))

const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, -1, 0, 1.5, 3, 2 ** 60, "", "x", true, [], {}),
  box("undefined", () => undefined),
  box("NaN", () => NaN),
  box("Infinity", () => Infinity),
  box("-Infinity", () => -Infinity),
  box("[undefined]", () => [undefined]),
  box("a BigInt", () => BigInt(10)),
  box("a megabyte string", () => megabyte),
  box("100,000 nested arrays", () => deep),
  box("a Date", () => new Date(0)),
  box("a Map", () => new Map([["a", 1]])),
  box("a Duration", () => Duration.seconds(1)),
  box("a Symbol", () => Symbol("s")),
  box("a function", () => () => 1),
  box("a null-prototype message", () => nullProto({ role: "user", content: "hi" })),
  box("a null-prototype object holding a BigInt", () => nullProto({ a: nullProto({ b: BigInt(1) }) })),
  box("a throwing getter", () => throwingGetter("content", { role: "user" })),
  box("a throwing Proxy", throwingProxy),
  box("a transparent Proxy", () => new Proxy({ role: "user", content: "proxied" }, {})),
  box("a circular object", circular)
)

/** The generated value with its hostile parts made. */
const materialize = (u: unknown): unknown => {
  if (u instanceof Hostile) return u.make()
  if (Array.isArray(u)) return u.map(materialize)
  if (typeof u === "object" && u !== null && Object.getPrototypeOf(u) === Object.prototype) {
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(u)) out[key] = materialize(value)
    return out
  }
  return u
}

// ---------------------------------------------------------------------------------------------
// requests
// ---------------------------------------------------------------------------------------------

const message = fc.oneof(
  fc.record({ role: fc.constant("user"), content: fc.constantFrom("hello there", "你好", "two words") }),
  fc.record({ role: fc.constant("system"), content: fc.constant("be brief") }),
  fc.constant({ role: "user", content: [{ type: "text", text: "parts" }] }),
  fc.constant({
    role: "assistant",
    content: null,
    tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }]
  }),
  fc.constant({ role: "tool", tool_call_id: "call_1", content: "done" })
)

const validRequest = fc.record({
  messages: fc.array(message, { minLength: 1, maxLength: 3 }).map((ms) => [...ms, { role: "user", content: "last" }]),
  model: fc.option(fc.constantFrom("gpt-fuzz", "other-model"), { nil: undefined }),
  temperature: fc.option(fc.constantFrom(0, 0.5, 2), { nil: undefined }),
  max_tokens: fc.option(fc.constantFrom(1, 50), { nil: undefined }),
  tools: fc.option(
    fc.constant([{ type: "function", function: { name: "f", parameters: { type: "object", properties: {} } } }]),
    { nil: undefined, freq: 4 }
  ),
  provider: fc.option(fc.constant({ order: ["a", "b"] }), { nil: undefined, freq: 4 })
}, { requiredKeys: ["messages"] })

// Where a generated value goes in a valid request: a field, a message, a part of one, a nested JSON Schema.
const paths: ReadonlyArray<ReadonlyArray<string | number>> = [
  [],
  ["messages"],
  ["messages", 0],
  ["messages", 0, "content"],
  ["messages", 0, "role"],
  ["messages", 0, "name"],
  ["messages", 0, "extra"],
  ["model"],
  ["temperature"],
  ["top_p"],
  ["max_tokens"],
  ["seed"],
  ["stop"],
  ["stream"],
  ["stream_options"],
  ["stream_options", "include_usage"],
  ["response_format"],
  ["tools"],
  ["tools", 0, "function", "parameters"],
  ["tools", 0, "function", "parameters", "properties"],
  ["logit_bias"],
  ["metadata"],
  ["extra"],
  ["provider", "order"]
]

const setAt = (target: unknown, path: ReadonlyArray<string | number>, value: unknown): unknown => {
  if (path.length === 0) return value
  const [head, ...rest] = path
  const base: any = Array.isArray(target)
    ? [...target]
    : typeof target === "object" && target !== null
    ? { ...target }
    : {}
  if (head === "tools" && base.tools === undefined && rest.length > 0) {
    base.tools = [{ type: "function", function: { name: "f", parameters: { type: "object" } } }]
  }
  base[head!] = setAt(base[head!], rest, value)
  return base
}

interface GeneratedRequest {
  readonly params: unknown
  readonly mutated: boolean
  readonly stream: boolean
}

const request: fc.Arbitrary<GeneratedRequest> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.tuple(validRequest, fc.boolean()).map(([r, stream]) => ({
      params: { ...r, stream },
      mutated: false,
      stream
    }))
  },
  {
    weight: 4,
    arbitrary: fc.tuple(validRequest, fc.constantFrom(...paths), hostile, fc.boolean()).map(
      ([r, path, value, stream]) => ({ params: setAt({ ...r, stream }, path, value), mutated: true, stream })
    )
  }
)

const embeddingRequest: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant({ input: ["a", "b"] }),
  fc.constant({ input: "one", dimensions: 8 }),
  fc.tuple(
    fc.constantFrom<ReadonlyArray<string | number>>([], ["input"], ["input", 0], ["dimensions"], ["model"], [
      "encoding_format"
    ], ["extra"]),
    hostile
  )
    .map(([path, value]) => setAt({ input: ["a", "b"] }, path, value))
)

// ---------------------------------------------------------------------------------------------
// the clients
// ---------------------------------------------------------------------------------------------

const base = () => ({
  provider: "openai",
  apiKey: KEY,
  baseUrl: `${server.url}/v1`,
  defaultModel: "gpt-fuzz",
  retry: false as const
})

const makeClients = () => ({
  plain: new Client(base()),
  cached: new Client({ ...base(), cache: { backend: "memory", maxSize: 50 } }),
  routed: new Client({
    providers: [
      { ...base(), name: "a", rateLimit: { requestsPerMinute: 1_000_000, tokensPerMinute: 100_000_000 } },
      { ...base(), name: "b", defaultModel: "gpt-other" }
    ],
    strategy: "fallback"
  }),
  cachedRouted: new Client({
    providers: [{ ...base(), name: "a" }, { ...base(), name: "b" }],
    strategy: "round-robin",
    cache: { backend: "memory" }
  })
})

type Clients = ReturnType<typeof makeClients>

const clientNames = ["plain", "cached", "routed", "cachedRouted"] as const
const via = [...clientNames, "effect"] as const

// A chat call through the Promise API, a stream read to its end.
const chatCall = (client: Client, params: unknown, options?: unknown) => async () => {
  const result: unknown = await (client.chat.completions.create as any)(params, options)
  if (result !== null && typeof result === "object" && Symbol.asyncIterator in result) {
    return (result as unknown as { toCompletion: () => Promise<unknown> }).toCompletion()
  }
  return result
}

const closeAll = (clients: Clients) => Promise.all(Object.values(clients).map((c) => c.close()))

// ---------------------------------------------------------------------------------------------
// the properties
// ---------------------------------------------------------------------------------------------

describe("every input ends in a success or a tagged error", () => {
  it("requests, through plain, cached and routed clients, and through the Effect API", async () => {
    const clients = makeClients()
    let successes = 0
    let rejections = 0
    try {
      await fc.assert(
        fc.asyncProperty(request, fc.constantFrom(...via), async (generated, through) => {
          const { mutated } = generated
          const params = materialize(generated.params)
          const before = server.requests.length
          let outcome: Outcome
          if (through === "effect") {
            // The Effect API, over the cached router: a success or a typed failure, never a defect.
            const exit = await Effect.runPromiseExit(
              LlmProvider.chat(params as any).pipe(Effect.provide(clients.cachedRouted.layer))
            )
            if (Exit.isFailure(exit)) {
              assert.isTrue(
                Cause.isFailType(exit.cause),
                `Effect API: not a typed failure: ${Cause.pretty(exit.cause)}`
              )
            }
            outcome = Exit.isSuccess(exit)
              ? { _tag: "Success", value: exit.value }
              : { _tag: "Failure", error: (exit.cause as Cause.Fail<unknown>).error }
          } else {
            outcome = await settle(through, chatCall(clients[through], params))
          }
          const sent = server.requests.length - before
          if (outcome._tag === "Success") {
            successes++
            return
          }
          assertOurs(outcome.error, through)
          if (!(outcome.error instanceof InvalidRequestError && outcome.error.source === "client")) {
            assert.fail(`${through}: a generated request failed with ${describeValue(outcome.error)}`)
          }
          rejections++
          assert.strictEqual(sent, 0, `${through}: a rejected request reached the server`)
          // a request that is a plain object has its bad field named
          if (mutated && isPlainObject(params)) {
            assert.isString(outcome.error.param, `${through}: no param in ${outcome.error.message}`)
          }
        }),
        { numRuns: 1200, seed: 12, endOnFailure: true }
      )
    } finally {
      await closeAll(clients)
    }
    // both verdicts are reached often enough for the property to mean something
    assert.isAbove(successes, 150)
    assert.isAbove(rejections, 600)
  }, fuzzTimeout)

  it("embeddings requests", async () => {
    const clients = makeClients()
    try {
      await fc.assert(
        fc.asyncProperty(embeddingRequest, fc.constantFrom(...clientNames), async (generated, through) => {
          const params = materialize(generated)
          const before = server.requests.length
          const outcome = await settle(through, () => (clients[through].embeddings.create as any)(params))
          if (outcome._tag === "Failure") {
            const error = assertRejected(outcome.error, through)
            assert.strictEqual(server.requests.length - before, 0, `${through}: a rejected request reached the server`)
            if (isPlainObject(params)) {
              assert.isString(error.param, `${through}: ${error.message}`)
            }
          }
        }),
        { numRuns: 200, seed: 13, endOnFailure: true }
      )
    } finally {
      await closeAll(clients)
    }
  }, fuzzTimeout)

  it("per-call options", async () => {
    const clients = makeClients()
    const aborted = AbortSignal.abort()
    const options: fc.Arbitrary<unknown> = fc.oneof(
      fc.constantFrom<unknown>(
        undefined,
        {},
        { signal: new AbortController().signal },
        { cache: false },
        {
          cache: { ttl: "1 minute" }
        },
        { cache: { skip: true, cacheLength: true } },
        { signal: aborted }
      ),
      hostile,
      fc.record({ signal: hostile }),
      fc.record({ cache: hostile }),
      fc.record({
        cache: fc.record({ ttl: fc.oneof(hostile, fc.constantFrom("soon", -5, "-1 second", "10 fortnights")) })
      }),
      fc.record({ cache: fc.record({ skip: hostile, cacheLength: hostile }, { requiredKeys: [] }) }),
      fc.record({ signl: fc.constant(undefined), timeout: fc.constant(5) }, { requiredKeys: [] }).filter((o) =>
        Object.keys(o).length > 0
      )
    )
    try {
      await fc.assert(
        fc.asyncProperty(options, fc.boolean(), fc.constantFrom(...clientNames), async (generated, stream, through) => {
          const opts = materialize(generated)
          const before = server.requests.length
          const outcome = await settle(
            through,
            stream || through !== "plain"
              ? chatCall(clients[through], { messages: [{ role: "user", content: "hello" }], stream }, opts)
              : () => (clients.plain.embeddings.create as any)({ input: "a" }, opts)
          )
          if (outcome._tag === "Success" || outcome.error === aborted.reason) return
          const error = assertRejected(outcome.error, through)
          assert.isString(error.param, `${through}: ${error.message}`)
          assert.strictEqual(server.requests.length - before, 0, `${through}: a rejected call reached the server`)
        }),
        { numRuns: 300, seed: 14, endOnFailure: true }
      )
    } finally {
      await closeAll(clients)
    }
  }, fuzzTimeout)
})

// ---------------------------------------------------------------------------------------------
// configs
// ---------------------------------------------------------------------------------------------

const goodDuration = fc.constantFrom<unknown>("30 seconds", 60_000, Duration.minutes(2), Duration.infinity, "30 days")
// Each field mostly valid, sometimes anything: about half the configs are valid.
const field = <A>(good: fc.Arbitrary<A>) => fc.oneof({ weight: 30, arbitrary: good }, { weight: 1, arbitrary: hostile })
const anyDuration = fc.oneof(
  { weight: 30, arbitrary: goodDuration },
  { weight: 1, arbitrary: hostile },
  { weight: 1, arbitrary: fc.constantFrom("soon", -1, "-5 seconds", [1, NaN]) }
)
const choice = (good: ReadonlyArray<unknown>, bad: ReadonlyArray<unknown>) =>
  fc.oneof({ weight: 15, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: fc.constantFrom(...bad) })
const maybe = <A>(arb: fc.Arbitrary<A>) => fc.option(arb, { nil: undefined, freq: 2 })

const providerOptions = fc.oneof(
  { weight: 8, arbitrary: fc.constant(undefined) },
  fc.constantFrom<unknown>(
    { organization: "org", project: "p" },
    { organisation: "org" },
    { capabilities: { vision: false } },
    { capabilities: { visoin: false } },
    { baseUrl: "http://elsewhere" },
    { region: "intl" },
    { auth: "jwt" },
    { jwtTtl: "1 minute" },
    { jwtTtl: 5 },
    { reasoningReplay: "strip" },
    { reasoningReplay: "sometimes" },
    { appName: "fuzz", appCategories: ["cli-agent"] },
    { name: "my-gateway" },
    { name: "" }
  ),
  hostile
)

const memberConfig = fc.record({
  provider: field(fc.constantFrom("openai", "openai-compatible", "deepseek", "openrouter", "zhipu")),
  apiKey: field(fc.constantFrom(KEY, "id.secret")),
  baseUrl: fc.constant(undefined),
  defaultModel: maybe(field(fc.constant("gpt-fuzz"))),
  headers: maybe(field(fc.constant({ "x-fuzz": "1" }))),
  timeout: maybe(
    fc.oneof(anyDuration, fc.record({ total: anyDuration, idle: maybe(anyDuration) }, { requiredKeys: [] }))
  ),
  retry: maybe(field(fc.oneof(
    fc.constant(false),
    fc.record({ maxRetries: choice([0, 1], [-1, 1.5]), initialDelay: maybe(anyDuration) }, { requiredKeys: [] }),
    fc.constant(Schedule.recurs(0))
  ))),
  options: maybe(providerOptions)
}, { requiredKeys: ["provider", "apiKey"] }).map((c) => ({ ...c, baseUrl: `${server.url}/v1` }))

const singleConfig = fc.record({
  member: memberConfig,
  http: maybe(field(fc.record({
    connections: maybe(choice([1, 4], [0, 1.5])),
    keepAliveTimeout: maybe(anyDuration),
    pipelining: maybe(choice([0, 1], [-1]))
  }, { requiredKeys: [] }))),
  cache: maybe(field(fc.oneof(
    fc.record({ backend: fc.constant("memory"), ttl: maybe(anyDuration), maxSize: maybe(choice([1, 10], [0])) }, {
      requiredKeys: ["backend"]
    }),
    fc.constant({ backend: "memcached" })
  )))
}).map(({ cache, http, member }) => ({ ...member, http, cache }))

const routerConfig = fc.record({
  providers: fc.oneof(
    {
      weight: 8,
      arbitrary: fc.array(
        fc.tuple(
          memberConfig,
          fc.record({
            name: maybe(field(fc.constantFrom("a", "b"))),
            weight: maybe(field(fc.constantFrom(0, 1, 3))),
            contextWindow: maybe(field(fc.constantFrom(1000, 128_000))),
            rateLimit: maybe(field(fc.record({
              requestsPerMinute: maybe(field(fc.constant(100_000))),
              tokensPerMinute: maybe(field(fc.constant(10_000_000))),
              onExceeded: maybe(field(fc.constantFrom("delay", "fail")))
            }, { requiredKeys: [] })))
          }, { requiredKeys: [] })
        ).map(([m, extra]) => ({ ...m, ...extra })),
        { minLength: 1, maxLength: 3 }
      )
    },
    { weight: 1, arbitrary: hostile }
  ),
  strategy: maybe(field(choice(["fallback", "round-robin", "weighted", "least-latency", "least-busy"], ["random"]))),
  name: maybe(field(fc.constant("fuzz-router"))),
  fallbackOn: maybe(field(fc.constant(() => true))),
  cooldown: maybe(field(fc.oneof(
    fc.constant(false),
    fc.record({
      failures: maybe(field(choice([1, 3], [0, 2.5]))),
      window: maybe(anyDuration),
      duration: maybe(anyDuration),
      maxWait: maybe(anyDuration),
      countsAsFailure: maybe(field(fc.constant(() => false)))
    }, { requiredKeys: [] })
  ))),
  hedge: maybe(field(fc.record({
    after: field(fc.oneof(fc.constant("p95"), goodDuration)),
    initial: maybe(anyDuration),
    minSamples: maybe(field(fc.constantFrom(1, 10)))
  }, { requiredKeys: [] }))),
  latencyAlpha: maybe(field(choice([0.3, 1], [0, 1.5]))),
  cache: maybe(field(fc.constant({ backend: "memory" })))
}, { requiredKeys: ["providers"] })

describe("every config is rejected by new Client naming the field, or answers a valid call", () => {
  it("provider and router configs", async () => {
    let constructed = 0
    let rejected = 0
    await fc.assert(
      fc.asyncProperty(fc.oneof(singleConfig, routerConfig, hostile), async (generated) => {
        const config = materialize(generated)
        let client: Client
        try {
          client = new Client(config as any)
        } catch (e) {
          rejected++
          assertRejected(e, "new Client")
          return
        }
        constructed++
        try {
          const outcome = await settle(
            "a valid call",
            chatCall(client, { model: "gpt-fuzz", messages: [{ role: "user", content: "hi" }] })
          )
          if (outcome._tag === "Failure") {
            assert.fail(`a config that constructed failed a valid call: ${describeValue(outcome.error)}`)
          }
          const stats = await settle("cacheStats", () => client.cacheStats())
          assert.strictEqual(stats._tag, "Success")
          const cleared = await settle("clearCache", () => client.clearCache())
          assert.strictEqual(cleared._tag, "Success")
        } finally {
          await client.close()
        }
      }),
      { numRuns: 400, seed: 15, endOnFailure: true }
    )
    assert.isAbove(constructed, 60)
    assert.isAbove(rejected, 150)
  }, fuzzTimeout)
})

describe("parse and runTools", () => {
  it("end in a success or a tagged error whatever their params", async () => {
    await using client = new Client(base())
    const Answer = Schema.Struct({ text: Schema.String })
    const params = fc.oneof(
      fc.constant({ messages: [{ role: "user", content: "hi" }], schema: Answer }),
      hostile,
      fc.tuple(fc.constantFrom("messages", "schema", "tools", "maxSteps", "repair"), hostile).map(([key, value]) => ({
        messages: [{ role: "user", content: "hi" }],
        schema: Answer,
        tools: [{ name: "f", parameters: { type: "object" }, run: async () => "ok" }],
        [key]: value
      }))
    )
    await fc.assert(
      fc.asyncProperty(params, fc.boolean(), async (generated, tools) => {
        const p = materialize(generated)
        const outcome = tools
          ? await settle("runTools", () => (client.chat.completions.runTools as any)(p))
          : await settle("parse", () => (client.chat.completions.parse as any)(p))
        if (outcome._tag === "Failure") assertOurs(outcome.error, tools ? "runTools" : "parse")
      }),
      { numRuns: 120, seed: 16, endOnFailure: true }
    )
  }, fuzzTimeout)
})

describe("the cases the fuzz found, one by one", () => {
  const rejectedConfig = (config: unknown): InvalidRequestError => {
    try {
      new Client(config as any)
    } catch (e) {
      return assertRejected(e, "new Client")
    }
    throw new Error("expected new Client to throw")
  }

  it("every router field is checked by new Client, naming it", () => {
    const member = base()
    const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
      [{ cooldown: { duration: "soon" } }, "cooldown.duration"],
      [{ hedge: { after: "soon" } }, "hedge.after"],
      [{ latencyAlpha: 2 }, "latencyAlpha"],
      [{ fallbackOn: "retryable" }, "fallbackOn"],
      [{ name: 5 }, "name"],
      [{ strategy: "random" }, "strategy"],
      [{ providers: [{ ...member, weight: -1 }] }, "providers[0].weight"],
      [{ providers: [{ ...member, rateLimit: { requestsPerMinut: 5 } }] }, "providers[0].rateLimit.requestsPerMinut"],
      [{ providers: [{ ...member, name: 3 }] }, "providers[0].name"],
      [{ providers: [{ ...member, options: { organisation: "o" } }] }, "providers[0].options.organisation"]
    ]
    for (const [fields, param] of cases) {
      assert.strictEqual(rejectedConfig({ providers: [member], ...fields }).param, param)
    }
  })

  it("hostile configs are rejected with our error, naming the field where one can be named", () => {
    assert.strictEqual(rejectedConfig({ ...base(), headers: throwingGetter("x-a") }).param, "headers.x-a")
    assert.strictEqual(rejectedConfig({ ...base(), options: nullProto({ regoin: "x" }) }).param, "options.regoin")
    assert.strictEqual(rejectedConfig({ ...base(), headers: { "x-a": "line\nbreak" } }).param, "headers.x-a")
    assert.strictEqual(rejectedConfig({ ...base(), apiKey: "k".repeat(10_000) }).param, "apiKey")
    assert.strictEqual(rejectedConfig({ ...base(), timeout: nullProto({ total: "soon" }) }).param, "timeout.total")
    rejectedConfig(throwingProxy())
    rejectedConfig(circular())
    rejectedConfig({ ...base(), provider: megabyte })
  })

  it("a timeout beyond what a timer can hold is no timeout, not one that fires at once", async () => {
    await using client = new Client({ ...base(), timeout: "30 days" })
    const res = await client.chat.completions.create({ messages: [{ role: "user", content: "hi" }] })
    assert.strictEqual(res.object, "chat.completion")
  })

  it("create never throws synchronously, and rejects bad options naming them", async () => {
    await using client = new Client(base())
    const hello = { messages: [{ role: "user" as const, content: "hi" }] }
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [{ signal: {} }, "options.signal"],
      [{ signal: "abort" }, "options.signal"],
      [{ cache: { ttl: "soon" } }, "options.cache.ttl"],
      [{ cache: { ttl: -5 } }, "options.cache.ttl"],
      [{ cache: true }, "options.cache"],
      [{ cache: { tll: "1 minute" } }, "options.cache.tll"],
      [{ signl: undefined }, "options.signl"],
      [throwingGetter("signal"), "options.signal"],
      [42, "options"]
    ]
    for (const [options, param] of cases) {
      const outcome = await settle("create", () => client.chat.completions.create(hello, options as any))
      assert.strictEqual(outcome._tag, "Failure")
      if (outcome._tag === "Failure") assert.strictEqual(assertRejected(outcome.error, "create").param, param)
      const embed = await settle("embed", () => client.embeddings.create({ input: "a" }, options as any))
      if (embed._tag === "Failure") assert.strictEqual(assertRejected(embed.error, "embed").param, param)
    }
    const stream = await settle("create", () => client.chat.completions.create({ ...hello, stream: "yes" } as any))
    assert.strictEqual(stream._tag === "Failure" && assertRejected(stream.error, "stream").param, "stream")
    const proxied = await settle("create", () => client.chat.completions.create(throwingProxy() as any))
    assert.strictEqual(proxied._tag, "Failure")
    if (proxied._tag === "Failure") assertRejected(proxied.error, "a throwing Proxy")
  })

  it("cacheStats and clearCache reject with our error itself when the cache cannot be built", async () => {
    const broken = new InvalidRequestError({ provider: "test", source: "client", param: "cache", message: "no cache" })
    await using client = new Client({ ...base(), cache: Layer.fail(broken) })
    const stats = await settle("cacheStats", () => client.cacheStats())
    assert.strictEqual(stats._tag === "Failure" && stats.error, broken)
    const cleared = await settle("clearCache", () => client.clearCache())
    assert.strictEqual(cleared._tag === "Failure" && cleared.error, broken)
  })
})
