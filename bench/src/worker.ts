/**
 * One measurement in a fresh process: `node worker.js <client> <workload> <baseUrl> [json options]`. Prints one
 * JSON line with the figures. The process is fresh so that each client's import time is cold and its CPU and
 * memory are its own.
 */
import * as Http from "node:http"
import { type Bench, type ClientName, clients } from "./clients.js"
import * as Payloads from "./payloads.js"

export interface WorkloadOptions {
  readonly concurrency?: number
  readonly requests?: number
  readonly warmup?: number
  /** measure for this long (seconds) rather than a number of requests */
  readonly seconds?: number
  readonly model?: string
  readonly connections?: number
}

export interface Figures {
  client: string
  workload: string
  importMs: number
  cpuPerRequestUs?: number
  cpuPerChunkUs?: number
  requestsPerSecond?: number
  p50Ms?: number
  p99Ms?: number
  firstChunkMs?: number
  rssMb: number
  rssGrowthMb?: number
  chunks?: number
  errors?: number
  socketsOpen?: number
  socketsInUse?: number
  socketsOpenedAfter?: number
  note?: string
}

const [name, workload, baseUrl, rawOptions] = process.argv.slice(2) as [ClientName, string, string, string?]
const options: WorkloadOptions = rawOptions ? JSON.parse(rawOptions) : {}
const connections = options.connections ?? 64

const quantile = (sorted: Array<number>, q: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

const rssMb = (): number => process.memoryUsage.rss() / 1048576

const cpuMicros = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since)
  return used.user + used.system
}

/**
 * Runs calls of `call`, `concurrency` at a time, `count` of them or, with `seconds`, as many as start within that
 * time; returns each call's latency in ms.
 */
const runConcurrently = async (
  count: number,
  concurrency: number,
  call: () => Promise<unknown>,
  seconds?: number
): Promise<Array<number>> => {
  const latencies: Array<number> = []
  const deadline = seconds === undefined ? Infinity : performance.now() + seconds * 1000
  let started = 0
  const lane = async (): Promise<void> => {
    while (seconds === undefined ? started < count : performance.now() < deadline) {
      started++
      const start = performance.now()
      await call()
      latencies.push(performance.now() - start)
    }
  }
  await Promise.all(Array.from({ length: seconds === undefined ? Math.min(concurrency, count) : concurrency }, lane))
  return latencies
}

const stats = (): Promise<{ connections: number; totalConnections: number; inFlight: number }> =>
  new Promise((resolve, reject) => {
    const url = new URL("/stats", baseUrl)
    Http.get(url, { agent: false }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (part: string) => (body += part))
      res.on("end", () => resolve(JSON.parse(body)))
    }).on("error", reject)
  })

const main = async (): Promise<Figures> => {
  const loadStart = performance.now()
  const bench: Bench = await clients[name]({ baseUrl, connections })
  const importMs = performance.now() - loadStart
  const base: Figures = { client: name, workload, importMs, rssMb: 0 }
  try {
    switch (workload) {
      case "import": {
        return { ...base, rssMb: rssMb() }
      }
      case "json": {
        const concurrency = options.concurrency ?? 1
        await runConcurrently(options.warmup ?? 200, concurrency, bench.chat, options.seconds && 1)
        const cpu = process.cpuUsage()
        const start = performance.now()
        const latencies = await runConcurrently(options.requests ?? 1000, concurrency, bench.chat, options.seconds)
        const elapsed = performance.now() - start
        const requests = latencies.length
        const cpuUs = cpuMicros(cpu)
        latencies.sort((a, b) => a - b)
        return {
          ...base,
          cpuPerRequestUs: cpuUs / requests,
          requestsPerSecond: requests / (elapsed / 1000),
          p50Ms: quantile(latencies, 0.5),
          p99Ms: quantile(latencies, 0.99),
          rssMb: rssMb()
        }
      }
      case "stream": {
        const model = options.model ?? Payloads.models.n200
        const expected = Payloads.chunkCounts[model]!
        const check = (chunks: number) => {
          if (chunks !== expected) throw new Error(`${chunks} chunks, expected ${expected}`)
        }
        const warmEnd = performance.now() + (options.seconds === undefined ? 0 : 1000)
        for (let i = 0; i < (options.warmup ?? 2) || performance.now() < warmEnd; i++) {
          check((await bench.stream(model)).chunks)
        }
        const firsts: Array<number> = []
        let chunks = 0
        let streams = 0
        const cpu = process.cpuUsage()
        const start = performance.now()
        const deadline = options.seconds === undefined ? Infinity : start + options.seconds * 1000
        // with `seconds`, at least 3 streams, however slow
        while (
          options.seconds === undefined
            ? streams < (options.requests ?? 100)
            : performance.now() < deadline || streams < 3
        ) {
          const result = await bench.stream(model)
          check(result.chunks)
          chunks += result.chunks
          streams++
          firsts.push(result.firstChunk)
        }
        const elapsed = performance.now() - start
        const cpuUs = cpuMicros(cpu)
        firsts.sort((a, b) => a - b)
        return {
          ...base,
          cpuPerChunkUs: cpuUs / chunks,
          cpuPerRequestUs: cpuUs / streams,
          requestsPerSecond: streams / (elapsed / 1000),
          firstChunkMs: quantile(firsts, 0.5),
          chunks,
          rssMb: rssMb()
        }
      }
      case "big": {
        // about 50 MB of events in one stream: how much the resident set grows while it is consumed
        await bench.stream(Payloads.models.n200)
        ;(globalThis as { gc?: () => void }).gc?.()
        const before = rssMb()
        let peak = before
        let seen = 0
        const result = await bench.stream(Payloads.models.mb50, () => {
          if ((++seen & 255) === 0) peak = Math.max(peak, rssMb())
        })
        peak = Math.max(peak, rssMb())
        if (result.chunks !== Payloads.chunkCounts[Payloads.models.mb50]) {
          throw new Error(`${result.chunks} chunks`)
        }
        return { ...base, rssMb: peak, rssGrowthMb: peak - before, chunks: result.chunks }
      }
      case "many": {
        // 1,000 streams at once through a pool of `connections`; then every socket must be back and idle
        const count = options.requests ?? 1000
        let errors = 0
        let firstError: unknown = undefined
        const before = await stats()
        const start = performance.now()
        await Promise.all(Array.from({ length: count }, () =>
          bench.stream(Payloads.models.n200).then(
            (result) => {
              if (result.chunks !== Payloads.chunkCounts[Payloads.models.n200]) errors++
            },
            (error) => {
              errors++
              firstError ??= error
            }
          )))
        const elapsed = performance.now() - start
        await new Promise((resolve) => setTimeout(resolve, 50))
        const after = await stats()
        // the pool must reuse its sockets: more calls open no new connection
        await runConcurrently(connections, connections, bench.chat)
        const reused = await stats()
        return {
          ...base,
          requestsPerSecond: count / (elapsed / 1000),
          errors,
          socketsOpen: after.connections - before.connections,
          socketsInUse: after.inFlight,
          socketsOpenedAfter: reused.totalConnections - after.totalConnections - 1,
          rssMb: rssMb(),
          ...(firstError === undefined ? {} : { note: String(firstError) })
        }
      }
      default:
        throw new Error(`unknown workload ${workload}`)
    }
  } finally {
    await bench.close()
  }
}

main().then(
  (figures) => {
    process.stdout.write(JSON.stringify(figures) + "\n")
    process.exit(0)
  },
  (error) => {
    process.stderr.write(`${name} ${workload}: ${error instanceof Error ? error.stack : String(error)}\n`)
    process.exit(1)
  }
)
