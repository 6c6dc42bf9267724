/**
 * Lowers a JSON Schema (what OpenAI-shaped tools and `response_format` carry) to the OpenAPI 3.0 subset that
 * Gemini's `parameters` and `responseSchema` accept. Keywords outside the subset (`$schema`, `additionalProperties`,
 * `strict`, `$ref`/`$defs`, `const`, type arrays, `oneOf`, …) make many models answer 400, so they are rewritten
 * where they have a meaning in the subset and dropped where they have none:
 *
 * - local `$ref`s (`#/$defs/…`, `#/definitions/…`) are inlined; a recursive one is cut to a bare `{type: "object"}`;
 * - `type: ["string", "null"]` → `type: "string", nullable: true`; several non-null types → `anyOf`;
 * - `const` → a one-value `enum`; `oneOf` → `anyOf`; `allOf` → its members merged;
 * - `enum` is kept only when it holds strings (Gemini's enums are strings), `null` in it becomes `nullable`;
 * - string `format`s other than `date-time` and `enum`, and an empty `properties`, are dropped.
 *
 * @internal
 */

type Json = Record<string, unknown>

const isRecord = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

/** Keywords copied as they are. */
const plain: ReadonlySet<string> = new Set([
  "title",
  "description",
  "nullable",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "default",
  "example",
  "propertyOrdering"
])

const stringFormats: ReadonlySet<string> = new Set(["date-time", "enum"])
const numberFormats: ReadonlySet<string> = new Set(["int32", "int64", "float", "double"])

const MAX_DEPTH = 32

interface Context {
  readonly root: Json
  /** `$ref`s being inlined on the current path: a repeat is a cycle. */
  readonly active: Set<string>
}

const resolveRef = (ref: string, root: Json): Json | undefined => {
  if (!ref.startsWith("#/")) return undefined
  let node: unknown = root
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~")
    if (!isRecord(node)) return undefined
    node = node[key]
  }
  return isRecord(node) ? node : undefined
}

const lowerNode = (schema: unknown, context: Context, depth: number): Json => {
  if (!isRecord(schema) || depth > MAX_DEPTH) return {}
  const ref = schema.$ref
  if (typeof ref === "string") {
    const target = resolveRef(ref, context.root)
    if (target === undefined || context.active.has(ref)) return { type: "object" }
    context.active.add(ref)
    // sibling keywords of a $ref (a description) are kept over the target's
    const { $ref: _, ...siblings } = schema
    const out = lowerNode({ ...target, ...siblings }, context, depth + 1)
    context.active.delete(ref)
    return out
  }
  if (Array.isArray(schema.allOf)) {
    const { allOf, ...rest } = schema
    let merged: Json = rest
    for (const member of allOf) {
      const lowered = lowerNode(member, context, depth + 1)
      merged = {
        ...merged,
        ...lowered,
        ...(isRecord(merged.properties) || isRecord(lowered.properties)
          ? { properties: { ...(merged.properties as Json | undefined), ...(lowered.properties as Json | undefined) } }
          : {}),
        ...(Array.isArray(merged.required) || Array.isArray(lowered.required)
          ? {
            required: [
              ...new Set([
                ...(merged.required as Array<unknown> | undefined ?? []),
                ...(lowered.required as Array<unknown> | undefined ?? [])
              ])
            ]
          }
          : {})
      }
    }
    return lowerNode(merged, context, depth + 1)
  }

  const out: Json = {}
  for (const key in schema) if (plain.has(key) && schema[key] !== undefined) out[key] = schema[key]

  const type = schema.type
  if (typeof type === "string") {
    out.type = type
  } else if (Array.isArray(type)) {
    const types = type.filter((t): t is string => typeof t === "string" && t !== "null")
    if (types.length < type.length) out.nullable = true
    if (types.length === 1) out.type = types[0]
    else if (types.length > 1) {
      out.anyOf = types.map((t) => lowerNode({ ...schema, type: t, nullable: undefined }, context, depth + 1))
      return out
    }
  }

  const values = Array.isArray(schema.enum) ? schema.enum : "const" in schema ? [schema.const] : undefined
  if (values !== undefined) {
    const strings = values.filter((v): v is string => typeof v === "string")
    if (values.includes(null)) out.nullable = true
    if (strings.length > 0 && strings.length === values.filter((v) => v !== null).length) {
      out.enum = strings
      if (out.type === undefined) out.type = "string"
    }
  }

  const format = schema.format
  if (typeof format === "string") {
    const kind = typeof out.type === "string" ? out.type.toLowerCase() : undefined
    if (
      (kind === "string" && stringFormats.has(format)) ||
      ((kind === "number" || kind === "integer") && numberFormats.has(format))
    ) out.format = format
  }

  if (isRecord(schema.properties)) {
    const properties: Json = {}
    let any = false
    for (const name in schema.properties) {
      properties[name] = lowerNode(schema.properties[name], context, depth + 1)
      any = true
    }
    if (any) {
      out.properties = properties
      if (Array.isArray(schema.required)) {
        const required = schema.required.filter((n): n is string => typeof n === "string" && n in properties)
        if (required.length > 0) out.required = required
      }
    }
  }
  if (schema.items !== undefined && !Array.isArray(schema.items)) {
    out.items = lowerNode(schema.items, context, depth + 1)
  }
  const alternatives = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : []
  if (alternatives.length > 0) {
    const kept: Array<Json> = []
    for (const alternative of alternatives) {
      if (isRecord(alternative) && alternative.type === "null") out.nullable = true
      else kept.push(lowerNode(alternative, context, depth + 1))
    }
    if (kept.length === 1 && out.type === undefined) Object.assign(out, kept[0])
    else if (kept.length > 0) out.anyOf = kept
  }
  return out
}

/** Lowers any JSON Schema to Gemini's subset (see the module comment). */
export const lower = (schema: Json): Json => lowerNode(schema, { root: schema, active: new Set() }, 0)

/**
 * The `parameters` of a function declaration, or `undefined` when the function takes nothing: Gemini rejects an
 * object schema with empty `properties`, and a declaration without `parameters` means "no arguments".
 */
export const parameters = (schema: Json | undefined): Json | undefined => {
  if (schema === undefined) return undefined
  const lowered = lower(schema)
  const type = typeof lowered.type === "string" ? lowered.type.toLowerCase() : undefined
  if ((type === "object" || type === undefined) && lowered.properties === undefined && lowered.anyOf === undefined) {
    return undefined
  }
  return lowered
}

/**
 * A JSON Schema for the `*JsonSchema` fields (`parametersJsonSchema`, `responseJsonSchema`), which take real JSON
 * Schema: only the keywords that are about the document, not the data (`$schema`, `strict`), are dropped.
 */
export const jsonSchema = (schema: Json): Json => {
  const { $schema: _schema, strict: _strict, ...rest } = schema
  return rest
}
