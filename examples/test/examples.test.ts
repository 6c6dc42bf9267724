/**
 * Every example runs offline, as a child process, and prints what it promises; every TypeScript block of the
 * README compiles against the current sources.
 */
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../", import.meta.url))
const require = createRequire(import.meta.url)

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

// The time limits below are there so that a hung process fails the test instead of the run: they are set well
// above what the work takes on a slow, busy machine (several times the usual), and say nothing of speed.
const exec = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, timeout = 50_000): Promise<Run> =>
  new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: root, env, timeout }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr })
    })
  })

// Every provider's variables removed: the examples must take their offline path.
const offlineEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  for (const name of Object.keys(env)) {
    if (/^(OPENAI|ANTHROPIC|GEMINI|GOOGLE|DASHSCOPE|DEEPSEEK|ZHIPUAI|OPENROUTER|OLLAMA)_/.test(name)) delete env[name]
  }
  delete env.REDIS_URL
  delete env.FORCE_COLOR
  return env
}

const examples = [
  "demo",
  "chat",
  "switching",
  "stream",
  "effect",
  "runtime",
  "embeddings",
  "tools",
  "agent",
  "structured",
  "tools-loop",
  "prompt-caching",
  "errors",
  "retry",
  "pool",
  "caching",
  "router",
  "ollama",
  "effect-ai"
] as const

// All the examples in one node process (examples/test/run-examples.ts): one start-up instead of fifteen.
let outputs: Promise<ReadonlyMap<string, string>> | undefined
const outputOf = async (name: (typeof examples)[number]): Promise<string> => {
  outputs ??= exec(
    ["--conditions=@llm-api-router/source", "--import", "tsx", "examples/test/run-examples.ts", ...examples],
    offlineEnv(),
    290_000
  ).then((run) => {
    assert.strictEqual(run.code, 0, `run-examples.ts exited with ${run.code}\n${run.stdout}\n${run.stderr}`)
    assert.include(run.stdout, "<<<end>>>", `the examples did not all run\n${run.stdout}\n${run.stderr}`)
    const sections = new Map<string, string>()
    for (const part of run.stdout.split("\n<<<example ").slice(1)) {
      const newline = part.indexOf("\n")
      sections.set(part.slice(0, newline).replace(/>>>$/, ""), part.slice(newline + 1))
    }
    return sections
  })
  const out = (await outputs).get(name)
  assert.isDefined(out, `no output from ${name}.ts`)
  assert.notInclude(out!, "<<<failed", `${name}.ts failed:\n${out}`)
  return out!
}

const OFFLINE = "Offline: "

