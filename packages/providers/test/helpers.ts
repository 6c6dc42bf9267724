/**
 * Protocol-neutral helpers shared by the provider tests.
 */
import type { LlmError } from "@llm-api-router/core"
import * as Effect from "effect/Effect"

/** The error a call fails with (and a failed test if it succeeds). */
export const failure = <A>(effect: Effect.Effect<A, LlmError>) => Effect.flip(effect)

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

/** Waits in real time until `condition` holds (a request reached the fake server), or fails after `timeoutMs`. */
export const waitUntil = async (condition: () => boolean, timeoutMs = 5000): Promise<void> => {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not reached")
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Gives the event loop a moment, so that a request that should not happen would have reached the server. */
export const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 50))
