// One separate process of the cross-process tests: asks the fake server once through a Redis-cached OpenAi
// provider, prints the answer and the cache's stats as JSON. It prints "ready" on stderr once connected, and
// calls when "go" arrives on stdin.
import { Http, LlmProvider, ResponseCache } from "@llm-api-router/core"
import { OpenAi } from "@llm-api-router/providers"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { RedisCache } from "../src/index.js"

const [baseUrl, redisUrl, prefix, apiKey = "sk-test"] = process.argv.slice(2) as [string, string, string, string?]

const program = Effect.gen(function*() {
  const completion = yield* LlmProvider.chat({ messages: [{ role: "user", content: "shared question" }] })
  const stats = yield* ResponseCache.stats
  return { completion, stats }
})

// A generous command timeout: these tests are about sharing between processes, not about a slow Redis (that is
// RedisOutage.test.ts), and a busy machine can take longer than the default to answer.
const live = ResponseCache.layer.pipe(
  Layer.provide(OpenAi.layer({ apiKey: Redacted.make(apiKey), baseUrl, defaultModel: "gpt-test", retry: false })),
  Layer.provideMerge(RedisCache.layer({ url: redisUrl, prefix, timeout: 5_000 })),
  Layer.provide(Http.layerDefault)
)

// Built and connected first; the call starts when the parent says "go" on stdin, so that several children can
// call at the same moment.
const waitForGo = () =>
  new Promise<void>((resolve) => {
    process.stdin.on("data", (data: Buffer) => {
      if (data.toString("utf8").includes("go")) resolve()
    })
    process.stdin.on("end", () => resolve())
  })

const runtime = ManagedRuntime.make(live)
runtime.runtime()
  .then(() => {
    process.stderr.write("ready\n")
    return waitForGo()
  })
  .then(() => runtime.runPromise(program))
  .then(
    async (result) => {
      process.stdout.write(JSON.stringify(result))
      await runtime.dispose()
    },
    (error) => {
      process.stderr.write(String(error))
      process.exit(1)
    }
  )
