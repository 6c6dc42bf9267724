/**
 * The Effect API from plain async code: compose the layers once, then run effects from ordinary functions, either
 * one-off with `Effect.runPromise` or, for a service that handles many requests, on one `ManagedRuntime` that keeps
 * the provider and its connection pool alive between calls. (`new Client(config)` is exactly this, packaged.)
 *
 * Offline by default (a fake OpenAI-compatible server); OPENAI_API_KEY set: OpenAI.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/runtime.ts
 */
import { Http, LlmProvider, ResponseCache } from "@llm-api-router/core"
import { OpenAi } from "@llm-api-router/providers"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import * as Backend from "./src/backend.js"

await using backend = await Backend.start()

// The layers, composed once: a provider, decorated by a response cache, over one connection pool.
const ProviderLive = OpenAi.layer({
  apiKey: Redacted.make(backend.apiKey),
  baseUrl: backend.baseUrl,
  defaultModel: backend.model
})
const AppLive = ResponseCache.layer.pipe(
  Layer.provide(ProviderLive),
  Layer.provide(Layer.merge(ResponseCache.layerMemory({ ttl: "5 minutes" }), Http.layer({ connections: 16 })))
)

// A function of the application: an Effect that needs an LlmProvider.
const summarise = (text: string) =>
  LlmProvider.chat({ messages: [{ role: "user", content: `Summarise: ${text}` }] }).pipe(
    Effect.map((res) => res.choices[0]?.message.content ?? "")
  )

// One-off: Effect.runPromise builds the layers, runs, and releases them (the pool included).
console.log("runPromise:", await Effect.runPromise(summarise("one call").pipe(Effect.provide(AppLive))))

// Long-lived: a ManagedRuntime builds them on first use and keeps them until dispose().
const runtime = ManagedRuntime.make(AppLive)
try {
  const handler = (text: string): Promise<string> => runtime.runPromise(summarise(text))
  const answers = await Promise.all(["first request", "second request", "first request"].map(handler))
  for (const answer of answers) console.log("runtime:", answer)
  if (backend.server) console.log(`requests that reached the server: ${backend.server.requests.length}`)
} finally {
  await runtime.dispose()
}
