/**
 * The schemas a caller may give `Structured` and `Tool`: an Effect Schema, a Standard Schema v1 (zod, valibot,
 * arktype, …), or, where allowed, a plain JSON Schema. Each becomes a JSON Schema for the provider and a decoder
 * whose failure is one line of text.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { InvalidRequestError } from "../LlmError.js"

/** A JSON Schema object. */
export type JsonSchema = Record<string, unknown>

/**
 * The Standard Schema v1 interface (https://standardschema.dev), as far as it is used here: `validate`, the types,
 * and the optional Standard JSON Schema extension (`jsonSchema.input / output`).
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly "~standard": {
    readonly version: 1
    readonly vendor: string
    readonly validate: (
      value: unknown
    ) => StandardResult<Output> | Promise<StandardResult<Output>>
    readonly types?: { readonly input: Input; readonly output: Output } | undefined
    readonly jsonSchema?: {
      readonly input: (options: { readonly target: string }) => JsonSchema
      readonly output: (options: { readonly target: string }) => JsonSchema
    } | undefined
  }
}

/** The result of a Standard Schema's `validate`. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | {
    readonly issues: ReadonlyArray<{
      readonly message: string
      readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined
    }>
  }

/** What a caller may pass as a schema whose decoded type is `A`. */
export type SchemaLike<A> = Schema.Schema<A, any, never> | StandardSchemaV1<any, A>

/** A schema made ready: its JSON Schema, and a decoder of untrusted values whose failure is one line. */
export interface Adapted<A> {
  readonly jsonSchema: JsonSchema
  readonly decode: (input: unknown) => Effect.Effect<A, string>
  /** To JSON-ready output (an Effect Schema's encoded side; the value itself otherwise). */
  readonly encode: (value: A) => Effect.Effect<unknown, string>
}

export const isStandardSchema = (u: unknown): u is StandardSchemaV1 =>
  (typeof u === "object" || typeof u === "function") && u !== null && "~standard" in u &&
  typeof (u as StandardSchemaV1)["~standard"] === "object" &&
  typeof (u as StandardSchemaV1)["~standard"].validate === "function"

const isRecord = (u: unknown): u is JsonSchema => typeof u === "object" && u !== null && !Array.isArray(u)

