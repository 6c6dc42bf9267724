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

const exec = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, timeout = 50_000): Promise<Run> =>
  new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: root, env, timeout }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr })
    })
  })

// OpenAI's variables removed: the examples must take their offline path.
const offlineEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  delete env.OPENAI_API_KEY
  delete env.OPENAI_BASE_URL
  delete env.OPENAI_MODEL
  return env
}

const runExample = async (name: string): Promise<string> => {
  const run = await exec(["--conditions=source", "--import", "tsx", `examples/${name}.ts`], offlineEnv())
  assert.strictEqual(run.code, 0, `${name}.ts exited with ${run.code}\n${run.stdout}\n${run.stderr}`)
  assert.include(run.stdout, "Offline: using a fake OpenAI-compatible server")
  return run.stdout
}

describe("examples", () => {
  it("demo.ts streams, runs a tool, embeds and waits out a 429", async () => {
    const out = await runExample("demo")
    for (const heading of ["Chat", "Streaming", "Tool call", "Embeddings", "Rate limit, then success"]) {
      assert.include(out, `=== ${heading} ===`)
    }
    assert.include(out, "Echo: Say hello to a new user in one sentence.")
    assert.include(out, "=== Streaming ===\nEcho: Describe streaming in a dozen words, as they arrive.\n")
    assert.include(out, "The model calls get_weather({\"city\":\"Paris\"})")
    assert.include(out, "The tool returns {\"city\":\"Paris\",\"temperature_c\":18,\"conditions\":\"sunny\"}")
    assert.include(out, "Final answer: It is 18 °C and sunny in Paris.")
    assert.match(out, /input 0: 8 dimensions, starts \[-?\d\.\d{4}, /)
    assert.match(out, /retry-after-ms: 1500; the client waited \d+\.\d s and retried/)
    assert.include(out, "Attempts the server saw: 2")
  }, 60_000)

  it("chat.ts answers and catches AuthenticationError by class", async () => {
    const out = await runExample("chat")
    assert.include(out, "assistant: Echo: Name three primary colours.")
    assert.include(out, "finish_reason: stop")
    assert.include(out, "AuthenticationError (status 401)")
  }, 60_000)

  it("stream.ts iterates, folds, and aborts a stream", async () => {
    const out = await runExample("stream")
    assert.include(out, "Echo: Write one sentence about rivers.\n(usage: ")
    assert.include(out, "folded: Echo: Write one sentence about rivers. [stop]")
    assert.include(out, "aborted after 2 content chunks: AbortError")
  }, 60_000)

  it("tools.ts runs the tool loop to an answer", async () => {
    const out = await runExample("tools")
    assert.include(out, "tool: get_weather({\"city\":\"Lyon\"}) -> {\"city\":\"Lyon\"")
    assert.include(out, "answer: It is 18 °C and sunny in Lyon.")
  }, 60_000)

  it("embeddings.ts embeds with the requested dimensions", async () => {
    const out = await runExample("embeddings")
    assert.include(out, "3 vectors of 256 dimensions")
    assert.match(out, /similarity\(0, 1\) = -?\d\.\d{3}/)
  }, 60_000)

  it("effect.ts runs chat, stream, embeddings, a retry and a caught error", async () => {
    const out = await runExample("effect")
    assert.include(out, "== stream\nEcho: Count from one to five.\n")
    assert.include(out, "2 vectors of 8 dimensions")
    assert.include(out, "Echo: Are you there? (after 2 attempts)")
    assert.include(out, "AuthenticationError (status 401)")
  }, 60_000)
})

describe("README", () => {
  it("every TypeScript block compiles against the sources", async () => {
    const readme = readFileSync(`${root}README.md`, "utf8")
    const blocks = Array.from(readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm), (m) => m[1]!)
    assert.isAtLeast(blocks.length, 5, "the README has its TypeScript examples")
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
          customConditions: ["source"]
        },
        include: ["*.ts"]
      })
    )
    const tsc = require.resolve("typescript/bin/tsc")
    const run = await exec([tsc, "-p", `${dir}tsconfig.json`, "--pretty", "false"], process.env, 110_000)
    assert.strictEqual(run.code, 0, `README blocks fail to compile (see ${dir}):\n${run.stdout}${run.stderr}`)
  }, 120_000)
})
