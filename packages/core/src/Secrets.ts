/**
 * The secrets of one client, and the one scrubber that keeps them out of everything a user can see: the fields of
 * our errors (`message`, `body`, `code`, `requestId`, …), log lines and span attributes.
 *
 * A secret is an API key, a value derived from it (a signed token such as Zhipu's JWT, registered with `add` each
 * time one is minted), a credential carried in a request header (`Authorization`, `x-api-key`, `api-key`,
 * `x-goog-api-key`, anything that names a token, key, secret or password), or the password in a URL. Each is
 * replaced by `[REDACTED]` as it is, JSON-escaped (inside a JSON string) and URL-encoded, and so is the start of a
 * secret cut short where a text was truncated (just before an ellipsis or at the end of the text).
 *
 * A `Secrets` is made once per client and its scrubber compiled then, and again only when a secret is added (when
 * a token is minted), never per call. Scrubbing runs only where an error, a log line or a span attribute is made
 * from response data, never on a successful call.
 *
 * @since 0.1.0
 */
import * as Redacted from "effect/Redacted"

/**
 * What every secret is replaced with.
 *
 * @since 0.1.0
 * @category constants
 */
export const placeholder = "[REDACTED]"

/**
 * @since 0.1.0
 * @category models
 */
export interface Secrets {
  /** The text with every secret replaced by `[REDACTED]`. */
  readonly scrub: (text: string) => string
  /**
   * The error with every secret removed from its string fields (and from a nested `lastError`): the same value
   * when it holds none, else a new error of the same class with the clean fields, and the stack of the original
   * (where it was made) scrubbed the same way.
   * A value that is not one of the library's errors is returned as it is.
   */
  readonly scrubError: <E>(error: E) => E
  /**
   * Adds a secret derived at run time (a token signed from the key). The most recent `maxDerived` of them are
   * kept; the secrets given to `make` are kept for ever.
   */
  readonly add: (secret: string | Redacted.Redacted<string>) => void
  /** Whether there is anything to scrub. */
  readonly isEmpty: () => boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Request headers (the ones a client sends on every call): the value of each header whose name says it carries
   * a credential (see {@link isSensitiveHeader}) is a secret, and so is the credential after its scheme
   * (`Bearer <token>`, the password inside `Basic <base64>`).
   */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** URLs (a Redis URL) whose password and user info are secrets. */
  readonly urls?: ReadonlyArray<string | Redacted.Redacted<string> | undefined> | undefined
  /** How many derived secrets `add` keeps (default 16). */
  readonly maxDerived?: number | undefined
}

/** Header-derived values shorter than this are not treated as secrets: they would blank out ordinary words. */
const minHeaderSecret = 8

/** The shortest start of a secret that is scrubbed where a text was cut. */
const minCutPrefix = 4

const ellipsis = "…"

const sensitiveName = /auth|api[-_]?key|token|secret|passw|cookie|credential|session|signature/i

/**
 * Whether a request header's name says its value is a credential: `authorization`, `proxy-authorization`,
 * `x-api-key`, `api-key`, `x-goog-api-key`, `cookie`, and any name containing `auth`, `token`, `secret`,
 * `password`, `credential`, `session` or `signature`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isSensitiveHeader = (name: string): boolean => sensitiveName.test(name)

/**
 * The secrets carried by one header value: the value itself and, after an auth scheme, the credential (for
 * `Basic`, also the password it encodes).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromHeaderValue = (value: string): Array<string> => {
  const out: Array<string> = []
  const push = (s: string) => {
    if (s.length >= minHeaderSecret) out.push(s)
  }
  const trimmed = value.trim()
  push(trimmed)
  const space = trimmed.indexOf(" ")
  if (space > 0) {
    const scheme = trimmed.slice(0, space).toLowerCase()
    const credential = trimmed.slice(space + 1).trim()
    push(credential)
    if (scheme === "basic") {
      try {
        const decoded = atob(credential)
        const colon = decoded.indexOf(":")
        if (colon >= 0) push(decoded.slice(colon + 1))
      } catch {
        // not base64: the value and the credential are all there is
      }
    }
  }
  return out
}

/**
 * The password and user info of a URL (`redis://user:password@host`), decoded and as written; none when the URL
 * has none or does not parse.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromUrl = (url: string): Array<string> => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return []
  }
  // the password; a URL with a user name only (`redis://token@host`) may carry its credential there
  const part = parsed.password !== "" ? parsed.password : parsed.username
  if (part === "") return []
  const out = [part]
  try {
    const decoded = decodeURIComponent(part)
    if (decoded !== part) out.push(decoded)
  } catch {
    // a malformed escape: the raw form is all there is
  }
  return out
}

const valueOf = (secret: string | Redacted.Redacted<string>): string =>
  typeof secret === "string" ? secret : Redacted.value(secret)

/** The forms a secret can take in a text: as it is, JSON-escaped, URL-encoded. */
const formsOf = (secret: string): Array<string> => {
  const forms = [secret, JSON.stringify(secret).slice(1, -1)]
  try {
    forms.push(encodeURIComponent(secret))
  } catch {
    // a lone surrogate cannot be URL-encoded; it cannot appear URL-encoded either
  }
  return forms
}