describe("examples", () => {
  it(
    "demo.ts streams, runs a tool, waits out a 429, falls back and hits the cache, without colour in a pipe",
    async () => {
      const out = await outputOf("demo")
      assert.include(out, OFFLINE)
      for (const heading of ["Streaming", "Tool call", "Retry after a rate limit", "Fallback", "Cache"]) {
        assert.include(out, `=== ${heading} ===`)
      }
      assert.notInclude(out, "\x1b[", "no ANSI colour when stdout is not a terminal")
      assert.include(out, "assistant: Echo: Describe streaming in a dozen words, as they arrive.\n")
      assert.include(out, "The model calls get_weather({\"city\":\"Paris\"})")
      assert.include(out, "Final answer: It is 18 °C and sunny in Paris.")
      assert.match(out, /attempt 1 -> 429 Too Many Requests \(retry-after-ms: 700\)\n.*attempt 2 -> 200 OK/)
      assert.include(out, "call 1: primary failed (503), fell back -> Echo: Question 1")
      assert.include(out, "call 3: primary cooling down -> Echo: Question 3")
      assert.match(out, /same call \(hit\): +\d+\.\d ms/)
      assert.include(out, "cache: 1 hit, 1 miss")
    },
    300_000
  )

  it("chat.ts answers and catches AuthenticationError by class", async () => {
    const out = await outputOf("chat")
    assert.include(out, OFFLINE)
    assert.include(out, "assistant: Echo: Name three primary colours.")
    assert.include(out, "finish_reason: stop")
    assert.include(out, "AuthenticationError (status 401)")
  }, 300_000)

  it("switching.ts runs one program against eight providers' fake servers, changing only the config", async () => {
    const out = await outputOf("switching")
    for (const name of ["openai", "anthropic", "gemini", "aliyun", "ollama", "deepseek", "zhipu", "openrouter"]) {
      assert.match(
        out,
        new RegExp(`^${name} +\\(fake server\\): Echo: 你好, what is an LLM router\\? \\[stop; \\d+ streamed`, "m")
      )
    }
    assert.include(out, OFFLINE)
  }, 300_000)

  it("stream.ts iterates, folds, and aborts a stream", async () => {
    const out = await outputOf("stream")
    assert.include(out, OFFLINE)
    assert.include(out, "Echo: Write one sentence about rivers.\n(usage: ")
    assert.include(out, "folded: Echo: Write one sentence about rivers. [stop]")
    assert.include(out, "aborted after 2 content chunks: AbortError")
  }, 300_000)

  it("effect.ts runs chat, stream, embeddings, a retry and a caught error", async () => {
    const out = await outputOf("effect")
    assert.include(out, OFFLINE)
    assert.include(out, "== stream\nEcho: Count from one to five.\n")
    assert.include(out, "2 vectors of 8 dimensions")
    assert.include(out, "Echo: Are you there? (after 2 attempts)")
    assert.include(out, "AuthenticationError (status 401)")
  }, 300_000)

  it("runtime.ts runs through Effect.runPromise and a ManagedRuntime, the repeat from the cache", async () => {
    const out = await outputOf("runtime")
    assert.include(out, OFFLINE)
    assert.include(out, "runPromise: Echo: Summarise: one call")
    assert.include(out, "runtime: Echo: Summarise: second request")
    assert.include(out, "requests that reached the server: 3")
  }, 300_000)

  it("embeddings.ts embeds with the requested dimensions, similar sentences nearer than unrelated ones", async () => {
    const out = await outputOf("embeddings")
    assert.include(out, OFFLINE)
    assert.include(out, "3 vectors of 256 dimensions")
    const similarity = (pair: string) => Number(new RegExp(`similarity\\(${pair}\\) = (-?\\d\\.\\d{3})`).exec(out)?.[1])
    assert.isAbove(similarity("0, 1"), similarity("0, 2") + 0.2, "the two sentences about a cat are the nearest")
  }, 300_000)

  it("tools.ts runs one tool round to an answer", async () => {
    const out = await outputOf("tools")
    assert.include(out, OFFLINE)
    assert.include(out, "finish_reason: tool_calls")
    assert.include(out, "tool: get_weather({\"city\":\"Lyon\"}) -> {\"city\":\"Lyon\"")
    assert.include(out, "answer: It is 18 °C and sunny in Lyon.")
  }, 300_000)

  it("agent.ts loops over three tool calls to an answer, and stops at its step limit", async () => {
    const out = await outputOf("agent")
    assert.include(out, OFFLINE)
    assert.include(out, "step 3: get_weather({\"city\":\"Nice\"})")
    assert.include(out, "answer after 4 steps: It is 18 °C and sunny in Paris.")
    assert.include(out, "stopped at the limit of 2 steps without an answer")
  }, 300_000)

  it("structured.ts decodes a Schema's answer on three providers, streams partials, repairs, and parses", async () => {
    const out = await outputOf("structured")
    assert.include(out, OFFLINE)
    assert.include(out, "openai (json-schema): Oslo, 1 °C")
    assert.include(out, "anthropic (tool): Oslo, 1 °C")
    assert.include(out, "gemini (json-schema): Oslo, 1 °C")
    assert.match(out, /stream: [1-9]\d* partial values, then \{"city":"Oslo","celsius":1\}/)
    assert.include(out, "repaired after 2 requests: celsius 1")
    assert.include(out, "StructuredOutputError: celsius: Expected number, actual \"cold\"")
    assert.include(out, "parse: Oslo, 1 °C")
  }, 300_000)

  it("tools-loop.ts runs the typed tool loop on three providers, and as a stream of events", async () => {
    const out = await outputOf("tools-loop")
    assert.include(out, OFFLINE)
    for (const name of ["openai", "anthropic", "gemini"]) {
      assert.include(out, `${name}: get_weather({"city":"Oslo"}) -> {"celsius":-2}; 2 steps, stopped by answer`)
    }
    assert.include(out, "event ToolCall get_weather {\"city\":\"Oslo\"}\nevent ToolResult get_weather {\"celsius\":-2}")
    assert.include(out, "event Finish (answer)")
  }, 300_000)

  it("prompt-caching.ts sends Anthropic's cache_control and shows the cached prompt tokens", async () => {
    const out = await outputOf("prompt-caching")
    assert.include(out, "Offline: anthropic is a fake server")
    assert.include(out, "What does the library do? -> It routes requests. (prompt 2412 tokens, cached 0)")
    assert.include(out, "To how many providers? -> Many providers. (prompt 2412 tokens, cached 2400)")
    assert.include(out, "the marker on the last: {\"type\":\"ephemeral\"}")
  }, 300_000)

  it("errors.ts maps scripted failures to their tags, with catchTags and with instanceof", async () => {
    const out = await outputOf("errors")
    assert.include(out, OFFLINE)
    for (
      const line of [
        "AuthenticationError (401): check the key",
        "QuotaExceededError (insufficient_quota): top up the account",
        "ContextLengthError: shorten the conversation",
        "RetryExhausted after 2 attempts: ProviderError",
        "requests sent: 0",
        "wrong key: AuthenticationError, status 401",
        "bad temperature: InvalidRequestError, param temperature",
        "embeddings on anthropic: UnsupportedFeatureError"
      ]
    ) assert.include(out, line)
  }, 300_000)

  it("retry.ts honours retry-after, a RetryConfig, a Schedule and retry: false", async () => {
    const out = await outputOf("retry")
    assert.include(out, OFFLINE)
    assert.include(out, "default policy: waited the 200 ms the 429 asked for, then \"Echo: hi\"")
    assert.include(out, "RetryConfig { maxRetries: 2 }: answered \"Echo: hi\" after 2 attempt(s)")
    assert.include(
      out,
      "RetryConfig { maxRetries: 2 }, 3 failures: RetryExhausted (last: ProviderError) after 3 attempt(s)"
    )
    assert.include(out, "Schedule.spaced + recurs(4): answered \"Echo: hi\" after 4 attempt(s)")
    assert.include(out, "retry: false: ProviderError after 1 attempt(s)")
  }, 300_000)

  it("pool.ts reuses pooled connections and times out per phase", async () => {
    const out = await outputOf("pool")
    assert.include(out, OFFLINE)
    assert.match(out, /10 calls over [1-4] connection\(s\) \(pool of at most 4\)/)
    assert.include(out, "slow headers: TimeoutError, phase first-byte")
    assert.match(out, /stalled stream: TimeoutError, phase idle, after \d chunk\(s\)/)
    assert.include(out, "Effect, timeout \"200 millis\": TimeoutError")
  }, 300_000)

  it("caching.ts answers repeats from memory, and uses Redis or says why not", async () => {
    const out = await outputOf("caching")
    assert.include(out, OFFLINE)
    assert.include(out, "memory: requests that reached the provider: 1")
    assert.include(out, "memory: 4 hits, 1 misses")
    assert.include(out, "memory: after clearCache, size 0")
    assert.match(out, /redis: (hit in [\d.]+ ms; 1 hit\(s\)|no Redis server at redis:\/\/127\.0\.0\.1:6379 .*skipped)/)
  }, 300_000)

  it("router.ts falls back from a failing server", async () => {
    const out = await outputOf("router")
    assert.match(out, /call 1: Echo: Which provider answers\?/)
    assert.include(out, "stream: Echo: Which provider answers?")
  }, 300_000)

  it("ollama.ts chats, streams, embeds and reports a model that is not pulled", async () => {
    const out = await outputOf("ollama")
    assert.include(out, OFFLINE)
    assert.include(out, "chat: Echo: 你好！请介绍一下你自己。")
    assert.include(out, "stream: Echo: 写一首关于人工智能的短诗\n")
    assert.include(out, "embeddings: 2 vectors of 8 dimensions")
    assert.include(out, "missing model: InvalidRequestError (404)")
  }, 300_000)

  it(
    "effect-ai.ts runs @effect/ai's generateText, streamText, a Chat tool loop, generateObject and embeddings",
    async () => {
      const out = await outputOf("effect-ai")
      assert.include(out, OFFLINE)
      assert.include(out, "== generateText\nEcho: Say hello in five words. [stop; ")
      assert.include(out, "== streamText\nEcho: Count from one to five.\n")
      assert.include(out, "tool call: get_weather({\"city\":\"Paris\"})\nanswer: It is 18 °C and sunny in Paris.")
      assert.match(out, /value: \{"city":"[^"]+","summary":"[^"]+"\}/)
      assert.include(out, "3 vectors of 8 dimensions")
      assert.include(out, "HttpResponseError 401, cause: AuthenticationError")
      assert.include(out, "Echo: Say hello in five words. (requests sent: 0)")
    },
    300_000
  )
})

