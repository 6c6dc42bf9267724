/**
 * Untrusted bodies through both transports (the lean undici path of `Http.layer` and any `@effect/platform`
 * `HttpClient`, here `FetchHttpClient.layer`): caps on a body and on one stream event, deep JSON, the phase a
 * timeout reports. The servers generate their bodies lazily, as the client reads them, so a body "without end"
 * costs one socket buffer.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as http from "node:http"
import * as Undici from "undici"
import * as Http from "../src/Http.js"
import * as HttpTransport from "../src/HttpTransport.js"
import * as undici from "../src/internal/transport/dispatch.js"
import { ProviderError } from "../src/LlmError.js"
import type { LlmError } from "../src/LlmError.js"
import * as Sse from "../src/Sse.js"
import type * as StreamDecoder from "../src/StreamDecoder.js"

interface TestServer {
  readonly origin: string
  /** Completes when the `n`-th client socket has closed. */
  readonly socketsClosed: (n: number) => Effect.Effect<void>
  readonly openSockets: () => number
  /** Bytes of body written to all responses so far. */
  readonly written: () => number
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void

const startServer = (handler: Handler): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    let closed = 0
    let open = 0
    let written = 0
    const waiters: Array<{ n: number; done: Deferred.Deferred<void> }> = []
    const server = http.createServer((req, res) => {
      req.resume()
      req.on("end", () => {
        const write = res.write.bind(res) as (chunk: string | Uint8Array) => boolean
        res.write = ((chunk: string | Uint8Array, ...rest: Array<unknown>) => {
          written += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length
          return (write as (...args: Array<unknown>) => boolean)(chunk, ...rest)
        }) as typeof res.write
        handler(req, res)
      })
    })
    server.on("connection", (socket) => {
      open++
      socket.on("close", () => {
        open--
        closed++
        for (const waiter of waiters) if (closed >= waiter.n) Deferred.unsafeDone(waiter.done, Exit.void)
      })
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
      socketsClosed: (n) =>
        Effect.suspend(() => {
          if (closed >= n) return Effect.void
          const done = Deferred.unsafeMake<void>(undefined as never)
          waiters.push({ n, done })
          // a guard, not a measurement: the close is expected at once, 5 s means it never came
          return Deferred.await(done).pipe(
            Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "the server never saw the socket close" }),
            Effect.orDie
          )
        }),
      openSockets: () => open,
      written: () => written
    }
  })

/** Writes `piece` for ever, as fast as the client reads, until the client leaves. */
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

const ok = (res: http.ServerResponse): void => {
  res.writeHead(200, { "content-type": "application/json" })
  res.end("{\"ok\":true}")
}

const context = { model: "m-1" }

const post = (server: TestServer, path = "/v1/chat"): HttpTransport.Request => ({
  method: "POST",
  url: `${server.origin}${path}`,
  headers: {},
  body: { hello: "world" }
})

