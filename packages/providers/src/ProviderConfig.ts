/**
 * The configuration of one provider, as `new Client(config)` and `ProviderFactory.layer(config)` take it, and its
 * validation: a bad config is rejected with an `InvalidRequestError` (`source: "client"`) whose `param` names the
 * field, before anything is built or sent.
 *
 * Validation normalises the config into a {@link Resolved}: the API key becomes a `Redacted` at once (read from
 * the provider's usual environment variable when absent), durations become `Duration`s, and a bare `timeout`
 * becomes `{ total }`. A resolved config prints its secrets as `<redacted>` under `String`, `JSON.stringify` and
 * `util.inspect`.
 *
 * @since 0.1.0
 */
import {
  type Http,
  type HttpTransport,
  InvalidRequestError,
  type RateLimit,
  type Retry,
  Router
} from "@llm-api-router/core"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as registry from "./internal/clientRegistry.js"
import * as providerOptions from "./internal/providerOptions.js"
import { snapshot } from "./internal/snapshot.js"

/**
 * Per-phase timeouts: `connect` (TCP and TLS, enforced by the connection pool), `firstByte` (until the response
 * headers), `idle` (between two stream chunks), `total` (the whole call).
 *
 * @since 0.1.0
 * @category models
 */
export interface Timeouts {
  readonly connect?: Duration.DurationInput | undefined
  readonly firstByte?: Duration.DurationInput | undefined
  readonly idle?: Duration.DurationInput | undefined
  readonly total?: Duration.DurationInput | undefined
}

/**
 * The response cache to put in front of the provider: the in-memory cache, Redis (through the optional
 * `@llm-api-router/cache-redis`), or any `ResponseCache` layer.
 *
 * @since 0.1.0
 * @category models
 */
export type CacheConfig =
  | ({
    readonly backend: "memory"
    readonly ttl?: Duration.DurationInput | undefined
    readonly maxSize?: number | undefined
  } & CacheIdentityConfig)
  | ({
    readonly backend: "redis"
    readonly url: string | Redacted.Redacted<string>
    readonly prefix?: string | undefined
    readonly ttl?: Duration.DurationInput | undefined
  } & CacheIdentityConfig)
  | Layer.Layer<any, any, any>

/**
 * Whose entries a cache serves (see `ResponseCache.Options`): by default only callers with the same credential and
 * identity headers; `shareAcrossCredentials: true` shares them across keys; `identityHeaders` adds headers of your
 * own to the identity; `identitySecret` keys its fingerprint (the same in every process sharing the cache).
 *
 * @since 0.1.0
 * @category models
 */
export interface CacheIdentityConfig {
  readonly shareAcrossCredentials?: boolean | undefined
  readonly identityHeaders?: ReadonlyArray<string> | undefined
  readonly identitySecret?: string | Redacted.Redacted<string> | undefined
}

/**
 * A provider's configuration as users write it.
 *
 * - `provider`: a registered name (`ProviderFactory.providers()`).
 * - `apiKey`: a string or a `Redacted`; when absent, read from the provider's usual environment variable
 *   (`OPENAI_API_KEY` for `openai`, …).
 * - `baseUrl`: replaces the provider's default, version prefix included (`http://localhost:8000/v1`).
 * - `timeout`: a duration bounds the whole call; an object sets each phase.
 * - `retry`: a `Schedule`, a `RetryConfig`, or `false`; default `Retry.defaultPolicy`.
 * - `limits`: caps on a response body (`body`, bytes) and on one stream event (`event`, characters); past one the
 *   call fails with `ResponseDecodeError` (see `HttpTransport.Limits`; defaults 64 MiB and 8 Mi).
 * - `http`: the connection pool.
 * - `cache`: the response cache in front of the provider (see `ResponseCache`); `{ backend: "redis" }` loads the
 *   optional `@llm-api-router/cache-redis`.
 * - `options`: the provider's own knobs, as its module's `layer` takes them: `region` (aliyun), `appName` / `appUrl`
 *   (openrouter), `auth` (zhipu), `reasoningReplay` (deepseek), `defaultMaxTokens` / `betas` (anthropic),
 *   `schemaMode` (gemini), `think` / `keepAlive` (ollama), `organization` / `project` (openai).
 *
 * Durations are `Duration.DurationInput`: `"30 seconds"`, a `Duration`, or a bare number of milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProviderConfig {
  readonly provider: string
  readonly apiKey?: string | Redacted.Redacted<string> | undefined
  readonly baseUrl?: string | undefined
  readonly defaultModel?: string | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly timeout?: Duration.DurationInput | Timeouts | undefined
  readonly retry?: Retry.RetryOption | undefined
  readonly limits?: HttpTransport.Limits | undefined
  readonly http?: Http.PoolOptions | undefined
  readonly cache?: CacheConfig | undefined
  readonly options?: Readonly<Record<string, unknown>> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ResolvedTimeouts {
  readonly connect?: Duration.Duration | undefined
  readonly firstByte?: Duration.Duration | undefined
  readonly idle?: Duration.Duration | undefined
  readonly total?: Duration.Duration | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export type ResolvedCache =
  | ({
    readonly backend: "memory"
    readonly ttl?: Duration.Duration | undefined
    readonly maxSize?: number | undefined
  } & ResolvedCacheIdentity)
  | ({
    readonly backend: "redis"
    readonly url: Redacted.Redacted<string>
    readonly prefix?: string | undefined
    readonly ttl?: Duration.Duration | undefined
  } & ResolvedCacheIdentity)
  | Layer.Layer<any, any, any>

/**
 * @since 0.1.0
 * @category models
 */
