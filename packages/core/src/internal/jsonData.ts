/**
 * JSON data: what a request may hold, since everything in it ends up in a JSON body and a cache key. Strings,
 * finite numbers, booleans, null, arrays (without holes or undefined elements) and plain objects (whose prototype
 * is `Object.prototype` or null; an undefined property counts as absent), nested at most {@link maxDepth} deep.
 *
 * Two passes over it: {@link isJsonData}, a check that allocates nothing, for the hot path; and {@link toPlain}, for
 * input that failed a check, which copies the input into ordinary objects (so that the Schema's error formatter can
 * print it) or says where it is not JSON data: a `BigInt`, a `Symbol`, a function, `NaN` or `Infinity`, a class
 * instance, a circular structure, an accessor or a Proxy trap that throws.
 *
 * @internal
 */

/** Deeper than this is not a request anyone sends; it also keeps every walk far from the stack's limit. */
export const maxDepth = 64

const isPlainPrototype = (u: object): boolean => {
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

/** `true` when `u` is JSON data (see the module); no allocation, no error wording. */
export const isJsonData = (u: unknown, depth = 0): boolean => {
  switch (typeof u) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(u)
    case "object": {
      if (u === null) return true
      if (depth >= maxDepth) return false
      if (Array.isArray(u)) {
        for (let i = 0; i < u.length; i++) {
          const item: unknown = u[i]
          if (item === undefined || !isJsonData(item, depth + 1)) return false
        }
        return true
      }
      if (!isPlainPrototype(u)) return false
      for (const key in u) {
        const item: unknown = (u as Record<string, unknown>)[key]
        if (item !== undefined && !isJsonData(item, depth + 1)) return false
      }
      return true
    }
    default:
      return false
  }
}

/**
 * Where and why an input is not JSON data: `path` as the error's `param` (`messages[0].content`), `reason` a short
 * sentence.
 */
export interface Problem {
  readonly path: string
  readonly reason: string
}

/** A plain copy of the input, or the first place where it is not JSON data. */
export type Plain = { readonly _tag: "Plain"; readonly value: unknown } | {
  readonly _tag: "Problem"
  readonly problem: Problem
}

const keyText = (key: string): string => key.length > 64 ? `${key.slice(0, 64)}…` : key

/** A path as an error's `param`: `messages[0].content`. */
export const pathText = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const key of path) {
    out += typeof key === "number" ? `[${key}]` : out === "" ? keyText(String(key)) : `.${keyText(String(key))}`
  }
  return out
}

/** A short description of a thrown value, without calling anything on it that could throw again. */
const thrownText = (e: unknown): string => {
  try {
    const text = e instanceof Error ? `${e.name}: ${e.message}` : typeof e === "string" ? e : typeof e
    return text.length > 120 ? `${text.slice(0, 120)}…` : text
  } catch {
    return "an exception"
  }
}

const typeName = (u: object): string => {
  try {
    const name: unknown = (Object.getPrototypeOf(u) as { constructor?: { name?: unknown } } | null)?.constructor?.name
    if (typeof name !== "string" || name === "" || name === "Object") return "an object that is not a plain object"
    return `${/^[aeiou]/i.test(name) ? "an" : "a"} ${name.slice(0, 60)}`
  } catch {
    return "an object that is not a plain object"
  }
}

class NotJson {
  constructor(readonly reason: string) {}
}

const setOwn = (target: Record<string, unknown>, key: string, value: unknown): void => {
  // `__proto__` as an own key (JSON.parse makes those) must stay data, not become the copy's prototype.
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  } else {
    target[key] = value
  }
}

/**
 * Copies `u` into ordinary arrays and objects (a null-prototype object becomes a plain one), or finds the first
 * place where it is not JSON data. Never throws: an accessor or a Proxy trap that throws is reported where it threw.
 */
export const toPlain = (u: unknown): Plain => {
  const path: Array<string | number> = []
  const ancestors: Array<object> = []

  const copy = (value: unknown): unknown => {
    switch (typeof value) {
      case "string":
      case "boolean":
        return value
      case "number":
        if (!Number.isFinite(value)) throw new NotJson(`${value} is not a JSON number`)
        return value
      case "undefined":
        throw new NotJson("undefined is not a JSON value")
      case "bigint":
        throw new NotJson("a BigInt is not a JSON value")
      case "symbol":
        throw new NotJson("a Symbol is not a JSON value")
      case "function":
        throw new NotJson("a function is not a JSON value")
      case "object": {
        if (value === null) return null
        if (ancestors.includes(value)) throw new NotJson("a circular structure is not JSON data")
        if (ancestors.length >= maxDepth) throw new NotJson(`nested more than ${maxDepth} levels deep`)
        ancestors.push(value)
        let out: unknown
        if (Array.isArray(value)) {
          const length = value.length
          const items: Array<unknown> = new Array(length)
          for (let i = 0; i < length; i++) {
            path.push(i)
            items[i] = copy(value[i])
            path.pop()
          }
          out = items
        } else {
          if (!isPlainPrototype(value)) throw new NotJson(`${typeName(value)} is not JSON data`)
          const fields: Record<string, unknown> = {}
          for (const key of Object.keys(value)) {
            path.push(key)
            const item: unknown = (value as Record<string, unknown>)[key]
            if (item !== undefined) setOwn(fields, key, copy(item))
            path.pop()
          }
          out = fields
        }
        ancestors.pop()
        return out
      }
    }
  }

  try {
    return { _tag: "Plain", value: u === undefined ? undefined : copy(u) }
  } catch (e) {
    const reason = e instanceof NotJson ? e.reason : `reading it threw ${thrownText(e)}`
    return { _tag: "Problem", problem: { path: pathText(path), reason } }
  }
}
