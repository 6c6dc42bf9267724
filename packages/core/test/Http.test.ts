import * as PlatformHttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as http from "node:http"
import * as net from "node:net"
import { Worker } from "node:worker_threads"
import * as Http from "../src/Http.js"
import * as HttpTransport from "../src/HttpTransport.js"
import { ProviderError } from "../src/LlmError.js"

const mapError = (response: HttpTransport.ErrorResponse) =>
  new ProviderError({ provider: "test", message: `status ${response.status}` })

/**
 * A loopback port whose listener never accepts: it listens with a backlog of 1 from a worker thread whose event loop
 * is then blocked (on `Atomics.wait`, without using the CPU), and connections are opened until the kernel's accept
 * queue is full, which is when one stays pending. A connect to it then gets no answer at all.
 */
const unansweringListener: Effect.Effect<number, never, Scope.Scope> = Effect.gen(function*() {
  const shared = new Int32Array(new SharedArrayBuffer(8))
  const worker = yield* Effect.acquireRelease(
    Effect.sync(() =>
      new Worker(
        `const { workerData: shared } = require("node:worker_threads")
        const server = require("node:net").createServer()
        server.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
          Atomics.store(shared, 1, server.address().port)
          Atomics.notify(shared, 1)
          Atomics.wait(shared, 0, 0)
          server.close()
        })`,
        { eval: true, workerData: shared }
      )
    ),
    (worker) =>
      Effect.promise(() => {
        Atomics.store(shared, 0, 1)
        Atomics.notify(shared, 0)
        return worker.terminate()
      })
  )
  void worker
  while (Atomics.load(shared, 1) === 0) yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
  const port = Atomics.load(shared, 1)
  const fillers = yield* Effect.acquireRelease(
    Effect.sync(() => [] as Array<net.Socket>),
    (fillers) => Effect.sync(() => fillers.forEach((socket) => socket.destroy()))
  )
  for (let i = 0; i < 64; i++) {
    const socket = net.connect(port, "127.0.0.1")
    socket.on("error", () => {})
    fillers.push(socket)
    // a wait, not a measurement: a filler that has not connected after 300 ms is queued behind a full backlog
    const connected = yield* Effect.promise(() =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 300)
        socket.once("connect", () => {
          clearTimeout(timer)
          resolve(true)
        })
      })
    )
    if (!connected) return port
  }
  return yield* Effect.dieMessage("the listener's backlog never filled: cannot make an unanswered connect here")
})

interface TestServer {
  readonly origin: string
  readonly connections: () => number
  /** Completes when the first client socket closes. */
  readonly socketClosed: Effect.Effect<void>
}

/**
 * A loopback server answering every request with `{"ok":true}`, counting connections. With `barrier`, it holds every
 * answer until that many requests are in; with `delay`, it answers each one after that many milliseconds.
 */
const startServer = (
  options: { readonly delay?: number; readonly barrier?: number } = {}
): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const closed = yield* Deferred.make<void>()
    let connections = 0
    const held: Array<http.ServerResponse> = []
    const answer = (res: http.ServerResponse) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{\"ok\":true}")
    }
    const server = http.createServer((req, res) => {
      req.resume()
      req.on("end", () => {
        if (options.barrier !== undefined) {
          held.push(res)
          if (held.length === options.barrier) held.forEach(answer)
        } else if (options.delay !== undefined) {
          setTimeout(() => answer(res), options.delay)
        } else {
          answer(res)
        }
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
      connections: () => connections,
      // a guard, not a measurement: 5 s means the close never came
      socketClosed: Deferred.await(closed).pipe(
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "the server never saw the socket close" }),
        Effect.orDie
      )
    }
  })

const transport = HttpTransport.make({
  provider: "test",
  mapError: (response) => new ProviderError({ provider: "test", message: `status ${response.status}` })
})

const call = (t: HttpTransport.Transport, server: TestServer) =>
  t.json({ method: "POST", url: `${server.origin}/v1/chat`, headers: {}, body: { n: 1 } }, { model: undefined })