export interface ResolvedCacheIdentity {
  readonly shareAcrossCredentials?: boolean | undefined
  readonly identityHeaders?: ReadonlyArray<string> | undefined
  readonly identitySecret?: Redacted.Redacted<string> | undefined
}

/**
 * A validated config: the key is `Redacted` (and filled from the environment when it was absent), durations are
 * `Duration`s, a bare `timeout` is `{ total }`, and `http.connectTimeout` falls back to `timeout.connect`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolved {
  readonly provider: string
  readonly apiKey: Redacted.Redacted<string> | undefined
  readonly baseUrl: string | undefined
  readonly defaultModel: string | undefined
  readonly headers: Readonly<Record<string, string>> | undefined
  readonly timeout: ResolvedTimeouts | undefined
  readonly retry: Retry.RetryOption | undefined
  readonly limits: HttpTransport.Limits | undefined
  readonly http: Http.PoolOptions
  readonly cache: ResolvedCache | undefined
  readonly options: Readonly<Record<string, unknown>> | undefined
}

// ---------------------------------------------------------------------------------------------
// field schemas
// ---------------------------------------------------------------------------------------------

const durationMessage = "expected a non-negative duration: a Duration, a number of milliseconds, or a string such " +
  "as \"30 seconds\""

/**
 * Any `Duration.DurationInput` that is not negative (Effect would quietly read a negative one as zero), decoded to
 * a `Duration`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const NonNegativeDuration: Schema.Schema<Duration.Duration, unknown> = providerOptions.NonNegativeDuration

const describe = providerOptions.describe

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && !Duration.isDuration(u) &&
  !Redacted.isRedacted(u) && !Layer.isLayer(u) && !Schedule.isSchedule(u)

const NonEmptyString = (what: string) =>
  Schema.String.annotations({ message: () => `expected ${what} as a string` }).pipe(
    Schema.minLength(1, { message: () => `${what} must not be empty` })
  )

// Never echoes the value: a wrong key is still a secret.
const secretMessage = (what: string) => `expected ${what} as a non-empty string or a Redacted<string>`

// What an HTTP header value may hold (undici refuses anything else when sending, so every call would fail), and a
// length no credential or header reaches, far below servers' limits on a request's headers (8 to 16 KB in all).
const headerValuePattern = /^[\t\x20-\x7e\x80-\xff]*$/
const maxHeaderValue = 8192
const headerNamePattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

const headerValueProblem = (value: string): string | undefined =>
  value.length > maxHeaderValue
    ? `longer than ${maxHeaderValue} characters`
    : headerValuePattern.test(value)
    ? undefined
    : "holds characters an HTTP header cannot carry (a line break, a control character, or one beyond U+00FF)"

const secret = (what: string, header: boolean): Schema.Schema<Redacted.Redacted<string>, unknown> =>
  Schema.transformOrFail(Schema.Unknown, Schema.RedactedFromSelf(Schema.String), {
    strict: true,
    decode: (u, _, ast) => {
      const value: unknown = Redacted.isRedacted(u) ? Redacted.value(u) : u
      if (typeof value === "string" && value.length > 0) {
        // Never echoes the value: only what is wrong with it.
        const problem = header ? headerValueProblem(value) : undefined
        if (problem !== undefined) {
          return ParseResult.fail(new ParseResult.Type(ast, Redacted.make(u), `${what} ${problem}`))
        }
        return ParseResult.succeed(Redacted.isRedacted(u) ? u as Redacted.Redacted<string> : Redacted.make(value))
      }
      return ParseResult.fail(new ParseResult.Type(ast, Redacted.make(u), secretMessage(what)))
    },
    encode: ParseResult.succeed
  })

const BaseUrl = Schema.String.annotations({ message: () => "expected the base URL as a string" }).pipe(
  Schema.filter((s) => {
    let url: URL
    try {
      url = new URL(s)
    } catch {
      return `not a URL: ${JSON.stringify(s)}`
    }
    return url.protocol === "http:" || url.protocol === "https:" ||
      `must be an http or https URL: ${JSON.stringify(s)}`
  })
)

const Headers = Schema.Record({
  key: Schema.String.pipe(
    Schema.filter((name) => headerNamePattern.test(name) || `not an HTTP header name: ${describe(name)}`)
  ),
  value: Schema.String.annotations({ message: () => "expected a header value as a string" }).pipe(
    Schema.filter((value) => {
      const problem = headerValueProblem(value)
      return problem === undefined || `the header value ${problem}`
    })
  )
})

const strict = { onExcessProperty: "error", errors: "first" } as const

// A plain object must be one of the documented shapes; anything else gets `message`.
const objectOr = <A, B>(
  struct: Schema.Schema<A, any>,
  others: (u: unknown) => Option.Option<B>,
  message: string
): Schema.Schema<A | B, unknown> =>
  Schema.transformOrFail(Schema.Unknown, Schema.Any, {
    strict: false,
    decode: (u, _, ast) => {
      if (isPlainObject(u)) return ParseResult.decodeUnknown(struct, strict)(u)
      const other = others(u)
      return Option.isSome(other)
        ? ParseResult.succeed(other.value)
        : ParseResult.fail(new ParseResult.Type(ast, u, `${message}, got ${describe(u)}`))
    },
    encode: ParseResult.succeed
  })

const TimeoutsStruct = Schema.Struct({
  connect: Schema.optional(NonNegativeDuration),
  firstByte: Schema.optional(NonNegativeDuration),
  idle: Schema.optional(NonNegativeDuration),
  total: Schema.optional(NonNegativeDuration)
})

const decodeDuration = ParseResult.decodeUnknownOption(NonNegativeDuration)

const Timeout = objectOr(
  TimeoutsStruct,
  (u): Option.Option<ResolvedTimeouts> => Option.map(decodeDuration(u), (total) => ({ total })),
  `${durationMessage}, or an object of { connect, firstByte, idle, total }`
)

const NonNegativeInt = (what: string) =>
  Schema.Number.pipe(
    Schema.int({ message: () => `${what} must be an integer` }),
    Schema.greaterThanOrEqualTo(0, { message: () => `${what} must not be negative` })
  )

const RetryConfigStruct = Schema.Struct({
  maxRetries: Schema.optional(NonNegativeInt("maxRetries")),
  initialDelay: Schema.optional(NonNegativeDuration),
  maxDelay: Schema.optional(NonNegativeDuration),
  exponentialBase: Schema.optional(
    Schema.Number.pipe(Schema.finite(), Schema.greaterThanOrEqualTo(1, { message: () => "must be at least 1" }))
  ),
  jitter: Schema.optional(Schema.Boolean),
  maxRetryAfter: Schema.optional(NonNegativeDuration)
})

const RetryOption = objectOr(
  RetryConfigStruct,
  (u) => u === false || Schedule.isSchedule(u) ? Option.some(u as false | Retry.Policy) : Option.none(),
  "expected a Schedule, a RetryConfig ({ maxRetries, initialDelay, maxDelay, exponentialBase, jitter, " +
    "maxRetryAfter }) or false"
)

const PoolOptions = objectOr(
  Schema.Struct({
    connections: Schema.optional(
      Schema.Number.pipe(
        Schema.int({ message: () => "connections must be an integer" }),
        Schema.greaterThanOrEqualTo(1, { message: () => "connections must be at least 1" })
      )
    ),
    keepAliveTimeout: Schema.optional(NonNegativeDuration),
    pipelining: Schema.optional(NonNegativeInt("pipelining")),
    connectTimeout: Schema.optional(NonNegativeDuration)
  }),
  () => Option.none<never>(),
  "expected the pool options as { connections, keepAliveTimeout, pipelining, connectTimeout }"
)

const cacheIdentityFields = {
  shareAcrossCredentials: Schema.optional(
    Schema.Boolean.annotations({ message: () => "shareAcrossCredentials must be a boolean" })
  ),
  identityHeaders: Schema.optional(
    Schema.Array(
      Schema.NonEmptyString.annotations({ message: () => "identityHeaders must be header names (non-empty strings)" })
    ).annotations({ message: () => "identityHeaders must be an array of header names" })
  ),
  identitySecret: Schema.optional(secret("the identity secret", false))
}

// a size in bytes or characters: a positive integer, or Infinity for none
const Size = (what: string) =>
  Schema.Number.pipe(
    Schema.filter((n) => n === Infinity || (Number.isInteger(n) && n >= 1), {
      message: () => `${what} must be a positive integer (or Infinity for no cap)`
    })
  )

const Limits = objectOr(
  Schema.Struct({
    body: Schema.optional(Size("limits.body")),
    event: Schema.optional(Size("limits.event"))
  }),
  () => Option.none<never>(),
  "expected the limits as { body, event }"
)

const MemoryCache = Schema.Struct({
  ...cacheIdentityFields,
  backend: Schema.Literal("memory"),
  ttl: Schema.optional(NonNegativeDuration),
  maxSize: Schema.optional(
    Schema.Number.pipe(
      Schema.int({ message: () => "maxSize must be an integer" }),
      Schema.greaterThanOrEqualTo(1, { message: () => "maxSize must be at least 1" })
    )
  )
})

const RedisCache = Schema.Struct({
  ...cacheIdentityFields,
  backend: Schema.Literal("redis"),
  url: secret("the Redis URL", false),
  prefix: Schema.optional(Schema.String),
  ttl: Schema.optional(NonNegativeDuration)
})

const cacheMessage = "expected { backend: \"memory\", ttl, maxSize }, { backend: \"redis\", url, prefix, ttl } " +
  "or a ResponseCache layer"

const Cache: Schema.Schema<ResolvedCache, unknown> = Schema.transformOrFail(
  Schema.Unknown,
  Schema.Any,
  {
    strict: true,
    decode: (u, _, ast) => {
      if (Layer.isLayer(u)) return ParseResult.succeed(u)
      if (isPlainObject(u)) {
        if (u.backend === "memory") return ParseResult.decodeUnknown(MemoryCache, strict)(u)
        if (u.backend === "redis") return ParseResult.decodeUnknown(RedisCache, strict)(u)
      }
      return ParseResult.fail(new ParseResult.Type(ast, u, `${cacheMessage}, got ${describe(u)}`))
    },
    encode: ParseResult.succeed
  }
)

/**
 * The fields of a {@link ProviderConfig}, each validated and normalised. The `apiKey` stays optional here: the
 * environment is read afterwards, by {@link resolve}.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Fields = Schema.Struct({
  provider: NonEmptyString("the provider name"),
  apiKey: Schema.optional(secret("the API key", true)),
  baseUrl: Schema.optional(BaseUrl),
  defaultModel: Schema.optional(NonEmptyString("the default model")),
  headers: Schema.optional(Headers),
  timeout: Schema.optional(Timeout),
  retry: Schema.optional(RetryOption),
  limits: Schema.optional(Limits),
  http: Schema.optional(PoolOptions),
  cache: Schema.optional(Cache),
  options: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})

const decodeFields = Schema.decodeUnknownEither(Fields, strict)

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

const clip = (text: string, max: number): string => text.length > max ? `${text.slice(0, max)}…` : text

const providerOf = (config: unknown): string =>
  Predicate.hasProperty(config, "provider") && typeof config.provider === "string" && config.provider !== ""
    ? clip(config.provider, 64)
    : "client"

const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const key of path) {
    const name = typeof key === "number" ? key : clip(String(key), 64)
    out += typeof name === "number" ? `[${name}]` : out === "" ? name : `.${name}`
  }
  return out
}

const invalid = (provider: string, param: string | undefined, message: string): InvalidRequestError => {
  const text = clip(message, 300)
  return new InvalidRequestError({
    provider,
    source: "client",
    ...(param !== undefined && param !== "" ? { param } : {}),
    message: param !== undefined && param !== "" ? `invalid config: ${param}: ${text}` : `invalid config: ${text}`
  })
}

const fromParseError = (provider: string, error: ParseResult.ParseError, prefix = ""): InvalidRequestError => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return invalid(provider, prefix === "" ? undefined : prefix, "rejected")
  const message = issue._tag === "Unexpected" ? "unknown field" : issue.message
  const path = formatPath(issue.path)
  return invalid(provider, prefix === "" ? path : path === "" ? prefix : `${prefix}.${path}`, message)
}

// A provider's own options: none of the config's own fields (they would be overridden), and what the provider's
// Schema accepts, when it has one (a misspelt name is an unknown field).
const decodeOptions = (
  entry: registry.Entry,
  options: Readonly<Record<string, unknown>> | undefined
): Either.Either<Readonly<Record<string, unknown>> | undefined, InvalidRequestError> => {
  if (options === undefined) return Either.right(undefined)
  for (const key of Object.keys(options)) {
    if (providerOptions.commonFields.has(key)) {
      return Either.left(invalid(entry.name, `options.${key}`, `set ${key} on the config itself, not in options`))
    }
  }
  if (entry.options === undefined) return Either.right(options)
  const decoded = Schema.decodeUnknownEither(entry.options, strict)(options)
  return Either.isLeft(decoded)
    ? Either.left(fromParseError(entry.name, decoded.left, "options"))
    : Either.right(decoded.right as Readonly<Record<string, unknown>>)
}

// ---------------------------------------------------------------------------------------------
// resolution
// ---------------------------------------------------------------------------------------------

const readEnvVariable = (name: string): Effect.Effect<Option.Option<Redacted.Redacted<string>>> =>
  Config.option(Config.redacted(name)).pipe(
    Effect.map(Option.filter((key) => Redacted.value(key) !== "")),
    // A variable that is set but unreadable counts as absent: the missing-key error then names it.
    Effect.orElseSucceed(() => Option.none())
  )

// The first of the provider's variables that is set (Gemini: GEMINI_API_KEY, then GOOGLE_API_KEY).
const readEnvKey = (names: string | ReadonlyArray<string>): Effect.Effect<Option.Option<Redacted.Redacted<string>>> =>
  typeof names === "string"
    ? readEnvVariable(names)
    : Effect.reduce(
      names,
      Option.none<Redacted.Redacted<string>>(),
      (found, name) => Option.isSome(found) ? Effect.succeed(found) : readEnvVariable(name)
    )

/**
 * Validates and normalises a config. The key, when not given, is read through Effect's `ConfigProvider` (the
 * environment by default; `Layer.setConfigProvider` replaces it) from the provider's variable. Fails with an
 * `InvalidRequestError` (`source: "client"`) whose `param` is the path of the first bad field: `"provider"` for an
 * unknown provider (the message lists the known ones), `"apiKey"` when a provider that needs a key has none,
 * `"baseUrl"` when one that needs a URL has none, `"timeout.total"`, `"retry.maxRetries"`, … otherwise.
 *
 * @since 0.1.0
 * @category validation
 */
