/**
 * The transport conformance suite: the same scenarios, over a real loopback server, through each way a provider
 * can be given HTTP: `Http.layer` (our undici `Agent`, the lean path), and a user's own `HttpClient`
 * (`FetchHttpClient.layer` over the runtime's `fetch`; and a client derived from `Http.layer`'s, which goes
 * through the `HttpClient` interface over our pool). Every row must hold on every one of them: the timeouts of
 * each phase, the caps, error bodies, scrubbing, cut streams, request ids, and that ending a call early frees its
 * socket.
 *
 * Timeouts run on the real clock here (the undici path has timers of its own): each bound is short, the server
 * stalls for ever (or trickles for ever), and only the phase reported is asserted, never how long it took.
 * `HttpLimits.test.ts` times the platform path on `TestClock`.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as PlatformHttpClient from "@effect/platform/HttpClient"
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
import * as fs from "node:fs"
import * as http from "node:http"
import * as Http from "../src/Http.js"
import * as HttpTransport from "../src/HttpTransport.js"
import type { LlmError } from "../src/LlmError.js"
import { ProviderError, RateLimitError } from "../src/LlmError.js"
import * as Sse from "../src/Sse.js"
import type * as StreamDecoder from "../src/StreamDecoder.js"

const secret = "sk-conformance-0123456789abcdef"

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void

interface TestServer {
  readonly url: (path?: string) => string
  /** Completes when `n` client sockets have closed (a guard of 5 s: the close is expected at once). */
  readonly socketsClosed: (n: number) => Effect.Effect<void>
  /** Completes when `n` requests have arrived. */
  readonly requests: (n: number) => Effect.Effect<void>
}

const startServer = (handler: Handler): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    let closed = 0
    let received = 0
    const waiters = new Set<() => void>()
    const notify = () => {
      for (const waiter of waiters) waiter()
    }
    const server = http.createServer((req, res) => {
      req.resume()
      req.on("end", () => {
        received++
        notify()
        handler(req, res)
      })
    })
    server.on("connection", (socket) => {
      socket.on("close", () => {
        closed++
        notify()
      })
    })
    const until = (done: () => boolean, what: string): Effect.Effect<void> =>
      Effect.async<void>((resume) => {
        const check = () => {
          if (!done()) return
          waiters.delete(check)
          resume(Effect.void)
        }
        waiters.add(check)
        check()
        return Effect.sync(() => waiters.delete(check))
      }).pipe(
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => `the server never saw ${what}` }),
        Effect.orDie
      )
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
      url: (path = "/v1/chat") => `http://127.0.0.1:${port}${path}`,
      socketsClosed: (n) => until(() => closed >= n, `${n} sockets close`),
      requests: (n) => until(() => received >= n, `${n} requests`)
    }
  })

/** Writes `piece` every `everyMillis` until the client leaves. */
const trickle = (res: http.ServerResponse, piece: string, everyMillis: number): void => {
  const timer = setInterval(() => {
    if (res.destroyed) clearInterval(timer)
    else res.write(piece)
  }, everyMillis)
  res.on("close", () => clearInterval(timer))
}

/** Writes `piece` as fast as the client reads, until it leaves. */
const endless = (res: http.ServerResponse, piece: string): void => {
  const writeSome = () => {
    while (!res.destroyed) {
      if (!res.write(piece)) {
        res.once("drain", writeSome)
        return
      }
    }
  }
  writeSome()
}

const sseHeaders = { "content-type": "text/event-stream" }

/** The provider's table, as a provider writes one: 429 is a rate limit, the rest a provider error. */
const mapError = (response: HttpTransport.ErrorResponse): LlmError =>
  response.status === 429
    ? new RateLimitError({ provider: "test", message: `rate limited: ${response.body}` })
    : new ProviderError({ provider: "test", message: `status ${response.status}: ${response.body.slice(0, 200)}` })

const seen: Array<HttpTransport.ErrorResponse> = []

