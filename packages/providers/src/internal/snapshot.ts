/**
 * A config as plain data before it is validated: plain objects and arrays are copied (a null-prototype object
 * becomes an ordinary one, which the Schema's error formatter can print), anything else (a `Redacted`, a `Layer`,
 * a `Schedule`, a function) is kept as it is. Reading the config happens here once, so that an accessor or a Proxy
 * trap that throws, or a circular structure, is reported with the path where it happened, and the validation that
 * follows reads only ordinary objects.
 */

const maxDepth = 32

/** @internal */
export type Snapshot =
  | { readonly _tag: "Value"; readonly value: unknown }
  | { readonly _tag: "Problem"; readonly path: string; readonly reason: string }

const isPlain = (u: object): boolean => {
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

const pathText = (path: ReadonlyArray<string | number>): string => {
  let out = ""
  for (const key of path) {
    const name = typeof key === "string" && key.length > 64 ? `${key.slice(0, 64)}…` : key
    out += typeof name === "number" ? `[${name}]` : out === "" ? name : `.${name}`
  }
  return out
}

class Refused {
  constructor(readonly reason: string) {}
}

const thrownText = (e: unknown): string => {
  try {
    const text = e instanceof Error ? `${e.name}: ${e.message}` : typeof e === "string" ? e : typeof e
    return text.length > 120 ? `${text.slice(0, 120)}…` : text
  } catch {
    return "an exception"
  }
}

/** @internal */
export const snapshot = (u: unknown): Snapshot => {
  const path: Array<string | number> = []
  const ancestors: Array<object> = []
  const copy = (value: unknown): unknown => {
    if (typeof value !== "object" || value === null) return value
    const array = Array.isArray(value)
    if (!array && !isPlain(value)) return value
    if (ancestors.includes(value)) throw new Refused("a circular structure")
    if (ancestors.length >= maxDepth) throw new Refused(`nested more than ${maxDepth} levels deep`)
    ancestors.push(value)
    let out: unknown
    if (array) {
      const items: Array<unknown> = []
      for (let i = 0; i < value.length; i++) {
        path.push(i)
        items.push(copy(value[i]))
        path.pop()
      }
      out = items
    } else {
      const fields: Record<string, unknown> = {}
      for (const key of Object.keys(value)) {
        path.push(key)
        const item = copy((value as Record<string, unknown>)[key])
        if (key === "__proto__") {
          Object.defineProperty(fields, key, { value: item, enumerable: true, writable: true, configurable: true })
        } else {
          fields[key] = item
        }
        path.pop()
      }
      out = fields
    }
    ancestors.pop()
    return out
  }
  try {
    return { _tag: "Value", value: copy(u) }
  } catch (e) {
    return {
      _tag: "Problem",
      path: pathText(path),
      reason: e instanceof Refused ? e.reason : `reading it threw ${thrownText(e)}`
    }
  }
}
