/**
 * The benchmark suite: starts the fake server in its own process, then runs every client on every workload, each
 * in a fresh process, in interleaved rounds (round 1: every client on workload A, then on workload B, …; round 2
 * the same), so that a machine that slows down for a while slows every client alike. Prints one table of medians
 * over the rounds, each figure with its ratio to raw undici from the same run, and writes it to
 * `bench/results/latest.md` (and the raw figures to `latest.json`).
 *
 *   pnpm bench                       # 3 rounds, every workload
 *   pnpm bench --rounds 5 --seconds 5
 *   pnpm bench --only json-c1,stream-200 --clients undici,ours-effect
 *
 * A benchmark, not a test: it asserts nothing about time. It fails only when a client gets a wrong answer.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as Os from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { ClientName } from "./clients.js"
import * as Payloads from "./payloads.js"
import type { Figures, WorkloadOptions } from "./worker.js"

const here = dirname(fileURLToPath(import.meta.url))

const argument = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? undefined : process.argv[i + 1]
}
const rounds = Number(argument("rounds") ?? 3)
const seconds = Number(argument("seconds") ?? 3)
const only = argument("only")?.split(",")
const onlyClients = argument("clients")?.split(",")
const out = argument("out") ?? join(here, "..", "..", "results")

const peers: Array<ClientName> = [
  "undici",
  "openai",
  "ai-sdk",
  "effect-ai",
  "effect-platform",
  "ours-effect",
  "ours-client"
]
const streaming: Array<ClientName> = ["undici", "openai", "ai-sdk", "effect-ai", "ours-effect", "ours-client"]
const caches: Array<ClientName> = ["cache-memory", "cache-redis", "ioredis"]
const selected = (list: ReadonlyArray<ClientName>): Array<ClientName> =>
  onlyClients ? list.filter((c) => onlyClients.includes(c)) : [...list]
const clients = selected(peers)

interface Workload {
  readonly id: string
  readonly kind: string
  readonly options: WorkloadOptions
  /** the clients it runs for, when not all */
  readonly clients?: ReadonlyArray<ClientName>
  readonly nodeFlags?: ReadonlyArray<string>
}

const workloads: Array<Workload> = ([
  { id: "import", kind: "import", options: {} },
  { id: "json-c1", kind: "json", options: { concurrency: 1, seconds } },
  { id: "json-c32", kind: "json", options: { concurrency: 32, seconds } },
  { id: "json-c256", kind: "json", options: { concurrency: 256, seconds } },
  { id: "stream-200", kind: "stream", options: { model: Payloads.models.n200, seconds }, clients: streaming },
  { id: "stream-5000", kind: "stream", options: { model: Payloads.models.n5000, seconds }, clients: streaming },
  // the two below are checks of ours against the floor; the peers' cost at 50 MB would dominate the run
  {
    id: "stream-50mb",
    kind: "big",
    options: {},
    clients: ["undici", "openai", "ours-effect", "ours-client"],
    nodeFlags: ["--expose-gc"]
  },
  { id: "streams-1000", kind: "many", options: { requests: 1000 }, clients: ["undici", "ours-effect", "ours-client"] },
  // cache hits: ours with each storage, and a raw ioredis GET as the floor of a Redis hit
  { id: "cache-hit", kind: "json", options: { concurrency: 1, seconds }, clients: caches }
] satisfies Array<Workload> as Array<Workload>).filter((w) => only === undefined || only.includes(w.id))

/** A throwaway redis-server on a free port, when one is installed; `undefined` otherwise. */
const startRedis = async (): Promise<{ readonly child: ChildProcess; readonly url: string } | undefined> => {
  const port = 20000 + Math.floor(Math.random() * 20000)
  const child = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "pipe", "ignore"]
  })
  const ready = await new Promise<boolean>((resolve) => {
    child.once("error", () => resolve(false))
    child.stdout!.setEncoding("utf8")
    let seen = ""
    child.stdout!.on("data", (text: string) => {
      seen += text
      if (seen.includes("Ready to accept connections")) resolve(true)
    })
    child.once("exit", () => resolve(false))
  })
  if (!ready) return undefined
  child.stdout!.resume()
  return { child, url: `redis://127.0.0.1:${port}` }
}

