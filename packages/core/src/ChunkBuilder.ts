/**
 * The one implementation of the stream contract (DESIGN §5). A protocol's stream decoder reads its wire events and
 * tells a builder what they say (a text delta, a reasoning delta, a tool call starting, an arguments fragment, a
 * finish reason, usage, a field of the provider's own); the builder turns that into `ChatCompletionChunk`s that
 * follow the contract whichever provider is speaking:
 *
 * - the first chunk of each choice carries `delta.role`, and only that one;
 * - tool calls are numbered densely from 0 per choice, in order of appearance: the first piece of a call carries
 *   `index`, `id`, `type` and `function.name`, the next ones `index` and `arguments` fragments;
 * - exactly one chunk per choice carries a `finish_reason`, with `ChunkContract.finishReason`'s rule (`tool_calls`
 *   wins over `stop` only; a call cut by the token limit stays `length`); a finish repeated by the provider
 *   (OpenRouter repeats it on its usage chunk) goes out once;
 * - usage goes out last, on a chunk of its own with `choices: []`, whichever wire event carried it;
 * - a stream whose bytes end before it is complete is a `NetworkError`: a truncated answer never passes for a
 *   whole one.
 *
 * Events are method calls on one mutable object per stream, so feeding one allocates nothing beyond the chunk it
 * ends up in. What the events of one wire item say goes out as one chunk, at {@link ChunkBuilder.flush}.
 *
 * @example
 * import { type ChatCompletionChunk, ChunkBuilder } from "@llm-api-router/core"
 *
 * const builder = ChunkBuilder.make({ provider: "acme", model: "m", created: 0, id: "msg_1", endMarker: "done" })
 * const out: Array<ChatCompletionChunk> = []
 * builder.text(0, "Hel")
 * builder.flush(out) // one chunk: role and "Hel"
 * builder.text(0, "lo")
 * builder.finish(0, "stop")
 * builder.usage({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 })
 * builder.flush(out) // one chunk: "lo" and the finish reason
 * builder.end(out) // the usage chunk, or the error of a cut stream
 *
 * @since 0.2.0
 */
import * as ChunkContract from "./ChunkContract.js"
import type { ChatCompletionChunk, ChatCompletionChunkChoice, FinishReason, ToolCallDelta, Usage } from "./Domain.js"
import { generateId } from "./internal/ids.js"
import { NetworkError } from "./LlmError.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  readonly provider: string
  /** The model asked for; {@link ChunkBuilder.setModel} replaces it with the one the provider names. */
  readonly model: string
  /** `created` (Unix seconds) of every chunk, until {@link ChunkBuilder.setCreated} gives the provider's own. */
  readonly created: number
  /** The id of every chunk when the provider sends none; a generated one when absent. */
  readonly id?: string | undefined
  /**
   * What a complete stream of this protocol reaches, named in the error of a stream that ends without it:
   * `"finish_reason"`, `"message_stop"`.
   */
  readonly endMarker: string
}

/**
 * One stream's builder. Choices are named by their index; a choice exists from the first event that names it.
 *
 * @since 0.2.0
 * @category models
 */