const makeTransport = (options: Partial<HttpTransport.Options> = {}) =>
  HttpTransport.make({
    provider: "test",
    mapError: (response) => {
      seen.push(response)
      return mapError(response)
    },
    secrets: [Redacted.make(secret)],
    ...options
  })

const context = { model: "m-1" }

const post = (server: TestServer, path?: string): HttpTransport.Request => ({
  method: "POST",
  url: server.url(path),
  headers: { authorization: `Bearer ${secret}` },
  body: { hello: "world" }
})

/** An SSE decoder as providers build one: each event's data, and the transport's error past the event cap. */
const sseData = (bounds: StreamDecoder.Bounds<LlmError>): StreamDecoder.Decoder<Uint8Array, string, LlmError> => {
  const sse = Sse.makeDecoder({ maxEventLength: bounds.maxEventLength })
  return {
    step: (input, out) => {
      for (const bytes of input) {
        for (const event of sse.push(bytes)) out.push(event.data)
        if (sse.exceeded()) return bounds.eventTooLong()
      }
      return undefined
    }
  }
}

/** A client derived from `Http.layer`'s: it has no fast path, and goes through the `HttpClient` interface. */
const derivedFromPool: Layer.Layer<Http.HttpClient> = Layer.effect(
  Http.HttpClient,
  Effect.map(Http.HttpClient, (client) => PlatformHttpClient.mapRequest(client, (request) => request))
).pipe(Layer.provide(Http.layer()))

const implementations: ReadonlyArray<readonly [string, () => Layer.Layer<Http.HttpClient>]> = [
  ["Http.layer (undici Agent)", () => Http.layer()],
  ["FetchHttpClient.layer (a user's HttpClient)", () => FetchHttpClient.layer],
  ["a client derived from Http.layer's (the HttpClient interface over our pool)", () => derivedFromPool]
]

const collect = <A, E>(stream: Stream.Stream<A, E>) => Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

/** What the stream emitted before it ended, and how it ended. */
const collectUntilFailure = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.gen(function*() {
    const got: Array<A> = []
    const exit = yield* Effect.exit(Stream.runForEach(stream, (a) => Effect.sync(() => got.push(a))))
    return { got, exit }
  })

const failureOf = <E>(exit: Exit.Exit<unknown, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected the call to fail")
  if (Exit.isSuccess(exit)) throw new Error("unreachable")
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  assert.isDefined(failure, `expected a typed failure, got ${String(exit.cause)}`)
  return failure!
}