const formatPath = (path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>): string => {
  let out = ""
  for (const segment of path) {
    const key = typeof segment === "object" && segment !== null ? segment.key : segment
    out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`
  }
  return out
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, " ")

/** A ParseError as `path: message; path: message`. */
export const formatParseError = (error: ParseResult.ParseError): string =>
  oneLine(
    ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => {
      const at = formatPath(issue.path)
      return at === "" ? issue.message : `${at}: ${issue.message}`
    }).join("; ")
  )

/**
 * Effect's JSON Schema of a schema with an `identifier` is a `$ref` into `$defs`: providers want the object itself
 * at the root, so the referenced definition is put there (the `$defs` stay, for the references inside it).
 */
const inlineRootRef = (schema: JsonSchema): JsonSchema => {
  const { $schema: _, ...rest } = schema
  const ref = rest.$ref
  if (typeof ref !== "string" || !ref.startsWith("#/$defs/") || !isRecord(rest.$defs)) return rest
  const name = ref.slice("#/$defs/".length)
  const def = rest.$defs[name]
  if (!isRecord(def)) return rest
  // The definitions stay: the one inlined may refer to itself, or others to it.
  const { $ref: __, ...withoutRef } = rest
  return { ...withoutRef, ...def }
}

const invalid = (provider: string, param: string, message: string) =>
  new InvalidRequestError({ provider, source: "client", param, message: `invalid request: ${param}: ${message}` })

const effectSchemaCache = new WeakMap<object, Adapted<any>>()

const fromEffectSchema = <A>(provider: string, param: string, schema: Schema.Schema<A, any, never>) => {
  const cached = effectSchemaCache.get(schema)
  if (cached !== undefined) return Either.right(cached as Adapted<A>)
  let jsonSchema: JsonSchema
  try {
    jsonSchema = inlineRootRef(JSONSchema.make(schema) as unknown as JsonSchema)
  } catch (error) {
    return Either.left(
      invalid(
        provider,
        param,
        `this Schema has no JSON Schema (${oneLine(error instanceof Error ? error.message : String(error))})`
      )
    )
  }
  // Compiled once per schema, and kept as long as the schema is.
  const decode = Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "ignore" })
  const encode = Schema.encode(schema)
  const adapted: Adapted<A> = {
    jsonSchema,
    decode: (input) => Effect.mapError(decode(input), formatParseError),
    encode: (value) => Effect.mapError(encode(value), formatParseError)
  }
  effectSchemaCache.set(schema, adapted)
  return Either.right(adapted)
}

const standardJsonSchema = (schema: StandardSchemaV1): JsonSchema | undefined => {
  const extension = schema["~standard"].jsonSchema
  if (extension === undefined || typeof extension.output !== "function") return undefined
  for (const target of ["draft-07", "draft-2020-12"]) {
    try {
      const out = extension.output({ target })
      if (isRecord(out)) return out
    } catch {
      // this target is not supported: try the next
    }
  }
  return undefined
}

const fromStandardSchema = <A>(
  provider: string,
  param: string,
  schema: StandardSchemaV1<any, A>,
  jsonSchema: JsonSchema | undefined
): Either.Either<Adapted<A>, InvalidRequestError> => {
  const json = jsonSchema ?? standardJsonSchema(schema)
  if (json === undefined) {
    return Either.left(
      invalid(
        provider,
        param,
        `this ${
          schema["~standard"].vendor
        } Standard Schema exposes no JSON Schema (~standard.jsonSchema): pass one beside it as jsonSchema`
      )
    )
  }
  const validate = schema["~standard"].validate
  const decode = (input: unknown): Effect.Effect<A, string> =>
    Effect.flatMap(
      Effect.promise(async () => validate(input)),
      (result) =>
        result.issues === undefined
          ? Effect.succeed(result.value)
          : Effect.fail(oneLine(
            result.issues.map((issue) => {
              const at = issue.path === undefined ? "" : formatPath(issue.path)
              return at === "" ? issue.message : `${at}: ${issue.message}`
            }).join("; ")
          ))
    )
  return Either.right({ jsonSchema: inlineRootRef(json), decode, encode: Effect.succeed })
}

/**
 * Adapts what the caller gave as `param`. `jsonSchema` overrides the JSON Schema of any kind of schema; a plain
 * JSON Schema object is accepted only when `allowPlain` (its values are then only checked to be JSON).
 */
export const adapt = <A>(
  provider: string,
  param: string,
  schema: unknown,
  options?: { readonly jsonSchema?: JsonSchema | undefined; readonly allowPlain?: boolean | undefined }
): Either.Either<Adapted<A>, InvalidRequestError> => {
  const override = options?.jsonSchema
  if (override !== undefined && !isRecord(override)) {
    return Either.left(invalid(provider, "jsonSchema", "expected a JSON Schema object"))
  }
  if (Schema.isSchema(schema)) {
    const adapted = fromEffectSchema(provider, param, schema as Schema.Schema<A, any, never>)
    return override === undefined
      ? adapted
      : Either.map(adapted, (a) => ({ ...a, jsonSchema: inlineRootRef(override) }))
  }
  if (isStandardSchema(schema)) return fromStandardSchema(provider, param, schema as StandardSchemaV1<any, A>, override)
  if (options?.allowPlain === true && isRecord(schema)) {
    return Either.right({
      jsonSchema: inlineRootRef(override ?? schema),
      decode: (input) => Effect.succeed(input as A),
      encode: Effect.succeed
    })
  }
  return Either.left(
    invalid(
      provider,
      param,
      options?.allowPlain === true
        ? "expected an Effect Schema, a Standard Schema or a JSON Schema object"
        : "expected an Effect Schema or a Standard Schema"
    )
  )
}
