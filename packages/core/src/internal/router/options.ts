/**
 * The checks of a router's options and of its members' options, shared by `Router.make` and the Promise facade's
 * config validation: a router that is built never fails its calls because of its options.
 *
 * @internal
 */
import * as Either from "effect/Either"
import type { InvalidRequestError } from "../../LlmError.js"
import type { Member, MemberOptions, Options } from "../../Router.js"
import * as v from "../validate.js"

const positiveInt = v.number("a positive integer", (n) => Number.isInteger(n) && n >= 1)

const cooldownShape = v.fields({
  failures: positiveInt,
  window: v.duration,
  duration: v.duration,
  countsAsFailure: v.func,
  maxWait: v.duration
}, "false or { failures, window, duration, countsAsFailure, maxWait }")

const cooldown: v.Check = (u, path) => u === false ? undefined : cooldownShape(u, path)

const hedge: v.Check = (u, path) => {
  const issue = v.struct(u, path, {
    after: v.oneOf((x) => x === "p95" ? undefined : "expected a duration or \"p95\"", v.duration),
    initial: v.duration,
    minSamples: positiveInt
  }, "{ after, initial, minSamples }")
  if (issue !== undefined) return issue
  return (u as { readonly after?: unknown }).after === undefined
    ? { path: `${path}.after`, message: "expected a duration or \"p95\"" }
    : undefined
}

/** @internal */
export const optionFields: Readonly<Record<string, v.Check>> = {
  name: v.nonEmptyString,
  strategy: v.literal("fallback", "round-robin", "weighted", "least-latency", "least-busy"),
  fallbackOn: v.func,
  cooldown,
  hedge,
  latencyAlpha: v.number("a number above 0 and at most 1", (n) => n > 0 && n <= 1)
}

/** The issue with a router's options, if any; `path` prefixes the field names. */
export const checkOptions = (options: unknown, path = ""): v.Issue | undefined =>
  options === undefined
    ? undefined
    : v.struct(
      options,
      path,
      optionFields,
      "the router options { name, strategy, fallbackOn, cooldown, hedge, latencyAlpha }"
    )

const positive = v.number("a positive number", (n) => n > 0)

/** @internal */
export const rateLimitFields: Readonly<Record<string, v.Check>> = {
  requestsPerMinute: positive,
  tokensPerMinute: positive,
  onExceeded: v.literal("delay", "fail")
}

const modelsMessage = "expected a non-empty list of model names, or a record of aliases to the member's model names"

// A list of names, or aliases → the member's own names: every name a non-empty string, at least one of them.
const models: v.Check = (u, path) => {
  if (Array.isArray(u)) {
    if (u.length === 0) return `${modelsMessage}, got an empty array`
    for (const [i, name] of u.entries()) {
      const problem = v.nonEmptyString(name, `${path}[${i}]`)
      if (problem !== undefined) return { path: `${path}[${i}]`, message: problem as string }
    }
    return undefined
  }
  if (!v.isRecord(u)) return `${modelsMessage}, got ${v.describe(u)}`
  const keys = Object.keys(u)
  if (keys.length === 0) return `${modelsMessage}, got an empty object`
  for (const key of keys) {
    if (key === "") return { path, message: "an alias must be a non-empty string" }
    const problem = v.nonEmptyString(u[key], `${path}.${key}`)
    if (problem !== undefined) return { path: `${path}.${key}`, message: problem as string }
  }
  return undefined
}

/** @internal */
export const memberFields: Readonly<Record<string, v.Check>> = {
  weight: v.number("a non-negative number", (n) => n >= 0),
  contextWindow: v.number("a positive number of tokens", (n) => n > 0),
  rateLimit: v.fields(rateLimitFields, "{ requestsPerMinute, tokensPerMinute, onExceeded }"),
  models
}

const nameOf = (options: unknown): string => {
  try {
    const name: unknown = (options as { readonly name?: unknown } | undefined)?.name
    return typeof name === "string" && name !== "" ? name : "router"
  } catch {
    return "router"
  }
}

/** @internal */
export const validateOptions = (options: unknown): Either.Either<Options, InvalidRequestError> => {
  const issue = checkOptions(options)
  return issue === undefined
    ? Either.right((options ?? {}) as Options)
    : Either.left(v.invalidConfig(nameOf(options), issue))
}

/** @internal */
export const validateMemberOptions = (
  options: unknown,
  router = "router",
  path = ""
): Either.Either<MemberOptions, InvalidRequestError> => {
  const issue = v.struct(options ?? {}, path, memberFields, "{ weight, contextWindow, rateLimit, models }")
  return issue === undefined
    ? Either.right((options ?? {}) as MemberOptions)
    : Either.left(v.invalidConfig(router, issue))
}

/** The error with a router's options or its members' (`members[i].weight`), if any. */
export const checkMembers = (
  members: ReadonlyArray<Member<any, any>>,
  options: unknown
): InvalidRequestError | undefined => {
  const router = nameOf(options)
  const issue = checkOptions(options)
  if (issue !== undefined) return v.invalidConfig(router, issue)
  for (const [index, m] of members.entries()) {
    const at = `members[${index}]`
    if (typeof m.name !== "string" || m.name === "") {
      return v.invalidConfig(router, { path: `${at}.name`, message: "expected a non-empty string" })
    }
    for (const key of ["weight", "contextWindow", "rateLimit", "models"] as const) {
      const value: unknown = m[key]
      const problem = value === undefined ? undefined : memberFields[key]!(value, `${at}.${key}`)
      if (typeof problem === "string") return v.invalidConfig(router, { path: `${at}.${key}`, message: problem })
      if (problem !== undefined) return v.invalidConfig(router, problem)
    }
  }
  return undefined
}
