import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as http from "node:http"
import * as Http from "../src/Http.js"
import * as HttpTransport from "../src/HttpTransport.js"
import * as internal from "../src/internal/transport/failures.js"
import type { LlmError } from "../src/LlmError.js"
import { ProviderError, RateLimitError } from "../src/LlmError.js"
import * as Secrets from "../src/Secrets.js"

// ---------------------------------------------------------------------------------------------
// a raw loopback server
// ---------------------------------------------------------------------------------------------

interface Recorded {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

interface TestServer {
  readonly origin: string
  readonly requests: Array<Recorded>
  readonly connections: () => number
  /** Completes when the first client socket closes. */
  readonly socketClosed: Effect.Effect<void>
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void

const startServer = (handler: Handler): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const closed = yield* Deferred.make<void>()
    const requests: Array<Recorded> = []
    let connections = 0
    const server = http.createServer((req, res) => {
      const parts: Array<Buffer> = []
      req.on("data", (part: Buffer) => parts.push(part))
      req.on("end", () => {
        const body = Buffer.concat(parts).toString("utf8")
        requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body })
        handler(req, res, body)
      })
    })
    server.on("connection", (socket) => {
      connections++
      socket.on("close", () => Deferred.unsafeDone(closed, Exit.void))
    })
    const port = yield* Effect.acquireRelease(
      Effect.async<number>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as { port: number }).port)))
      }),
      () =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    return {
      origin: `http://127.0.0.1:${port}`,
      requests,
      connections: () => connections,
      // a guard, not a measurement: the close is expected at once, 5 s means it never came
      socketClosed: Deferred.await(closed).pipe(
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "the server never saw the socket close" }),
        Effect.orDie
      )
    }
  })

/** A port on which nothing listens: bind one, then release it. */
const freePort = Effect.async<number>((resume) => {
  const server = http.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as { port: number }).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

// ---------------------------------------------------------------------------------------------
// the transport under test
// ---------------------------------------------------------------------------------------------

interface Seen {
  readonly responses: Array<HttpTransport.ErrorResponse>
}

const providerErrorTable = (seen: Seen) => (response: HttpTransport.ErrorResponse): LlmError => {
  seen.responses.push(response)
  const message = `status ${response.status}: ${response.body}`
  return response.status === 429
    ? new RateLimitError({ provider: "test", message })
    : new ProviderError({ provider: "test", message })
}

const makeTransport = (
  options: { readonly timeouts?: HttpTransport.Timeouts; readonly secrets?: ReadonlyArray<string> } = {}
) =>
  Effect.gen(function*() {
    const seen: Seen = { responses: [] }
    const transport = yield* HttpTransport.make({
      provider: "test",
      mapError: providerErrorTable(seen),
      ...(options.timeouts === undefined ? {} : { timeouts: options.timeouts }),
      ...(options.secrets === undefined ? {} : { secrets: options.secrets.map((s) => Redacted.make(s)) })
    })
    return { transport, seen }
  })

const context = { model: "m-1" }

const post = (server: TestServer, body: unknown = { hello: "world" }): HttpTransport.Request => ({
  method: "POST",
  url: `${server.origin}/v1/chat`,
  headers: {},
  body
})

const flip = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<E, A, R> => Effect.flip(effect)

const text = (bytes: Chunk.Chunk<Uint8Array>): string =>
  Buffer.concat(Chunk.toReadonlyArray(bytes).map((b) => Buffer.from(b))).toString("utf8")

const live = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Http.HttpClient>) => Effect.provide(effect, Http.layer())

