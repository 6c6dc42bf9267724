/**
 * Who a provider calls as: its credential and its identity headers, kept as a capability that only answers
 * fingerprints.
 *
 * A provider builds its `Identity` once, at construction, from its `Redacted` key and the headers it sends, and
 * publishes it in `LlmProvider.info.identity`. The response cache puts the fingerprint into every key, so that an
 * answer paid for with one key (or one `OpenAI-Organization`, one `OpenAI-Project`) is never served to a caller
 * holding another, or holding a wrong or revoked one.
 *
 * A fingerprint is an HMAC-SHA256 of the credential and of the identity headers present, in a canonical form:
 * - never the key itself, and not reversible: a key cannot be recovered from it, nor tested against it without the
 *   HMAC key;
 * - deterministic: two processes holding the same credential compute the same fingerprint, so that they share a
 *   Redis cache. That is why its HMAC key is not a per-process random value but, by default, a fixed context string
 *   of this library (the HMAC then separates this use of the key from any other hash of it). Pass a `secret` shared
 *   by the deployment to make it a keyed hash proper: without that secret, someone who can read the cache's keys
 *   cannot test guesses of a low-entropy credential (a short password of a self-hosted server) against them.
 *
 * @example
 * ```ts
 * import { Identity } from "@llm-api-router/core"
 *
 * const identity = Identity.make({ credential: apiKey, headers: { "openai-organization": "org-1" } })
 * identity.fingerprint()                                  // the same string in every process with this key and org
 * identity.fingerprint({ headers: ["x-tenant"] })          // also counting a header of the caller's own
 * ```
 *
 * @since 0.1.0
 */
import * as Inspectable from "effect/Inspectable"
import * as Redacted from "effect/Redacted"
import { createHash, createHmac } from "node:crypto"

/**
 * The headers that count as identity by default (lower case): the credential headers of the usual APIs and
 * gateways, OpenAI's organization and project, DashScope's workspace.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultHeaders: ReadonlyArray<string> = [
  "authorization",
  "proxy-authorization",
  "x-api-key",
  "api-key",
  "x-goog-api-key",
  "cookie",
  "openai-organization",
  "openai-project",
  "x-dashscope-workspace"
]

/**
 * The HMAC key of fingerprints made without a `secret`: a constant, so that every process agrees.
 *
 * @since 0.1.0
 * @category constants
 */
export const context = "llm-api-router/identity/v1"

/**
 * @since 0.1.0
 * @category models
 */
export interface FingerprintOptions {
  /** Headers counted on top of {@link defaultHeaders} (any case). */
  readonly headers?: ReadonlyArray<string> | undefined
  /** The HMAC key, shared by the processes that share a cache; default {@link context}. */
  readonly secret?: Redacted.Redacted<string> | undefined
}

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@llm-api-router/core/Identity")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A provider's identity. It holds the credential without exposing it: it prints as `Identity(<redacted>)` and only
 * answers fingerprints.
 *
 * @since 0.1.0
 * @category models
 */
export interface Identity extends Inspectable.Inspectable {
  readonly [TypeId]: TypeId
  /** The fingerprint (64 hex digits) under `options`; the one without options is computed once. */
  readonly fingerprint: (options?: FingerprintOptions) => string
}

const hmac = (secret: Redacted.Redacted<string> | undefined, text: string): string =>
  createHmac("sha256", secret === undefined ? context : Redacted.value(secret)).update(text).digest("hex")

const counted = (extra: ReadonlyArray<string> | undefined): ReadonlySet<string> => {
  if (extra === undefined || extra.length === 0) return defaultHeaderSet
  const names = new Set(defaultHeaderSet)
  for (const name of extra) names.add(name.toLowerCase())
  return names
}

const defaultHeaderSet: ReadonlySet<string> = new Set(defaultHeaders)

const proto = {
  [TypeId]: TypeId,
  toString() {
    return "Identity(<redacted>)"
  },
  toJSON() {
    return "Identity(<redacted>)"
  },
  [Inspectable.NodeInspectSymbol]() {
    return "Identity(<redacted>)"
  }
}

const fromFingerprint = (fingerprint: (options: FingerprintOptions | undefined) => string): Identity => {
  let plain: string | undefined
  const self = Object.create(proto) as { -readonly [K in keyof Identity]: Identity[K] }
  self.fingerprint = (options) =>
    options === undefined || (options.secret === undefined && (options.headers ?? []).length === 0)
      ? plain ??= fingerprint(undefined)
      : fingerprint(options)
  return self
}

/**
 * The identity of a provider calling with `credential` (absent for a keyless server) and sending `headers`. Only
 * the identity headers among `headers` count, by name in any case.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly credential?: Redacted.Redacted<string> | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
}): Identity => {
  const credential = options.credential
  const headers = options.headers === undefined
    ? []
    : Object.entries(options.headers).map(([name, value]) => [name.toLowerCase(), value] as const)
  return fromFingerprint((fingerprintOptions) => {
    const names = counted(fingerprintOptions?.headers)
    const present = headers.filter(([name]) => names.has(name)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    // JSON: an unambiguous encoding (no credential and header text can be cut into another one).
    const text = JSON.stringify([credential === undefined ? null : Redacted.value(credential), present])
    return hmac(fingerprintOptions?.secret, text)
  })
}

/**
 * The identity of a provider made of others (a router): their names, base URLs and fingerprints, in order. A
 * member without an identity counts as an anonymous one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const combine = (
  members: ReadonlyArray<
    { readonly name: string; readonly baseUrl?: string | undefined; readonly identity?: Identity | undefined }
  >
): Identity =>
  fromFingerprint((options) => {
    const parts = members.map((m) => [m.name, m.baseUrl ?? null, m.identity?.fingerprint(options) ?? null])
    return createHash("sha256").update(JSON.stringify(parts)).digest("hex")
  })

/**
 * Whether `u` is an {@link Identity}.
 *
 * @since 0.1.0
 * @category guards
 */
export const isIdentity = (u: unknown): u is Identity => typeof u === "object" && u !== null && TypeId in u
