/**
 * A set of typed tools, and the loop that lets a model use them.
 *
 * `run` calls the model with the toolkit's tools, decodes each tool call's arguments by the tool's Schema, runs the
 * handlers (in parallel, up to `concurrency`), sends the results back as tool messages, and repeats until the
 * model answers without tools, `maxSteps` model calls have been made, or `stopWhen` says so. `stream` does the
 * same and emits each step's chunks and the tool events as they happen, for UIs.
 *
 * A step is one model call. When the last allowed call still asks for tools, they are not run and the run ends
 * with `stoppedBy: "max-steps"` (a success). With `failureMode: "return"` (the default), an unknown tool, arguments
 * that do not decode and a handler's failure go back to the model as that call's result, `{"error": "…"}`, so
 * that it can correct itself; with `"error"` they end the run with `ToolError`.
 *
 * @example
 * ```ts
 * import { Tool, Toolkit } from "@llm-api-router/core"
 * import { Effect, Schema } from "effect"
 *
 * const GetWeather = Tool.make("get_weather", {
 *   description: "Current weather in a city",
 *   parameters: Schema.Struct({ city: Schema.String }),
 *   handler: ({ city }) => Effect.succeed({ city, celsius: 18 })
 * })
 * const program = Toolkit.run({
 *   toolkit: Toolkit.make(GetWeather),
 *   messages: [{ role: "user", content: "Weather in Paris?" }],
 *   maxSteps: 5
 * })
 * // Effect<Toolkit.RunResult, LlmError, LlmProvider>
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as ChatStream from "./ChatStream.js"
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatMessage,
  FunctionTool,
  ToolCall,
  Usage
} from "./Domain.js"
import * as SchemaInput from "./internal/schemaInput.js"
import * as UsageSum from "./internal/usage.js"
import * as Json from "./Json.js"
import { InvalidRequestError, type LlmError, ToolError } from "./LlmError.js"
import * as LlmProvider from "./LlmProvider.js"
import type * as Tool from "./Tool.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Toolkit<Tools extends ReadonlyArray<Tool.Any> = ReadonlyArray<Tool.Any>> {
  readonly _tag: "Toolkit"
  readonly tools: Tools
}

/**
 * Gathers tools. Their names must differ (checked when the toolkit runs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const Tools extends ReadonlyArray<Tool.Any>>(...tools: Tools): Toolkit<Tools> => ({
  _tag: "Toolkit",
  tools
})

/**
 * The result sent back for one tool call: the handler's value (encoded by the tool's success Schema), or why the
 * call failed (`reason` as in `ToolError`).
 *
 * @since 0.1.0
 * @category models
 */
export type ToolResult =
  | { readonly _tag: "ToolResult"; readonly id: string; readonly name: string; readonly result: unknown }
  | {
    readonly _tag: "ToolFailure"
    readonly id: string
    readonly name: string
    readonly message: string
    readonly reason: ToolError["reason"]
  }