/** Whether `text` holds the first `k` characters of `needle` at `from`. */
const startsWithPrefix = (text: string, from: number, needle: string, k: number): boolean => {
  for (let i = 1; i < k; i++) {
    if (text.charCodeAt(from + i) !== needle.charCodeAt(i)) return false
  }
  return true
}

/** One compiled scrubber: the needles longest first, so that a secret containing another is replaced whole. */
const compile = (secrets: Iterable<string>): ((text: string) => string) | undefined => {
  const needles = new Set<string>()
  for (const secret of secrets) {
    // an empty secret would match between every two characters
    if (secret === "") continue
    for (const form of formsOf(secret)) needles.add(form)
  }
  if (needles.size === 0) return undefined
  const ordered = [...needles].sort((a, b) => b.length - a.length)
  const cutCheck = ordered.filter((needle) => needle.length > minCutPrefix)

  /** Replaces the start of a secret that ends right at `end` (a cut), if one does. */
  const cutAt = (text: string, end: number): string => {
    for (const needle of cutCheck) {
      const first = needle.charCodeAt(0)
      for (let k = Math.min(needle.length - 1, end); k >= minCutPrefix; k--) {
        const from = end - k
        if (text.charCodeAt(from) === first && startsWithPrefix(text, from, needle, k)) {
          return text.slice(0, from) + placeholder + text.slice(end)
        }
      }
    }
    return text
  }

  return (text) => {
    let out = text
    for (const needle of ordered) {
      if (out.includes(needle)) out = out.split(needle).join(placeholder)
    }
    if (cutCheck.length === 0) return out
    // the cuts, right to left so that a replacement leaves the positions before it as they were
    const cuts = [out.length]
    for (let at = out.lastIndexOf(ellipsis); at > 0; at = out.lastIndexOf(ellipsis, at - 1)) cuts.push(at)
    for (const end of cuts) out = cutAt(out, end)
    return out
  }
}

const maxNesting = 4

/**
 * Makes the secrets of one client from its keys (`undefined` entries are skipped) and `options`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  keys: Iterable<string | Redacted.Redacted<string> | undefined>,
  options?: Options
): Secrets => {
  const fixed: Array<string> = []
  for (const key of keys) {
    if (key !== undefined) fixed.push(valueOf(key))
  }
  const headers = options?.headers
  if (headers !== undefined) {
    for (const name in headers) {
      if (isSensitiveHeader(name)) fixed.push(...fromHeaderValue(headers[name]!))
    }
  }
  for (const url of options?.urls ?? []) {
    if (url !== undefined) fixed.push(...fromUrl(valueOf(url)))
  }
  const maxDerived = Math.max(1, Math.floor(options?.maxDerived ?? 16))
  const derived: Array<string> = []
  let compiled = compile(fixed)

  const scrub = (text: string): string => compiled === undefined ? text : compiled(text)

  const scrubObject = (error: unknown, depth: number): unknown => {
    if (typeof error !== "object" || error === null || depth > maxNesting) return error
    const record = error as Record<string, unknown>
    const ctor = error.constructor as
      | (new(props: Record<string, unknown>) => unknown) & { readonly fields?: Record<string, unknown> }
      | undefined
    const fields = ctor?.fields
    // only the library's errors (Schema classes) are rebuilt; anything else is not ours to change
    if (fields === undefined || typeof record._tag !== "string") return error
    let patch: Record<string, unknown> | undefined = undefined
    for (const key in fields) {
      if (key === "_tag") continue
      const value = record[key]
      const next = typeof value === "string" ? scrub(value) : scrubObject(value, depth + 1)
      if (next !== value) (patch ??= {})[key] = next
    }
    if (patch === undefined) return error
    const props: Record<string, unknown> = {}
    for (const key in fields) {
      if (key !== "_tag" && record[key] !== undefined) props[key] = record[key]
    }
    const clean = new ctor!({ ...props, ...patch }) as { stack?: string }
    // the frames of where the error was made, not of this function; its first line quotes the message
    if (typeof record.stack === "string") clean.stack = scrub(record.stack)
    return clean
  }

  return {
    scrub,
    scrubError: <E>(error: E): E => compiled === undefined ? error : scrubObject(error, 0) as E,
    add: (secret) => {
      const value = valueOf(secret)
      if (value === "" || fixed.includes(value) || derived.includes(value)) return
      derived.push(value)
      if (derived.length > maxDerived) derived.shift()
      compiled = compile([...fixed, ...derived])
    },
    isEmpty: () => compiled === undefined
  }
}