export interface ChunkBuilder {
  readonly provider: string
  /** The model named on the chunks: the provider's, once it said one. */
  readonly model: string
  /** Whether the stream's id is settled: the provider gave one, or a chunk went out with the fallback. */
  readonly hasId: boolean
  /** Sets the stream's id from the provider, unless one is settled already; an empty id is ignored. */
  readonly setId: (id: string | null | undefined) => void
  /** The model the provider says it used; an empty one is ignored. */
  readonly setModel: (model: string | null | undefined) => void
  /** The provider's `created` (Unix seconds); `0` or none is ignored. */
  readonly setCreated: (seconds: number | null | undefined) => void
  /** The choice exists: its role goes out with the next chunk even when nothing else does. */
  readonly open: (choice: number) => void
  /** A content delta; `""` says nothing. */
  readonly text: (choice: number, text: string) => void
  /** A reasoning delta (`delta.reasoning_content`); `""` says nothing. */
  readonly reasoning: (choice: number, text: string) => void
  /** A refusal delta; `""` says nothing. */
  readonly refusal: (choice: number, text: string) => void
  /**
   * A field of the provider's own on the delta (DESIGN §4.7: Anthropic's signed `thinking_blocks`, …). One value
   * per key and chunk: the decoder flushes between two.
   */
  readonly field: (choice: number, key: string, value: unknown) => void
  /**
   * A tool call starts: it takes the next index of its choice, and goes out with its `id` (a generated one when
   * empty), its name when known, and `args` (maybe `""`; a whole call sends all its arguments here). `wireIndex`
   * and `wireId` are the keys later pieces of the call may name it by ({@link findToolCall}); `extra` holds fields
   * of the provider's own that travel on the call. Returns the call's index.
   */
  readonly startToolCall: (
    choice: number,
    id: string | null | undefined,
    name: string | null | undefined,
    args: string,
    wireIndex?: number | undefined,
    wireId?: string | undefined,
    extra?: Readonly<Record<string, unknown>> | undefined
  ) => number
  /**
   * More of a started call: an arguments fragment, and its name if it was not sent yet (some servers name a call
   * after its first piece). `wireId` becomes a key of the call. A piece that adds nothing goes nowhere.
   */
  readonly toolCallDelta: (
    choice: number,
    call: number,
    args: string,
    name?: string | null | undefined,
    wireId?: string | undefined
  ) => void
  /**
   * The index of the call a wire piece continues, or `-1` when it starts a new one: by its wire index, else by its
   * id; a piece with neither continues the latest call of its choice, unless it has a name (a new call).
   */
  readonly findToolCall: (
    choice: number,
    wireIndex: number | undefined,
    wireId: string | undefined,
    name: string | undefined
  ) => number
  /**
   * An OpenAI-style tool-call piece, keyed by its wire index or id: {@link findToolCall}, then
   * {@link startToolCall} or {@link toolCallDelta}. Returns the call's index.
   */
  readonly toolCall: (
    choice: number,
    wireIndex: number | undefined,
    wireId: string | undefined,
    name: string | undefined,
    args: string
  ) => number
  /** How many tool calls the choice has started. */
  readonly toolCalls: (choice: number) => number
  /**
   * The choice's finish reason, as the provider gave it (mapped to ours); the contract's rule for tool calls is
   * applied here. Only the first one counts: a repeat is dropped.
   */
  readonly finish: (choice: number, reason: FinishReason) => void
  /** Whether the choice's finish reason was given. */
  readonly finished: (choice: number) => boolean
  /** The usage so far (a later report replaces an earlier one): it goes out last, at {@link end}. */
  readonly usage: (usage: Usage) => void
  /**
   * The protocol's end marker came (an SSE `[DONE]`): the stream is complete, and a choice that gave no finish
   * reason gets `stop` (with the rule for tool calls) at {@link end}.
   */
  readonly markDone: () => void
  /** Whether the stream is complete: its end marker came, or every choice it opened gave its finish reason. */
  readonly complete: boolean
  /** Appends the chunk of what was said since the last flush, if anything was: one chunk, each choice once. */
  readonly flush: (out: Array<ChatCompletionChunk>) => void
  /**
   * The bytes ended: appends what is pending and the usage chunk, or returns the `NetworkError` of a stream cut
   * before it was complete (after appending what is pending).
   */
  readonly end: (out: Array<ChatCompletionChunk>) => NetworkError | undefined
}

/** A delta being built: ours, plus the provider's own fields. */
interface Delta {
  role?: "assistant"
  content?: string
  refusal?: string
  reasoning_content?: string
  tool_calls?: Array<ToolCallDelta>
  [key: string]: unknown
}

interface Choice {
  readonly index: number
  roleSent: boolean
  /** in the pending list of the next flush */
  pending: boolean
  delta: Delta | undefined
  finish: FinishReason | null
  finished: boolean
  /** tool calls started */
  calls: number
  /** per call: whether its name went out */
  readonly named: Array<boolean>
  lastCall: number
  byWireIndex: Map<number, number> | undefined
  byWireId: Map<string, number> | undefined
}

