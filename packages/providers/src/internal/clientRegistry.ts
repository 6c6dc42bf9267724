/**
 * The process-global table of providers that `ProviderFactory` and `ProviderConfig` share. It lives in its own module
 * so that validating a config (which must know the provider's key variable) and building its layer (which must know
 * the provider's constructor) read one table without importing each other.
 */
import { type Http, InvalidRequestError, type LlmProvider } from "@llm-api-router/core"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Schema from "effect/Schema"
import * as Aliyun from "../Aliyun.js"
import * as Anthropic from "../Anthropic.js"
import * as DeepSeek from "../DeepSeek.js"
import * as Gemini from "../Gemini.js"
import * as Ollama from "../Ollama.js"
import * as OpenAi from "../OpenAi.js"
import * as OpenAiCompatible from "../OpenAiCompatible.js"
import * as OpenRouter from "../OpenRouter.js"
import type { Resolved } from "../ProviderConfig.js"
import * as Zhipu from "../Zhipu.js"
import * as providerOptions from "./providerOptions.js"

/** @internal */
export type Make = (config: Resolved) => Layer.Layer<LlmProvider.LlmProvider, InvalidRequestError, Http.HttpClient>

/** @internal */
export interface Requirements {
  /** The environment variable read when the config has no `apiKey`, or several, the first set one winning. */
  readonly apiKeyEnv?: string | ReadonlyArray<string> | undefined
  /** Whether a config without a key (given or from the environment) is rejected. Default `true`. */
  readonly requiresApiKey?: boolean | undefined
  /** Whether a config without a `baseUrl` is rejected. Default `false`. */
  readonly requiresBaseUrl?: boolean | undefined
  /** The Schema of the provider's own `options`; without one they are passed on unchecked. */
  readonly options?: Schema.Schema<any, any> | undefined
}

/** @internal */
export interface Entry {
  readonly name: string
  readonly make: Make
  readonly apiKeyEnv: string | ReadonlyArray<string> | undefined
  readonly requiresApiKey: boolean
  readonly requiresBaseUrl: boolean
  readonly options: Schema.Schema<any, any> | undefined
  /** A check across the decoded options and the key (the built-ins'): the param and message of a problem. */
  readonly check:
    | ((
      options: Readonly<Record<string, unknown>>,
      apiKey: Redacted.Redacted<string> | undefined
    ) => readonly [string, string] | undefined)
    | undefined
}

const entries = new Map<string, Entry>()

/** @internal */
export const set = (name: string, make: Make, requirements: Requirements = {}): void => {
  entries.set(name, {
    name,
    make,
    apiKeyEnv: requirements.apiKeyEnv,
    requiresApiKey: requirements.requiresApiKey ?? true,
    requiresBaseUrl: requirements.requiresBaseUrl ?? false,
    options: requirements.options,
    check: undefined
  })
}

// A built-in: its options Schema and cross-field check come from `providerOptions`.
const builtin = (name: string, make: Make, requirements: Requirements): void => {
  entries.set(name, {
    name,
    make,
    apiKeyEnv: requirements.apiKeyEnv,
    requiresApiKey: requirements.requiresApiKey ?? true,
    requiresBaseUrl: requirements.requiresBaseUrl ?? false,
    options: providerOptions.schemas[name],
    check: providerOptions.crossChecks[name]
  })
}

/** @internal */
export const get = (name: string): Entry | undefined => entries.get(name)

/** @internal */
export const names = (): ReadonlyArray<string> => Array.from(entries.keys())

/** @internal */
export const unknownProvider = (name: string): InvalidRequestError => {
  const shown = name.length > 64 ? `${JSON.stringify(name.slice(0, 64))}…` : JSON.stringify(name)
  return new InvalidRequestError({
    provider: name.length > 64 ? `${name.slice(0, 64)}…` : name,
    source: "client",
    param: "provider",
    message: `invalid config: provider: unknown provider ${shown}; the known ones are ${
      names().map((known) => JSON.stringify(known)).join(", ")
    }`
  })
}

/**
 * The options every provider module shares, from a resolved config: what a registration passes on to its
 * provider's `layer`.
 *
 * @internal
 */
export const commonOptions = (config: Resolved): {
  readonly apiKey: Redacted.Redacted<string> | undefined
  readonly baseUrl: string | undefined
  readonly defaultModel: string | undefined
  readonly headers: Readonly<Record<string, string>> | undefined
  readonly timeout: OpenAiCompatible.Options["timeout"]
  readonly limits: OpenAiCompatible.Options["limits"]
  readonly retry: Resolved["retry"]
} => ({
  apiKey: config.apiKey,
  baseUrl: config.baseUrl,
  defaultModel: config.defaultModel,
  headers: config.headers,
  timeout: providerTimeout(config.timeout),
  limits: config.limits,
  retry: config.retry
})

