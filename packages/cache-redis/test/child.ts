// One separate process of the cross-process tests: asks the fake server once through a Redis-cached OpenAi
// provider, prints the answer and the cache's stats as JSON.
import { Http, LlmProvider, ResponseCache } from "@llm-api-router/core"
import { OpenAi } from "@llm-api-router/providers"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { RedisCache } from "../src/index.js"

const [baseUrl, redisUrl, prefix, apiKey = "sk-test"] = process.argv.slice(2) as [string, string, string, string?]

const program = Effect.gen(function*() {
  const completion = yield* LlmProvider.chat({ messages: [{ role: "user", content: "shared question" }] })
  const stats = yield* ResponseCache.stats
  return { completion, stats }
})

const live = ResponseCache.layer.pipe(
  Layer.provide(OpenAi.layer({ apiKey: Redacted.make(apiKey), baseUrl, defaultModel: "gpt-test", retry: false })),
  Layer.provideMerge(RedisCache.layer({ url: redisUrl, prefix, timeout: 500 })),
  Layer.provide(Http.layerDefault)
)

Effect.runPromise(Effect.provide(program, live)).then(
  (result) => process.stdout.write(JSON.stringify(result)),
  (error) => {
    process.stderr.write(String(error))
    process.exit(1)
  }
)
