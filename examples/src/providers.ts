/**
 * One `ProviderConfig` per provider for the examples: the real service when its key is in the environment, otherwise
 * the provider's fake server (its own wire protocol, started in-process on the loopback interface).
 *
 * The fake servers are the ones `@llm-api-router/providers/testing` exports: each speaks its provider's protocol
 * (OpenAI's Chat Completions, Anthropic Messages, Gemini generateContent, DashScope native, Ollama native), and its
 * `responder()` "model" echoes the last user message and calls a tool when asked to.
 */
import type { ProviderConfig } from "@llm-api-router/providers"
import type { FakeServer as Server, Handler } from "@llm-api-router/providers/FakeServer"
import {
  FakeAnthropic,
  FakeDashScope,
  FakeGemini,
  FakeOllama,
  FakeOpenAi,
  FakeServer
} from "@llm-api-router/providers/testing"

/** The providers the examples know, by their `provider` name. */
export type Name = "openai" | "anthropic" | "gemini" | "aliyun" | "ollama" | "deepseek" | "zhipu" | "openrouter"

interface Entry {
  /** The environment variable holding the key; for Ollama, the one that says a local server is there. */
  readonly env: string
  readonly model: string
  readonly embeddingModel: string | undefined
  readonly fake: (chunkDelay: number | undefined) => Handler
}

const table: Record<Name, Entry> = {
  openai: {
    env: "OPENAI_API_KEY",
    model: "gpt-4o-mini",
    embeddingModel: "text-embedding-3-small",
    fake: (chunkDelay) => FakeOpenAi.responder({ chunkDelay })
  },
  anthropic: {
    env: "ANTHROPIC_API_KEY",
    model: "claude-3-5-haiku-latest",
    embeddingModel: undefined,
    fake: (chunkDelay) => FakeAnthropic.responder({ chunkDelay })
  },
  gemini: {
    env: "GEMINI_API_KEY",
    model: "gemini-2.0-flash",
    embeddingModel: "text-embedding-004",
    fake: (chunkDelay) => FakeGemini.responder({ chunkDelay })
  },
  aliyun: {
    env: "DASHSCOPE_API_KEY",
    model: "qwen-plus",
    embeddingModel: "text-embedding-v3",
    fake: (chunkDelay) => FakeDashScope.responder({ chunkDelay })
  },
  ollama: {
    env: "OLLAMA_HOST",
    model: "llama3.2",
    embeddingModel: "nomic-embed-text",
    fake: (chunkDelay) => FakeOllama.responder({ chunkDelay })
  },
  deepseek: {
    env: "DEEPSEEK_API_KEY",
    model: "deepseek-chat",
    embeddingModel: undefined,
    fake: (chunkDelay) => FakeOpenAi.responder({ chunkDelay })
  },
  zhipu: {
    env: "ZHIPUAI_API_KEY",
    model: "glm-4-flash",
    embeddingModel: "embedding-3",
    fake: (chunkDelay) => FakeOpenAi.responder({ chunkDelay })
  },
  openrouter: {
    env: "OPENROUTER_API_KEY",
    model: "openai/gpt-4o-mini",
    embeddingModel: undefined,
    fake: (chunkDelay) => FakeOpenAi.responder({ chunkDelay })
  }
}

/** The environment variables that make the examples talk to real services. */
export const environmentVariables: ReadonlyArray<string> = Object.values(table).map((entry) => entry.env)

export interface Target extends AsyncDisposable {
  readonly name: Name
  /** `true` against the fake server. */
  readonly offline: boolean
  /** The config for `new Client(config)` or `ProviderFactory.layer(config)`. */
  readonly config: ProviderConfig.ProviderConfig
  readonly embeddingModel: string | undefined
  /** The fake server, to script faults and count requests; `undefined` against the real service. */
  readonly server: Server | undefined
  readonly close: () => Promise<void>
}

export interface Options {
  /** Milliseconds between streamed chunks from the fake server. */
  readonly chunkDelay?: number | undefined
  /** Print which of the two is used (default `true`). */
  readonly quiet?: boolean | undefined
}

const ollamaUrl = (host: string) => host.startsWith("http") ? host : `http://${host}`

/**
 * The config for `name`: the real service when its variable is set, else its fake server. `close` (or
 * `await using`) stops the fake server.
 */
export const start = async (name: Name, options: Options = {}): Promise<Target> => {
  const entry = table[name]
  const value = process.env[entry.env]
  if (value !== undefined && value !== "") {
    // The key is read from the environment by the Client itself; Ollama needs its address instead.
    const config: ProviderConfig.ProviderConfig = name === "ollama"
      ? { provider: name, baseUrl: ollamaUrl(value), defaultModel: process.env.OLLAMA_MODEL ?? entry.model }
      : { provider: name, defaultModel: entry.model }
    if (options.quiet !== true) console.log(`${name}: using the real service (${entry.env} is set).`)
    const done = () => Promise.resolve()
    return {
      name,
      offline: false,
      config,
      embeddingModel: entry.embeddingModel,
      server: undefined,
      close: done,
      [Symbol.asyncDispose]: done
    }
  }
  const server = await FakeServer.start({ handler: entry.fake(options.chunkDelay) })
  if (options.quiet !== true) {
    console.log(`Offline: ${name} is a fake server at ${server.url} (set ${entry.env} to use the real one).`)
  }
  return {
    name,
    offline: true,
    config: {
      provider: name,
      apiKey: name === "ollama" ? undefined : "sk-offline",
      baseUrl: server.url,
      defaultModel: entry.model
    },
    embeddingModel: entry.embeddingModel,
    server,
    close: () => server.close(),
    [Symbol.asyncDispose]: () => server.close()
  }
}

/** The fake Ollama server's responder, with the given options (e.g. which models are "pulled"). */
export const ollamaResponder = (options: FakeOllama.ResponderOptions): Handler => FakeOllama.responder(options)
