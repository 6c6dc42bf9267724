import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as net from "node:net"

/** The `redis-server` binary: `$REDIS_SERVER`, else the one on `PATH`; `undefined` when there is none. */
export const findRedisServer = (): string | undefined => {
  if (process.env.REDIS_SERVER) return process.env.REDIS_SERVER
  try {
    return execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/** A throwaway `redis-server` child process (no persistence) on `port`; `stop` kills it and waits for its exit. */
export interface RedisServer {
  readonly url: string
  readonly port: number
  readonly stop: () => Promise<void>
  /** `SIGSTOP`: the process is frozen; the kernel still accepts connections, nothing answers. */
  readonly freeze: () => void
  /** `SIGCONT`. */
  readonly thaw: () => void
}

export const startRedis = async (binary: string, port?: number): Promise<RedisServer> => {
  const p = port ?? await freePort()
  const child: ChildProcess = spawn(binary, [
    "--port",
    String(p),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no"
  ], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  await new Promise<void>((resolve, reject) => {
    let out = ""
    const onData = (data: Buffer) => {
      out += data.toString()
      if (out.includes("Ready to accept connections")) resolve()
    }
    child.stdout!.on("data", onData)
    child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)))
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  return {
    url: `redis://127.0.0.1:${p}`,
    port: p,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGKILL")
      await exited
    },
    freeze: () => {
      child.kill("SIGSTOP")
    },
    thaw: () => {
      child.kill("SIGCONT")
    }
  }
}

/** The binary, or: under `CI=true` a failure, elsewhere `undefined` with the reason printed (the suite is skipped). */
export const requireRedis = (): string | undefined => {
  const binary = findRedisServer()
  if (binary !== undefined) return binary
  if (process.env.CI === "true") throw new Error("redis-server not found: CI must install it (see .ci/run)")
  console.warn("skipping the Redis tests: no redis-server on PATH (install it, or set REDIS_SERVER)")
  return undefined
}

/** A TCP listener that accepts connections and never answers; `received` counts the bytes sent to it. */
export interface SilentServer {
  readonly url: string
  readonly received: () => number
  readonly close: () => Promise<void>
}

export const startSilent = async (): Promise<SilentServer> => {
  const sockets = new Set<net.Socket>()
  let received = 0
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on("data", (data) => {
      received += data.length
    })
    socket.on("error", () => {})
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    url: `redis://127.0.0.1:${port}`,
    received: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}
