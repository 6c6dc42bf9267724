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

/** Byte offsets that fall inside multi-byte UTF-8 characters and inside "\r\n" pairs of a body. */
export const awkwardCuts = (body: string): Array<number> => {
  const bytes = Buffer.from(body, "utf8")
  const cuts: Array<number> = []
  for (let i = 1; i < bytes.length; i++) {
    const b = bytes[i]!
    if ((b & 0xc0) === 0x80 || (bytes[i - 1] === 0x0d && b === 0x0a)) cuts.push(i)
  }
  return cuts
}

export const waitUntil = async (condition: () => boolean, timeoutMs = 5000): Promise<void> => {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not reached")
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