const newChoice = (index: number): Choice => ({
  index,
  roleSent: false,
  pending: false,
  delta: undefined,
  finish: null,
  finished: false,
  calls: 0,
  named: [],
  lastCall: -1,
  byWireIndex: undefined,
  byWireId: undefined
})

const nonEmpty = (s: string | null | undefined): s is string => s !== undefined && s !== null && s !== ""

class Builder implements ChunkBuilder {
  readonly provider: string
  model: string
  hasId: boolean
  private id: string
  private created: number
  private readonly endMarker: string
  private readonly choices = new Map<number, Choice>()
  private last: Choice | undefined = undefined
  private readonly pending: Array<Choice> = []
  private finishes = 0
  private done = false
  private usageValue: Usage | undefined = undefined

  constructor(options: Options) {
    this.provider = options.provider
    this.model = options.model
    this.created = options.created
    this.id = options.id ?? ""
    this.hasId = false
    this.endMarker = options.endMarker
  }

  get complete(): boolean {
    return this.done || (this.finishes > 0 && this.finishes === this.choices.size)
  }

  setId(id: string | null | undefined): void {
    if (!this.hasId && nonEmpty(id)) {
      this.id = id
      this.hasId = true
    }
  }

  setModel(model: string | null | undefined): void {
    if (nonEmpty(model)) this.model = model
  }

  setCreated(seconds: number | null | undefined): void {
    if (seconds !== undefined && seconds !== null && seconds !== 0) this.created = seconds
  }

  private choice(index: number): Choice {
    const last = this.last
    if (last !== undefined && last.index === index) return last
    let state = this.choices.get(index)
    if (state === undefined) {
      state = newChoice(index)
      this.choices.set(index, state)
    }
    this.last = state
    return state
  }

  /** The choice, in the next flush; its role goes first in its delta. */
  private touch(index: number): Choice {
    const state = this.choice(index)
    if (!state.pending) {
      state.pending = true
      this.pending.push(state)
      if (!state.roleSent) {
        state.roleSent = true
        state.delta = { role: "assistant" }
      }
    }
    return state
  }

  private delta(index: number): Delta {
    const state = this.touch(index)
    return state.delta ??= {}
  }

  open(choice: number): void {
    this.touch(choice)
  }

  text(choice: number, text: string): void {
    if (text === "") return
    const delta = this.delta(choice)
    delta.content = delta.content === undefined ? text : delta.content + text
  }

  reasoning(choice: number, text: string): void {
    if (text === "") return
    const delta = this.delta(choice)
    delta.reasoning_content = delta.reasoning_content === undefined ? text : delta.reasoning_content + text
  }

  refusal(choice: number, text: string): void {
    if (text === "") return
    const delta = this.delta(choice)
    delta.refusal = delta.refusal === undefined ? text : delta.refusal + text
  }

  field(choice: number, key: string, value: unknown): void {
    this.delta(choice)[key] = value
  }

  startToolCall(
    choice: number,
    id: string | null | undefined,
    name: string | null | undefined,
    args: string,
    wireIndex?: number | undefined,
    wireId?: string | undefined,
    extra?: Readonly<Record<string, unknown>> | undefined
  ): number {
    const state = this.touch(choice)
    const ours = state.calls++
    const named = nonEmpty(name)
    state.named.push(named)
    state.lastCall = ours
    if (wireIndex !== undefined) (state.byWireIndex ??= new Map()).set(wireIndex, ours)
    if (wireId !== undefined) (state.byWireId ??= new Map()).set(wireId, ours)
    const fn: { name?: string; arguments: string } = named ? { name, arguments: args } : { arguments: args }
    const call: { -readonly [K in keyof ToolCallDelta]: ToolCallDelta[K] } & Record<string, unknown> = {
      index: ours,
      id: nonEmpty(id) ? id : generateId("call_"),
      type: "function",
      function: fn
    }
    if (extra !== undefined) {
      for (const key in extra) call[key] = extra[key]
    }
    const delta = state.delta ??= {}
    ;(delta.tool_calls ??= []).push(call)
    return ours
  }

