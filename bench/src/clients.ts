/**
 * The clients compared, each behind the same small interface. A client's libraries are imported inside `load`, so
 * that the worker can time the import alone, in a fresh process.
 *
 * Every client does what a user would do with the result: the JSON call reads the answer's text; a stream counts its
 * text deltas (each one decoded into the library's own chunk type).
 */
import * as Payloads from "./payloads.js"

export interface StreamResult {
  /** text deltas received */
  readonly chunks: number
  /** milliseconds from the call to the first text delta */
  readonly firstChunk: number
}

export interface Bench {
  readonly chat: () => Promise<void>
  readonly stream: (model: string, onChunk?: () => void) => Promise<StreamResult>
  readonly close: () => Promise<void>
}

export interface Target {
  readonly baseUrl: string
  /** the connection pool's size, where the client has one to set */
  readonly connections: number
}

const apiKey = "sk-bench-not-a-secret"
const messages = [{ role: "user" as const, content: "Say something." }]

const check = (text: string | null | undefined): void => {
  if (typeof text !== "string" || text.length === 0) throw new Error("empty answer")
}

/** The floor: undici's `request` and a hand-written SSE split, no schema. */
const undici = async (target: Target): Promise<Bench> => {
  const { Agent, request } = await import("undici")
  const agent = new Agent({ connections: target.connections })
  const url = `${target.baseUrl}/chat/completions`
  const headers = { "content-type": "application/json", authorization: `Bearer ${apiKey}` }
  return {
    chat: async () => {
      const response = await request(url, {
        method: "POST",
        dispatcher: agent,
        headers,
        body: JSON.stringify({ model: Payloads.models.json, messages })
      })
      if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`)
      const json = await response.body.json() as { choices: Array<{ message: { content: string } }> }
      check(json.choices[0]?.message.content)
    },
    stream: async (model, onChunk) => {
      const start = performance.now()
      let firstChunk = -1
      let chunks = 0
      const response = await request(url, {
        method: "POST",
        dispatcher: agent,
        headers,
        body: JSON.stringify({ model, messages, stream: true, stream_options: { include_usage: true } })
      })
      if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`)
      const decoder = new TextDecoder()
      let buffer = ""
      let done = false
      for await (const bytes of response.body) {
        buffer += decoder.decode(bytes as Uint8Array, { stream: true })
        let end: number
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const event = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (!event.startsWith("data: ")) continue
          const data = event.slice(6)
          if (data === "[DONE]") {
            done = true
            break
          }
          const parsed = JSON.parse(data) as { choices: Array<{ delta: { content?: string } }> }
          if (parsed.choices[0]?.delta.content !== undefined) {
            if (firstChunk < 0) firstChunk = performance.now() - start
            chunks++
            onChunk?.()
          }
        }
        if (done) break
      }
      return { chunks, firstChunk }
    },
    close: () => agent.close()
  }
}

const openai = async (target: Target): Promise<Bench> => {
  const { default: OpenAI } = await import("openai")
  const client = new OpenAI({ apiKey, baseURL: target.baseUrl, maxRetries: 0 })
  return {
    chat: async () => {
      const completion = await client.chat.completions.create({ model: Payloads.models.json, messages })
      check(completion.choices[0]?.message.content)
    },
    stream: async (model, onChunk) => {
      const start = performance.now()
      let firstChunk = -1
      let chunks = 0
      const stream = await client.chat.completions.create({
        model,
        messages,
        stream: true,
        stream_options: { include_usage: true }
      })
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content != null) {
          if (firstChunk < 0) firstChunk = performance.now() - start
          chunks++
          onChunk?.()
        }
      }
      return { chunks, firstChunk }
    },
    close: async () => {}
  }
}

/** The Vercel AI SDK over the Chat Completions API (`provider.chat`), as the others use. */
const aiSdk = async (target: Target): Promise<Bench> => {
  const [{ generateText, streamText }, { createOpenAI }] = await Promise.all([import("ai"), import("@ai-sdk/openai")])
  const provider = createOpenAI({ apiKey, baseURL: target.baseUrl })
  const jsonModel = provider.chat(Payloads.models.json)
  return {
    chat: async () => {
      const result = await generateText({ model: jsonModel, messages, maxRetries: 0 })
      check(result.text)
    },
    stream: async (model, onChunk) => {
      const start = performance.now()
      let firstChunk = -1
      let chunks = 0
      let failure: unknown = undefined
      const result = streamText({
        model: provider.chat(model),
        messages,
        maxRetries: 0,
        onError: ({ error }) => {
          failure = error
        }
      })
      for await (const part of result.fullStream) {
        if (part.type === "text-delta") {
          if (firstChunk < 0) firstChunk = performance.now() - start
          chunks++
          onChunk?.()
        } else if (part.type === "error") {
          failure = part.error
        }
      }
      if (failure !== undefined) throw failure
      return { chunks, firstChunk }
    },
    close: async () => {}
  }
}