export const resolve = (input: unknown): Effect.Effect<Resolved, InvalidRequestError> =>
  Effect.suspend(() => {
    // Read once, as plain data: an accessor or a Proxy that throws is reported here, naming the field.
    const read = snapshot(input)
    if (read._tag === "Problem") return Effect.fail(invalid("client", read.path, read.reason))
    const config = read.value
    if (!isPlainObject(config)) {
      return Effect.fail(invalid("client", undefined, `expected an object with a provider, got ${describe(config)}`))
    }
    const decoded = decodeFields(config)
    if (Either.isLeft(decoded)) return Effect.fail(fromParseError(providerOf(config), decoded.left))
    const fields = decoded.right
    const entry = registry.get(fields.provider)
    if (entry === undefined) return Effect.fail(registry.unknownProvider(fields.provider))
    if (entry.requiresBaseUrl && fields.baseUrl === undefined) {
      return Effect.fail(invalid(entry.name, "baseUrl", `the ${entry.name} provider needs a baseUrl`))
    }
    const options = decodeOptions(entry, fields.options)
    if (Either.isLeft(options)) return Effect.fail(options.left)
    const envKey = fields.apiKey === undefined && entry.apiKeyEnv !== undefined
      ? readEnvKey(entry.apiKeyEnv)
      : Effect.succeed(Option.none<Redacted.Redacted<string>>())
    return Effect.flatMap(envKey, (fromEnv) => {
      const apiKey = fields.apiKey ?? Option.getOrUndefined(fromEnv)
      if (apiKey === undefined && entry.requiresApiKey) {
        const variables = typeof entry.apiKeyEnv === "string" ? entry.apiKeyEnv : entry.apiKeyEnv?.join(" or ")
        const where = variables !== undefined ? ` (none given, and ${variables} is not set)` : ""
        return Effect.fail(invalid(entry.name, "apiKey", `the ${entry.name} provider needs an API key${where}`))
      }
      const crossCheck = options.right === undefined ? undefined : entry.check?.(options.right, apiKey)
      if (crossCheck !== undefined) return Effect.fail(invalid(entry.name, crossCheck[0], crossCheck[1]))
      const connectTimeout = fields.http?.connectTimeout ?? fields.timeout?.connect
      const resolved: Resolved = {
        provider: entry.name,
        apiKey,
        baseUrl: fields.baseUrl,
        defaultModel: fields.defaultModel,
        headers: fields.headers,
        timeout: fields.timeout,
        retry: fields.retry,
        limits: fields.limits,
        http: connectTimeout !== undefined ? { ...fields.http, connectTimeout } : fields.http ?? {},
        cache: fields.cache,
        options: options.right
      }
      return Effect.succeed(resolved)
    })
  })

