import * as Http from "node:http"
import type * as Net from "node:net"
import type { FakeServer, Handler, RecordedRequest, Reply, StartOptions } from "../../FakeServer.js"
import * as Body from "./body.js"

const HOST = "127.0.0.1"

const errorBody = (message: string, code: string) => ({
  error: { message, type: "fake_server_error", param: null, code }
})

const noReply = (request: RecordedRequest): Reply => ({
  status: 500,
  body: errorBody(`fake server: no reply scripted for ${request.method} ${request.path}`, "no_reply_scripted")
})

const handlerFailed = (error: unknown): Reply => ({
  status: 500,
  body: errorBody(
    `fake server: handler threw: ${error instanceof Error ? error.message : String(error)}`,
    "handler_threw"
  )
})

const recordHeaders = (raw: Http.IncomingHttpHeaders): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const name in raw) {
    const value = raw[name]
    if (value !== undefined) headers[name] = typeof value === "string" ? value : value.join(", ")
  }
  return headers
}

const parseJson = (body: string): unknown => {
  if (body.length === 0) return undefined
  try {
    return JSON.parse(body)
  } catch {
    return undefined
  }
}

/** Per response: whether we finished it ourselves (so a close is not the client's), and its pending timer. */
interface State {
  finished: boolean
  timer: NodeJS.Timeout | undefined
}

/** @internal */
export const echoCredential = "{{credential}}"

/** @internal */
export const echoAuthorization = "{{authorization}}"

/** The credential a request carried, for an `echo` reply. */
const credentialOf = (request: RecordedRequest): string => {
  const headers = request.headers
  const authorization = headers["authorization"]
  if (authorization !== undefined && authorization !== "") {
    const space = authorization.indexOf(" ")
    return space > 0 ? authorization.slice(space + 1).trim() : authorization
  }
  for (const name of ["x-api-key", "x-goog-api-key", "api-key"]) {
    const value = headers[name]
    if (value !== undefined && value !== "") return value
  }
  return new URL(request.path, "http://fake").searchParams.get("key") ?? ""
}

/** The text of an `echo` reply with the request's credentials in place of the placeholders. */
const echoOf = (request: RecordedRequest) => {
  const credential = credentialOf(request)
  const authorization = request.headers["authorization"] ?? ""
  return (text: string): string =>
    text.split(echoCredential).join(credential).split(echoAuthorization).join(authorization)
}

const delayed = (ms: number | undefined): ms is number => ms !== undefined && ms > 0