/** `@effect/ai-openai` (Effect 3 line), which speaks the Responses API. */
const effectAi = async (target: Target): Promise<Bench> => {
  const [
    LanguageModel,
    OpenAiClient,
    OpenAiLanguageModel,
    NodeHttpClient,
    Effect,
    Layer,
    ManagedRuntime,
    Redacted,
    Stream
  ] = await Promise.all([
    import("@effect/ai/LanguageModel"),
    import("@effect/ai-openai/OpenAiClient"),
    import("@effect/ai-openai/OpenAiLanguageModel"),
    import("@effect/platform-node/NodeHttpClient"),
    import("effect/Effect"),
    import("effect/Layer"),
    import("effect/ManagedRuntime"),
    import("effect/Redacted"),
    import("effect/Stream")
  ])
  const runtime = ManagedRuntime.make(
    OpenAiClient.layer({ apiKey: Redacted.make(apiKey), apiUrl: target.baseUrl }).pipe(
      Layer.provide(NodeHttpClient.layerUndici)
    )
  )
  const jsonModel = OpenAiLanguageModel.model(Payloads.models.json)
  const chat = Effect.flatMap(
    LanguageModel.generateText({ prompt: messages[0]!.content }),
    (response) => Effect.sync(() => check(response.text))
  ).pipe(Effect.provide(jsonModel))
  return {
    chat: () => runtime.runPromise(chat),
    stream: (model, onChunk) =>
      runtime.runPromise(Effect.suspend(() => {
        const start = performance.now()
        let firstChunk = -1
        let chunks = 0
        return LanguageModel.streamText({ prompt: messages[0]!.content }).pipe(
          Stream.runForEach((part) =>
            Effect.sync(() => {
              if (part.type === "text-delta") {
                if (firstChunk < 0) firstChunk = performance.now() - start
                chunks++
                onChunk?.()
              }
            })
          ),
          Effect.map(() => ({ chunks, firstChunk })),
          Effect.provide(OpenAiLanguageModel.model(model))
        )
      })),
    close: () => runtime.dispose()
  }
}

/**
 * The reference for Effect code written by hand: `@effect/platform`'s `HttpClient` over undici, a Schema decode of
 * the fields used. JSON calls only.
 */
const effectPlatform = async (target: Target): Promise<Bench> => {
  const [HttpClient, HttpClientRequest, HttpClientResponse, NodeHttpClient, Effect, ManagedRuntime, Schema] =
    await Promise.all([
      import("@effect/platform/HttpClient"),
      import("@effect/platform/HttpClientRequest"),
      import("@effect/platform/HttpClientResponse"),
      import("@effect/platform-node/NodeHttpClient"),
      import("effect/Effect"),
      import("effect/ManagedRuntime"),
      import("effect/Schema")
    ])
  const runtime = ManagedRuntime.make(NodeHttpClient.layerUndici)
  const Completion = Schema.Struct({
    choices: Schema.Array(Schema.Struct({ message: Schema.Struct({ content: Schema.String }) }))
  })
  const url = `${target.baseUrl}/chat/completions`
  const chat = Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const request = HttpClientRequest.post(url).pipe(
      HttpClientRequest.bearerToken(apiKey),
      HttpClientRequest.bodyUnsafeJson({ model: Payloads.models.json, messages })
    )
    const response = yield* client.execute(request)
    const completion = yield* HttpClientResponse.schemaBodyJson(Completion)(response)
    check(completion.choices[0]?.message.content)
  })
  return {
    chat: () => runtime.runPromise(chat),
    stream: () => Promise.reject(new Error("JSON calls only")),
    close: () => runtime.dispose()
  }
}

/** Ours, through the Effect API: one runtime holding the provider and the pool, `LlmProvider.chat` / `stream`. */
const oursEffect = async (target: Target): Promise<Bench> => {
  const [{ Http, LlmProvider }, { OpenAi }, Effect, Layer, ManagedRuntime, Redacted, Stream] = await Promise.all([
    import("@llm-api-router/core"),
    import("@llm-api-router/providers"),
    import("effect/Effect"),
    import("effect/Layer"),
    import("effect/ManagedRuntime"),
    import("effect/Redacted"),
    import("effect/Stream")
  ])
  const runtime = ManagedRuntime.make(
    OpenAi.layer({ apiKey: Redacted.make(apiKey), baseUrl: target.baseUrl }).pipe(
      Layer.provide(Http.layer({ connections: target.connections }))
    )
  )
  const chat = Effect.flatMap(
    LlmProvider.chat({ model: Payloads.models.json, messages }),
    (completion) => Effect.sync(() => check(completion.choices[0]?.message.content))
  )
  return {
    chat: () => runtime.runPromise(chat),
    stream: (model, onChunk) =>
      runtime.runPromise(Effect.suspend(() => {
        const start = performance.now()
        let firstChunk = -1
        let chunks = 0
        return LlmProvider.stream({ model, messages }).pipe(
          Stream.runForEach((chunk) =>
            Effect.sync(() => {
              if (chunk.choices[0]?.delta.content != null) {
                if (firstChunk < 0) firstChunk = performance.now() - start
                chunks++
                onChunk?.()
              }
            })
          ),
          Effect.map(() => ({ chunks, firstChunk }))
        )
      })),
    close: () => runtime.dispose()
  }
}