describe("Http", () => {
  it("exports the platform's HttpClient tag, so any HttpClient layer satisfies providers", () => {
    assert.strictEqual(Http.HttpClient, PlatformHttpClient.HttpClient)
  })

  it("layerDefault is one value, so it is memoised across providers", () => {
    assert.strictEqual(Http.layerDefault, Http.layerDefault)
    assert.notStrictEqual(Http.layer(), Http.layer())
  })

  it.scopedLive("sequential requests reuse one keep-alive socket", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const t = yield* transport
      for (let i = 0; i < 5; i++) {
        const result = yield* call(t, server)
        assert.deepStrictEqual(result.json, { ok: true })
      }
      assert.strictEqual(server.connections(), 1)
    }).pipe(Effect.provide(Http.layer())))

  it.scopedLive("sequential streams reuse one keep-alive socket", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const t = yield* transport
      for (let i = 0; i < 5; i++) {
        const bytes = yield* Stream.runCollect(
          t.stream({ method: "POST", url: `${server.origin}/v1/chat`, headers: {}, body: { n: 1 } }, {
            model: undefined
          })
        )
        assert.strictEqual(Buffer.concat(Chunk.toReadonlyArray(bytes)).toString("utf8"), "{\"ok\":true}")
      }
      assert.strictEqual(server.connections(), 1)
    }).pipe(Effect.provide(Http.layer())))

  it.scopedLive("the layer's HttpClient works through the plain interface, and for a client derived from it", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* PlatformHttpClient.HttpClient
      const t = yield* transport
      const viaInterface = yield* client.post(`${server.origin}/v1/chat`).pipe(
        Effect.flatMap((response) => Effect.zip(Effect.succeed(response.status), response.json)),
        Effect.scoped
      )
      assert.deepStrictEqual(viaInterface, [200, { ok: true }])
      // a derived client has no pool mark: the transport sends through the interface
      const derived = PlatformHttpClient.mapRequest(client, (request) => request)
      const viaDerived = yield* HttpTransport.makeWith(derived, {
        provider: "test",
        mapError: (response) => new ProviderError({ provider: "test", message: `status ${response.status}` })
      }).json({ method: "POST", url: `${server.origin}/v1/chat`, headers: {}, body: { n: 1 } }, { model: undefined })
      assert.deepStrictEqual(viaDerived.json, { ok: true })
      assert.deepStrictEqual((yield* call(t, server)).json, { ok: true })
    }).pipe(Effect.provide(Http.layer())))

  it.scopedLive("the layer's HttpClient does not follow redirects by itself", () =>
    Effect.gen(function*() {
      const server = http.createServer((req, res) => {
        req.resume()
        if (req.url === "/elsewhere") res.writeHead(200).end("followed")
        else res.writeHead(302, { location: "/elsewhere" }).end()
      })
      const port = yield* Effect.acquireRelease(
        Effect.async<number>((resume) => {
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as net.AddressInfo).port)))
        }),
        () =>
          Effect.async<void>((resume) => {
            server.closeAllConnections()
            server.close(() => resume(Effect.void))
          })
      )
      const client = yield* PlatformHttpClient.HttpClient
      const status = yield* client.get(`http://127.0.0.1:${port}/start`).pipe(
        Effect.map((response) => response.status),
        Effect.scoped
      )
      assert.strictEqual(status, 302)
    }).pipe(Effect.provide(Http.layer())))

  it.scopedLive("`connections` caps the sockets per origin", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ delay: 30 })
      const t = yield* transport
      const results = yield* Effect.all(Array.from({ length: 6 }, () => call(t, server)), { concurrency: "unbounded" })
      assert.strictEqual(results.length, 6)
      assert.strictEqual(server.connections(), 2)
    }).pipe(Effect.provide(Http.layer({ connections: 2 }))))

  it.scopedLive("without a cap, concurrent requests open their own sockets", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ barrier: 6 })
      const t = yield* transport
      yield* Effect.all(Array.from({ length: 6 }, () => call(t, server)), { concurrency: "unbounded" })
      assert.strictEqual(server.connections(), 6)
    }).pipe(Effect.provide(Http.layer())))

  it.scopedLive("releasing the layer destroys the pool and closes its idle sockets", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Http.layer({ keepAliveTimeout: "1 minute" }), scope)
      const t = yield* Effect.provide(transport, context)
      yield* call(t, server)
      yield* Scope.close(scope, Exit.void)
      yield* server.socketClosed
    }))

  it.scopedLive("connectTimeout: a TLS handshake that never completes is TimeoutError connect", () =>
    Effect.gen(function*() {
      // accepts TCP connections and says nothing: the TLS handshake, part of connecting, never ends
      const sockets = new Set<net.Socket>()
      const silent = net.createServer((socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
      })
      const port = yield* Effect.acquireRelease(
        Effect.async<number>((resume) => {
          silent.listen(0, "127.0.0.1", () => resume(Effect.succeed((silent.address() as net.AddressInfo).port)))
        }),
        () =>
          Effect.async<void>((resume) => {
            for (const socket of sockets) socket.destroy()
            silent.close(() => resume(Effect.void))
          })
      )
      const t = yield* transport
      const error = yield* Effect.flip(
        t.json({ method: "POST", url: `https://127.0.0.1:${port}/v1/chat`, headers: {}, body: {} }, { model: "m" })
      )
      assert.strictEqual(error._tag, "TimeoutError")
      assert.strictEqual(error._tag === "TimeoutError" && error.phase, "connect")
      assert.strictEqual(error.model, "m")
      assert.include(error.message, `127.0.0.1:${port}`)
    }).pipe(Effect.provide(Http.layer({ connectTimeout: 50 }))))

  describe("connectTimeout fires on time", () => {
    // undici's own connect timer ticks every 499 ms and fired a 500 ms timeout after about 1 s; a 100 ms one after
    // 500 ms at the least. A plain timer fires when due plus the event loop's lag: 200 ms of slack on top of twice
    // the bound holds on a loaded machine and still fails the coarse clock every time.
    const bound = 100
    const upper = 2 * bound + 200

    const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function*() {
        const start = performance.now()
        const result = yield* effect
        return { result, elapsed: performance.now() - start }
      })

    it.scopedLive("a TCP connect that is never answered (a listener whose backlog is full)", () =>
      Effect.gen(function*() {
        const port = yield* unansweringListener
        const t = yield* HttpTransport.make({ provider: "test", mapError })
        const { elapsed, result: error } = yield* timed(Effect.flip(
          t.json({ method: "POST", url: `http://127.0.0.1:${port}/v1/chat`, headers: {}, body: {} }, { model: "m" })
        ))
        assert.strictEqual(error._tag === "TimeoutError" && error.phase, "connect")
        assert.include(error.message, `127.0.0.1:${port}`)
        // timers are kept in whole milliseconds: one may fire up to 1 ms before its bound by performance.now()
        assert.isAtLeast(elapsed, bound - 1)
        assert.isBelow(elapsed, upper)
      }).pipe(Effect.provide(Http.layer({ connectTimeout: bound }))))

    it.scopedLive("a TLS handshake that never completes", () =>
      Effect.gen(function*() {
        const sockets = new Set<net.Socket>()
        const silent = net.createServer((socket) => {
          sockets.add(socket)
          socket.on("error", () => {})
        })
        const port = yield* Effect.acquireRelease(
          Effect.async<number>((resume) => {
            silent.listen(0, "127.0.0.1", () => resume(Effect.succeed((silent.address() as net.AddressInfo).port)))
          }),
          () =>
            Effect.async<void>((resume) => {
              for (const socket of sockets) socket.destroy()
              silent.close(() => resume(Effect.void))
            })
        )
        const t = yield* HttpTransport.make({ provider: "test", mapError })
        const { elapsed, result: error } = yield* timed(Effect.flip(
          t.json({ method: "POST", url: `https://127.0.0.1:${port}/v1/chat`, headers: {}, body: {} }, { model: "m" })
        ))
        assert.strictEqual(error._tag === "TimeoutError" && error.phase, "connect")
        assert.isAtLeast(elapsed, bound - 1)
        assert.isBelow(elapsed, upper)
      }).pipe(Effect.provide(Http.layer({ connectTimeout: bound }))))
  })
})