  toolCallDelta(
    choice: number,
    call: number,
    args: string,
    name?: string | null | undefined,
    wireId?: string | undefined
  ): void {
    const state = this.choice(choice)
    if (call < 0 || call >= state.calls) return
    if (wireId !== undefined) (state.byWireId ??= new Map()).set(wireId, call)
    state.lastCall = call
    const lateName = !state.named[call] && nonEmpty(name) ? name : undefined
    if (lateName !== undefined) state.named[call] = true
    if (args === "" && lateName === undefined) return
    const delta = this.delta(choice)
    ;(delta.tool_calls ??= []).push({
      index: call,
      function: lateName !== undefined ? { name: lateName, arguments: args } : { arguments: args }
    })
  }

  findToolCall(
    choice: number,
    wireIndex: number | undefined,
    wireId: string | undefined,
    name: string | undefined
  ): number {
    const state = this.choice(choice)
    if (wireIndex !== undefined) {
      const ours = state.byWireIndex?.get(wireIndex)
      if (ours !== undefined) return ours
    }
    if (wireId !== undefined) {
      const ours = state.byWireId?.get(wireId)
      if (ours !== undefined) return ours
    }
    return wireIndex === undefined && wireId === undefined && !nonEmpty(name) ? state.lastCall : -1
  }

  toolCall(
    choice: number,
    wireIndex: number | undefined,
    wireId: string | undefined,
    name: string | undefined,
    args: string
  ): number {
    const ours = this.findToolCall(choice, wireIndex, wireId, name)
    if (ours < 0) return this.startToolCall(choice, wireId, name, args, wireIndex, wireId)
    this.toolCallDelta(choice, ours, args, name, wireId)
    return ours
  }

  toolCalls(choice: number): number {
    return this.choices.get(choice)?.calls ?? 0
  }

  finish(choice: number, reason: FinishReason): void {
    const state = this.choice(choice)
    if (state.finished) return
    this.touch(choice)
    state.finished = true
    state.finish = ChunkContract.finishReason(reason, state.calls > 0)
    this.finishes++
  }

  finished(choice: number): boolean {
    return this.choices.get(choice)?.finished ?? false
  }

  usage(usage: Usage): void {
    this.usageValue = usage
  }

  markDone(): void {
    this.done = true
  }

  private chunk(choices: ReadonlyArray<ChatCompletionChunkChoice>, usage?: Usage): ChatCompletionChunk {
    if (!this.hasId) {
      if (this.id === "") this.id = generateId("chatcmpl-")
      this.hasId = true
    }
    return usage === undefined
      ? {
        id: this.id,
        object: "chat.completion.chunk",
        created: this.created,
        model: this.model,
        choices,
        provider: this.provider
      }
      : {
        id: this.id,
        object: "chat.completion.chunk",
        created: this.created,
        model: this.model,
        choices,
        usage,
        provider: this.provider
      }
  }

  flush(out: Array<ChatCompletionChunk>): void {
    const pending = this.pending
    const n = pending.length
    if (n === 0) return
    let choices: Array<ChatCompletionChunkChoice> | undefined = undefined
    for (let i = 0; i < n; i++) {
      const state = pending[i]!
      const delta = state.delta
      const finish = state.finish
      state.pending = false
      state.delta = undefined
      state.finish = null
      if (delta === undefined && finish === null) continue
      ;(choices ??= []).push({ index: state.index, delta: delta ?? {}, finish_reason: finish })
    }
    pending.length = 0
    if (choices !== undefined) out.push(this.chunk(choices))
  }

  end(out: Array<ChatCompletionChunk>): NetworkError | undefined {
    this.flush(out)
    if (!this.complete) {
      return new NetworkError({
        provider: this.provider,
        model: this.model,
        message: `${this.provider}: the stream ended before the response was complete (no ${this.endMarker})`
      })
    }
    if (this.finishes < this.choices.size) {
      for (const state of this.choices.values()) {
        if (!state.finished) this.finish(state.index, "stop")
      }
      this.flush(out)
    }
    if (this.usageValue !== undefined) out.push(this.chunk([], this.usageValue))
    return undefined
  }
}

/**
 * A builder for one stream: make one per call, never share one.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options: Options): ChunkBuilder => new Builder(options)