describe("HttpTransport", () => {
  it.scopedLive("json: round trip, with the exact request the server saw", () =>
    live(Effect.gen(function*() {
      const server = yield* startServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json", "x-request-id": "req-42", "X-Extra": "yes" })
        res.end(JSON.stringify({ ok: true, n: [1, 2] }))
      })
      const { transport } = yield* makeTransport()
      const body = { model: "m-1", messages: [{ role: "user", content: "héllo \u2028" }] }
      const result = yield* transport.json({
        method: "POST",
        url: `${server.origin}/v1/chat/completions?x=1`,
        headers: { authorization: "Bearer sk-1", "X-Custom": "a" },
        body
      }, context)

      assert.deepStrictEqual(result.json, { ok: true, n: [1, 2] })
      assert.strictEqual(result.requestId, "req-42")
      assert.strictEqual(result.headers["x-extra"], "yes")
      assert.strictEqual(server.requests.length, 1)
      const seen = server.requests[0]
      assert.strictEqual(seen.method, "POST")
      assert.strictEqual(seen.url, "/v1/chat/completions?x=1")
      assert.strictEqual(seen.body, JSON.stringify(body))
      assert.strictEqual(seen.headers["content-type"], "application/json")
      assert.strictEqual(seen.headers["content-length"], String(Buffer.byteLength(JSON.stringify(body))))
      assert.strictEqual(seen.headers["authorization"], "Bearer sk-1")
      assert.strictEqual(seen.headers["x-custom"], "a")
      // no trace context leaks to a third party
      assert.isUndefined(seen.headers["traceparent"])
      assert.isUndefined(seen.headers["b3"])
    })))

  it.scopedLive("json: GET without a body sends no content-type", () =>
    live(Effect.gen(function*() {
      const server = yield* startServer((_req, res) => res.end("[]"))
      const { transport } = yield* makeTransport()
      const result = yield* transport.json({ method: "GET", url: `${server.origin}/models`, headers: {} }, context)
      assert.deepStrictEqual(result.json, [])
      assert.strictEqual(server.requests[0].method, "GET")
      assert.strictEqual(server.requests[0].body, "")
      assert.isUndefined(server.requests[0].headers["content-type"])
    })))

  it.scopedLive("non-2xx: mapError gets status, lower-cased headers, parsed json and request id", () =>
    live(Effect.gen(function*() {
      const server = yield* startServer((_req, res) => {
        res.writeHead(429, { "Content-Type": "application/json", "Request-Id": "req-7", "Retry-After": "3" })
        res.end(JSON.stringify({ error: { type: "rate_limit", message: "slow down" } }))
      })
      const { seen, transport } = yield* makeTransport()
      const error = yield* flip(transport.json(post(server), context))

      assert.strictEqual(seen.responses.length, 1)
      const response = seen.responses[0]
      assert.strictEqual(response.status, 429)
      assert.strictEqual(response.headers["retry-after"], "3")
      assert.strictEqual(response.headers["request-id"], "req-7")
      assert.isUndefined(response.headers["Retry-After"])
      assert.deepStrictEqual(response.json, { error: { type: "rate_limit", message: "slow down" } })
      assert.strictEqual(response.requestId, "req-7")

      // the provider's error, completed with what it left out
      assert.strictEqual(error._tag, "RateLimitError")
      assert.instanceOf(error, RateLimitError)
      assert.strictEqual(error.provider, "test")
      assert.strictEqual(error.model, "m-1")
      assert.strictEqual(error.status, 429)
      assert.strictEqual(error.requestId, "req-7")
      assert.strictEqual(error.body, response.body)
    })))

  it.scopedLive("non-2xx with an HTML body: mapError gets json undefined and the text", () =>
    live(Effect.gen(function*() {
      const page = "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
      const server = yield* startServer((_req, res) => {
        res.writeHead(503, { "content-type": "text/html" })
        res.end(page)
      })
      const { seen, transport } = yield* makeTransport()
      const error = yield* flip(transport.json(post(server), context))
      assert.strictEqual(seen.responses[0].status, 503)
      assert.isUndefined(seen.responses[0].json)
      assert.strictEqual(seen.responses[0].body, page)
      assert.strictEqual(error._tag, "ProviderError")
      assert.strictEqual(error.status, 503)
    })))

  it.scopedLive("non-2xx: mapError sees at most 64 KiB, the error keeps at most 2 KiB", () =>
    live(Effect.gen(function*() {
      const server = yield* startServer((_req, res) => {
        res.writeHead(500, { "content-type": "text/plain" })
        res.end("x".repeat(300 * 1024))
      })
      const { seen, transport } = yield* makeTransport()
      const error = yield* flip(transport.json(post(server), context))
      assert.strictEqual(seen.responses[0].body.length, 64 * 1024)
      assert.isDefined(error.body)
      assert.isAtMost(error.body!.length, 2 * 1024 + 1)
      assert.isTrue(error.body!.endsWith("…"))
    })))

  it.scopedLive("non-2xx on a stream fails the stream through mapError", () =>
    live(Effect.gen(function*() {
      const server = yield* startServer((_req, res) => {
        res.writeHead(401, { "content-type": "application/json", "x-request-id": "r-9" })
        res.end(JSON.stringify({ error: "bad key" }))
      })
      const { seen, transport } = yield* makeTransport()
      const error = yield* flip(Stream.runDrain(transport.stream(post(server), context)))
      assert.strictEqual(error._tag, "ProviderError")
      assert.strictEqual(error.status, 401)
      assert.strictEqual(error.requestId, "r-9")
      assert.deepStrictEqual(seen.responses[0].json, { error: "bad key" })
    })))

  it.scopedLive("2xx with an HTML page: ResponseDecodeError, not a defect", () =>
    live(Effect.gen(function*() {
      const server = yield* startServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/html", "x-request-id": "r-1" })
        res.end("<!doctype html><title>captive portal</title>")
      })
      const { transport } = yield* makeTransport()
      const error = yield* flip(transport.json(post(server), context))
      assert.strictEqual(error._tag, "ResponseDecodeError")
      assert.strictEqual(error.status, 200)
      assert.strictEqual(error.requestId, "r-1")
      assert.strictEqual(error.model, "m-1")
      assert.include(error.message, "text/html")
      assert.strictEqual(error.body, "<!doctype html><title>captive portal</title>")
    })))

  it.scopedLive("2xx with an empty body: ResponseDecodeError", () =>
    live(Effect.gen(function*() {
      const server = yield* startServer((_req, res) => res.end())
      const { transport } = yield* makeTransport()
      const error = yield* flip(transport.json(post(server), context))
      assert.strictEqual(error._tag, "ResponseDecodeError")
    })))

  it.scopedLive("connection refused: NetworkError naming the address", () =>
    live(Effect.gen(function*() {
      const port = yield* freePort
      const { transport } = yield* makeTransport()
      const error = yield* flip(transport.json({
        method: "POST",
        url: `http://127.0.0.1:${port}/v1/chat`,
        headers: {},
        body: {}
      }, context))
      assert.strictEqual(error._tag, "NetworkError")
      assert.include(error.message, `ECONNREFUSED 127.0.0.1:${port}`)
      assert.strictEqual(error.provider, "test")
      assert.strictEqual(error.model, "m-1")
    })))

  it.scopedLive("an unserialisable body: InvalidRequestError from the client, nothing sent", () =>
    live(Effect.gen(function*() {
      const server = yield* startServer((_req, res) => res.end("{}"))
      const { transport } = yield* makeTransport()
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      const error = yield* flip(transport.json(post(server, cyclic), context))
      assert.strictEqual(error._tag, "InvalidRequestError")
      assert.strictEqual(error._tag === "InvalidRequestError" && error.source, "client")
      assert.strictEqual(server.requests.length, 0)
    })))

  describe("timeouts", () => {
    it.scopedLive("first byte: TimeoutError first-byte, and the server sees the socket close", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer(() => {
          // never answers
        })
        const { transport } = yield* makeTransport({ timeouts: { firstByte: 50 } })
        const error = yield* flip(transport.json(post(server), context))
        assert.strictEqual(error._tag, "TimeoutError")
        assert.strictEqual(error._tag === "TimeoutError" && error.phase, "first-byte")
        assert.strictEqual(error.model, "m-1")
        yield* server.socketClosed
      })))

    it.scopedLive("first byte applies to streams too", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer(() => {})
        const { transport } = yield* makeTransport({ timeouts: { firstByte: 50 } })
        const error = yield* flip(Stream.runDrain(transport.stream(post(server), context)))
        assert.strictEqual(error._tag === "TimeoutError" && error.phase, "first-byte")
        yield* server.socketClosed
      })))

    it.scopedLive("idle: one chunk then silence is TimeoutError idle, and the socket closes", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer((_req, res) => {
          res.writeHead(200, { "content-type": "text/event-stream", "x-request-id": "s-1" })
          res.write("data: 1\n\n")
        })
        const { transport } = yield* makeTransport({ timeouts: { idle: 100 } })
        const received: Array<string> = []
        const error = yield* flip(
          transport.stream(post(server), context).pipe(
            Stream.runForEach((bytes) => Effect.sync(() => received.push(Buffer.from(bytes).toString("utf8"))))
          )
        )
        assert.deepStrictEqual(received, ["data: 1\n\n"])
        assert.strictEqual(error._tag === "TimeoutError" && error.phase, "idle")
        assert.strictEqual(error.status, 200)
        assert.strictEqual(error.requestId, "s-1")
        yield* server.socketClosed
      })))

    it.scopedLive("total: a stream trickling faster than idle forever is TimeoutError total", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer((_req, res) => {
          res.writeHead(200, { "content-type": "text/event-stream" })
          const timer = setInterval(() => res.write("data: tick\n\n"), 5)
          res.on("close", () => clearInterval(timer))
        })
        const { transport } = yield* makeTransport({ timeouts: { idle: 2_000, total: 150 } })
        const error = yield* flip(Stream.runDrain(transport.stream(post(server), context)))
        assert.strictEqual(error._tag === "TimeoutError" && error.phase, "total")
        yield* server.socketClosed
      })))

    it.scopedLive("total: a json body that never ends is TimeoutError total", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer((_req, res) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.write("{\"a\":")
        })
        const { transport } = yield* makeTransport({ timeouts: { total: 100 } })
        const error = yield* flip(transport.json(post(server), context))
        assert.strictEqual(error._tag === "TimeoutError" && error.phase, "total")
        yield* server.socketClosed
      })))
  })

  describe("broken connections", () => {
    it.scopedLive("a stream cut midway is NetworkError", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer((_req, res) => {
          res.writeHead(200, { "content-type": "text/event-stream" })
          res.write("data: 1\n\n", () => setTimeout(() => res.socket?.destroy(), 20))
        })
        const { transport } = yield* makeTransport()
        const received: Array<string> = []
        const error = yield* flip(
          transport.stream(post(server), context).pipe(
            Stream.runForEach((bytes) => Effect.sync(() => received.push(Buffer.from(bytes).toString("utf8"))))
          )
        )
        assert.deepStrictEqual(received, ["data: 1\n\n"])
        assert.strictEqual(error._tag, "NetworkError")
        assert.strictEqual(error.status, 200)
        assert.include(error.message, "broke off")
      })))

    it.scopedLive("a json body cut short of its content-length is NetworkError", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer((_req, res) => {
          res.writeHead(200, { "content-type": "application/json", "content-length": "1000" })
          res.write("{\"partial\":", () => setTimeout(() => res.socket?.destroy(), 20))
        })
        const { transport } = yield* makeTransport()
        const error = yield* flip(transport.json(post(server), context))
        assert.strictEqual(error._tag, "NetworkError")
      })))
  })

  describe("cancellation", () => {
    it.scopedLive("a complete stream delivers every byte", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer((_req, res) => {
          res.writeHead(200, { "content-type": "text/event-stream" })
          res.write("data: 1\n\n")
          res.write("data: 2\n\n")
          res.end("data: [DONE]\n\n")
        })
        const { transport } = yield* makeTransport()
        const bytes = yield* Stream.runCollect(transport.stream(post(server), context))
        assert.strictEqual(text(bytes), "data: 1\n\ndata: 2\n\ndata: [DONE]\n\n")
      })))

    it.scopedLive("Stream.take ends the request, and the pool serves the next one", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer((req, res) => {
          if (req.url === "/after") {
            res.end("{\"after\":true}")
            return
          }
          res.writeHead(200, { "content-type": "text/event-stream" })
          let n = 0
          const timer = setInterval(() => res.write(`data: ${n++}\n\n`), 5)
          res.on("close", () => clearInterval(timer))
        })
        const { transport } = yield* makeTransport()
        const taken = yield* Stream.runCollect(transport.stream(post(server), context).pipe(Stream.take(2)))
        assert.strictEqual(Chunk.size(taken), 2)
        yield* server.socketClosed
        const after = yield* transport.json({ method: "GET", url: `${server.origin}/after`, headers: {} }, context)
        assert.deepStrictEqual(after.json, { after: true })
      })))

    it.scopedLive("interrupting the fiber aborts a pending json call", () =>
      live(Effect.gen(function*() {
        const arrived = yield* Deferred.make<void>()
        const server = yield* startServer(() => Deferred.unsafeDone(arrived, Exit.void))
        const { transport } = yield* makeTransport()
        const fiber = yield* Effect.fork(transport.json(post(server), context))
        yield* Deferred.await(arrived)
        yield* Fiber.interrupt(fiber)
        yield* server.socketClosed
      })))
  })

  describe("secrets", () => {
    const secret = "sk-live-\"abc\\123\"-SECRET"

    it.scopedLive("a secret echoed by the server never reaches the error", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer((req, res) => {
          res.writeHead(401, { "content-type": "application/json" })
          // raw, and JSON-escaped inside a string
          res.end(JSON.stringify({
            error: { message: `Incorrect API key provided: ${req.headers["authorization"]}` },
            raw: "RAW:" + (req.headers["x-api-key"] as string)
          }))
        })
        const { seen, transport } = yield* makeTransport({ secrets: [secret] })
        const error = yield* flip(transport.json({
          ...post(server),
          headers: { authorization: `Bearer ${secret}`, "x-api-key": secret }
        }, context))

        assert.include(server.requests[0].body, "hello")
        assert.strictEqual(server.requests[0].headers["authorization"], `Bearer ${secret}`)
        const jsonEscaped = JSON.stringify(secret).slice(1, -1)
        for (const where of [error.message, error.body ?? "", String(error), JSON.stringify(error)]) {
          assert.notInclude(where, secret)
          assert.notInclude(where, jsonEscaped)
          assert.notInclude(where, "SECRET")
        }
        assert.include(error.message, "[REDACTED]")
        // what the provider's table saw was already clean, json included
        assert.notInclude(seen.responses[0].body, "SECRET")
        assert.notInclude(JSON.stringify(seen.responses[0].json), "SECRET")
        assert.isDefined(seen.responses[0].json)
      })))

    it("the scrubber replaces raw and JSON-escaped forms, longest first, and ignores empty secrets", () => {
      const scrub = Secrets.make(["abc", "abcdef", "", "a\"b"]).scrub
      assert.strictEqual(scrub("x abcdef y abc z"), "x [REDACTED] y [REDACTED] z")
      assert.strictEqual(scrub("{\"k\":\"a\\\"b\"} a\"b"), "{\"k\":\"[REDACTED]\"} [REDACTED]")
      assert.strictEqual(Secrets.make([""]).scrub("unchanged"), "unchanged")
    })
  })

  describe("transport failure classification", () => {
    it("finds undici's connect timeout anywhere in a cause chain", () => {
      const undici = Object.assign(new Error("Connect Timeout Error (attempted address: 10.0.0.1:443)"), {
        code: "UND_ERR_CONNECT_TIMEOUT"
      })
      const wrapped = new Error("fetch failed", { cause: new Error("RequestError: Transport", { cause: undici }) })
      const failure = internal.classifyTransportFailure(wrapped)
      assert.strictEqual(failure._tag, "ConnectTimeout")
      assert.include(failure.message, "10.0.0.1:443")
    })

    it("a kernel connect timeout is a connect timeout; one on a read is a network failure", () => {
      const onConnect = Object.assign(new Error("connect ETIMEDOUT 10.0.0.1:443"), {
        code: "ETIMEDOUT",
        syscall: "connect"
      })
      const onRead = Object.assign(new Error("read ETIMEDOUT"), { code: "ETIMEDOUT", syscall: "read" })
      assert.strictEqual(internal.classifyTransportFailure(onConnect)._tag, "ConnectTimeout")
      assert.strictEqual(internal.classifyTransportFailure(onRead)._tag, "Network")
    })

    it("describes every address of an AggregateError", () => {
      const error = Object.assign(
        new AggregateError([
          Object.assign(new Error("connect ECONNREFUSED ::1:80"), { code: "ECONNREFUSED" }),
          Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:80"), { code: "ECONNREFUSED" })
        ]),
        { code: "ECONNREFUSED" }
      )
      const failure = internal.classifyTransportFailure(error)
      assert.strictEqual(failure._tag, "Network")
      assert.include(failure.message, "connect ECONNREFUSED ::1:80")
      assert.include(failure.message, "connect ECONNREFUSED 127.0.0.1:80")
    })

    it("names the code when the message does not", () => {
      const error = Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" })
      assert.strictEqual(internal.classifyTransportFailure(error).message, "other side closed (UND_ERR_SOCKET)")
    })

    it("terminates on cyclic causes", () => {
      const a: Error & { cause?: unknown } = new Error("a")
      const b = new Error("b", { cause: a })
      a.cause = b
      assert.strictEqual(internal.classifyTransportFailure(a)._tag, "Network")
    })
  })

  it.scopedLive("a provider error table result keeps fields it set itself", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_req, res) => {
        res.writeHead(500, { "x-request-id": "from-header" })
        res.end("oops")
      })
      const transport = yield* HttpTransport.make({
        provider: "p",
        mapError: () =>
          new ProviderError({ provider: "p", message: "m", requestId: "from-body", body: "short", status: 599 }),
        timeouts: { firstByte: "1 second" }
      })
      const error = yield* flip(transport.json(post(server), { model: undefined }))
      assert.strictEqual(error.requestId, "from-body")
      assert.strictEqual(error.body, "short")
      assert.strictEqual(error.status, 599)
      assert.isUndefined(error.model)
    }).pipe(Effect.provide(Layer.fresh(Http.layer()))))
})