/** @internal */
export const start = (options?: StartOptions): Promise<FakeServer> => {
  const queue: Array<Reply> = []
  const requests: Array<RecordedRequest> = []
  let handler: Handler | undefined = options?.handler
  let closed = 0
  let waiters: Array<{ readonly n: number; readonly resolve: () => void }> = []
  let open = 0
  let total = 0
  let closing = false
  let closePromise: Promise<void> | undefined

  const clientClosed = () => {
    closed++
    if (waiters.length === 0) return
    const ready = waiters.filter((w) => w.n <= closed)
    if (ready.length === 0) return
    waiters = waiters.filter((w) => w.n > closed)
    for (const w of ready) w.resolve()
  }

  const replyFor = (request: RecordedRequest): Reply => {
    const queued = queue.shift()
    if (queued !== undefined) return queued
    if (handler === undefined) return noReply(request)
    try {
      return handler(request) ?? noReply(request)
    } catch (error) {
      return handlerFailed(error)
    }
  }

  const respond = (
    res: Http.ServerResponse,
    reply: Reply,
    state: State,
    request: RecordedRequest
  ) => {
    if (reply.hang === true) return
    if (reply.generate !== undefined) {
      const generate = reply.generate
      const send = () => {
        state.timer = undefined
        if (res.destroyed) return
        res.statusCode = reply.status ?? 200
        if (reply.headers !== undefined) {
          for (const name in reply.headers) res.setHeader(name, reply.headers[name]!)
        }
        writeGenerated(res, generate(), state)
      }
      if (delayed(reply.headersDelay)) state.timer = setTimeout(send, reply.headersDelay)
      else send()
      return
    }
    const substitute = reply.echo === true ? echoOf(request) : undefined
    const body = Body.fromReply(reply, substitute)
    const send = () => {
      state.timer = undefined
      if (res.destroyed) return
      res.statusCode = reply.status ?? 200
      if (body.json) res.setHeader("content-type", "application/json")
      if (!body.streamed) res.setHeader("content-length", body.byteLength)
      if (reply.headers !== undefined) {
        for (const name in reply.headers) {
          const value = reply.headers[name]!
          res.setHeader(name, substitute === undefined ? value : substitute(value))
        }
      }
      writePieces(res, body.pieces, reply, state)
    }
    if (delayed(reply.headersDelay)) state.timer = setTimeout(send, reply.headersDelay)
    else send()
  }

  // Writes while the socket takes more, then waits for it to drain: memory stays at one socket buffer.
  const writeGenerated = (res: Http.ServerResponse, pieces: Iterator<string | Uint8Array>, state: State) => {
    const writeSome = () => {
      while (!res.destroyed) {
        const next = pieces.next()
        if (next.done === true) {
          state.finished = true
          res.end()
          return
        }
        if (!res.write(next.value)) {
          res.once("drain", writeSome)
          return
        }
      }
    }
    res.flushHeaders()
    writeSome()
  }

  const writePieces = (
    res: Http.ServerResponse,
    pieces: ReadonlyArray<Uint8Array>,
    reply: Reply,
    state: State
  ) => {
    const cutAt = reply.disconnectAfter
    const delay = reply.chunkDelay
    let next = 0
    // Returns false once the response is over (ended or cut), true when the next piece is due.
    const writeOne = (): boolean => {
      if (res.destroyed) return false
      if (cutAt !== undefined && next >= cutAt) {
        state.finished = true
        if (next === 0) res.flushHeaders()
        // `destroySoon` flushes what was written (headers and pieces, possibly still corked) before closing, so the
        // client receives exactly the first `cutAt` pieces and then end of stream.
        const socket: Net.Socket | null = res.socket
        socket?.destroySoon()
        return false
      }
      if (next >= pieces.length) {
        state.finished = true
        res.end()
        return false
      }
      res.write(pieces[next++]!)
      return true
    }
    if (delayed(delay)) {
      const tick = () => {
        state.timer = undefined
        if (writeOne()) state.timer = setTimeout(tick, delay)
      }
      tick()
    } else {
      while (writeOne()) {
        // written synchronously: without a delay the pieces may coalesce, which is what a fast server does too
      }
    }
  }

  const server = Http.createServer({ noDelay: true, requestTimeout: 0 }, (req, res) => {
    const state: State = { finished: false, timer: undefined }
    res.on("error", () => {
      // A write after the client left: already accounted for by "close".
    })
    res.on("close", () => {
      if (state.timer !== undefined) clearTimeout(state.timer)
      if (!state.finished && !closing) clientClosed()
    })
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("error", () => {
      // The client aborted while sending its body; "close" on the response counts it.
    })
    req.on("end", () => {
      const text = chunks.length === 0
        ? ""
        : chunks.length === 1
        ? chunks[0]!.toString()
        : Buffer.concat(chunks).toString()
      const request: RecordedRequest = {
        method: req.method ?? "GET",
        path: req.url ?? "/",
        headers: recordHeaders(req.headers),
        body: text,
        json: parseJson(text)
      }
      requests.push(request)
      respond(res, replyFor(request), state, request)
    })
  })

  server.on("connection", (socket: Net.Socket) => {
    open++
    total++
    socket.on("close", () => {
      open--
    })
  })

  const close = (): Promise<void> => {
    if (closePromise !== undefined) return closePromise
    closing = true
    closePromise = new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
    return closePromise
  }

  return new Promise<FakeServer>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options?.port ?? 0, HOST, () => {
      server.off("error", reject)
      const port = (server.address() as Net.AddressInfo).port
      resolve({
        url: `http://${HOST}:${port}`,
        enqueue: (...replies) => {
          for (const reply of replies) queue.push(reply)
        },
        setHandler: (next) => {
          handler = next
        },
        requests,
        reset: () => {
          queue.length = 0
          requests.length = 0
          handler = undefined
          closed = 0
        },
        closedConnections: () => closed,
        awaitClientClose: (n = 1) =>
          closed >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
        openSockets: () => open,
        totalSockets: () => total,
        close
      })
    })
  })
}