const startServer = (): Promise<{ readonly child: ChildProcess; readonly baseUrl: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, "server.js")], { stdio: ["ignore", "pipe", "inherit"] })
    child.stdout!.setEncoding("utf8")
    child.stdout!.once("data", (line: string) => {
      const port = /listening (\d+)/.exec(line)?.[1]
      if (port === undefined) reject(new Error(`server said: ${line}`))
      else resolve({ child, baseUrl: `http://127.0.0.1:${port}/v1` })
    })
    child.once("error", reject)
  })

const runWorker = (client: ClientName, workload: Workload, baseUrl: string): Promise<Figures> =>
  new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [
        ...(workload.nodeFlags ?? []),
        join(here, "worker.js"),
        client,
        workload.kind,
        baseUrl,
        JSON.stringify(workload.options)
      ],
      {
        maxBuffer: 1 << 20,
        timeout: 300_000,
        env: { ...process.env, ...(redisUrl ? { BENCH_REDIS_URL: redisUrl } : {}) }
      },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${client} ${workload.id} failed: ${stderr || error.message}`))
        else resolve({ ...JSON.parse(stdout.trim().split("\n").at(-1)!), workload: workload.id })
      }
    )
  })

const median = (values: Array<number>): number => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The columns of the table: which figure of which workload, and how to print it. */
interface Column {
  readonly title: string
  readonly workload: string
  readonly figure: keyof Figures
  readonly digits: number
}
const columns: Array<Column> = [
  { title: "JSON CPU µs/req (c1)", workload: "json-c1", figure: "cpuPerRequestUs", digits: 0 },
  { title: "JSON p50 ms (c1)", workload: "json-c1", figure: "p50Ms", digits: 2 },
  { title: "JSON req/s (c1)", workload: "json-c1", figure: "requestsPerSecond", digits: 0 },
  { title: "JSON CPU µs/req (c32)", workload: "json-c32", figure: "cpuPerRequestUs", digits: 0 },
  { title: "JSON req/s (c32)", workload: "json-c32", figure: "requestsPerSecond", digits: 0 },
  { title: "JSON p50 ms (c32)", workload: "json-c32", figure: "p50Ms", digits: 2 },
  { title: "JSON p99 ms (c32)", workload: "json-c32", figure: "p99Ms", digits: 2 },
  { title: "JSON req/s (c256)", workload: "json-c256", figure: "requestsPerSecond", digits: 0 },
  { title: "JSON p50 ms (c256)", workload: "json-c256", figure: "p50Ms", digits: 1 },
  { title: "JSON p99 ms (c256)", workload: "json-c256", figure: "p99Ms", digits: 1 },
  { title: "RSS MB (JSON c256)", workload: "json-c256", figure: "rssMb", digits: 0 },
  { title: "stream-200 CPU µs/chunk", workload: "stream-200", figure: "cpuPerChunkUs", digits: 2 },
  { title: "stream-200 first chunk ms", workload: "stream-200", figure: "firstChunkMs", digits: 2 },
  { title: "stream-5000 CPU µs/chunk", workload: "stream-5000", figure: "cpuPerChunkUs", digits: 2 },
  { title: "stream-5000 first chunk ms", workload: "stream-5000", figure: "firstChunkMs", digits: 2 },
  { title: "RSS MB (stream-5000)", workload: "stream-5000", figure: "rssMb", digits: 0 },
  { title: "50 MB stream: RSS growth MB", workload: "stream-50mb", figure: "rssGrowthMb", digits: 1 },
  { title: "1,000 streams: errors", workload: "streams-1000", figure: "errors", digits: 0 },
  { title: "1,000 streams: sockets left busy", workload: "streams-1000", figure: "socketsInUse", digits: 0 },
  { title: "1,000 streams: sockets opened after", workload: "streams-1000", figure: "socketsOpenedAfter", digits: 0 },
  { title: "cold import + setup ms", workload: "import", figure: "importMs", digits: 0 }
]

let redisUrl: string | undefined = undefined

const main = async (): Promise<void> => {
  const server = await startServer()
  const redis = workloads.some((w) => w.id === "cache-hit") ? await startRedis() : undefined
  redisUrl = redis?.url
  const results: Array<Figures & { round: number }> = []
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const workload of workloads) {
        // the order of the clients rotates from round to round
        const order = selected(workload.clients ?? clients).filter((c) => redis !== undefined || !c.includes("redis"))
        const shift = (round - 1) % order.length
        for (const client of [...order.slice(shift), ...order.slice(0, shift)]) {
          const figures = await runWorker(client, workload, server.baseUrl)
          results.push({ ...figures, round })
          process.stderr.write(`round ${round} ${workload.id.padEnd(12)} ${client.padEnd(12)} done\n`)
        }
      }
    }
  } finally {
    server.child.kill("SIGTERM")
    redis?.child.kill("SIGTERM")
  }

  const value = (client: string, column: Column): number =>
    median(
      results.filter((r) => r.client === client && r.workload === column.workload)
        .map((r) => r[column.figure] as number)
    )
  const cell = (client: string, column: Column): string => {
    const v = value(client, column)
    if (Number.isNaN(v)) return "–"
    const floor = value("undici", column)
    const ratio = client !== "undici" && Number.isFinite(floor) && floor > 0 ? ` (${(v / floor).toFixed(2)}×)` : ""
    return `${v.toFixed(column.digits)}${ratio}`
  }
  const header = `| figure (median of ${rounds} rounds; ratio to raw undici) | ${clients.join(" | ")} |`
  const lines = [header, `|---|${clients.map(() => "---:").join("|")}|`]
  for (const column of columns) {
    if (!workloads.some((w) => w.id === column.workload)) continue
    lines.push(`| ${column.title} | ${clients.map((c) => cell(c, column)).join(" | ")} |`)
  }
  const cacheColumns: Array<Column> = [
    { title: "p50 ms", workload: "cache-hit", figure: "p50Ms", digits: 3 },
    { title: "p99 ms", workload: "cache-hit", figure: "p99Ms", digits: 3 },
    { title: "CPU µs/call", workload: "cache-hit", figure: "cpuPerRequestUs", digits: 0 },
    { title: "calls/s", workload: "cache-hit", figure: "requestsPerSecond", digits: 0 }
  ]
  const cacheClients = selected(caches).filter((c) => results.some((r) => r.client === c))
  const plain = (client: string, column: Column): string => {
    const v = value(client, column)
    return Number.isNaN(v) ? "–" : v.toFixed(column.digits)
  }
  if (cacheClients.length > 0) {
    lines.push(
      "",
      `| cache hit, concurrency 1 (median of ${rounds} rounds) | ${cacheColumns.map((c) => c.title).join(" | ")} |`,
      `|---|${cacheColumns.map(() => "---:").join("|")}|`
    )
    for (const client of cacheClients) {
      lines.push(`| ${client} | ${cacheColumns.map((c) => plain(client, c)).join(" | ")} |`)
    }
  }
  if (redis === undefined && workloads.some((w) => w.id === "cache-hit")) {
    lines.push("", "(no redis-server found: the Redis rows were skipped)")
  }
  const cpus = Os.cpus()
  const machine = `${cpus.length} × ${cpus[0]?.model ?? "?"}, ${(Os.totalmem() / 2 ** 30).toFixed(1)} GiB, ` +
    `${Os.type()} ${Os.release()}, Node ${process.version}`
  const table = lines.join("\n")
  const text = `${new Date().toISOString()} — ${machine}\n` +
    `rounds: ${rounds}, ${seconds} s per measurement (after 1 s of warm-up), each client in its own process\n\n` +
    table + "\n"
  process.stdout.write("\n" + text)
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, "latest.md"), text)
  writeFileSync(join(out, "latest.json"), JSON.stringify({ machine, rounds, seconds, results }, null, 2))
}

main().catch((error) => {
  process.stderr.write(String(error instanceof Error ? error.stack : error) + "\n")
  process.exitCode = 1
})
