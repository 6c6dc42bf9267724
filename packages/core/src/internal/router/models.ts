/**
 * Which members of a router serve which model, and under which name. Built once with the router; a call looks its
 * model up in a map per member, so routing by model costs a few map reads per call.
 *
 * A member that declares `models` serves exactly those (each alias, each of its own names) and its default model.
 * A member that declares none serves its default model and every model that no declaring member claims, under the
 * name asked: a router whose members declare nothing routes as if models did not matter.
 *
 * @internal
 */
import { InvalidRequestError } from "../../LlmError.js"

/** @internal */
export type Models = ReadonlyArray<string> | Readonly<Record<string, string>>

/** @internal */
export interface Table {
  /** Per member: requested name → the member's own name; `undefined` for a member that declares none. */
  readonly declared: ReadonlyArray<ReadonlyMap<string, string> | undefined>
  readonly defaults: ReadonlyArray<string | undefined>
  /** Every name a declaring member serves. */
  readonly claimed: ReadonlySet<string>
  /** Whether every member declares its models: only then can a model be served by none. */
  readonly closed: boolean
}

/**
 * The table of the members' models, or `undefined` when no member declares any (then every model goes to every
 * member unchanged, and no per-call work is done).
 *
 * @internal
 */
export const make = (
  members: ReadonlyArray<{ readonly models?: Models | undefined; readonly defaultModel: string | undefined }>
): Table | undefined => {
  if (members.every((m) => m.models === undefined)) return undefined
  const claimed = new Set<string>()
  const declared = members.map((m) => {
    if (m.models === undefined) return undefined
    const map = new Map<string, string>()
    if (m.defaultModel !== undefined) map.set(m.defaultModel, m.defaultModel)
    if (Array.isArray(m.models)) {
      for (const name of m.models as ReadonlyArray<string>) map.set(name, name)
    } else {
      const aliases = m.models as Readonly<Record<string, string>>
      // The member's own names first, so that an alias that is also another model's own name wins.
      for (const own of Object.values(aliases)) map.set(own, own)
      for (const [alias, own] of Object.entries(aliases)) map.set(alias, own)
    }
    for (const name of map.keys()) claimed.add(name)
    return map
  })
  return {
    declared,
    defaults: members.map((m) => m.defaultModel),
    claimed,
    closed: declared.every((m) => m !== undefined)
  }
}

/**
 * The member's own name for `model`, or `undefined` when it does not serve it.
 *
 * @internal
 */
export const resolve = (table: Table, index: number, model: string): string | undefined => {
  const map = table.declared[index]
  if (map !== undefined) return map.get(model)
  return model === table.defaults[index] || !table.claimed.has(model) ? model : undefined
}

/**
 * Each member's name for `model` (`undefined` for a member that does not serve it), or the error naming the model
 * when no member serves it.
 *
 * @internal
 */
export const route = (
  router: string,
  table: Table,
  model: string
): ReadonlyArray<string | undefined> | InvalidRequestError => {
  let served = false
  const names = table.declared.map((_, index) => {
    const own = resolve(table, index, model)
    if (own !== undefined) served = true
    return own
  })
  return served ? names : unknownModel(router, table, model)
}

const listed = 12

const unknownModel = (router: string, table: Table, model: string): InvalidRequestError => {
  const known = Array.from(table.claimed)
  const list = known.slice(0, listed).map((name) => JSON.stringify(name)).join(", ") +
    (known.length > listed ? `, and ${known.length - listed} more` : "")
  const shown = model.length > 80 ? `${JSON.stringify(model.slice(0, 80))}…` : JSON.stringify(model)
  return new InvalidRequestError({
    provider: router,
    source: "client",
    param: "model",
    model: model.slice(0, 200),
    message: `invalid request: model: no member of the ${router} router serves ${shown}; its members serve ${list}`
  })
}

/**
 * The names a member answers to (aliases and its own names), or `undefined` when it declares none.
 *
 * @internal
 */
export const servedBy = (table: Table | undefined, index: number): ReadonlyArray<string> | undefined => {
  const map = table?.declared[index]
  return map === undefined ? undefined : Array.from(map.keys())
}
