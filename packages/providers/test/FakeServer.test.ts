import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Http from "node:http"
import { FakeOpenAi, FakeServer } from "../src/testing.js"
import { loadChunks } from "./fixtures.js"

// ---------------------------------------------------------------------------------------------------------------
// clients
// ---------------------------------------------------------------------------------------------------------------

interface RawResponse {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  /** The body as the 'data' events delivered it. */
  readonly reads: ReadonlyArray<Buffer>
  readonly body: Buffer
  /** The response ended without its complete body. */
  readonly aborted: boolean
}

/** A request through node:http, keeping every 'data' event apart so that the cuts on the wire can be observed. */
const raw = (
  url: string,
  options: { readonly method?: string; readonly body?: string; readonly agent?: Http.Agent } = {}
): Effect.Effect<RawResponse, Error> =>
  Effect.async<RawResponse, Error>((resume) => {
    const req = Http.request(url, { method: options.method ?? "POST", agent: options.agent ?? false }, (res) => {
      const reads: Array<Buffer> = []
      let aborted = false
      res.on("data", (chunk: Buffer) => reads.push(chunk))
      res.on("aborted", () => {
        aborted = true
      })
      res.on("error", () => {
        aborted = true
      })
      res.on("close", () =>
        resume(Effect.succeed({
          status: res.statusCode ?? 0,
          headers: res.headers,
          reads,
          body: Buffer.concat(reads),
          aborted: aborted || !res.complete
        })))
    })
    req.on("error", (error) => resume(Effect.fail(error)))
    req.end(options.body)
  })

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  Effect.promise(() =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body)
    })
  )

const text = (response: Response) => Effect.promise(() => response.text())

/** The `data:` payloads of an SSE body framed with "\n" (our own framing, so a naive split is enough). */
const dataOf = (body: string): Array<string> =>
  body.split("\n\n").filter((frame) => frame.startsWith("data: ")).map((frame) => frame.slice(6))

const eventually = (predicate: () => boolean) =>
  Effect.suspend(() => predicate() ? Effect.void : Effect.fail("not yet" as const)).pipe(
    Effect.retry(Schedule.spaced(Duration.millis(2))),
    Effect.timeoutFail({ duration: Duration.seconds(5), onTimeout: () => new Error("condition never held") })
  )

const utf8 = new TextEncoder()

// ---------------------------------------------------------------------------------------------------------------

