// A program outside the repository: it installs the packed packages from npm tarballs and uses exactly the public
// names of DESIGN §4.1 (Effect) and §4.2 (Client) against an OpenAI-compatible server written here with raw
// node:http. check.sh compiles it with tsc against the packed .d.ts files, then runs the output with plain node.
import { NodeHttpClient } from "@effect/platform-node"
import { AuthenticationError, LlmProvider, Retry } from "@llm-api-router/core"
import { Client, OpenAi } from "@llm-api-router/providers"
import { Effect, Redacted, Stream } from "effect"
import assert from "node:assert/strict"
import http from "node:http"

// ---------------------------------------------------------------------------------------------------------------
// The server: chat (JSON and SSE), embeddings, and a 401 for any other key.
// ---------------------------------------------------------------------------------------------------------------

const KEY = "sk-outside"
const seen: Array<{ path: string | undefined; authorization: string | undefined; body: any }> = []

const replyText = (body: any) => `You said: ${body.messages[body.messages.length - 1].content}`

const server = http.createServer(async (req, res) => {
  let raw = ""
  for await (const piece of req) raw += piece
  const body = raw === "" ? {} : JSON.parse(raw)
  seen.push({ path: req.url, authorization: req.headers.authorization, body })
  const json = (status: number, json: unknown) => {
    res.writeHead(status, { "content-type": "application/json", "x-request-id": `req_${seen.length}` })
    res.end(JSON.stringify(json))
  }
  if (req.headers.authorization !== `Bearer ${KEY}`) {
    return json(401, {
      error: {
        message: "Incorrect API key provided",
        type: "invalid_request_error",
        param: null,
        code: "invalid_api_key"
      }
    })
  }
  const usage = { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 }
  if (req.method === "POST" && req.url === "/v1/chat/completions") {
    const base = { id: "chatcmpl-outside", created: 1_700_000_000, model: body.model }
    const text = replyText(body)
    if (body.stream !== true) {
      return json(200, {
        ...base,
        object: "chat.completion",
        choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
        usage
      })
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`)
    const chunk = (delta: object, finish: string | null = null) =>
      send({ ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta, finish_reason: finish }] })
    chunk({ role: "assistant", content: "" })
    for (const word of text.split(/(?= )/)) chunk({ content: word })
    chunk({}, "stop")
    if (body.stream_options?.include_usage) send({ ...base, object: "chat.completion.chunk", choices: [], usage })
    res.end("data: [DONE]\n\n")
    return
  }
  if (req.method === "POST" && req.url === "/v1/embeddings") {
    const inputs = Array.isArray(body.input) ? body.input : [body.input]
    const dimensions = body.dimensions ?? 3
    return json(200, {
      object: "list",
      model: body.model,
      data: inputs.map((input: string, index: number) => ({
        object: "embedding",
        index,
        embedding: Array.from({ length: dimensions }, (_, i) => (input.length + i) / 10)
      })),
      usage: { prompt_tokens: inputs.length, total_tokens: inputs.length }
    })
  }
  json(404, { error: { message: `no route ${req.method} ${req.url}`, type: "invalid_request_error" } })
})
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
const address = server.address()
assert.ok(address !== null && typeof address === "object")
const baseUrl = `http://127.0.0.1:${address.port}/v1`
const messages = [{ role: "user" as const, content: "hi" }]

// ---------------------------------------------------------------------------------------------------------------
// §4.1: the Effect API
// ---------------------------------------------------------------------------------------------------------------

const program = Effect.gen(function*() {
  const llm = yield* LlmProvider.LlmProvider
  const res = yield* llm.chat({ messages: [{ role: "user", content: "hi" }] })
  let streamed = ""
  yield* llm.stream({ messages }).pipe(
    Stream.runForEach((chunk) => Effect.sync(() => (streamed += chunk.choices[0]?.delta.content ?? "")))
  )
  const emb = yield* llm.embed({ input: ["a", "b"] })
  const viaAccessor = yield* LlmProvider.chat({ messages: [{ role: "user", content: "again" }] })
  return { res, streamed, emb, viaAccessor, info: llm.info }
})

const OpenAiLive = OpenAi.layer({ apiKey: Redacted.make(KEY), baseUrl, defaultModel: "outside-model" })
const effectOut = await program.pipe(
  Effect.provide(OpenAiLive),
  Effect.provide(NodeHttpClient.layerUndici),
  Effect.runPromise
)
assert.equal(effectOut.res.choices[0]?.message.content, "You said: hi")
assert.equal(effectOut.res.model, "outside-model")
assert.equal(effectOut.streamed, "You said: hi")
assert.deepEqual(effectOut.emb.data.map((d) => d.embedding.length), [3, 3])
assert.equal(effectOut.viaAccessor.choices[0]?.message.content, "You said: again")
assert.equal(effectOut.info.defaultModel, "outside-model")

const streamRequest = seen.find((r) => r.body.stream === true)
assert.ok(streamRequest, "a streaming request reached the server")
assert.equal(streamRequest.path, "/v1/chat/completions")
assert.equal(streamRequest.authorization, `Bearer ${KEY}`)
assert.equal(streamRequest.body.stream_options?.include_usage, true, "usage is asked for")

// A wrong key is a typed failure that catchTags handles (it is not retried, whatever the policy says).
const caught = await LlmProvider.chat({ messages }).pipe(
  Effect.map(() => "answered"),
  Effect.catchTags({ AuthenticationError: (e) => Effect.succeed(`${e._tag} ${e.status}`) }),
  Effect.provide(OpenAi.layer({
    apiKey: Redacted.make("sk-wrong"),
    baseUrl,
    defaultModel: "outside-model",
    retry: Retry.fromConfig({ maxRetries: 1 })
  })),
  Effect.provide(NodeHttpClient.layerUndici),
  Effect.runPromise
)
assert.equal(caught, "AuthenticationError 401")
console.log("Effect API: chat, stream, embed, accessor and a typed AuthenticationError all work")

// ---------------------------------------------------------------------------------------------------------------
// §4.2: the Promise facade
// ---------------------------------------------------------------------------------------------------------------

const client = new Client({ provider: "openai", apiKey: KEY, baseUrl, defaultModel: "outside-model" })
const res = await client.chat.completions.create({ messages: [{ role: "user", content: "你好" }] })
assert.equal(res.choices[0]?.message.content, "You said: 你好")

const stream = await client.chat.completions.create({ messages, stream: true })
let streamed = ""
let usage: { readonly total_tokens: number } | undefined = undefined
for await (const chunk of stream) {
  streamed += chunk.choices[0]?.delta.content ?? ""
  if (chunk.usage) usage = chunk.usage
}
assert.equal(streamed, "You said: hi")
assert.equal(usage?.total_tokens, 8)

const emb = await client.embeddings.create({ input: ["a", "b"], dimensions: 4 })
assert.deepEqual(emb.data.map((d) => d.embedding.length), [4, 4])
assert.equal(typeof (await client.cacheStats()).hitRate, "number")
await client.clearCache()
await client.close()

// The rejected promise carries our error itself, not a FiberFailure.
const wrong = new Client({
  provider: "openai-compatible",
  apiKey: "sk-wrong",
  baseUrl,
  defaultModel: "m",
  retry: false
})
await assert.rejects(
  wrong.chat.completions.create({ messages }),
  (error) => error instanceof AuthenticationError && error._tag === "AuthenticationError" && error.status === 401
)
await wrong[Symbol.asyncDispose]()
console.log("Client: chat, stream, embeddings, close and a rejected AuthenticationError all work")

await new Promise<void>((resolve) => server.close(() => resolve()))
// No process.exit: check.sh's timeout fails the check if a handle is left open.