// The connect phase belongs to the pool (see Client); a lone total keeps the providers' "bare duration" meaning,
// under which no phase outlasts the call.
const providerTimeout = (timeout: Resolved["timeout"]): OpenAiCompatible.Options["timeout"] => {
  if (timeout === undefined) return undefined
  const { firstByte, idle, total } = timeout
  if (firstByte === undefined && idle === undefined) return total
  return {
    ...(firstByte !== undefined ? { firstByte } : {}),
    ...(idle !== undefined ? { idle } : {}),
    ...(total !== undefined ? { total } : {})
  }
}

/**
 * A layer that fails at once: the config lacks what the provider needs. `ProviderConfig.validate` checks the
 * built-in requirements first, so this only guards a `make` called with a hand-built config.
 *
 * @internal
 */
export const missing = (provider: string, param: "apiKey" | "baseUrl") =>
  Layer.fail(
    new InvalidRequestError({
      provider,
      source: "client",
      param,
      message: `invalid config: ${param}: the ${provider} provider needs one`
    })
  )

/**
 * Runs `f` with the config's key, or fails when it has none.
 *
 * @internal
 */
export const withApiKey = (
  config: Resolved,
  f: (apiKey: Redacted.Redacted<string>) => ReturnType<Make>
): ReturnType<Make> => config.apiKey === undefined ? missing(config.provider, "apiKey") : f(config.apiKey)

/**
 * Runs `f` with the config's base URL, or fails when it has none.
 *
 * @internal
 */
export const withBaseUrl = (config: Resolved, f: (baseUrl: string) => ReturnType<Make>): ReturnType<Make> =>
  config.baseUrl === undefined ? missing(config.provider, "baseUrl") : f(config.baseUrl)

// The built-in providers, one registration each: how to build the layer, where the key comes from.
builtin("openai", (c) => withApiKey(c, (apiKey) => OpenAi.layer({ ...c.options, ...commonOptions(c), apiKey })), {
  apiKeyEnv: "OPENAI_API_KEY"
})
builtin(
  "openrouter",
  (c) => withApiKey(c, (apiKey) => OpenRouter.layer({ ...c.options, ...commonOptions(c), apiKey })),
  {
    apiKeyEnv: "OPENROUTER_API_KEY"
  }
)
builtin("deepseek", (c) => withApiKey(c, (apiKey) => DeepSeek.layer({ ...c.options, ...commonOptions(c), apiKey })), {
  apiKeyEnv: "DEEPSEEK_API_KEY"
})
builtin("zhipu", (c) => withApiKey(c, (apiKey) => Zhipu.layer({ ...c.options, ...commonOptions(c), apiKey })), {
  apiKeyEnv: "ZHIPUAI_API_KEY"
})
builtin("anthropic", (c) => withApiKey(c, (apiKey) => Anthropic.layer({ ...c.options, ...commonOptions(c), apiKey })), {
  apiKeyEnv: "ANTHROPIC_API_KEY"
})
builtin("gemini", (c) => withApiKey(c, (apiKey) => Gemini.layer({ ...c.options, ...commonOptions(c), apiKey })), {
  apiKeyEnv: ["GEMINI_API_KEY", "GOOGLE_API_KEY"]
})
builtin("aliyun", (c) => withApiKey(c, (apiKey) => Aliyun.layer({ ...c.options, ...commonOptions(c), apiKey })), {
  apiKeyEnv: "DASHSCOPE_API_KEY"
})
// No key needed; without a baseUrl, OLLAMA_BASE_URL or OLLAMA_HOST, else localhost.
builtin(
  "ollama",
  (c) =>
    Layer.mapError(
      Ollama.layerConfig({ ...c.options, ...commonOptions(c) }),
      (error) =>
        error._tag === "InvalidRequestError" ? error : new InvalidRequestError({
          provider: "ollama",
          source: "client",
          param: "baseUrl",
          message: `invalid config: baseUrl: ${String(error)}`
        })
    ),
  { apiKeyEnv: "OLLAMA_API_KEY", requiresApiKey: false }
)
builtin(
  "openai-compatible",
  (c) => withBaseUrl(c, (baseUrl) => OpenAiCompatible.layer({ ...c.options, ...commonOptions(c), baseUrl })),
  {
    apiKeyEnv: "OPENAI_COMPATIBLE_API_KEY",
    requiresApiKey: false,
    requiresBaseUrl: true
  }
)
