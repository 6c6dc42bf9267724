/**
 * The benchmark's fake OpenAI-compatible server, run in its own process so that the client process's CPU is
 * measured alone. A raw `node:http` server answering from bytes built once: its cost per request is a body read,
 * one `JSON.parse` of a small body and the writes.
 *
 * Routes: `POST /v1/chat/completions` (JSON, or SSE when `stream: true`), `POST /v1/responses` (the Responses API,
 * for `@effect/ai-openai`), `GET /stats` (open connections and requests in flight, to check that a client returned
 * its sockets). Streams are written in 1 KiB pieces, one piece per event-loop turn, as a socket would deliver
 * tokens, and with back-pressure.
 *
 * Prints `listening <port>` on stdout once ready.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Payloads from "./payloads.js"

const piece = 1024

const cache = new Map<string, Buffer>()
const bytes = (key: string, build: () => string): Buffer => {
  let buffer = cache.get(key)
  if (buffer === undefined) {
    buffer = Buffer.from(build(), "utf8")
    cache.set(key, buffer)
  }
  return buffer
}

let connections = 0
let totalConnections = 0
let inFlight = 0

const writeStream = (res: Http.ServerResponse, body: Buffer): void => {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
  let offset = 0
  const next = (): void => {
    while (offset < body.length) {
      const end = Math.min(offset + piece, body.length)
      const ok = res.write(body.subarray(offset, end))
      offset = end
      if (!ok) {
        res.once("drain", next)
        return
      }
      setImmediate(next)
      return
    }
    res.end()
  }
  next()
}

const server = Http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  inFlight++
  res.on("close", () => inFlight--)
  if (req.method === "GET" && req.url === "/stats") {
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify({ connections, totalConnections, inFlight: inFlight - 1 }))
    return
  }
  const parts: Array<Buffer> = []
  req.on("data", (part: Buffer) => parts.push(part))
  req.on("end", () => {
    let body: { model?: string; stream?: boolean }
    try {
      body = JSON.parse(Buffer.concat(parts).toString("utf8"))
    } catch {
      res.writeHead(400, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { message: "bad JSON", type: "invalid_request_error" } }))
      return
    }
    const model = body.model ?? Payloads.models.json
    const responses = req.url === "/v1/responses"
    if (!responses && req.url !== "/v1/chat/completions") {
      res.writeHead(404, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { message: `no route ${req.url}`, type: "invalid_request_error" } }))
      return
    }
    if (body.stream === true) {
      const count = Payloads.chunkCounts[model] ?? 200
      const stream = responses
        ? bytes(`rs:${model}`, () => Payloads.responseStream(model, count))
        : bytes(`cs:${model}`, () => Payloads.chatStream(model, count))
      writeStream(res, stream)
      return
    }
    const json = responses
      ? bytes(`r:${model}`, () => Payloads.response(model))
      : bytes(`c:${model}`, () => Payloads.chatCompletion(model))
    res.writeHead(200, { "content-type": "application/json", "content-length": json.length, "x-request-id": "req_1" })
    res.end(json)
  })
})
server.on("connection", (socket) => {
  connections++
  totalConnections++
  socket.on("close", () => connections--)
})
server.maxHeadersCount = 0
server.listen(Number(process.env.BENCH_PORT ?? 0), "127.0.0.1", () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`)
})
process.on("SIGTERM", () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