describe("FakeServer", () => {
  it.scopedLive("answers scripted replies in order, then the handler, then a 500 naming the request", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      server.enqueue(
        { body: { n: 1 } },
        { status: 201, headers: { "x-reply": "two" }, body: "plain two" },
        { status: 202, body: utf8.encode("bytes three") }
      )
      server.setHandler((request) => request.path === "/handled" ? { body: "from handler" } : undefined)

      const first = yield* post(`${server.url}/a`, {})
      assert.strictEqual(first.status, 200)
      assert.strictEqual(first.headers.get("content-type"), "application/json")
      assert.deepStrictEqual(yield* Effect.promise(() => first.json()), { n: 1 })

      const second = yield* post(`${server.url}/handled`, {})
      assert.strictEqual(second.status, 201, "the queue wins over the handler")
      assert.strictEqual(second.headers.get("x-reply"), "two")
      assert.strictEqual(yield* text(second), "plain two")

      const third = yield* post(`${server.url}/a`, {})
      assert.strictEqual(third.status, 202)
      assert.strictEqual(yield* text(third), "bytes three")

      const handled = yield* post(`${server.url}/handled`, {})
      assert.strictEqual(yield* text(handled), "from handler")

      const missing = yield* post(`${server.url}/v1/chat/completions?x=1`, {})
      assert.strictEqual(missing.status, 500)
      const error = (yield* Effect.promise(() => missing.json())) as { error: { message: string } }
      assert.strictEqual(error.error.message, "fake server: no reply scripted for POST /v1/chat/completions?x=1")

      server.setHandler(() => {
        throw new Error("boom")
      })
      const threw = yield* post(`${server.url}/a`, {})
      assert.strictEqual(threw.status, 500)
      assert.include(yield* text(threw), "boom")
    }))

  it.scopedLive("records method, path with query, lower-cased headers, body and parsed JSON", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make({ handler: () => ({}) })
      const requests = server.requests
      yield* text(
        yield* post(`${server.url}/v1/chat/completions?api-version=1`, { model: "m", stream: true }, {
          "Authorization": "Bearer sk-test",
          "X-Custom-Header": "Value"
        })
      )
      yield* text(yield* Effect.promise(() => fetch(`${server.url}/plain`, { method: "PUT", body: "not json" })))
      yield* text(yield* Effect.promise(() => fetch(`${server.url}/get?q=1`)))

      assert.strictEqual(requests, server.requests, "a live view")
      assert.strictEqual(requests.length, 3)
      const [chat, plain, get] = requests
      assert.strictEqual(chat!.method, "POST")
      assert.strictEqual(chat!.path, "/v1/chat/completions?api-version=1")
      assert.strictEqual(chat!.headers["authorization"], "Bearer sk-test")
      assert.strictEqual(chat!.headers["x-custom-header"], "Value")
      assert.strictEqual(chat!.headers["content-type"], "application/json")
      assert.strictEqual(chat!.body, "{\"model\":\"m\",\"stream\":true}")
      assert.deepStrictEqual(chat!.json, { model: "m", stream: true })
      assert.strictEqual(plain!.method, "PUT")
      assert.strictEqual(plain!.body, "not json")
      assert.isUndefined(plain!.json)
      assert.strictEqual(get!.method, "GET")
      assert.strictEqual(get!.path, "/get?q=1")
      assert.strictEqual(get!.body, "")
      assert.isUndefined(get!.json)

      server.enqueue({ body: "left over" })
      server.reset()
      assert.strictEqual(requests.length, 0)
      const after = yield* post(`${server.url}/x`, {})
      assert.strictEqual(after.status, 500, "reset cleared the queue and the handler")
      yield* text(after)
    }))

  describe("split", () => {
    // "é" and "世" are multi-byte; offset 2 cuts inside "é" (bytes 1..2), 10 inside "\r\n", 12 inside "世".
    const payload = utf8.encode("hé\r\ndata: x\r\n世界 🎉 end")

    it.scopedLive("re-cut bodies arrive byte-identical, whatever the cuts", () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        const splits: ReadonlyArray<number | ReadonlyArray<number>> = [1, 2, 3, 7, [2, 10, 12], [12, 2, 2, 0, 999]]
        for (const split of splits) {
          server.enqueue({ body: payload, split })
          const body = yield* Effect.promise(() =>
            fetch(`${server.url}/s`, { method: "POST" }).then((r) => r.arrayBuffer())
          )
          assert.deepStrictEqual(new Uint8Array(body), payload, `split ${JSON.stringify(split)}`)
          // the same through a chunked (streamed) body
          server.enqueue({ chunks: ["hé\r\n", payload.subarray(5)], split })
          const chunked = yield* raw(`${server.url}/s`)
          assert.strictEqual(chunked.headers["transfer-encoding"], "chunked")
          assert.deepStrictEqual(new Uint8Array(chunked.body), payload, `chunked split ${JSON.stringify(split)}`)
        }
      }))

    it.scopedLive("a cut inside a multi-byte character reaches the client as separate reads", () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue({ body: payload, split: [2, 12], chunkDelay: 30 })
        const response = yield* raw(`${server.url}/s`)
        assert.isFalse(response.aborted)
        assert.deepStrictEqual(new Uint8Array(response.body), payload)
        assert.isAbove(response.reads.length, 1)
        // the first read ends after "h" and the first byte of "é": half a character
        assert.deepStrictEqual(new Uint8Array(response.reads[0]!), payload.subarray(0, 2))
        assert.throws(() => new TextDecoder("utf-8", { fatal: true }).decode(response.reads[0]!))
      }))
  })

  describe("faults", () => {
    const events = [{ n: 1 }, { n: 2 }, { n: 3 }]

    it.scopedLive("disconnectAfter cuts the stream: the client sees the first pieces, then an aborted body", () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        server.enqueue(FakeOpenAi.streamReply(events, { disconnectAfter: 1, chunkDelay: 5 }))
        const cut = yield* raw(`${server.url}/v1/chat/completions`)
        assert.strictEqual(cut.status, 200)
        assert.isTrue(cut.aborted)
        assert.strictEqual(cut.body.toString(), "data: {\"n\":1}\n\n")

        // the same seen through fetch: the body stream errors
        server.enqueue(FakeOpenAi.streamReply(events, { disconnectAfter: 2 }))
        const response = yield* post(`${server.url}/v1/chat/completions`, {})
        assert.strictEqual(response.status, 200)
        const failure = yield* Effect.flip(Effect.tryPromise(() => response.text()))
        assert.instanceOf(failure.error, Error)

        // a cut content-length body, and a cut right after the headers
        server.enqueue({ body: "0123456789", split: 3, disconnectAfter: 2 }, { body: "abc", disconnectAfter: 0 })
        const short = yield* raw(`${server.url}/j`)
        assert.isTrue(short.aborted)
        assert.strictEqual(short.body.toString(), "012345")
        const headersOnly = yield* raw(`${server.url}/j`)
        assert.strictEqual(headersOnly.status, 200)
        assert.isTrue(headersOnly.aborted)
        assert.strictEqual(headersOnly.body.length, 0)

        assert.strictEqual(server.closedConnections(), 0, "cuts made by the server are not client closes")
      }))

    it.scopedLive("hang never answers; the client leaving is counted and awaited", () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make()
        yield* text(yield* post(`${server.url}/ok`, {})) // a finished exchange is not a client close
        assert.strictEqual(server.closedConnections(), 0)

        server.enqueue({ hang: true })
        const controller = new AbortController()
        const pending = fetch(`${server.url}/hang`, { method: "POST", body: "{}", signal: controller.signal }).then(
          () => undefined,
          (error: unknown) => error
        )
        yield* eventually(() => server.requests.length === 2)
        const closed = server.awaitClientClose()
        controller.abort()
        yield* Effect.promise(() => closed)
        assert.strictEqual(server.closedConnections(), 1)
        const failure = yield* Effect.promise(() => pending)
        assert.strictEqual((failure as Error).name, "AbortError")

        // a client leaving during headersDelay counts as well
        server.enqueue({ headersDelay: 60_000, body: "late" })
        const second = new AbortController()
        const late = fetch(`${server.url}/late`, { method: "POST", body: "{}", signal: second.signal }).catch(() =>
          "aborted"
        )
        yield* eventually(() => server.requests.length === 3)
        second.abort()
        yield* Effect.promise(() => server.awaitClientClose(2))
        assert.strictEqual(yield* Effect.promise(() => late), "aborted")
      }))

    it.live("close ends hung connections, so a test never hangs", () =>
      Effect.gen(function*() {
        const server = yield* Effect.promise(() => FakeServer.start())
        server.enqueue({ hang: true })
        const pending = raw(`${server.url}/hang`).pipe(Effect.either, Effect.fork)
        const fiber = yield* pending
        yield* eventually(() => server.requests.length === 1)
        assert.strictEqual(server.openSockets(), 1)
        yield* Effect.promise(() => server.close())
        yield* Effect.promise(() => server.close()) // idempotent
        const outcome = yield* Effect.fromFiber(fiber)
        assert.isTrue(outcome._tag === "Left" || outcome.right.aborted)
        assert.strictEqual(server.closedConnections(), 0)
      }))

    it.scopedLive("keep-alive: sequential requests through a keep-alive agent share one socket", () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make({ handler: () => ({ body: { ok: true } }) })
        const agent = yield* Effect.acquireRelease(
          Effect.sync(() => new Http.Agent({ keepAlive: true, maxSockets: 1 })),
          (agent) => Effect.sync(() => agent.destroy())
        )
        for (let i = 0; i < 3; i++) {
          const response = yield* raw(`${server.url}/r${i}`, { agent, body: "{}" })
          assert.strictEqual(response.body.toString(), "{\"ok\":true}")
        }
        assert.strictEqual(server.requests.length, 3)
        assert.strictEqual(server.totalSockets(), 1)
        assert.strictEqual(server.openSockets(), 1)

        // without keep-alive every request opens its own socket: the counter can tell them apart
        yield* raw(`${server.url}/fresh`, { body: "{}" })
        assert.strictEqual(server.totalSockets(), 2)
      }))
  })
})