/**
 * {@link resolve} run synchronously against the default `ConfigProvider` (the process environment): the
 * normalised config, or the `InvalidRequestError` naming the bad field.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (config: unknown): Either.Either<Resolved, InvalidRequestError> =>
  Effect.runSync(Effect.either(resolve(config)).pipe(Effect.catchAllDefect(unreadable)))

// What is left of hostile input after the snapshot (a Proxy posing as a Layer, say) is still the caller's error.
const unreadable = (defect: unknown) =>
  Effect.succeed(Either.left(
    invalid("client", undefined, `the config could not be validated: ${clip(safeText(defect), 200)}`)
  ))

const safeText = (u: unknown): string => {
  try {
    return u instanceof Error ? `${u.name}: ${u.message}` : typeof u === "string" ? u : typeof u
  } catch {
    return "an exception"
  }
}

// ---------------------------------------------------------------------------------------------
// routers
// ---------------------------------------------------------------------------------------------

/**
 * One member of a router config: a provider config plus its name in the router (default: the provider's name,
 * numbered when it repeats), its `weight`, `contextWindow`, client-side `rateLimit` and the `models` it serves (see
 * `Router.MemberOptions`).
 * The connection pool and the cache belong to the router config, not to its members.
 *
 * @since 0.1.0
 * @category models
 */
