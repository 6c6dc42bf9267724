/**
 * Picks a provider by name: switching provider is a config change, not a code change.
 *
 * The table of providers is **process-global** (a module-level `Map`): `register` affects every
 * `ProviderFactory.layer` and every `Client` built afterwards in the same process, as the table of a JavaScript
 * module is shared by all its importers.
 *
 * @example
 * ```ts
 * import { ProviderFactory } from "@llm-api-router/providers"
 * import { Http, LlmProvider } from "@llm-api-router/core"
 *
 * const ProviderLive = ProviderFactory.layer({ provider: "openai", defaultModel: "gpt-4o-mini" }) // OPENAI_API_KEY
 * program.pipe(Effect.provide(ProviderLive), Effect.provide(Http.layerDefault), Effect.runPromise)
 * ```
 *
 * @since 0.1.0
 */
import { type Http, type InvalidRequestError, type LlmProvider, Router } from "@llm-api-router/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Schema from "effect/Schema"
import * as registry from "./internal/clientRegistry.js"
import * as ProviderConfig from "./ProviderConfig.js"

/**
 * Builds a provider's layer from a validated config.
 *
 * @since 0.1.0
 * @category models
 */
export type Make = (
  config: ProviderConfig.Resolved
) => Layer.Layer<LlmProvider.LlmProvider, InvalidRequestError, Http.HttpClient>

/**
 * What validation checks for a provider before `make` runs.
 *
 * - `apiKeyEnv`: the environment variable read when the config has no `apiKey` (read through Effect's
 *   `ConfigProvider`, the environment by default).
 * - `requiresApiKey` (default `true`): a config with no key, given or found, is rejected naming `apiKey`.
 * - `requiresBaseUrl` (default `false`): a config with no `baseUrl` is rejected naming `baseUrl`.
 * - `options`: the Schema of the provider's own `config.options`, decoded with unknown fields rejected (a misspelt
 *   option is named: `options.regoin`); `make` receives the decoded options. Without it they are passed on as given.
 *   In every case, the config's own fields (`baseUrl`, `timeout`, …) are refused inside `options`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Requirements {
  readonly apiKeyEnv?: string | ReadonlyArray<string> | undefined
  readonly requiresApiKey?: boolean | undefined
  readonly requiresBaseUrl?: boolean | undefined
  readonly options?: Schema.Schema<any, any> | undefined
}

/**
 * The provider's layer for `config`, picked by `config.provider`. The config is validated when the layer is
 * built: a bad one fails the layer with an `InvalidRequestError` (`source: "client"`) naming the field, an
 * unknown provider with `param: "provider"` and the known names in the message.
 *
 * The layer needs an `HttpClient` (`Http.layer(config.http)` is what `Client` gives it); `config.http` and
 * `config.cache` are not applied here.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  config: ProviderConfig.ProviderConfig
): Layer.Layer<LlmProvider.LlmProvider, InvalidRequestError, Http.HttpClient> =>
  Layer.unwrapEffect(Effect.map(ProviderConfig.resolve(config), fromResolved))

/**
 * The provider's layer for a config that is already validated (see `ProviderConfig.resolve`). A name that is not
 * registered fails the layer with `param: "provider"`.
 *
 * @since 0.1.0
 * @category layers
 */
export const fromResolved = (
  config: ProviderConfig.Resolved
): Layer.Layer<LlmProvider.LlmProvider, InvalidRequestError, Http.HttpClient> => {
  const entry = registry.get(config.provider)
  return entry === undefined ? Layer.fail(registry.unknownProvider(config.provider)) : entry.make(config)
}

/**
 * Adds a provider under `name`, or replaces the one registered under it, built-ins included (`openai`,
 * `openai-compatible`): replacing a built-in changes it for the whole process. The table is process-global.
 *
 * @example
 * ```ts
 * ProviderFactory.register(
 *   "my-gateway",
 *   (config) => OpenAiCompatible.layer({ ...ProviderFactory.commonOptions(config), name: "my-gateway", baseUrl: "https://llm.internal/v1" }),
 *   { apiKeyEnv: "MY_GATEWAY_KEY" }
 * )
 * const client = new Client({ provider: "my-gateway" })
 * ```
 *
 * @since 0.1.0
 * @category registration
 */
export const register = (name: string, make: Make, requirements?: Requirements): void =>
  registry.set(name, make, requirements)

/**
 * The registered provider names, built-ins first, in registration order.
 *
 * @since 0.1.0
 * @category registration
 */
export const providers = (): ReadonlyArray<string> => registry.names()

/**
 * The options every provider module shares (`apiKey`, `baseUrl`, `defaultModel`, `headers`, `timeout`, `limits`,
 * `retry`), from a validated config: spread them into a provider's `layer` options in a registration.
 *
 * @since 0.1.0
 * @category utils
 */
export const commonOptions: (config: ProviderConfig.Resolved) => ReturnType<typeof registry.commonOptions> =
  registry.commonOptions

/**
 * Builds the layer with the config's API key, or fails it naming `apiKey` when there is none: the usual body of a
 * registration, `(config) => ProviderFactory.withApiKey(config, (apiKey) => X.layer({ ...commonOptions(config), apiKey }))`.
 *
 * @since 0.1.0
 * @category utils
 */
export const withApiKey: (
  config: ProviderConfig.Resolved,
  f: (apiKey: Redacted.Redacted<string>) => ReturnType<Make>
) => ReturnType<Make> = registry.withApiKey

/**
 * Builds the layer with the config's base URL, or fails it naming `baseUrl` when there is none.
 *
 * @since 0.1.0
 * @category utils
 */
export const withBaseUrl: (
  config: ProviderConfig.Resolved,
  f: (baseUrl: string) => ReturnType<Make>
) => ReturnType<Make> = registry.withBaseUrl

/**
 * The layer of a validated router config (see `ProviderConfig.validateRouter`): a `Router` over each member's
 * provider layer, which is itself an `LlmProvider`.
 *
 * @since 0.1.0
 * @category layers
 */
export const routerLayer = (
  config: ProviderConfig.ResolvedRouter
): Layer.Layer<LlmProvider.LlmProvider | Router.Router, InvalidRequestError, Http.HttpClient> =>
  Router.layer(
    config.members.map((member) => Router.member(member.name, fromResolved(member.config), member.options)),
    config.options
  )