const makeTransport = (options: Partial<HttpTransport.Options> = {}) =>
  HttpTransport.make({
    provider: "test",
    mapError: (response) => new ProviderError({ provider: "test", message: `status ${response.status}` }),
    ...options
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

const KiB = 1024
const small = { body: 64 * KiB, event: 64 * KiB }

const transports: ReadonlyArray<readonly [string, Layer.Layer<Http.HttpClient>]> = [
  ["Http.layer", Http.layer()],
  ["FetchHttpClient.layer (the @effect/platform path)", FetchHttpClient.layer]
]

for (const [name, layer] of transports) {
  const live = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Http.HttpClient>) =>
    Effect.provide(effect, Layer.fresh(layer))

  describe(`untrusted bodies over ${name}`, () => {
    it.scopedLive("a body without end fails at limits.body, the socket is closed, and the next call succeeds", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer((req, res) => {
          if (req.url === "/next") return ok(res)
          res.writeHead(200, { "content-type": "application/json" })
          endless(res, "[1,2,3,4,5,6,7,8],".repeat(512))
        })
        const transport = yield* makeTransport({ limits: small })
        const error = yield* Effect.flip(transport.json(post(server), context))
        assert.strictEqual(error._tag, "ResponseDecodeError")
        assert.include(error.message, "larger than 64 KiB (limits.body)")
        assert.strictEqual(error.status, 200)
        assert.strictEqual(error.model, "m-1")
        yield* server.socketsClosed(1)
        // the client stopped reading near the cap: what the server wrote is bounded by the cap and socket buffers
        assert.isBelow(server.written(), 16 * 1024 * KiB)
        const next = yield* transport.json(post(server, "/next"), context)
        assert.deepStrictEqual(next.json, { ok: true })
      })))

    it.scopedLive("a content-length above limits.body fails before the body is read", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer((req, res) => {
          if (req.url === "/next") return ok(res)
          // announces 1 GiB and sends nothing: only the header can end this call before its timeouts
          res.writeHead(200, { "content-type": "application/json", "content-length": String(1024 * 1024 * KiB) })
          res.flushHeaders()
        })
        const transport = yield* makeTransport({ limits: small })
        const error = yield* Effect.flip(transport.json(post(server), context))
        assert.strictEqual(error._tag, "ResponseDecodeError")
        assert.include(error.message, "limits.body")
        yield* server.socketsClosed(1)
        const next = yield* transport.json(post(server, "/next"), context)
        assert.deepStrictEqual(next.json, { ok: true })
      })))

    it.scopedLive("a body at the cap is read whole", () =>
      live(Effect.gen(function*() {
        const body = JSON.stringify({ text: "x".repeat(small.body - 20) })
        assert.isAtMost(Buffer.byteLength(body), small.body)
        const server = yield* startServer((_req, res) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(body)
        })
        const transport = yield* makeTransport({ limits: small })
        const response = yield* transport.json(post(server), context)
        assert.strictEqual((response.json as { text: string }).text.length, small.body - 20)
      })))

    it.scopedLive("a stream line without end fails at limits.event, the socket is closed, the next call succeeds", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer((req, res) => {
          if (req.url === "/next") return ok(res)
          res.writeHead(200, { "content-type": "text/event-stream" })
          res.write("data: {\"first\":true}\n\n")
          res.write("data: ")
          endless(res, "x".repeat(4 * KiB))
        })
        const transport = yield* makeTransport({ limits: small })
        const received: Array<string> = []
        const error = yield* Effect.flip(
          transport.decodeStream(post(server), context, sseData).pipe(
            Stream.runForEach((data) => Effect.sync(() => received.push(data)))
          )
        )
        // what came before the oversized event is delivered
        assert.deepStrictEqual(received, ["{\"first\":true}"])
        assert.strictEqual(error._tag, "ResponseDecodeError")
        assert.include(error.message, "longer than 65,536 characters (limits.event)")
        assert.strictEqual(error.status, 200)
        yield* server.socketsClosed(1)
        assert.isBelow(server.written(), 16 * 1024 * KiB)
        const next = yield* transport.json(post(server, "/next"), context)
        assert.deepStrictEqual(next.json, { ok: true })
      })))

    it.scopedLive("an event made of many short data lines is bounded too", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer((_req, res) => {
          res.writeHead(200, { "content-type": "text/event-stream" })
          endless(res, "data: x\n".repeat(512))
        })
        const transport = yield* makeTransport({ limits: small })
        const error = yield* Effect.flip(Stream.runDrain(transport.decodeStream(post(server), context, sseData)))
        assert.include(error.message, "limits.event")
        yield* server.socketsClosed(1)
      })))

    it.scopedLive("events under the cap pass, however many", () =>
      live(Effect.gen(function*() {
        const event = "x".repeat(small.event - KiB)
        const server = yield* startServer((_req, res) => {
          res.writeHead(200, { "content-type": "text/event-stream" })
          for (let i = 0; i < 20; i++) res.write(`data: ${event}\n\n`)
          res.end()
        })
        const transport = yield* makeTransport({ limits: small })
        const events = yield* Stream.runCollect(transport.decodeStream(post(server), context, sseData))
        assert.strictEqual(Chunk.size(events), 20)
      })))

    it.scopedLive("the default caps are in force when none is given", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer((_req, res) => {
          res.writeHead(200, { "content-type": "application/json" })
          endless(res, "0".repeat(64 * KiB))
        })
        const transport = yield* makeTransport()
        const error = yield* Effect.flip(transport.json(post(server), context))
        assert.include(error.message, `larger than 64 MiB (limits.body)`)
        assert.strictEqual(HttpTransport.defaultLimits.body, 64 * 1024 * KiB)
      })), 30_000)

    it.scopedLive("100,000-deep JSON in a 2xx body is ResponseDecodeError, and the socket is reused", () =>
      live(Effect.gen(function*() {
        const deep = "[".repeat(100_000) + "]".repeat(100_000)
        const server = yield* startServer((req, res) => {
          if (req.url === "/next") return ok(res)
          res.writeHead(200, { "content-type": "application/json" })
          res.end(deep)
        })
        const transport = yield* makeTransport()
        const error = yield* Effect.flip(transport.json(post(server), context))
        assert.strictEqual(error._tag, "ResponseDecodeError")
        assert.include(error.message, "nested deeper than 256 levels")
        const next = yield* transport.json(post(server, "/next"), context)
        assert.deepStrictEqual(next.json, { ok: true })
      })))

    it.scopedLive("a bare total (first byte bounded by it too) reports phase total", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer(() => {
          // never answers
        })
        const transport = yield* makeTransport({ timeouts: { firstByte: 80, idle: 80, total: 80 } })
        const error = yield* Effect.flip(transport.json(post(server), context))
        assert.strictEqual(error._tag === "TimeoutError" && error.phase, "total")
        const streamed = yield* Effect.flip(Stream.runDrain(transport.stream(post(server), context)))
        assert.strictEqual(streamed._tag === "TimeoutError" && streamed.phase, "total")
      })))

    it.scopedLive("each phase reports itself: first byte shorter than the total is first-byte", () =>
      live(Effect.gen(function*() {
        const server = yield* startServer(() => {})
        const transport = yield* makeTransport({ timeouts: { firstByte: 50, total: 5_000 } })
        const error = yield* Effect.flip(transport.json(post(server), context))
        assert.strictEqual(error._tag === "TimeoutError" && error.phase, "first-byte")
      })))
  })
}

