/**
 * The Schemas of the built-in providers' own `options` in a config (`region`, `auth`, `schemaMode`, …): a config
 * is checked by them when `new Client` validates it, so that a misspelt option name, or a value the provider's
 * layer would refuse, is rejected at construction and named, instead of failing every call later.
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { splitKey } from "./chat-completions/dialects/zhipuJwt.js"

const durationMessage = "expected a non-negative duration: a Duration, a number of milliseconds, or a string such " +
  "as \"30 seconds\""

const isNegative = (u: unknown): boolean => {
  if (typeof u === "number") return u < 0
  if (typeof u === "bigint") return u < BigInt(0)
  if (typeof u === "string") return u.trimStart().startsWith("-")
  if (Array.isArray(u)) return u.some((n) => typeof n === "number" && n < 0)
  return false
}

const isNaNInput = (u: unknown): boolean =>
  (typeof u === "number" && Number.isNaN(u)) || (Array.isArray(u) && u.some((n) => Number.isNaN(n)))

/** @internal */
export const describe = (u: unknown): string => {
  if (typeof u === "string") return u.length > 40 ? `${JSON.stringify(u.slice(0, 40))}…` : JSON.stringify(u)
  if (typeof u === "number" || typeof u === "boolean") return String(u)
  if (typeof u === "bigint") return "a BigInt"
  if (u === null) return "null"
  if (Array.isArray(u)) return "an array"
  return typeof u === "object" ? "an object" : typeof u
}

/**
 * Any `Duration.DurationInput` that is not negative (Effect would quietly read a negative one as zero) nor NaN,
 * decoded to a `Duration`.
 *
 * @internal
 */
export const NonNegativeDuration: Schema.Schema<Duration.Duration, unknown> = Schema.transformOrFail(
  Schema.Unknown,
  Schema.DurationFromSelf,
  {
    strict: true,
    decode: (u, _, ast) => {
      let decoded: Option.Option<Duration.Duration>
      try {
        decoded = isNegative(u) || isNaNInput(u) ? Option.none() : Duration.decodeUnknown(u)
      } catch {
        decoded = Option.none()
      }
      return Option.isSome(decoded)
        ? ParseResult.succeed(decoded.value)
        : ParseResult.fail(new ParseResult.Type(ast, u, `${durationMessage}, got ${describe(u)}`))
    },
    encode: ParseResult.succeed
  }
)

const text = (what: string) => Schema.String.annotations({ message: () => `expected ${what} as a string` })

const nonEmpty = (what: string) => text(what).pipe(Schema.minLength(1, { message: () => `${what} must not be empty` }))

const positiveInt = (what: string) =>
  Schema.Number.annotations({ message: () => `expected ${what} as a positive integer` }).pipe(
    Schema.int({ message: () => `${what} must be a positive integer` }),
    Schema.greaterThanOrEqualTo(1, { message: () => `${what} must be a positive integer` })
  )

const flag = (what: string) => Schema.Boolean.annotations({ message: () => `expected ${what} as a boolean` })

const Capabilities = Schema.Struct({
  streaming: Schema.optional(flag("streaming")),
  tools: Schema.optional(flag("tools")),
  embeddings: Schema.optional(flag("embeddings")),
  vision: Schema.optional(flag("vision")),
  jsonSchema: Schema.optional(flag("jsonSchema"))
})

const capabilities = Schema.optional(Capabilities)

const strings = (what: string) => Schema.Array(text(what))

/**
 * The built-in providers' own options, by provider name.
 *
 * @internal
 */
export const schemas: Readonly<Record<string, Schema.Schema<any, any>>> = {
  openai: Schema.Struct({
    organization: Schema.optional(text("organization")),
    project: Schema.optional(text("project")),
    capabilities
  }),
  openrouter: Schema.Struct({
    appName: Schema.optional(text("appName")),
    appUrl: Schema.optional(text("appUrl")),
    appCategories: Schema.optional(strings("an app category")),
    capabilities
  }),
  deepseek: Schema.Struct({
    reasoningReplay: Schema.optional(Schema.Literal("toolCalls", "strip", "keep")),
    capabilities
  }),
  zhipu: Schema.Struct({
    auth: Schema.optional(Schema.Literal("apiKey", "jwt")),
    jwtTtl: Schema.optional(
      NonNegativeDuration.pipe(
        Schema.filter((d) => Duration.toMillis(d) >= 1000 || "jwtTtl must be at least 1 second")
      )
    ),
    defaultEmbeddingModel: Schema.optional(nonEmpty("defaultEmbeddingModel")),
    capabilities
  }),
  anthropic: Schema.Struct({
    defaultMaxTokens: Schema.optional(positiveInt("defaultMaxTokens")),
    version: Schema.optional(nonEmpty("version")),
    betas: Schema.optional(strings("a beta name"))
  }),
  gemini: Schema.Struct({
    schemaMode: Schema.optional(Schema.Literal("openapi", "json-schema")),
    includeThoughts: Schema.optional(flag("includeThoughts")),
    thoughtSignatureFallback: Schema.optional(Schema.Union(Schema.String, Schema.Literal(false))),
    embeddingConcurrency: Schema.optional(positiveInt("embeddingConcurrency")),
    capabilities
  }),
  aliyun: Schema.Struct({
    region: Schema.optional(Schema.Literal("cn", "intl")),
    defaultEmbeddingModel: Schema.optional(nonEmpty("defaultEmbeddingModel")),
    workspace: Schema.optional(text("workspace")),
    embeddingBatchSize: Schema.optional(positiveInt("embeddingBatchSize"))
  }),
  ollama: Schema.Struct({
    keepAlive: Schema.optional(Schema.Union(Schema.String, Schema.Number.pipe(Schema.finite()))),
    think: Schema.optional(Schema.Union(Schema.Boolean, Schema.Literal("low", "medium", "high"))),
    capabilities
  }),
  "openai-compatible": Schema.Struct({
    name: Schema.optional(nonEmpty("name")),
    capabilities
  })
}

/**
 * Checks across fields, once the options are decoded: the param and message of the first problem.
 *
 * @internal
 */
export const crossChecks: Readonly<
  Record<
    string,
    (
      options: Readonly<Record<string, unknown>>,
      apiKey: Redacted.Redacted<string> | undefined
    ) => readonly [string, string] | undefined
  >
> = {
  // Never echo the key: the message only says what shape it should have.
  zhipu: (options, apiKey) =>
    options.auth === "jwt" && apiKey !== undefined && splitKey(Redacted.value(apiKey)) === undefined
      ? ["apiKey", "the JWT auth needs an API key of the form <id>.<secret>"]
      : undefined
}

/**
 * The fields of a config that belong on the config itself: in `options` they would be overridden, so they are
 * rejected there.
 *
 * @internal
 */
export const commonFields: ReadonlySet<string> = new Set([
  "provider",
  "apiKey",
  "baseUrl",
  "defaultModel",
  "headers",
  "timeout",
  "retry",
  "http",
  "cache"
])