export interface RouterMemberConfig extends Omit<ProviderConfig, "http" | "cache"> {
  readonly name?: string | undefined
  readonly weight?: number | undefined
  readonly contextWindow?: number | undefined
  readonly rateLimit?: RateLimit.Options | undefined
  /** The models the member serves, or aliases of its own names (see `Router.MemberOptions.models`). */
  readonly models?: Router.MemberOptions["models"]
}

/**
 * A client over several providers behind a `Router`: `new Client({ providers: [a, b], strategy: "fallback" })`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RouterConfig extends Omit<Router.Options, "name"> {
  readonly providers: ReadonlyArray<RouterMemberConfig>
  /** The router's name, as the provider name of the client. Default `"router"`. */
  readonly name?: string | undefined
  readonly http?: Http.PoolOptions | undefined
  readonly cache?: CacheConfig | undefined
}

/**
 * A validated router config.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResolvedRouter {
  readonly provider: string
  readonly baseUrl: undefined
  readonly defaultModel: string | undefined
  readonly http: Http.PoolOptions
  readonly cache: ResolvedCache | undefined
  readonly members: ReadonlyArray<{
    readonly name: string
    readonly config: Resolved
    readonly options: Router.MemberOptions
  }>
  readonly options: Router.Options
}

/**
 * Whether a config is a router config (it has `providers`).
 *
 * @since 0.1.0
 * @category validation
 */