describe("README", () => {
  it("every TypeScript block of README.md and README.zh-CN.md compiles against the sources", async () => {
    const blocksOf = (file: string) =>
      Array.from(readFileSync(`${root}${file}`, "utf8").matchAll(/^```ts\n([\s\S]*?)^```$/gm), (m) => m[1]!)
    const english = blocksOf("README.md")
    const chinese = blocksOf("README.zh-CN.md")
    assert.isAtLeast(english.length, 5, "the README has its TypeScript examples")
    assert.strictEqual(chinese.length, english.length, "the translation has the same code blocks")
    const blocks = [...english, ...chinese]
    // Under examples/ so that the blocks resolve the workspace packages as the examples do.
    const dir = `${root}examples/build/readme/`
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    blocks.forEach((block, i) => writeFileSync(`${dir}block${i + 1}.ts`, `export {}\n${block}`))
    writeFileSync(
      `${dir}tsconfig.json`,
      JSON.stringify({
        extends: "../../../tsconfig.base.json",
        compilerOptions: {
          noEmit: true,
          composite: false,
          declaration: false,
          declarationMap: false,
          incremental: false,
          noUnusedLocals: false,
          customConditions: ["@llm-api-router/source"]
        },
        include: ["*.ts"]
      })
    )
    const tsc = require.resolve("typescript/bin/tsc")
    const run = await exec([tsc, "-p", `${dir}tsconfig.json`, "--pretty", "false"], process.env, 290_000)
    assert.strictEqual(run.code, 0, `README blocks fail to compile (see ${dir}):\n${run.stdout}${run.stderr}`)
  }, 300_000)
})
