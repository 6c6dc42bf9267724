import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Stream from "effect/Stream"
import * as Ndjson from "../src/Ndjson.js"

const encoder = new TextEncoder()
const bytes = (text: string): Uint8Array => encoder.encode(text)

/** Feeds each piece (text, or raw bytes) as its own chunk, then ends the input. */
const decodeChunks = (pieces: ReadonlyArray<string | Uint8Array>): Array<string> => {
  const decoder = Ndjson.makeDecoder()
  const lines: Array<string> = []
  for (const piece of pieces) lines.push(...decoder.push(typeof piece === "string" ? bytes(piece) : piece))
  lines.push(...decoder.end())
  return lines
}

const decodeText = (text: string): Array<string> => decodeChunks([text])

const byteChunks = (data: Uint8Array): Array<Uint8Array> => Array.from(data, (byte) => Uint8Array.of(byte))

const cutAt = (data: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((cut) => cut % (data.length + 1)))].sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let start = 0
  for (const point of points) {
    chunks.push(data.subarray(start, point))
    start = point
  }
  chunks.push(data.subarray(start))
  return chunks
}

describe("Ndjson.makeDecoder", () => {
  it("LF ends lines", () => {
    assert.deepStrictEqual(decodeText("{\"a\":1}\n{\"b\":2}\n"), ["{\"a\":1}", "{\"b\":2}"])
  })

  it("CRLF ends lines, without the CR", () => {
    assert.deepStrictEqual(decodeText("{\"a\":1}\r\n{\"b\":2}\r\n"), ["{\"a\":1}", "{\"b\":2}"])
  })

  it("a CRLF split across two chunks ends one line, without the CR", () => {
    assert.deepStrictEqual(decodeChunks(["{\"a\":1}\r", "\n{\"b\":2}\r", "\n"]), ["{\"a\":1}", "{\"b\":2}"])
  })

  it("a CR not followed by LF does not end a line", () => {
    assert.deepStrictEqual(decodeText("{\"a\":\r1}\n"), ["{\"a\":\r1}"])
  })

  it("blank and whitespace-only lines are skipped", () => {
    assert.deepStrictEqual(decodeText("\n{}\n\n  \n\t\r\n \u00a0 \n[]\n"), ["{}", "[]"])
  })

  it("the last line is emitted at EOF without a trailing newline", () => {
    assert.deepStrictEqual(decodeText("{\"a\":1}\n{\"done\":true}"), ["{\"a\":1}", "{\"done\":true}"])
    assert.deepStrictEqual(decodeText("{\"a\":1}\n{\"done\":true}\r"), ["{\"a\":1}", "{\"done\":true}"])
  })

  it("a whitespace-only last line without newline is skipped", () => {
    assert.deepStrictEqual(decodeText("{}\n  "), ["{}"])
  })

  it("the last line is held back until EOF", () => {
    const decoder = Ndjson.makeDecoder()
    assert.deepStrictEqual(decoder.push(bytes("{\"a\":1}\n{\"b\"")), ["{\"a\":1}"])
    assert.deepStrictEqual(decoder.push(bytes(":2}")), [])
    assert.deepStrictEqual(decoder.end(), ["{\"b\":2}"])
  })

  it("a leading UTF-8 BOM is stripped, once", () => {
    assert.deepStrictEqual(decodeText("\uFEFF{}\n"), ["{}"])
    assert.deepStrictEqual(decodeChunks(byteChunks(bytes("\uFEFF{}\n"))), ["{}"])
    assert.deepStrictEqual(decodeChunks(["\uFEFF{}\n", "\uFEFF[]\n"]), ["{}", "\uFEFF[]"])
  })

  it("multi-byte UTF-8 characters split across chunks are decoded whole", () => {
    const text = "{\"content\":\"你好 ö 😀\"}\n"
    assert.deepStrictEqual(decodeChunks(byteChunks(bytes(text))), ["{\"content\":\"你好 ö 😀\"}"])
  })

  it("a truncated multi-byte character at EOF becomes U+FFFD", () => {
    assert.deepStrictEqual(decodeChunks([bytes("{}\n\"a"), Uint8Array.of(0xf0, 0x9f)]), ["{}", "\"a\uFFFD"])
  })

  it("a 1 MiB line in 1-byte chunks is decoded in linear time, emitted once complete", () => {
    const size = 1024 * 1024
    const decoder = Ndjson.makeDecoder()
    let emitted = 0
    const x = Uint8Array.of(120)
    for (let i = 0; i < size; i++) emitted += decoder.push(x).length
    const last = decoder.push(Uint8Array.of(10))
    assert.strictEqual(emitted, 0)
    assert.strictEqual(last.length, 1)
    assert.strictEqual(last[0].length, size)
    assert.deepStrictEqual(decoder.end(), [])
  })

  it("any chunking decodes to the generated lines, the same as one whole chunk", () => {
    // A line: any text without LF that is not blank and does not end with CR (which CRLF framing would eat).
    const line = FastCheck.oneof(
      FastCheck.string({ unit: "grapheme", minLength: 1, maxLength: 16 }),
      FastCheck.string({ minLength: 1, maxLength: 16 }),
      FastCheck.json({ maxDepth: 2 }),
      FastCheck.constantFrom("{\"content\":\"你好\"}", "\"😀\"", " {} ", "a\rb")
    ).map((s) => s.replace(/\n/g, "").replace(/\r+$/, "")).filter((s) => s.trim().length > 0)
    const blank = FastCheck.constantFrom("", " ", "\t", "  \t ", "\u00a0")
    const scenario = FastCheck.record({
      lines: FastCheck.array(
        FastCheck.record({ line, blanksBefore: FastCheck.array(blank, { maxLength: 2 }) }),
        { maxLength: 10 }
      ),
      endings: FastCheck.array(FastCheck.constantFrom("\n", "\r\n"), { minLength: 1 }),
      bom: FastCheck.boolean(),
      trailingNewline: FastCheck.boolean(),
      cuts: FastCheck.array(FastCheck.nat(), { maxLength: 24 })
    })
    FastCheck.assert(
      FastCheck.property(scenario, (s) => {
        const all: Array<string> = []
        for (const { blanksBefore, line } of s.lines) all.push(...blanksBefore, line)
        let text = s.bom ? "\uFEFF" : ""
        all.forEach((line, i) => {
          text += line
          if (i < all.length - 1 || s.trailingNewline) text += s.endings[i % s.endings.length]
        })
        const data = bytes(text)
        const expected = s.lines.map(({ line }) => line)
        const whole = decodeChunks([data])
        assert.deepStrictEqual(whole, expected)
        assert.deepStrictEqual(decodeChunks(cutAt(data, s.cuts)), whole)
        assert.deepStrictEqual(decodeChunks(byteChunks(data)), whole)
      }),
      { numRuns: 300 }
    )
  })
})