export const isRouterConfig = (config: unknown): config is RouterConfig => {
  try {
    return isPlainObject(config) && "providers" in config
  } catch {
    return false
  }
}

const atMember = (index: number, error: InvalidRequestError): InvalidRequestError => {
  const param = error.param !== undefined ? `providers[${index}].${error.param}` : `providers[${index}]`
  return invalid(error.provider, param, error.message.replace(/^invalid config: (?:[^:]*: )?/, ""))
}

/**
 * Validates a router config: each member as a {@link ProviderConfig} (an error names `providers[i].field`), the
 * members' router options (`weight`, `contextWindow`, `rateLimit`), every router option as `Router.make` checks it
 * (`strategy`, `fallbackOn`, `cooldown`, `hedge`, `latencyAlpha`, `name`; an unknown field is named), and the
 * router's `http` and `cache` (validated as a provider config's). A config it accepts builds a router.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateRouter = (config: RouterConfig): Either.Either<ResolvedRouter, InvalidRequestError> => {
  // Read once, as plain data: an accessor or a Proxy that throws is reported here, naming the field.
  const read = snapshot(config)
  if (read._tag === "Problem") return Either.left(invalid("router", read.path, read.reason))
  try {
    return checkRouter(read.value)
  } catch (defect) {
    return Either.left(
      invalid("router", undefined, `the config could not be validated: ${clip(safeText(defect), 200)}`)
    )
  }
}

const checkRouter = (config: unknown): Either.Either<ResolvedRouter, InvalidRequestError> => {
  if (!isPlainObject(config)) {
    return Either.left(invalid("router", undefined, `expected a router config, got ${describe(config)}`))
  }
  const { cache, http, providers, ...routerOptions } = config
  // Every router option, checked as `Router.make` checks them (an unknown field is named).
  const options = Router.validateOptions(routerOptions)
  if (Either.isLeft(options)) return Either.left(options.left)
  const name = options.right.name ?? "router"
  if (!Array.isArray(providers) || providers.length === 0) {
    return Either.left(invalid(name, "providers", "expected a non-empty array of provider configs"))
  }
  const members: Array<ResolvedRouter["members"][number]> = []
  const seen = new Map<string, number>()
  for (const [index, member] of (providers as ReadonlyArray<unknown>).entries()) {
    if (!isPlainObject(member)) {
      return Either.left(invalid(name, `providers[${index}]`, `expected a provider config, got ${describe(member)}`))
    }
    const { contextWindow, models, name: memberName, rateLimit, weight, ...rest } = member
    if ("http" in rest || "cache" in rest) {
      const field = "http" in rest ? "http" : "cache"
      return Either.left(
        invalid(name, `providers[${index}].${field}`, `set ${field} on the router config, not on a member`)
      )
    }
    if (memberName !== undefined && (typeof memberName !== "string" || memberName === "")) {
      return Either.left(
        invalid(name, `providers[${index}].name`, `expected a non-empty string, got ${describe(memberName)}`)
      )
    }
    const memberOptions = Router.validateMemberOptions(
      { weight, contextWindow, rateLimit, models },
      name,
      `providers[${index}]`
    )
    if (Either.isLeft(memberOptions)) return Either.left(memberOptions.left)
    const resolved = validate(rest)
    if (Either.isLeft(resolved)) return Either.left(atMember(index, resolved.left))
    const base = memberName ?? resolved.right.provider
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    members.push({
      name: count === 0 ? base : `${base}-${count + 1}`,
      config: resolved.right,
      options: memberOptions.right
    })
  }
  const shared = decodeFields({ provider: members[0]!.config.provider, http, cache })
  if (Either.isLeft(shared)) return Either.left(fromParseError(name, shared.left))
  return Either.right({
    provider: name,
    baseUrl: undefined,
    defaultModel: members[0]!.config.defaultModel,
    http: shared.right.http ?? {},
    cache: shared.right.cache,
    members,
    options: { ...options.right, name }
  })
}
