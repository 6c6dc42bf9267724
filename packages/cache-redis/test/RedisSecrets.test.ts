// The password of a Redis URL never reaches a log line or an error, even when the server quotes it back: a fake
// Redis (RESP over a loopback socket) accepts the AUTH and answers every other command with an error quoting it.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as net from "node:net"
import * as util from "node:util"
import { RedisCache, RedisRateLimit } from "../src/index.js"

const PASSWORD = "redis-pw-6Tq9Lx2Vb"

/** The arguments of each complete RESP command in `buffer`, and what is left of it. */
const parse = (buffer: string): { readonly commands: Array<Array<string>>; readonly rest: string } => {
  const commands: Array<Array<string>> = []
  let at = 0
  outer: while (at < buffer.length) {
    if (buffer[at] !== "*") break
    const header = buffer.indexOf("\r\n", at)
    if (header === -1) break
    const count = Number(buffer.slice(at + 1, header))
    let cursor = header + 2
    const args: Array<string> = []
    for (let i = 0; i < count; i++) {
      const line = buffer.indexOf("\r\n", cursor)
      if (line === -1) break outer
      const length = Number(buffer.slice(cursor + 1, line))
      if (buffer.length < line + 2 + length + 2) break outer
      args.push(buffer.slice(line + 2, line + 2 + length))
      cursor = line + 2 + length + 2
    }
    commands.push(args)
    at = cursor
  }
  return { commands, rest: buffer.slice(at) }
}

/** A Redis that takes any AUTH and answers every command but INFO with an error quoting the password it got. */
const echoingRedis = Effect.acquireRelease(
  Effect.async<net.Server>((resume) => {
    const server = net.createServer((socket) => {
      let buffer = ""
      let password = ""
      socket.on("data", (data) => {
        const parsed = parse(buffer + data.toString("utf8"))
        buffer = parsed.rest
        for (const [name, ...args] of parsed.commands) {
          const command = (name ?? "").toUpperCase()
          if (command === "AUTH") {
            password = args[args.length - 1] ?? ""
            socket.write("+OK\r\n")
          } else if (command === "INFO") {
            const info = "# Server\r\nloading:0\r\n"
            socket.write(`$${Buffer.byteLength(info)}\r\n${info}\r\n`)
          } else {
            socket.write(
              `-ERR ${command} refused for password ${password} (url-encoded ${encodeURIComponent(password)})\r\n`
            )
          }
        }
      })
      socket.on("error", () => {})
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
)

const urlOf = (server: net.Server) =>
  `redis://default:${PASSWORD}@127.0.0.1:${(server.address() as net.AddressInfo).port}`

const recordLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ annotations, message }) => {
    lines.push(util.inspect({ message, annotations: [...annotations] }, { depth: 10 }))
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("Redis: no password in a log or an error", () => {
  it.scopedLive("the cache logs the failure without the URL's password", () =>
    Effect.gen(function*() {
      const server = yield* echoingRedis
      const logs = recordLogs()
      const found = yield* Effect.gen(function*() {
        const cache = yield* RedisCache.make({ url: Redacted.make(urlOf(server)), timeout: 1000 })
        return yield* cache.get("k")
      }).pipe(Effect.provide(logs.layer), Logger.withMinimumLogLevel(LogLevel.All))
      assert.isTrue(Option.isNone(found))
      assert.isAtLeast(logs.lines.length, 1)
      const all = logs.lines.join("\n")
      assert.include(all, "refused for password")
      assert.notInclude(all, PASSWORD)
      assert.include(all, "[REDACTED]")
    }))

  it.scopedLive("the rate limiter's store failure does not quote the password", () =>
    Effect.gen(function*() {
      const server = yield* echoingRedis
      const logs = recordLogs()
      const failure = yield* Effect.gen(function*() {
        const limiter = yield* RedisRateLimit.make({ url: urlOf(server), onUnavailable: "fail", timeout: 1000 })
        return yield* Effect.flip(
          limiter.consume({ key: "k", limit: 10, window: "1 minute", tokens: 1, onExceeded: "fail" })
        )
      }).pipe(Effect.provide(logs.layer), Logger.withMinimumLogLevel(LogLevel.All))
      assert.strictEqual(failure._tag, "StoreFailure")
      const texts = [util.inspect(failure, { depth: 10 }), JSON.stringify(failure), ...logs.lines]
      assert.include(texts[0], "refused for password")
      for (const text of texts) assert.notInclude(text, PASSWORD)
    }))
})
