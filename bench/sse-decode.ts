/**
 * SSE decoding throughput: our `Sse` decoder against `@effect/experimental/Sse`.
 *
 * Input: the recorded OpenAI stream (packages/providers/test/recorded/openai/openai-text.chunks.txt), framed as
 * SSE (`data: <line>` events, then `data: [DONE]`), repeated to about 10 MB and cut into 1 KiB chunks, as a socket
 * would deliver it.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source bench/sse-decode.ts
 *
 * A benchmark, not a test: it prints figures and checks only that every decoder saw every event.
 */
import * as Sse from "@llm-api-router/core/Sse"
import type * as Channel from "effect/Channel"
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"

// bench/ does not depend on @effect/experimental: borrow the copy core depends on (same `effect` instance), typed
// with just the part used here.
interface ExperimentalSse {
  readonly makeChannel: <IE, Done>() => Channel.Channel<
    Chunk.Chunk<{ readonly data: string }>,
    Chunk.Chunk<string>,
    IE,
    IE,
    void,
    Done
  >
}
const coreRequire = createRequire(new URL("../packages/core/package.json", import.meta.url))
const ExperimentalSse: ExperimentalSse = await import(
  pathToFileURL(coreRequire.resolve("@effect/experimental/Sse")).href
)

const fixture = new URL("../packages/providers/test/recorded/openai/openai-text.chunks.txt", import.meta.url)
const lines = readFileSync(fixture, "utf8").split("\n").filter((line) => line.length > 0)
const once = lines.map((line) => `data: ${line}\n\n`).join("") + "data: [DONE]\n\n"
const target = 10 * 1024 * 1024
const onceBytes = new TextEncoder().encode(once)
const repeats = Math.ceil(target / onceBytes.length)
const input = new Uint8Array(onceBytes.length * repeats)
for (let i = 0; i < repeats; i++) input.set(onceBytes, i * onceBytes.length)
const expectedEvents = (lines.length + 1) * repeats

const chunkSize = 1024
const chunks: Array<Uint8Array> = []
for (let i = 0; i < input.length; i += chunkSize) chunks.push(input.subarray(i, i + chunkSize))

const megabytes = input.length / 1e6

const report = (name: string, ms: number, events: number | undefined): void => {
  if (events !== undefined && events !== expectedEvents) {
    throw new Error(`${name}: ${events} events, expected ${expectedEvents}`)
  }
  const seconds = ms / 1000
  console.log(
    `${name.padEnd(46)} ${(megabytes / seconds).toFixed(1).padStart(8)} MB/s ${
      (events === undefined ? "-" : (events / seconds / 1e6).toFixed(2)).padStart(7)
    } M events/s ${ms.toFixed(0).padStart(6)} ms`
  )
}

const measure = async (name: string, run: () => Promise<number | undefined>, rounds = 5): Promise<void> => {
  await run() // warm-up
  let best = Infinity
  let events: number | undefined
  for (let i = 0; i < rounds; i++) {
    const start = performance.now()
    events = await run()
    best = Math.min(best, performance.now() - start)
  }
  report(name, best, events)
}

const countEvents = <E>(stream: Stream.Stream<unknown, E>): Promise<number> =>
  Stream.runFold(stream, 0, (n) => n + 1).pipe(Effect.runPromise)

console.log(
  `input: ${megabytes.toFixed(1)} MB, ${chunks.length} chunks of ${chunkSize} B, ${expectedEvents} events ` +
    `(best of 5 runs)`
)

// what the Stream machinery alone costs for these chunks, to read the rows below against
await measure(
  "baseline: the byte Stream, no decoding",
  () => countEvents(Stream.fromIterable(chunks).pipe(Stream.rechunk(1))).then(() => undefined)
)

await measure("Sse.makeDecoder (push/end, no Stream)", async () => {
  const decoder = Sse.makeDecoder()
  let events = 0
  for (const chunk of chunks) events += decoder.push(chunk).length
  return events + decoder.end().length
})

await measure("Sse.decode (Stream)", () => countEvents(Stream.fromIterable(chunks).pipe(Stream.rechunk(1), Sse.decode)))

await measure(
  "@effect/experimental Sse.makeChannel (Stream)",
  () =>
    countEvents(
      Stream.fromIterable(chunks).pipe(
        Stream.rechunk(1),
        Stream.decodeText(),
        Stream.pipeThroughChannel(ExperimentalSse.makeChannel())
      )
    )
)