/** Ours, through the Promise facade. */
const oursClient = async (target: Target): Promise<Bench> => {
  const { Client } = await import("@llm-api-router/providers")
  const client = new Client({
    provider: "openai",
    apiKey,
    baseUrl: target.baseUrl,
    http: { connections: target.connections }
  })
  return {
    chat: async () => {
      const completion = await client.chat.completions.create({ model: Payloads.models.json, messages })
      check(completion.choices[0]?.message.content)
    },
    stream: async (model, onChunk) => {
      const start = performance.now()
      let firstChunk = -1
      let chunks = 0
      const stream = await client.chat.completions.create({ model, messages, stream: true })
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content != null) {
          if (firstChunk < 0) firstChunk = performance.now() - start
          chunks++
          onChunk?.()
        }
      }
      return { chunks, firstChunk }
    },
    close: () => client.close()
  }
}

/** Ours, with the in-memory `ResponseCache` in front: after the first call every call is a hit. */
const cacheMemory = async (target: Target): Promise<Bench> => {
  const [{ Http, LlmProvider, ResponseCache }, { OpenAi }, Effect, Layer, ManagedRuntime, Redacted] = await Promise
    .all([
      import("@llm-api-router/core"),
      import("@llm-api-router/providers"),
      import("effect/Effect"),
      import("effect/Layer"),
      import("effect/ManagedRuntime"),
      import("effect/Redacted")
    ])
  const runtime = ManagedRuntime.make(
    ResponseCache.layer.pipe(
      Layer.provide(OpenAi.layer({ apiKey: Redacted.make(apiKey), baseUrl: target.baseUrl })),
      Layer.provide(ResponseCache.layerMemory()),
      Layer.provide(Http.layer({ connections: target.connections }))
    )
  )
  const chat = Effect.flatMap(
    LlmProvider.chat({ model: Payloads.models.json, messages }),
    (completion) => Effect.sync(() => check(completion.choices[0]?.message.content))
  )
  return {
    chat: () => runtime.runPromise(chat),
    stream: () => Promise.reject(new Error("JSON calls only")),
    close: () => runtime.dispose()
  }
}

const redisUrl = (): string => {
  const url = process.env.BENCH_REDIS_URL
  if (url === undefined) throw new Error("BENCH_REDIS_URL is not set")
  return url
}

/** Ours, with the Redis `ResponseCache` in front. */
const cacheRedis = async (target: Target): Promise<Bench> => {
  const [{ Http, LlmProvider, ResponseCache }, { OpenAi }, { RedisCache }, Effect, Layer, ManagedRuntime, Redacted] =
    await Promise.all([
      import("@llm-api-router/core"),
      import("@llm-api-router/providers"),
      import("@llm-api-router/cache-redis"),
      import("effect/Effect"),
      import("effect/Layer"),
      import("effect/ManagedRuntime"),
      import("effect/Redacted")
    ])
  const runtime = ManagedRuntime.make(
    ResponseCache.layer.pipe(
      Layer.provide(OpenAi.layer({ apiKey: Redacted.make(apiKey), baseUrl: target.baseUrl })),
      Layer.provide(RedisCache.layer({ url: redisUrl(), prefix: `bench:${process.pid}:` })),
      Layer.provide(Http.layer({ connections: target.connections }))
    )
  )
  const chat = Effect.flatMap(
    LlmProvider.chat({ model: Payloads.models.json, messages }),
    (completion) => Effect.sync(() => check(completion.choices[0]?.message.content))
  )
  return {
    chat: () => runtime.runPromise(chat),
    stream: () => Promise.reject(new Error("JSON calls only")),
    close: () => runtime.dispose()
  }
}

/** The floor for a Redis hit: `ioredis` GET of a stored completion, and `JSON.parse`. */
const ioredis = async (): Promise<Bench> => {
  const { Redis } = await import("ioredis")
  const client = new Redis(redisUrl())
  const key = `bench:${process.pid}:raw`
  await client.set(key, Payloads.chatCompletion(Payloads.models.json), "PX", 600_000)
  return {
    chat: async () => {
      const text = await client.get(key)
      const json = JSON.parse(text!) as { choices: Array<{ message: { content: string } }> }
      check(json.choices[0]?.message.content)
    },
    stream: () => Promise.reject(new Error("JSON calls only")),
    close: async () => {
      await client.del(key)
      client.disconnect()
    }
  }
}

export const clients = {
  undici,
  openai,
  "ai-sdk": aiSdk,
  "effect-ai": effectAi,
  "effect-platform": effectPlatform,
  "ours-effect": oursEffect,
  "ours-client": oursClient,
  "cache-memory": cacheMemory,
  "cache-redis": cacheRedis,
  ioredis
} as const

export type ClientName = keyof typeof clients
