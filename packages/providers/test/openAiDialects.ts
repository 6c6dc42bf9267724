/**
 * Helpers shared by the tests of the OpenAI dialects (DeepSeek, OpenRouter, Zhipu): an independent fold of wire
 * chunks, the chunkings recorded streams are replayed in, and byte cuts inside characters and CRLF pairs.
 */
import type { FakeOpenAi } from "@llm-api-router/providers/testing"

/** An independent fold of raw wire chunks: what a stream of them must assemble to. */
export const expectedFromWire = (chunks: ReadonlyArray<any>) => {
  let content = ""
  let reasoning = ""
  let usage: any = undefined
  let finish: string | undefined = undefined
  const calls = new Map<number, { id: string; name: string; arguments: string }>()
  for (const chunk of chunks) {
    if (chunk.usage) usage = chunk.usage
    for (const choice of chunk.choices ?? []) {
      const d = choice.delta ?? {}
      if (typeof d.content === "string") content += d.content
      const r = d.reasoning_content ?? d.reasoning
      if (typeof r === "string") reasoning += r
      if (choice.finish_reason) finish = choice.finish_reason
      for (const tc of d.tool_calls ?? []) {
        const call = calls.get(tc.index) ?? { id: "", name: "", arguments: "" }
        if (tc.id) call.id = tc.id
        if (tc.function?.name) call.name = tc.function.name
        if (typeof tc.function?.arguments === "string") call.arguments += tc.function.arguments
        calls.set(tc.index, call)
      }
    }
  }
  return { content, reasoning, usage, finish, calls: [...calls.values()] }
}

/** The framings and byte cuts every recorded stream is replayed in. */
export const chunkings: ReadonlyArray<{ readonly name: string; readonly options: FakeOpenAi.StreamReplyOptions }> = [
  { name: "one event per write", options: {} },
  { name: "7-byte pieces", options: { split: 7 } },
  { name: "CRLF framing in 3-byte pieces", options: { lineEnding: "\r\n", split: 3 } },
  { name: "CR framing in 64-byte pieces", options: { lineEnding: "\r", split: 64 } },
  { name: "1-byte pieces", options: { split: 1 } }
]