describe("timeouts on TestClock (the @effect/platform path times with Effect's clock)", () => {
  it.scoped("a bare total is reported as total, and fires exactly at its bound", () =>
    Effect.gen(function*() {
      const arrived = yield* Deferred.make<void>()
      const server = yield* startServer(() => Deferred.unsafeDone(arrived, Exit.void))
      const transport = yield* makeTransport({ timeouts: { firstByte: "30 seconds", total: "30 seconds" } })
      const fiber = yield* Effect.fork(Effect.flip(transport.json(post(server), context)))
      yield* Deferred.await(arrived)
      yield* TestClock.adjust("29999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag === "TimeoutError" && error.phase, "total")
      assert.include(error.message, "30s")
    }).pipe(Effect.provide(Layer.fresh(FetchHttpClient.layer))))

  it.scoped("first byte and idle each report themselves, at their own bounds", () =>
    Effect.gen(function*() {
      const arrived = yield* Deferred.make<void>()
      const firstChunk = yield* Deferred.make<void>()
      const server = yield* startServer((req, res) => {
        if (req.url === "/idle") {
          res.writeHead(200, { "content-type": "text/event-stream" })
          res.write("data: 1\n\n")
        } else {
          // "/first-byte": never answers
          Deferred.unsafeDone(arrived, Exit.void)
        }
      })
      const transport = yield* makeTransport({
        timeouts: { firstByte: "10 seconds", idle: "5 seconds", total: "1 minute" }
      })
      const firstByte = yield* Effect.fork(Effect.flip(transport.json(post(server, "/first-byte"), context)))
      const idle = yield* Effect.fork(Effect.flip(
        transport.stream(post(server, "/idle"), context).pipe(
          Stream.runForEach(() => Deferred.succeed(firstChunk, undefined))
        )
      ))
      // real sockets: time moves once the request has reached the server and the stream has had its first chunk
      yield* Deferred.await(arrived)
      yield* Deferred.await(firstChunk)
      yield* TestClock.adjust("5 seconds")
      const b = yield* Fiber.join(idle)
      assert.strictEqual(b._tag === "TimeoutError" && b.phase, "idle")
      assert.isTrue(Option.isNone(yield* Fiber.poll(firstByte)))
      yield* TestClock.adjust("5 seconds")
      const a = yield* Fiber.join(firstByte)
      assert.strictEqual(a._tag === "TimeoutError" && a.phase, "first-byte")
    }).pipe(Effect.provide(Layer.fresh(FetchHttpClient.layer))))
})

describe("a throw inside undici's callbacks", () => {
  it.scopedLive("ends the call at once and closes the socket, instead of being swallowed", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        endless(res, "0".repeat(16 * KiB))
      })
      const agent = yield* Effect.acquireRelease(
        Effect.sync(() => new Undici.Agent()),
        (agent) => Effect.promise(() => agent.destroy())
      )
      const thrown = yield* Deferred.make<unknown>()
      const boom = new Error("boom")
      undici.dispatch(agent, { origin: server.origin, path: "/" }, "GET", {}, undefined, {
        onHeaders: () => {},
        onData: () => {
          throw boom
        },
        onComplete: () => {},
        onError: () => {},
        onThrow: (cause) => Deferred.unsafeDone(thrown, Exit.succeed(cause))
      })
      assert.strictEqual(yield* Deferred.await(thrown), boom)
      yield* server.socketsClosed(1)
    }))

  it.scopedLive("in the transport, the call dies with the defect rather than waiting for a timeout", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end("{}")
      })
      const transport = yield* makeTransport()
      // a mapError that throws is our bug: here it stands in for any throw in the completion path
      const broken = yield* HttpTransport.make({
        provider: "test",
        mapError: () => {
          throw new Error("boom")
        }
      })
      const errorServer = yield* startServer((_req, res) => {
        res.writeHead(500, { "content-type": "application/json" })
        res.end("{}")
      })
      const exit = yield* Effect.exit(broken.json(post(errorServer), context))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      const streamed = yield* Effect.exit(Stream.runDrain(broken.stream(post(errorServer), context)))
      assert.isTrue(Exit.isFailure(streamed) && Cause.isDie(streamed.cause))
      // and the pool is not poisoned
      const next = yield* transport.json(post(server), context)
      assert.deepStrictEqual(next.json, {})
    }).pipe(Effect.provide(Layer.fresh(Http.layer()))))
})