describe("Ndjson.decode", () => {
  const input = "\uFEFF{\"message\":{\"content\":\"你\"}}\r\n\n{\"done\":true}"
  const expected = ["{\"message\":{\"content\":\"你\"}}", "{\"done\":true}"]

  it.effect("decodes a multi-chunk byte stream, one element per line, the last one at EOF", () =>
    Effect.gen(function*() {
      const chunks = byteChunks(bytes(input))
      const many = yield* Stream.fromIterable(chunks).pipe(Ndjson.decode, Stream.runCollect)
      const single = yield* Stream.fromIterable(chunks).pipe(Stream.rechunk(1), Ndjson.decode, Stream.runCollect)
      assert.deepStrictEqual(Chunk.toReadonlyArray(many), expected)
      assert.deepStrictEqual(Chunk.toReadonlyArray(single), expected)
    }))

  it.effect("each run of the stream starts from a fresh decoder", () =>
    Effect.gen(function*() {
      const stream = Stream.fromIterable(cutAt(bytes(input), [2, 20, 34])).pipe(Ndjson.decode)
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Stream.runCollect(stream)), expected)
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Stream.runCollect(stream)), expected)
    }))

  it.effect("an upstream failure is not turned into a final line", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const result = yield* Stream.fromIterable([bytes("{\"a\":1}\n{\"b\"")]).pipe(
        Stream.concat(Stream.fail("cut" as const)),
        Ndjson.decode,
        Stream.runForEach((line) => Effect.sync(() => seen.push(line))),
        Effect.either
      )
      assert.deepStrictEqual(result, Either.left("cut"))
      assert.deepStrictEqual(seen, ["{\"a\":1}"])
    }))
})

describe("maxLineLength", () => {
  const bytes = (text: string) => new TextEncoder().encode(text)

  it("returns the lines completed before an overlong one in the same push, however the chunks split", () => {
    const wire = "{\"a\":1}\n{\"b\":2}\n" + "x".repeat(64) + "\n{\"c\":3}\n"
    for (const split of [wire.length, 8, 16, 20]) {
      const decoder = Ndjson.makeDecoder({ maxLineLength: 16 })
      const lines = [...decoder.push(bytes(wire.slice(0, split))), ...decoder.push(bytes(wire.slice(split)))]
      assert.deepStrictEqual(lines, ["{\"a\":1}", "{\"b\":2}"], `split at ${split}`)
      assert.isTrue(decoder.exceeded())
    }
  })
})