for (const [name, layerOf] of implementations) {
  const live = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Http.HttpClient>) =>
    Effect.provide(effect, Layer.fresh(layerOf()))

  describe(`transport conformance over ${name}`, () => {
    describe("timeouts, one per phase", () => {
      const fast = { firstByte: "150 millis", idle: "150 millis", total: "20 seconds" } as const

      it.scopedLive("json: no headers within firstByte is first-byte, and the socket is closed", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer(() => {})
          const transport = yield* makeTransport({ timeouts: fast })
          const error = yield* Effect.flip(transport.json(post(server), context))
          assert.strictEqual(error._tag, "TimeoutError")
          assert.strictEqual((error as { phase?: string }).phase, "first-byte")
          assert.strictEqual(error.message, "no response headers within 150ms")
          assert.strictEqual(error.model, "m-1")
          yield* server.socketsClosed(1)
        })))

      it.scopedLive("stream: no headers within firstByte is first-byte", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer(() => {})
          const transport = yield* makeTransport({ timeouts: fast })
          const error = yield* Effect.flip(collect(transport.decodeStream(post(server), context, sseData)))
          assert.strictEqual(error._tag, "TimeoutError")
          assert.strictEqual((error as { phase?: string }).phase, "first-byte")
          yield* server.socketsClosed(1)
        })))

      it.scopedLive("stream: silence after an event is idle, and the event before it is delivered", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(200, sseHeaders)
            res.write("data: one\n\n")
          })
          const transport = yield* makeTransport({ timeouts: fast })
          const { exit, got } = yield* collectUntilFailure(transport.decodeStream(post(server), context, sseData))
          const error = failureOf(exit)
          assert.deepStrictEqual(got, ["one"])
          assert.strictEqual(error._tag, "TimeoutError")
          assert.strictEqual((error as { phase?: string }).phase, "idle")
          assert.strictEqual(error.message, "no data for 150ms while streaming the response body")
          assert.strictEqual(error.status, 200)
          yield* server.socketsClosed(1)
        })))

      it.scopedLive("stream: a body that trickles past the total is total, though never idle", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(200, sseHeaders)
            trickle(res, "data: tick\n\n", 20)
          })
          const transport = yield* makeTransport({ timeouts: { idle: "5 seconds", total: "300 millis" } })
          const { exit, got } = yield* collectUntilFailure(transport.decodeStream(post(server), context, sseData))
          const error = failureOf(exit)
          assert.isAbove(got.length, 0)
          assert.strictEqual(error._tag, "TimeoutError")
          assert.strictEqual((error as { phase?: string }).phase, "total")
          assert.strictEqual(error.message, "the call did not complete within 300ms")
          yield* server.socketsClosed(1)
        })))

      it.scopedLive("json: a body that trickles past the total is total", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(200, { "content-type": "application/json" })
            res.write("[")
            trickle(res, "1,", 20)
          })
          const transport = yield* makeTransport({ timeouts: { firstByte: "5 seconds", total: "300 millis" } })
          const error = yield* Effect.flip(transport.json(post(server), context))
          assert.strictEqual(error._tag, "TimeoutError")
          assert.strictEqual((error as { phase?: string }).phase, "total")
          yield* server.socketsClosed(1)
        })))

      it.scopedLive("a consumer slower than idle is not mistaken for a silent server", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(200, sseHeaders)
            // three writes 30 ms apart, well within the idle bound: the gaps the client sees are the consumer's
            res.write("data: one\n\n")
            setTimeout(() => res.write("data: two\n\n"), 30)
            setTimeout(() => res.end("data: three\n\n"), 60)
          })
          const transport = yield* makeTransport({ timeouts: { idle: "150 millis", total: "20 seconds" } })
          // each piece is held twice as long as the idle bound before the next is asked for
          const got = yield* transport.stream(post(server), context).pipe(
            Stream.tap(() => Effect.sleep("300 millis")),
            Stream.runCollect
          )
          assert.strictEqual(
            Buffer.concat(Chunk.toReadonlyArray(got)).toString("utf8"),
            "data: one\n\ndata: two\n\ndata: three\n\n"
          )
        })))

      it.scopedLive("a bare total (firstByte and idle as long) reports total", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer(() => {})
          const bare = { firstByte: "200 millis", idle: "200 millis", total: "200 millis" } as const
          const transport = yield* makeTransport({ timeouts: bare })
          const error = yield* Effect.flip(transport.json(post(server), context))
          assert.strictEqual((error as { phase?: string }).phase, "total")
        })))
    })

    describe("caps", () => {
      const small = { body: 16 * 1024, event: 1024 }

      it.scopedLive("limits.body: a body past it is ResponseDecodeError naming the cap; the socket is closed", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((req, res) => {
            res.writeHead(200, { "content-type": "application/json" })
            if (req.url === "/next") return res.end("{\"ok\":true}")
            endless(res, "[1,2,3,4,5,6,7,8],".repeat(64))
          })
          const transport = yield* makeTransport({ limits: small })
          const error = yield* Effect.flip(transport.json(post(server), context))
          assert.strictEqual(error._tag, "ResponseDecodeError")
          assert.strictEqual(
            error.message,
            "the response body is larger than 16 KiB (limits.body); the connection was closed"
          )
          assert.strictEqual(error.status, 200)
          yield* server.socketsClosed(1)
          assert.deepStrictEqual((yield* transport.json(post(server, "/next"), context)).json, { ok: true })
        })))

      it.scopedLive("limits.body: a declared content-length past it fails before the body is read", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(200, { "content-type": "application/json", "content-length": String(1024 * 1024 * 1024) })
            res.flushHeaders()
          })
          const transport = yield* makeTransport({ limits: small })
          const error = yield* Effect.flip(transport.json(post(server), context))
          assert.strictEqual(error._tag, "ResponseDecodeError")
          assert.include(error.message, "(limits.body)")
          yield* server.socketsClosed(1)
        })))

      it.scopedLive("limits.event: an event past it is ResponseDecodeError after the events before it", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(200, sseHeaders)
            res.write("data: first\n\n")
            res.write("data: ")
            endless(res, "x".repeat(256))
          })
          const transport = yield* makeTransport({ limits: small })
          const { exit, got } = yield* collectUntilFailure(transport.decodeStream(post(server), context, sseData))
          const error = failureOf(exit)
          assert.deepStrictEqual(got, ["first"])
          assert.strictEqual(error._tag, "ResponseDecodeError")
          assert.strictEqual(
            error.message,
            "a stream event is longer than 1,024 characters (limits.event); the connection was closed"
          )
          yield* server.socketsClosed(1)
        })))
    })

    describe("error bodies", () => {
      it.scopedLive("a status goes through mapError with status, headers, parsed body and request id", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(429, { "content-type": "application/json", "x-request-id": "req-429" })
            res.end(JSON.stringify({ error: { message: "slow down" } }))
          })
          seen.length = 0
          const transport = yield* makeTransport()
          const error = yield* Effect.flip(transport.json(post(server), context))
          assert.strictEqual(error._tag, "RateLimitError")
          assert.strictEqual(error.status, 429)
          assert.strictEqual(error.requestId, "req-429")
          assert.strictEqual(error.model, "m-1")
          assert.strictEqual(error.body, "{\"error\":{\"message\":\"slow down\"}}")
          const response = seen[0]!
          assert.strictEqual(response.status, 429)
          assert.deepStrictEqual(response.json, { error: { message: "slow down" } })
          assert.strictEqual(response.headers["x-request-id"], "req-429")
          assert.strictEqual(response.requestId, "req-429")
        })))

      it.scopedLive("a stream's status fails the same way, before any chunk", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(503, { "content-type": "text/html" })
            res.end("<html>overloaded</html>")
          })
          const transport = yield* makeTransport()
          const { exit, got } = yield* collectUntilFailure(transport.decodeStream(post(server), context, sseData))
          const error = failureOf(exit)
          assert.deepStrictEqual(got, [])
          assert.strictEqual(error._tag, "ProviderError")
          assert.strictEqual(error.status, 503)
          assert.strictEqual(error.body, "<html>overloaded</html>")
        })))

      it.scopedLive("a large error body reaches mapError cut at 64 KiB, and the error keeps 2 KiB of it", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(500, { "content-type": "text/plain" })
            endless(res, "e".repeat(1024))
          })
          seen.length = 0
          const transport = yield* makeTransport()
          const error = yield* Effect.flip(transport.json(post(server), context))
          assert.strictEqual(error._tag, "ProviderError")
          assert.strictEqual(seen[0]!.body.length, 64 * 1024)
          assert.strictEqual(error.body, "e".repeat(2048) + "…")
          yield* server.socketsClosed(1)
        })))

      it.scopedLive("an error body cut off midway is reported as far as it came, under its status", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(502, { "content-type": "text/plain", "content-length": "1000" })
            res.write("bad gateway")
            setTimeout(() => res.destroy(), 20)
          })
          const transport = yield* makeTransport()
          const error = yield* Effect.flip(transport.json(post(server), context))
          assert.strictEqual(error._tag, "ProviderError")
          assert.strictEqual(error.status, 502)
          assert.strictEqual(error.body, "bad gateway")
        })))
    })

    describe("secrets", () => {
      it.scopedLive("a key echoed in an error body and in the request-id header reaches no field of the error", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((req, res) => {
            res.writeHead(401, { "content-type": "application/json", "x-request-id": `id-${secret}` })
            res.end(JSON.stringify({ error: { message: `bad key ${req.headers.authorization}` } }))
          })
          seen.length = 0
          const transport = yield* makeTransport()
          const error = yield* Effect.flip(transport.json(post(server), context))
          assert.notInclude(JSON.stringify(error), secret)
          assert.notInclude(error.message, secret)
          assert.include(error.body!, "[REDACTED]")
          assert.strictEqual(error.requestId, "id-[REDACTED]")
          // mapError itself is given scrubbed text
          assert.notInclude(seen[0]!.body, secret)
        })))

      it.scopedLive("a 2xx body that is not JSON is ResponseDecodeError, its body kept short and scrubbed", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(200, { "content-type": "text/html" })
            res.end(`<html>${secret}${"p".repeat(4096)}</html>`)
          })
          const transport = yield* makeTransport()
          const error = yield* Effect.flip(transport.json(post(server), context))
          assert.strictEqual(error._tag, "ResponseDecodeError")
          assert.strictEqual(
            error.message,
            "expected a JSON response, got a body that is not JSON (content-type: text/html)"
          )
          assert.isTrue(error.body!.startsWith("<html>[REDACTED]pp"))
          assert.strictEqual(error.body!.length, 2049)
          assert.notInclude(JSON.stringify(error), secret)
        })))

      it.scopedLive("a key echoed in a stream's error event is scrubbed from what the decoder returns", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(200, sseHeaders)
            res.end(`data: error ${secret}\n\n`)
          })
          const transport = yield* makeTransport()
          const decoder = (bounds: StreamDecoder.Bounds<LlmError>) => {
            const inner = sseData(bounds)
            return {
              step: (input: Chunk.Chunk<Uint8Array>, out: Array<string>) => {
                const error = inner.step(input, out)
                const data = out.find((line) => line.startsWith("error"))
                return error ?? (data === undefined
                  ? undefined
                  : new ProviderError({ provider: "test", message: data, body: data }))
              }
            }
          }
          const error = yield* Effect.flip(collect(transport.decodeStream(post(server), context, decoder)))
          assert.strictEqual(error.message, "error [REDACTED]")
          assert.notInclude(JSON.stringify(error), secret)
        })))
    })

    describe("cut streams", () => {
      it.scopedLive("a connection dropped mid-stream is NetworkError after every event sent before it", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(200, sseHeaders)
            res.write("data: one\n\ndata: two\n\n")
            setTimeout(() => res.destroy(), 30)
          })
          const transport = yield* makeTransport()
          const { exit, got } = yield* collectUntilFailure(transport.decodeStream(post(server), context, sseData))
          const error = failureOf(exit)
          assert.deepStrictEqual(got, ["one", "two"])
          assert.strictEqual(error._tag, "NetworkError")
          assert.strictEqual(error.status, 200)
          assert.include(error.message, "the response body broke off")
        })))

      it.scopedLive("the byte stream is cut the same way", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(200, sseHeaders)
            res.write("data: one\n\n")
            setTimeout(() => res.destroy(), 30)
          })
          const transport = yield* makeTransport()
          const { exit, got } = yield* collectUntilFailure(transport.stream(post(server), context))
          const error = failureOf(exit)
          assert.strictEqual(Buffer.concat(got).toString("utf8"), "data: one\n\n")
          assert.strictEqual(error._tag, "NetworkError")
        })))

      it.scopedLive("a json body cut off midway is NetworkError under its 2xx status", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(200, { "content-type": "application/json", "content-length": "1000" })
            res.write("{\"choices\":[")
            setTimeout(() => res.destroy(), 30)
          })
          const transport = yield* makeTransport()
          const error = yield* Effect.flip(transport.json(post(server), context))
          assert.strictEqual(error._tag, "NetworkError")
          assert.strictEqual(error.status, 200)
          assert.include(error.message, "the response body broke off")
        })))

      it.scopedLive("a connection refused is NetworkError naming the request, without its query", () =>
        live(Effect.gen(function*() {
          const port = yield* Effect.acquireRelease(
            Effect.async<number>((resume) => {
              const probe = http.createServer()
              probe.listen(0, "127.0.0.1", () => {
                const { port } = probe.address() as { port: number }
                probe.close(() => resume(Effect.succeed(port)))
              })
            }),
            () => Effect.void
          )
          const transport = yield* makeTransport()
          const url = `http://127.0.0.1:${port}/v1/chat?key=${secret}`
          const error = yield* Effect.flip(transport.json({ method: "POST", url, headers: {}, body: {} }, context))
          assert.strictEqual(error._tag, "NetworkError")
          assert.include(error.message, `POST http://127.0.0.1:${port}/v1/chat`)
          assert.notInclude(JSON.stringify(error), secret)
        })))
    })

    describe("request ids", () => {
      it.scopedLive("a success carries the request id from the first header present, in the configured order", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(200, { "content-type": "application/json", "request-id": "a", "x-trace": "b" })
            res.end("{}")
          })
          const byDefault = yield* makeTransport()
          assert.strictEqual((yield* byDefault.json(post(server), context)).requestId, "a")
          const custom = yield* makeTransport({ requestIdHeaders: ["x-trace", "request-id"] })
          const response = yield* custom.json(post(server), context)
          assert.strictEqual(response.requestId, "b")
          assert.strictEqual(response.headers["x-trace"], "b")
        })))
    })

    describe("user agent", () => {
      it.scopedLive("every request says llm-api-router/<version>, unless its headers name a user agent", () =>
        live(Effect.gen(function*() {
          const agents: Array<string | undefined> = []
          const server = yield* startServer((req, res) => {
            agents.push(req.headers["user-agent"])
            res.writeHead(200, { "content-type": "application/json" })
            res.end("{}")
          })
          const transport = yield* makeTransport()
          yield* transport.json(post(server), context)
          yield* transport.json({ method: "GET", url: server.url("/v1/models"), headers: {} }, context)
          yield* transport.json({ ...post(server), headers: { "User-Agent": "my-app/2.0" } }, context)
          const version = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")).version
          assert.deepStrictEqual(agents, [`llm-api-router/${version}`, `llm-api-router/${version}`, "my-app/2.0"])
        })))
    })

    describe("ending early frees the socket", () => {
      it.scopedLive("a consumer that stops after one chunk of an endless stream closes its socket", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(200, sseHeaders)
            endless(res, "data: more\n\n")
          })
          const transport = yield* makeTransport()
          const first = yield* collect(Stream.take(transport.decodeStream(post(server), context, sseData), 1))
          assert.deepStrictEqual(first, ["more"])
          yield* server.socketsClosed(1)
        })))

      it.scopedLive("interrupting a json call waiting for headers closes its socket", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer(() => {})
          const transport = yield* makeTransport()
          const fiber = yield* Effect.fork(transport.json(post(server), context))
          yield* server.requests(1)
          yield* Fiber.interrupt(fiber)
          yield* server.socketsClosed(1)
        })))

      it.scopedLive("interrupting a stream waiting for its next chunk closes its socket", () =>
        live(Effect.gen(function*() {
          const server = yield* startServer((_req, res) => {
            res.writeHead(200, sseHeaders)
            res.write("data: one\n\n")
          })
          const transport = yield* makeTransport()
          const got = yield* Deferred.make<void>()
          const fiber = yield* Effect.fork(
            Stream.runForEach(
              transport.decodeStream(post(server), context, sseData),
              () => Deferred.succeed(got, void 0)
            )
          )
          yield* Deferred.await(got)
          yield* Fiber.interrupt(fiber)
          yield* server.socketsClosed(1)
        })))

      it.scopedLive("after a complete answer, the socket is reused by the next call", () =>
        live(Effect.gen(function*() {
          let sockets = 0
          const server = yield* startServer((req, res) => {
            if (req.socket.listenerCount("conformance") === 0) {
              sockets++
              req.socket.on("conformance", () => {})
            }
            res.writeHead(200, sseHeaders)
            res.end("data: done\n\n")
          })
          const transport = yield* makeTransport()
          for (let i = 0; i < 3; i++) {
            assert.deepStrictEqual(yield* collect(transport.decodeStream(post(server), context, sseData)), ["done"])
          }
          assert.strictEqual(sockets, 1)
        })))
    })
  })
}
