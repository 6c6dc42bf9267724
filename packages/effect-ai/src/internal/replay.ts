/**
 * What a provider needs back with an assistant turn to continue a conversation, beyond its text: Anthropic's signed
 * `thinking_blocks` (a tool loop whose thinking comes back unsigned is refused) and OpenRouter's `reasoning_details`.
 *
 * `@effect/ai` keeps only the text of a reasoning part when it turns an answer into the next prompt
 * (`Prompt.fromResponseParts`, which `Chat` uses), so these fields cannot travel on the parts alone. They go on the
 * answer's reasoning part as metadata (and a prompt's reasoning part that carries them in its options sends them
 * back), and each model also remembers the ones it returned, by the reasoning text they came with: an assistant turn
 * that comes back with exactly that text gets them back. Same text, same blocks: a signature is only ever replayed
 * beside the thinking it signs.
 *
 * @internal
 */

/** The assistant-message fields that carry replayable reasoning. */
export const replayFieldNames = ["thinking_blocks", "reasoning_details"] as const

export type ReplayFields = { readonly [K in (typeof replayFieldNames)[number]]?: ReadonlyArray<unknown> }

/** The replay fields of a message, a delta or an options record; `undefined` when it has none. */
export const replayFieldsOf = (source: unknown): ReplayFields | undefined => {
  if (typeof source !== "object" || source === null) return undefined
  let fields: { [K in (typeof replayFieldNames)[number]]?: ReadonlyArray<unknown> } | undefined = undefined
  for (const name of replayFieldNames) {
    const value = (source as Record<string, unknown>)[name]
    if (Array.isArray(value) && value.length > 0) {
      fields ??= {}
      fields[name] = value
    }
  }
  return fields
}

/** Appends what a stream chunk carries to what the stream has carried so far. */
export const appendReplayFields = (into: ReplayFields | undefined, more: ReplayFields): ReplayFields => {
  if (into === undefined) return more
  const merged: { [K in (typeof replayFieldNames)[number]]?: ReadonlyArray<unknown> } = { ...into }
  for (const name of replayFieldNames) {
    const extra = more[name]
    if (extra !== undefined) merged[name] = [...(merged[name] ?? []), ...extra]
  }
  return merged
}

/** The answers' replay fields a model remembers, by reasoning text. Bounded: the oldest go first. */
export interface ReplayMemo {
  readonly remember: (text: string, fields: ReplayFields) => void
  readonly recall: (text: string) => ReplayFields | undefined
}

/** How many answers' reasoning a model remembers: a conversation replays its recent turns, not its whole past. */
export const defaultCapacity = 512

export const makeMemo = (capacity: number = defaultCapacity): ReplayMemo => {
  const entries = new Map<string, ReplayFields>()
  return {
    remember: (text, fields) => {
      // An empty text says nothing about which turn it was: no key to find it by.
      if (text === "") return
      entries.delete(text)
      entries.set(text, fields)
      if (entries.size > capacity) entries.delete(entries.keys().next().value!)
    },
    recall: (text) => text === "" ? undefined : entries.get(text)
  }
}
