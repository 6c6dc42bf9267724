/**
 * A typed tool: a name, a description, a Schema for its parameters (and optionally one for its result), and the
 * `Effect` that runs it. `Toolkit.make` gathers tools; `Toolkit.run` offers them to the model and runs the calls.
 *
 * @example
 * ```ts
 * import { Tool } from "@llm-api-router/core"
 * import { Effect, Schema } from "effect"
 *
 * const GetWeather = Tool.make("get_weather", {
 *   description: "Current weather in a city",
 *   parameters: Schema.Struct({ city: Schema.String }),
 *   success: Schema.Struct({ celsius: Schema.Number }),
 *   handler: ({ city }) => Effect.succeed({ celsius: city === "Oslo" ? -2 : 18 })
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { StandardSchemaV1 } from "./internal/schemaInput.js"

/**
 * An Effect Schema (without requirements) or a Standard Schema v1 decoding to `A`.
 *
 * @since 0.1.0
 * @category models
 */
export type SchemaLike<A> = Schema.Schema<A, any, never> | StandardSchemaV1<any, A>

/**
 * What a handler is told beside its arguments.
 *
 * @since 0.1.0
 * @category models
 */
export interface HandlerContext {
  readonly toolCallId: string
  readonly toolName: string
  /** The model call (1-based) whose answer asked for this call. */
  readonly step: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Tool<Name extends string, Params, Success, E, R> {
  readonly _tag: "Tool"
  readonly name: Name
  readonly description: string | undefined
  /** The parameters' Schema; `undefined` when only `jsonSchema` was given (arguments are then only JSON-parsed). */
  readonly parameters: SchemaLike<Params> | undefined
  /** The JSON Schema sent for the parameters, when given beside (or instead of) `parameters`. */
  readonly jsonSchema: Record<string, unknown> | undefined
  /** The result's Schema: an Effect Schema encodes the result to the JSON sent back. */
  readonly success: SchemaLike<Success> | undefined
  /** OpenAI's `strict` for the function, when set. */
  readonly strict: boolean | undefined
  readonly handler: (params: Params, context: HandlerContext) => Effect.Effect<Success, E, R>
}

/**
 * Any tool.
 *
 * @since 0.1.0
 * @category models
 */
export interface Any {
  readonly _tag: "Tool"
  readonly name: string
  readonly description: string | undefined
  // Not `SchemaLike<any>`: Schemas are invariant, and a tool whose handler never succeeds has a `never` result.
  readonly parameters: unknown
  readonly jsonSchema: Record<string, unknown> | undefined
  readonly success: unknown
  readonly strict: boolean | undefined
  readonly handler: (params: any, context: HandlerContext) => Effect.Effect<any, any, any>
}

/**
 * The requirements of a tool's handler.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Requirements<T> = T extends Tool<any, any, any, any, infer R> ? R : never

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<Params, Success, E, R> {
  readonly description?: string | undefined
  readonly parameters?: SchemaLike<Params> | undefined
  /**
   * The parameters' JSON Schema: needed beside a Standard Schema that exposes none; alone, it stands for the
   * parameters (the handler then gets the parsed JSON as it is).
   */
  readonly jsonSchema?: Record<string, unknown> | undefined
  readonly success?: SchemaLike<Success> | undefined
  readonly strict?: boolean | undefined
  readonly handler: (params: Params, context: HandlerContext) => Effect.Effect<Success, E, R>
}

/**
 * Makes a tool. The name is what the model calls (1 to 64 characters of a-z, A-Z, 0-9, _ and -; checked when a
 * toolkit runs). The handler's failures are the model's business by default (see `Toolkit.run`'s
 * `failureMode`); its defects are not caught.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const Name extends string, Params = unknown, Success = unknown, E = never, R = never>(
  name: Name,
  options: Options<Params, Success, E, R>
): Tool<Name, Params, Success, E, R> => ({
  _tag: "Tool",
  name,
  description: options.description,
  parameters: options.parameters,
  jsonSchema: options.jsonSchema,
  success: options.success,
  strict: options.strict,
  handler: options.handler
})

/**
 * A tool whose handler is an async function, as the Promise facade's `runTools` takes them: `parameters` is an
 * Effect Schema, a Standard Schema (with `jsonSchema` beside it unless it exposes one), or a plain JSON Schema
 * object (the arguments are then only JSON-parsed). A rejected promise is the handler's failure; `signal` aborts
 * when the run is interrupted.
 *
 * @since 0.1.0
 * @category models
 */
export interface AsyncOptions<Params> {
  readonly description?: string | undefined
  readonly parameters?: SchemaLike<Params> | Record<string, unknown> | undefined
  readonly jsonSchema?: Record<string, unknown> | undefined
  readonly strict?: boolean | undefined
  readonly run: (params: Params, context: HandlerContext & { readonly signal: AbortSignal }) => unknown
}

const isSchemaLike = (u: unknown): u is SchemaLike<unknown> =>
  Schema.isSchema(u) ||
  ((typeof u === "object" || typeof u === "function") && u !== null && "~standard" in u)

/**
 * Makes a tool from an async function (see {@link AsyncOptions}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeAsync = <const Name extends string, Params = unknown>(
  name: Name,
  options: AsyncOptions<Params>
): Tool<Name, Params, unknown, unknown, never> => {
  const parameters = options.parameters
  const schema = isSchemaLike(parameters) ? parameters as SchemaLike<Params> : undefined
  const jsonSchema = options.jsonSchema ??
    (schema === undefined ? parameters as Record<string, unknown> | undefined : undefined)
  return make(name, {
    description: options.description,
    parameters: schema,
    jsonSchema,
    strict: options.strict,
    handler: (params, context) =>
      Effect.tryPromise({
        try: async (signal) => options.run(params, { ...context, signal }),
        catch: (error) => error
      })
  })
}