/**
 * One model call and what came of it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Step {
  readonly completion: ChatCompletion
  readonly toolCalls: ReadonlyArray<ToolCall>
  /** In the order of `toolCalls`; empty when the tools were not run (an answer, or the last allowed step). */
  readonly toolResults: ReadonlyArray<ToolResult>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RunResult {
  /** The last model call's completion. */
  readonly completion: ChatCompletion
  /** Every message: the request's, then each assistant turn and its tool results, the last answer included. */
  readonly messages: ReadonlyArray<ChatMessage>
  readonly steps: ReadonlyArray<Step>
  /** Summed over the steps; `undefined` when no call reported usage. */
  readonly usage: Usage | undefined
  readonly stoppedBy: "answer" | "max-steps" | "stop-when"
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RunOptions<Tools extends ReadonlyArray<Tool.Any>> extends Omit<ChatCompletionRequest, "tools"> {
  readonly toolkit: Toolkit<Tools>
  /** The most model calls to make (default 10). */
  readonly maxSteps?: number | undefined
  /** Asked after each step that ran tools; `true` ends the run there. */
  readonly stopWhen?: ((step: Step, steps: ReadonlyArray<Step>) => boolean) | undefined
  /** How many calls of one step run at once (default: all). */
  readonly concurrency?: number | "unbounded" | undefined
  /** Default `"return"`: failures go back to the model; `"error"`: they end the run with `ToolError`. */
  readonly failureMode?: "return" | "error" | undefined
}

/**
 * An event of `stream`.
 *
 * @since 0.1.0
 * @category models
 */
export type Event =
  | { readonly _tag: "Chunk"; readonly chunk: ChatCompletionChunk }
  | { readonly _tag: "ToolCall"; readonly id: string; readonly name: string; readonly arguments: unknown }
  | ToolResult
  | { readonly _tag: "Finish"; readonly run: RunResult }

// ---------------------------------------------------------------------------------------------
// preparing the toolkit
// ---------------------------------------------------------------------------------------------

interface Prepared {
  readonly tool: Tool.Any
  readonly parameters: SchemaInput.Adapted<unknown>
  readonly success: SchemaInput.Adapted<unknown> | undefined
  readonly definition: FunctionTool
}

const NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/

const invalid = (provider: string, param: string, message: string) =>
  new InvalidRequestError({ provider, source: "client", param, message: `invalid request: ${param}: ${message}` })

const passThrough: SchemaInput.Adapted<unknown> = {
  jsonSchema: { type: "object", properties: {} },
  decode: Effect.succeed,
  encode: Effect.succeed
}

// Prepared once per toolkit (JSON Schemas made, decoders compiled), then reused by every run.
const preparedCache = new WeakMap<Toolkit<any>, ReadonlyMap<string, Prepared>>()

const prepare = (provider: string, toolkit: Toolkit<any>): Either.Either<ReadonlyMap<string, Prepared>, LlmError> => {
  const cached = preparedCache.get(toolkit)
  if (cached !== undefined) return Either.right(cached)
  if (typeof toolkit !== "object" || toolkit === null || !Array.isArray(toolkit.tools)) {
    return Either.left(invalid(provider, "toolkit", "expected a Toolkit (Toolkit.make(...tools))"))
  }
  const out = new Map<string, Prepared>()
  for (const [i, tool] of (toolkit.tools as ReadonlyArray<Tool.Any>).entries()) {
    const at = `toolkit.tools[${i}]`
    if (typeof tool !== "object" || tool === null || typeof tool.handler !== "function") {
      return Either.left(invalid(provider, at, "expected a Tool (Tool.make(name, { handler, … }))"))
    }
    if (typeof tool.name !== "string" || !NAME_PATTERN.test(tool.name)) {
      return Either.left(
        invalid(provider, `${at}.name`, "a tool name is 1 to 64 characters of a-z, A-Z, 0-9, _ and -")
      )
    }
    if (out.has(tool.name)) return Either.left(invalid(provider, `${at}.name`, `two tools are named "${tool.name}"`))
    let parameters = passThrough
    if (tool.parameters !== undefined) {
      const adapted = SchemaInput.adapt<unknown>(provider, `${at}.parameters`, tool.parameters, {
        jsonSchema: tool.jsonSchema
      })
      if (Either.isLeft(adapted)) return Either.left(adapted.left)
      parameters = adapted.right
    } else if (tool.jsonSchema !== undefined) {
      parameters = { ...passThrough, jsonSchema: tool.jsonSchema }
    }
    if (parameters.jsonSchema.type !== "object") {
      return Either.left(invalid(provider, `${at}.parameters`, "a tool's parameters must be an object schema"))
    }
    let success: SchemaInput.Adapted<unknown> | undefined = undefined
    if (tool.success !== undefined) {
      // Only the encoder is used: a Standard Schema without a JSON Schema is fine here.
      const adapted = SchemaInput.adapt<unknown>(provider, `${at}.success`, tool.success, { jsonSchema: {} })
      if (Either.isLeft(adapted)) return Either.left(adapted.left)
      success = adapted.right
    }
    out.set(tool.name, {
      tool,
      parameters,
      success,
      definition: {
        type: "function",
        function: {
          name: tool.name,
          ...(tool.description !== undefined ? { description: tool.description } : {}),
          parameters: parameters.jsonSchema,
          ...(tool.strict !== undefined ? { strict: tool.strict } : {})
        }
      }
    })
  }
  preparedCache.set(toolkit, out)
  return Either.right(out)
}

// ---------------------------------------------------------------------------------------------
// running one step's calls
// ---------------------------------------------------------------------------------------------

interface Settings {
  readonly provider: string
  readonly model: string | undefined
  readonly tools: ReadonlyMap<string, Prepared>
  readonly definitions: ReadonlyArray<FunctionTool>
  readonly maxSteps: number
  readonly concurrency: number | "unbounded"
  readonly failureMode: "return" | "error"
  readonly stopWhen: ((step: Step, steps: ReadonlyArray<Step>) => boolean) | undefined
  readonly request: Omit<ChatCompletionRequest, "messages">
}

const describe = (error: unknown): string => {
  if (typeof error === "string") return error
  if (error instanceof Error) return error.message
  if (typeof error === "object" && error !== null) {
    const message = (error as { readonly message?: unknown }).message
    if (typeof message === "string") return message
    const tag = (error as { readonly _tag?: unknown })._tag
    if (typeof tag === "string") return tag
  }
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}

interface CallOutcome {
  readonly event: ToolResult
  /** The tool message's content. */
  readonly content: string
  /** The decoded arguments, for the ToolCall event (the raw text when they did not decode). */
  readonly arguments: unknown
}

const runCall = (
  settings: Settings,
  step: number,
  call: ToolCall
): Effect.Effect<CallOutcome, ToolError, any> => {
  const { id } = call
  const name = call.function.name
  const fail = (reason: ToolError["reason"], message: string, args: unknown, cause?: unknown) =>
    settings.failureMode === "error"
      ? Effect.fail(
        new ToolError({
          provider: settings.provider,
          ...(settings.model !== undefined ? { model: settings.model } : {}),
          message: `tool ${JSON.stringify(name)} (call ${id}): ${message}`,
          toolName: name,
          toolCallId: id,
          reason,
          ...(cause !== undefined ? { cause } : {})
        })
      )
      : Effect.succeed<CallOutcome>({
        event: { _tag: "ToolFailure", id, name, message, reason },
        content: JSON.stringify({ error: message }),
        arguments: args
      })
  const prepared = settings.tools.get(name)
  if (prepared === undefined) {
    return fail(
      "UnknownTool",
      `there is no tool named ${JSON.stringify(name)}; the tools are: ${[...settings.tools.keys()].join(", ")}`,
      call.function.arguments
    )
  }
  const text = call.function.arguments.trim() === "" ? "{}" : call.function.arguments
  const parsed = Json.parse(text)
  if (Either.isLeft(parsed)) {
    const issue = parsed.left === "not JSON"
      ? `the arguments are not JSON: ${Json.syntaxError(text)}`
      : `the arguments are ${Json.describe(parsed.left)}`
    return fail("InvalidArguments", issue, call.function.arguments)
  }
  const json = parsed.right
  return Effect.flatMap(Effect.either(prepared.parameters.decode(json)), (decoded) => {
    if (Either.isLeft(decoded)) return fail("InvalidArguments", `invalid arguments: ${decoded.left}`, json)
    const args = decoded.right
    return Effect.flatMap(
      Effect.either(
        prepared.tool.handler(args, { toolCallId: id, toolName: name, step }) as Effect.Effect<unknown, unknown, any>
      ),
      (handled) => {
        if (Either.isLeft(handled)) return fail("HandlerFailed", describe(handled.left), args, handled.left)
        const encode = prepared.success === undefined
          ? Effect.succeed(handled.right)
          : prepared.success.encode(handled.right)
        return Effect.flatMap(Effect.either(encode), (encoded) => {
          if (Either.isLeft(encoded)) {
            return fail("InvalidResult", `the result does not match its schema: ${encoded.left}`, args)
          }
          const result = encoded.right
          return Effect.succeed<CallOutcome>({
            event: { _tag: "ToolResult", id, name, result },
            content: typeof result === "string" ? result : JSON.stringify(result ?? null),
            arguments: args
          })
        })
      }
    )
  })
}

// ---------------------------------------------------------------------------------------------
// the loop's state
// ---------------------------------------------------------------------------------------------

interface State {
  readonly messages: Array<ChatMessage>
  readonly steps: Array<Step>
  usage: Usage | undefined
}

const settingsOf = <Tools extends ReadonlyArray<Tool.Any>>(
  info: LlmProvider.ProviderInfo,
  options: RunOptions<Tools>
): Either.Either<{ readonly settings: Settings; readonly messages: ReadonlyArray<ChatMessage> }, LlmError> => {
  if (typeof options !== "object" || options === null) {
    return Either.left(invalid(info.name, "toolkit", "expected the options of a tool run"))
  }
  const { concurrency, failureMode, maxSteps, messages, stopWhen, toolkit, ...request } = options
  const provider = info.name
  const steps = maxSteps ?? 10
  if (!Number.isInteger(steps) || steps < 1) {
    return Either.left(invalid(provider, "maxSteps", `expected a whole number of at least 1, got ${String(maxSteps)}`))
  }
  const parallel = concurrency ?? "unbounded"
  if (parallel !== "unbounded" && (!Number.isInteger(parallel) || parallel < 1)) {
    return Either.left(
      invalid(
        provider,
        "concurrency",
        `expected a whole number of at least 1 or "unbounded", got ${String(concurrency)}`
      )
    )
  }
  const mode = failureMode ?? "return"
  if (mode !== "return" && mode !== "error") {
    return Either.left(invalid(provider, "failureMode", `expected "return" or "error", got ${String(failureMode)}`))
  }
  if (stopWhen !== undefined && typeof stopWhen !== "function") {
    return Either.left(invalid(provider, "stopWhen", "expected a function"))
  }
  if ((request as { readonly tools?: unknown }).tools !== undefined) {
    return Either.left(invalid(provider, "tools", "the tools of a run are its toolkit's; do not pass tools beside it"))
  }
  return Either.map(prepare(provider, toolkit), (tools) => ({
    settings: {
      provider,
      model: request.model ?? info.defaultModel,
      tools,
      definitions: [...tools.values()].map((p) => p.definition),
      maxSteps: steps,
      concurrency: parallel,
      failureMode: mode,
      stopWhen,
      request
    },
    messages: Array.isArray(messages) ? messages : []
  }))
}

const requestOf = (settings: Settings, state: State): ChatCompletionRequest => ({
  ...settings.request,
  messages: state.messages,
  // An empty toolkit sends no `tools` (some providers refuse an empty list).
  ...(settings.definitions.length > 0 ? { tools: settings.definitions } : {})
})

/** The assistant turn as it goes back to the model: the message as it came, provider-specific fields included. */
const assistantTurn = (completion: ChatCompletion): ChatMessage => {
  const message = completion.choices[0]?.message
  return message === undefined ? { role: "assistant", content: "" } : { ...message }
}

type Decision =
  | { readonly _tag: "Done"; readonly stoppedBy: RunResult["stoppedBy"] }
  | { readonly _tag: "Run"; readonly calls: ReadonlyArray<ToolCall> }

/** Records a model call and says whether its tools are to run. */
const recordCompletion = (settings: Settings, state: State, completion: ChatCompletion): Decision => {
  state.usage = UsageSum.add(state.usage, completion.usage)
  state.messages.push(assistantTurn(completion))
  const calls = completion.choices[0]?.message.tool_calls ?? []
  if (calls.length === 0 || state.steps.length + 1 >= settings.maxSteps) {
    state.steps.push({ completion, toolCalls: calls, toolResults: [] })
    return { _tag: "Done", stoppedBy: calls.length === 0 ? "answer" : "max-steps" }
  }
  return { _tag: "Run", calls }
}

/** Records the results of a step's calls and says whether to go on. */
const recordResults = (
  settings: Settings,
  state: State,
  completion: ChatCompletion,
  calls: ReadonlyArray<ToolCall>,
  outcomes: ReadonlyArray<CallOutcome>
): boolean => {
  for (const outcome of outcomes) {
    state.messages.push({
      role: "tool",
      tool_call_id: outcome.event.id,
      content: outcome.content,
      ...(outcome.event._tag === "ToolFailure" ? { is_error: true } : {})
    })
  }
  const step: Step = { completion, toolCalls: calls, toolResults: outcomes.map((o) => o.event) }
  state.steps.push(step)
  return settings.stopWhen === undefined || !settings.stopWhen(step, state.steps)
}

const resultOf = (state: State, stoppedBy: RunResult["stoppedBy"]): RunResult => ({
  completion: state.steps[state.steps.length - 1]!.completion,
  messages: state.messages,
  steps: state.steps,
  usage: state.usage,
  stoppedBy
})

const runCalls = (settings: Settings, state: State, calls: ReadonlyArray<ToolCall>) =>
  Effect.forEach(calls, (call) => runCall(settings, state.steps.length + 1, call), {
    concurrency: settings.concurrency
  })

// ---------------------------------------------------------------------------------------------
// run and stream
// ---------------------------------------------------------------------------------------------

/**
 * Runs the tool loop on the provider in context (see the module's description). Fails with the provider's
 * errors, with `InvalidRequestError` for bad options or tools (before any I/O), and with `ToolError` under
 * `failureMode: "error"`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = <Tools extends ReadonlyArray<Tool.Any>>(
  options: RunOptions<Tools>
): Effect.Effect<RunResult, LlmError, LlmProvider.LlmProvider | Tool.Requirements<Tools[number]>> =>
  Effect.gen(function*() {
    const provider = yield* LlmProvider.LlmProvider
    const { messages, settings } = yield* settingsOf(provider.info, options)
    const state: State = { messages: [...messages], steps: [], usage: undefined }
    while (true) {
      const completion = yield* provider.chat(requestOf(settings, state))
      const decision = recordCompletion(settings, state, completion)
      if (decision._tag === "Done") return resultOf(state, decision.stoppedBy)
      const outcomes = yield* runCalls(settings, state, decision.calls)
      if (!recordResults(settings, state, completion, decision.calls, outcomes)) return resultOf(state, "stop-when")
    }
  })

const streamStep = (
  provider: LlmProvider.Service,
  settings: Settings,
  state: State
): Stream.Stream<Event, LlmError, any> =>
  Stream.suspend(() => {
    const accumulator = ChatStream.makeAccumulator()
    const chunks = Stream.map(provider.stream(requestOf(settings, state)), (chunk): Event => {
      accumulator.push(chunk)
      return { _tag: "Chunk", chunk }
    })
    const after: Stream.Stream<Event, LlmError, any> = Stream.unwrap(Effect.suspend(() => {
      const completion = accumulator.result()
      const decision = recordCompletion(settings, state, completion)
      if (decision._tag === "Done") {
        return Effect.succeed(Stream.succeed<Event>({ _tag: "Finish", run: resultOf(state, decision.stoppedBy) }))
      }
      return Effect.map(runCalls(settings, state, decision.calls), (outcomes) => {
        const events: Array<Event> = []
        for (const outcome of outcomes) {
          events.push({
            _tag: "ToolCall",
            id: outcome.event.id,
            name: outcome.event.name,
            arguments: outcome.arguments
          })
        }
        for (const outcome of outcomes) events.push(outcome.event)
        const goOn = recordResults(settings, state, completion, decision.calls, outcomes)
        const tail: Stream.Stream<Event, LlmError, any> = goOn
          ? streamStep(provider, settings, state)
          : Stream.succeed<Event>({ _tag: "Finish", run: resultOf(state, "stop-when") })
        return Stream.concat(Stream.fromIterable(events), tail)
      })
    }))
    return Stream.concat(chunks, after)
  })

/**
 * The tool loop as a stream, for UIs: each step's chunks; then, for a step that ran tools, a `ToolCall` event per
 * call (its decoded arguments) and a `ToolResult` or `ToolFailure` per call, in the order of the calls, once they
 * have run; and `Finish` with the whole run last.
 *
 * @since 0.1.0
 * @category constructors
 */
export const stream = <Tools extends ReadonlyArray<Tool.Any>>(
  options: RunOptions<Tools>
): Stream.Stream<Event, LlmError, LlmProvider.LlmProvider | Tool.Requirements<Tools[number]>> =>
  Stream.unwrap(Effect.gen(function*() {
    const provider = yield* LlmProvider.LlmProvider
    const { messages, settings } = yield* settingsOf(provider.info, options)
    const state: State = { messages: [...messages], steps: [], usage: undefined }
    return streamStep(provider, settings, state)
  }))
