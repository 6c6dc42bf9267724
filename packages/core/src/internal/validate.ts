/**
 * Small checks for option objects that a Schema describes badly (functions, `Duration.DurationInput`, `false`
 * among objects): each says what is wrong with a value, or nothing. Reading an option never throws out of them: an
 * accessor or a Proxy that throws is reported as a bad value.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { InvalidRequestError } from "../LlmError.js"

/** A failed check at `path`. */
export interface Issue {
  readonly path: string
  readonly message: string
}

/**
 * What is wrong with a value at `path`: a message about the value itself, an issue deeper inside it, or `undefined`
 * when it is fine.
 */
export type Check = (u: unknown, path: string) => string | Issue | undefined

/** A short description of a value, for messages: never its full text, never a call that could throw. */
export const describe = (u: unknown): string => {
  switch (typeof u) {
    case "string":
      return u.length > 40 ? `${JSON.stringify(u.slice(0, 40))}…` : JSON.stringify(u)
    case "number":
    case "boolean":
      return String(u)
    case "bigint":
      return "a BigInt"
    case "symbol":
      return "a Symbol"
    case "function":
      return "a function"
    case "undefined":
      return "undefined"
    case "object":
      return u === null ? "null" : Array.isArray(u) ? "an array" : "an object"
  }
}

/** A plain object: not an array, a class instance, a Duration, … */
export const isRecord = (u: unknown): u is Record<string, unknown> => {
  if (typeof u !== "object" || u === null) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

const isNegative = (u: unknown): boolean => {
  if (typeof u === "number") return u < 0
  if (typeof u === "bigint") return u < BigInt(0)
  if (typeof u === "string") return u.trimStart().startsWith("-")
  if (Array.isArray(u)) return u.some((n) => typeof n === "number" && n < 0)
  return false
}

const hasNaN = (u: unknown): boolean =>
  (typeof u === "number" && Number.isNaN(u)) || (Array.isArray(u) && u.some((n) => Number.isNaN(n)))

/**
 * A `Duration.DurationInput` that is not negative (Effect would read a negative one as zero) nor NaN, decoded; `None`
 * for anything else.
 */
export const decodeDuration = (u: unknown): Option.Option<Duration.Duration> => {
  try {
    return isNegative(u) || hasNaN(u) ? Option.none() : Duration.decodeUnknown(u)
  } catch {
    return Option.none()
  }
}

export const durationMessage = "expected a non-negative duration: a Duration, a number of milliseconds, or a " +
  "string such as \"30 seconds\""

export const duration: Check = (u) =>
  Option.isSome(decodeDuration(u)) ? undefined : `${durationMessage}, got ${describe(u)}`

export const boolean: Check = (u) => typeof u === "boolean" ? undefined : `expected a boolean, got ${describe(u)}`

export const func: Check = (u) => typeof u === "function" ? undefined : `expected a function, got ${describe(u)}`

export const nonEmptyString: Check = (u) =>
  typeof u === "string" && u.length > 0 ? undefined : `expected a non-empty string, got ${describe(u)}`

export const number = (what: string, ok: (n: number) => boolean): Check => (u) =>
  typeof u === "number" && Number.isFinite(u) && ok(u) ? undefined : `expected ${what}, got ${describe(u)}`

export const literal = (...values: ReadonlyArray<string>): Check => (u) =>
  typeof u === "string" && values.includes(u)
    ? undefined
    : `expected one of ${values.map((v) => JSON.stringify(v)).join(", ")}, got ${describe(u)}`

export const oneOf = (...checks: ReadonlyArray<Check>): Check => (u, path) => {
  let first: string | Issue | undefined
  for (const check of checks) {
    const message = check(u, path)
    if (message === undefined) return undefined
    first ??= message
  }
  return first
}

/** An object of options checked by {@link struct}. */
export const fields = (shape: Readonly<Record<string, Check>>, what: string): Check => (u, path) =>
  struct(u, path, shape, what)

/**
 * Checks an object of options: every key must be in `fields` (an unknown one, a misspelt name, is reported as
 * such), each present value must pass its check. `undefined` counts as absent. The first issue wins.
 */
export const struct = (
  value: unknown,
  path: string,
  shape: Readonly<Record<string, Check>>,
  what: string
): Issue | undefined => {
  const at = (key: string) => path === "" ? key : `${path}.${key}`
  try {
    if (!isRecord(value)) return { path, message: `expected ${what}, got ${describe(value)}` }
    for (const key of Object.keys(value)) {
      if (!Object.prototype.hasOwnProperty.call(shape, key)) {
        return { path: at(key), message: `unknown field; expected one of ${Object.keys(shape).join(", ")}` }
      }
    }
    for (const key of Object.keys(shape)) {
      const item: unknown = value[key]
      if (item === undefined) continue
      const result = shape[key]!(item, at(key))
      if (typeof result === "string") return { path: at(key), message: result }
      if (result !== undefined) return result
    }
    return undefined
  } catch {
    return { path, message: "reading it threw" }
  }
}

/** The `InvalidRequestError` of an issue in a config. */
export const invalidConfig = (provider: string, issue: Issue): InvalidRequestError =>
  new InvalidRequestError({
    provider,
    source: "client",
    ...(issue.path !== "" ? { param: issue.path } : {}),
    message: issue.path !== "" ? `invalid config: ${issue.path}: ${issue.message}` : `invalid config: ${issue.message}`
  })