describe("FakeOpenAi", () => {
  it("sse frames events, comments, line endings and [DONE]", () => {
    assert.strictEqual(
      FakeOpenAi.sse([{ a: 1 }, "{not json"]),
      "data: {\"a\":1}\n\ndata: {not json\n\ndata: [DONE]\n\n"
    )
    assert.strictEqual(
      FakeOpenAi.sse([{ a: 1 }], { done: false, lineEnding: "\r\n", comments: [": keep-alive", "PROCESSING"] }),
      ": keep-alive\r\n\r\n: PROCESSING\r\n\r\ndata: {\"a\":1}\r\n\r\n"
    )
    assert.strictEqual(FakeOpenAi.sse([], { lineEnding: "\r" }), "data: [DONE]\r\r")
  })

  it("streamReply is one chunk per frame, as text/event-stream", () => {
    const reply = FakeOpenAi.streamReply([{ a: 1 }, { b: 2 }], { comments: [": ping"], headers: { "x-id": "1" } })
    assert.deepStrictEqual(reply.chunks, [
      ": ping\n\n",
      "data: {\"a\":1}\n\n",
      "data: {\"b\":2}\n\n",
      "data: [DONE]\n\n"
    ])
    assert.deepStrictEqual(reply.headers, { "content-type": "text/event-stream", "x-id": "1" })
  })

  it("errorReply uses OpenAI's envelope", () => {
    const reply = FakeOpenAi.errorReply(429, { message: "slow down", code: "rate_limit_exceeded" }, {
      "retry-after": "2"
    })
    assert.strictEqual(reply.status, 429)
    assert.strictEqual(reply.headers?.["retry-after"], "2")
    assert.deepStrictEqual(JSON.parse(reply.body as string), {
      error: { message: "slow down", type: "invalid_request_error", param: null, code: "rate_limit_exceeded" }
    })
    assert.deepStrictEqual(JSON.parse(FakeOpenAi.errorReply(503, { message: "down" }).body as string), {
      error: { message: "down", type: "server_error", param: null, code: null }
    })
  })

  it.scopedLive("a recorded stream replays byte-identical through any chunking", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make()
      const chunks = loadChunks("openai", "openai-text")
      assert.isAbove(chunks.length, 10)
      for (const split of [1, 7, 64, 1000]) {
        server.enqueue(FakeOpenAi.streamReply(chunks, { split }))
        const response = yield* post(`${server.url}/v1/chat/completions`, { stream: true })
        assert.strictEqual(response.headers.get("content-type"), "text/event-stream")
        const data = dataOf(yield* text(response))
        assert.strictEqual(data.pop(), "[DONE]")
        assert.deepStrictEqual(data.map((d) => JSON.parse(d)), chunks)
      }
    }))

  describe("responder", () => {
    const messages = [{ role: "system", content: "be brief" }, { role: "user", content: "hello there world" }]

    it.scopedLive("answers a chat completion echoing the last user message", () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make({ handler: FakeOpenAi.responder() })
        const response = yield* post(`${server.url}/v1/chat/completions`, { model: "gpt-4o-mini", messages })
        assert.strictEqual(response.status, 200)
        const body = (yield* Effect.promise(() => response.json())) as any
        assert.strictEqual(body.object, "chat.completion")
        assert.strictEqual(body.model, "gpt-4o-mini")
        assert.deepStrictEqual(body.choices[0].message.content, "Echo: hello there world")
        assert.strictEqual(body.choices[0].finish_reason, "stop")
        assert.strictEqual(body.usage.completion_tokens, 4)
        assert.strictEqual(body.usage.total_tokens, body.usage.prompt_tokens + 4)

        const cut = yield* post(`${server.url}/v1/chat/completions`, { messages, max_tokens: 2 })
        const cutBody = (yield* Effect.promise(() => cut.json())) as any
        assert.strictEqual(cutBody.choices[0].message.content, "Echo: hello")
        assert.strictEqual(cutBody.choices[0].finish_reason, "length")
      }))

    it.scopedLive("streams one word per chunk, a finish chunk, a usage chunk and [DONE]", () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make({ handler: FakeOpenAi.responder({ model: "fixed", words: 6 }) })
        const response = yield* post(`${server.url}/v1/chat/completions`, {
          messages,
          stream: true,
          stream_options: { include_usage: true }
        })
        assert.strictEqual(response.headers.get("content-type"), "text/event-stream")
        const data = dataOf(yield* text(response))
        assert.strictEqual(data.pop(), "[DONE]")
        const chunks = data.map((d) => JSON.parse(d)) as Array<any>
        assert.isTrue(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === "fixed"))
        assert.isTrue(chunks.every((c) => c.id === chunks[0].id))
        assert.strictEqual(chunks[0].choices[0].delta.role, "assistant")
        const words = chunks.slice(1, -2).map((c) => c.choices[0].delta.content)
        assert.deepStrictEqual(words, ["Echo:", " hello", " there", " world", " lorem", " ipsum"])
        const finish = chunks[chunks.length - 2]
        assert.deepStrictEqual(finish.choices[0].delta, {})
        assert.strictEqual(finish.choices[0].finish_reason, "stop")
        const usage = chunks[chunks.length - 1]
        assert.deepStrictEqual(usage.choices, [])
        assert.strictEqual(usage.usage.completion_tokens, 6)

        // without include_usage there is no usage chunk
        const plain = yield* post(`${server.url}/v1/chat/completions`, { messages, stream: true })
        const last = JSON.parse(dataOf(yield* text(plain)).slice(-2)[0]!)
        assert.strictEqual(last.choices[0].finish_reason, "stop")
        assert.notProperty(last, "usage")
      }))

    it.scopedLive("calls the first tool with a value of its schema: required properties filled, strings the user's text", () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make({ handler: FakeOpenAi.responder() })
        const tools = [
          { type: "function", function: { name: "noop", parameters: { type: "object", properties: {} } } },
          {
            type: "function",
            function: {
              name: "get_weather",
              parameters: {
                type: "object",
                properties: { city: { type: "string" }, days: { type: "integer" }, unit: { type: "string" } },
                required: ["city", "days"]
              }
            }
          }
        ]
        const first = (yield* Effect.promise(() =>
          fetch(`${server.url}/v1/chat/completions`, {
            method: "POST",
            body: JSON.stringify({ messages, tools })
          }).then((r) => r.json())
        )) as any
        assert.strictEqual(first.choices[0].finish_reason, "tool_calls")
        assert.isNull(first.choices[0].message.content)
        assert.strictEqual(first.choices[0].message.tool_calls[0].function.name, "noop")
        assert.strictEqual(first.choices[0].message.tool_calls[0].function.arguments, "{}")

        const forced = { type: "function", function: { name: "get_weather" } }
        const response = yield* post(`${server.url}/v1/chat/completions`, {
          messages,
          tools,
          tool_choice: forced,
          stream: true
        })
        const chunks = dataOf(yield* text(response)).slice(0, -1).map((d) => JSON.parse(d)) as Array<any>
        const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
        assert.strictEqual(calls[0].id, "call_fake2")
        assert.strictEqual(calls[0].function.name, "get_weather")
        const args = calls.map((c: any) => c.function.arguments).join("")
        assert.deepStrictEqual(JSON.parse(args), { city: "hello there world", days: 1 })
        assert.strictEqual(chunks[chunks.length - 1].choices[0].finish_reason, "tool_calls")
      }))

    it.scopedLive("embeds deterministically; base64 decodes to the same float32 values", () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make({ handler: FakeOpenAi.responder() })
        const embed = (body: unknown) =>
          post(`${server.url}/v1/embeddings`, body).pipe(
            Effect.flatMap((r) => Effect.promise(() => r.json() as Promise<any>))
          )
        const input = ["alpha", "beta gamma"]
        const floats = yield* embed({ model: "text-embedding-3-small", input, dimensions: 16 })
        const base64 = yield* embed({
          model: "text-embedding-3-small",
          input,
          dimensions: 16,
          encoding_format: "base64"
        })
        assert.strictEqual(floats.object, "list")
        assert.strictEqual(floats.model, "text-embedding-3-small")
        assert.deepStrictEqual(floats.usage, { prompt_tokens: 3, total_tokens: 3 })
        assert.strictEqual(floats.data.length, 2)
        for (let i = 0; i < 2; i++) {
          const vector: Array<number> = floats.data[i].embedding
          assert.strictEqual(floats.data[i].index, i)
          assert.strictEqual(vector.length, 16)
          const bytes = Buffer.from(base64.data[i].embedding as string, "base64")
          assert.strictEqual(bytes.length, 64)
          const decoded = Array.from({ length: 16 }, (_, k) => bytes.readFloatLE(k * 4))
          assert.deepStrictEqual(decoded, vector)
          const norm = Math.sqrt(vector.reduce((s, v) => s + v * v, 0))
          assert.closeTo(norm, 1, 1e-5)
        }
        assert.notDeepEqual(floats.data[0].embedding, floats.data[1].embedding)
        const again = yield* embed({ input: "alpha", dimensions: 16 })
        assert.deepStrictEqual(again.data[0].embedding, floats.data[0].embedding)
        const short = yield* embed({ input: "alpha" })
        assert.strictEqual(short.data[0].embedding.length, 8)
      }))

    it.scopedLive("rejects unknown paths and malformed bodies in OpenAI's envelope", () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make({ handler: FakeOpenAi.responder() })
        const unknown = yield* post(`${server.url}/v1/nothing?x=1`, {})
        assert.strictEqual(unknown.status, 404)
        assert.deepStrictEqual(yield* Effect.promise(() => unknown.json()), {
          error: { message: "Invalid URL (POST /v1/nothing)", type: "invalid_request_error", param: null, code: null }
        })
        const empty = yield* post(`${server.url}/v1/embeddings`, { input: [""] })
        assert.strictEqual(empty.status, 400)
        yield* text(empty)
        const noMessages = yield* post(`${server.url}/v1/chat/completions`, { model: "m" })
        assert.strictEqual(noMessages.status, 400)
        yield* text(noMessages)
      }))
  })
})
