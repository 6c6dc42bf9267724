import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Stream from "effect/Stream"
import * as Sse from "../src/Sse.js"

const encoder = new TextEncoder()
const bytes = (text: string): Uint8Array => encoder.encode(text)

/** Feeds each piece (text, or raw bytes) as its own chunk, then ends the input. */
const decodeChunks = (pieces: ReadonlyArray<string | Uint8Array>): Array<Sse.Event> => {
  const decoder = Sse.makeDecoder()
  const events: Array<Sse.Event> = []
  for (const piece of pieces) events.push(...decoder.push(typeof piece === "string" ? bytes(piece) : piece))
  events.push(...decoder.end())
  return events
}

const decodeText = (text: string): Array<Sse.Event> => decodeChunks([text])

/** Every single byte as its own chunk. */
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

const ev = (data: string, event?: string, id?: string): Sse.Event => ({ event, data, id })

describe("Sse.makeDecoder", () => {
  describe("line ends", () => {
    it("LF ends lines", () => {
      assert.deepStrictEqual(decodeText("event: a\ndata: 1\n\ndata: 2\n\n"), [ev("1", "a"), ev("2")])
    })

    it("CRLF ends lines", () => {
      assert.deepStrictEqual(decodeText("event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n"), [ev("1", "a"), ev("2")])
    })

    it("a lone CR ends lines", () => {
      assert.deepStrictEqual(decodeText("event: a\rdata: 1\r\rdata: 2\r\r"), [ev("1", "a"), ev("2")])
    })

    it("mixed LF, CRLF and CR in one stream", () => {
      assert.deepStrictEqual(decodeText("data: 1\r\ndata: 2\rdata: 3\n\r\n"), [ev("1\n2\n3")])
    })

    it("a CRLF split across two chunks is one line end, not two", () => {
      // an extra empty line would dispatch "a" on its own
      assert.deepStrictEqual(decodeChunks(["data: a\r", "\ndata: b\r", "\n\r", "\n"]), [ev("a\nb")])
    })

    it("a CR at the end of a chunk followed by a chunk not starting with LF is a lone CR", () => {
      assert.deepStrictEqual(decodeChunks(["data: a\r", "data: b\r", "\r"]), [ev("a\nb")])
    })

    it("a CR ending a chunk dispatches at once, without waiting for the next chunk", () => {
      const decoder = Sse.makeDecoder()
      assert.deepStrictEqual(decoder.push(bytes("data: a\r\r")), [ev("a")])
      assert.deepStrictEqual(decoder.push(bytes("\ndata: b\n\n")), [ev("b")])
    })
  })

  describe("fields", () => {
    it("comment lines (starting with a colon) are ignored", () => {
      assert.deepStrictEqual(
        decodeText(": OPENROUTER PROCESSING\n\n:\ndata: a\n: keep-alive\ndata: b\n\n"),
        [ev("a\nb")]
      )
    })

    it("data with and without the leading space", () => {
      assert.deepStrictEqual(decodeText("data: [DONE]\n\ndata:[DONE]\n\n"), [ev("[DONE]"), ev("[DONE]")])
    })

    it("only one leading space is removed from a value", () => {
      assert.deepStrictEqual(decodeText("data:  two\n\nevent:   three\ndata:x \n\n"), [ev(" two"), ev("x ", "  three")])
    })

    it("only the first colon separates field and value", () => {
      assert.deepStrictEqual(decodeText("data: {\"a\":\"b:c\"}\n\n"), [ev("{\"a\":\"b:c\"}")])
    })

    it("a line with no colon is a field with an empty value", () => {
      assert.deepStrictEqual(decodeText("data\n\nevent: x\nevent\ndata: y\n\n"), [ev(""), ev("y")])
    })

    it("multi-line data is joined with LF", () => {
      assert.deepStrictEqual(decodeText("data: a\ndata:\ndata: c\n\n"), [ev("a\n\nc")])
    })

    it("the event field names the event and resets after each dispatch", () => {
      assert.deepStrictEqual(decodeText("event: error\ndata: {}\n\ndata: 2\n\n"), [ev("{}", "error"), ev("2")])
    })

    it("an empty event field leaves the event unnamed", () => {
      assert.deepStrictEqual(decodeText("event:\ndata: 1\n\n"), [ev("1")])
    })

    it("the id field persists across events until changed", () => {
      assert.deepStrictEqual(
        decodeText("id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n"),
        [ev("a", undefined, "1"), ev("b", undefined, "1"), ev("c", undefined, "2")]
      )
    })

    it("an id set in an event that is not dispatched still applies to later events", () => {
      assert.deepStrictEqual(decodeText("id: 7\n\ndata: a\n\n"), [ev("a", undefined, "7")])
    })

    it("an empty id resets the last event id", () => {
      assert.deepStrictEqual(decodeText("id: 1\ndata: a\n\nid\ndata: b\n\n"), [ev("a", undefined, "1"), ev("b")])
    })

    it("an id containing NUL is ignored", () => {
      assert.deepStrictEqual(
        decodeText("id: 1\ndata: a\n\nid: 2\u00003\ndata: b\n\n"),
        [ev("a", undefined, "1"), ev("b", undefined, "1")]
      )
    })

    it("retry is ignored", () => {
      assert.deepStrictEqual(decodeText("retry: 10\n\nretry: 5000\ndata: a\n\n"), [ev("a")])
    })

    it("unknown fields and differently cased field names are ignored", () => {
      assert.deepStrictEqual(decodeText("Data: no\nfoo: bar\ndatas: no\ndata: yes\n\n"), [ev("yes")])
    })
  })

  describe("dispatch", () => {
    it("an event with no data lines is not dispatched", () => {
      assert.deepStrictEqual(decodeText("event: ping\n\nid: 1\n\n\n\n"), [])
    })

    it("a bare data line dispatches an event with empty data", () => {
      assert.deepStrictEqual(decodeText("data:\n\nevent: e\ndata\n\n"), [ev(""), ev("", "e")])
    })

    it("an incomplete event at EOF is discarded", () => {
      assert.deepStrictEqual(decodeText("data: a\n\ndata: b\n"), [ev("a")])
      assert.deepStrictEqual(decodeText("data: a\n\ndata: b"), [ev("a")])
      assert.deepStrictEqual(decodeText("data: a\n\ndata: b\r"), [ev("a")])
    })

    it("end returns no events and resets the decoder", () => {
      const decoder = Sse.makeDecoder()
      assert.deepStrictEqual(decoder.push(bytes("id: 1\ndata: a\n\ndata: b\n")), [ev("a", undefined, "1")])
      assert.deepStrictEqual(decoder.end(), [])
      assert.deepStrictEqual(decoder.push(bytes("data: c\n\n")), [ev("c")])
    })
  })

  describe("encoding", () => {
    it("a leading UTF-8 BOM is stripped", () => {
      assert.deepStrictEqual(decodeText("\uFEFFdata: a\n\n"), [ev("a")])
    })

    it("a leading BOM split across chunks is stripped", () => {
      assert.deepStrictEqual(decodeChunks(byteChunks(bytes("\uFEFFdata: a\n\n"))), [ev("a")])
    })

    it("the BOM is stripped once only", () => {
      assert.deepStrictEqual(decodeText("\uFEFF\uFEFFdata: a\n\ndata: \uFEFFb\n\n"), [ev("\uFEFFb")])
      assert.deepStrictEqual(decodeChunks(["\uFEFFdata: a\n\n", "\uFEFFdata: b\n\n"]), [ev("a")])
    })

    it("multi-byte UTF-8 characters split across chunks are decoded whole", () => {
      const text = "data: 你好 ö 😀\n\n"
      assert.deepStrictEqual(decodeChunks(byteChunks(bytes(text))), [ev("你好 ö 😀")])
    })

    it("a truncated multi-byte character at EOF does not throw", () => {
      const data = bytes("data: 😀\n\n")
      assert.deepStrictEqual(decodeChunks([data, bytes("data: x").subarray(0, 7), Uint8Array.of(0xf0, 0x9f)]), [
        ev("😀")
      ])
    })
  })

  it("a 1 MiB line in 1-byte chunks is decoded in linear time, and only complete events are emitted", () => {
    const size = 1024 * 1024
    const decoder = Sse.makeDecoder()
    let emptyPushes = 0
    const prefix = bytes("data: ")
    for (const byte of prefix) emptyPushes += decoder.push(Uint8Array.of(byte)).length === 0 ? 1 : 0
    const x = Uint8Array.of(120)
    for (let i = 0; i < size; i++) emptyPushes += decoder.push(x).length === 0 ? 1 : 0
    emptyPushes += decoder.push(Uint8Array.of(10)).length === 0 ? 1 : 0
    const last = decoder.push(Uint8Array.of(10))
    assert.strictEqual(emptyPushes, prefix.length + size + 1)
    assert.strictEqual(last.length, 1)
    assert.strictEqual(last[0].data.length, size)
    assert.isTrue(/^x+$/.test(last[0].data))
  })

  describe("properties", () => {
    // Field values: any text without line terminators, including non-ASCII, emoji and lone spaces.
    const value = FastCheck.oneof(
      FastCheck.string({ unit: "grapheme", maxLength: 12 }),
      FastCheck.string({ maxLength: 12 }),
      FastCheck.constantFrom("", " ", "  x", "你好", "😀", "ö", "[DONE]", "{\"a\":1}", "a:b")
    ).map((s) => s.replace(/[\r\n]/g, ""))

    const field = (name: string, v: string, withSpace: boolean): string =>
      withSpace || v.startsWith(" ") ? `${name}: ${v}` : `${name}:${v}`

    const noise = FastCheck.oneof(
      value.map((v) => `:${v}`), // comment
      FastCheck.nat(100_000).map((n) => `retry: ${n}`),
      value.map((v) => `x-unknown: ${v}`)
    )

    // One event block: optional event and id, zero or more data lines, with comments in between.
    const block = FastCheck.record({
      event: FastCheck.option(value, { nil: undefined }),
      id: FastCheck.option(FastCheck.oneof(value, FastCheck.constant("1\u00002")), { nil: undefined }),
      data: FastCheck.array(value, { maxLength: 4 }),
      noise: FastCheck.array(noise, { maxLength: 2 }),
      spaces: FastCheck.array(FastCheck.boolean(), { minLength: 6, maxLength: 6 })
    })

    const scenario = FastCheck.record({
      blocks: FastCheck.array(block, { maxLength: 8 }),
      endings: FastCheck.array(FastCheck.constantFrom("\n", "\r\n", "\r"), { minLength: 1 }),
      bom: FastCheck.boolean(),
      tail: FastCheck.option(value.map((v) => `data: ${v}`), { nil: undefined }),
      cuts: FastCheck.array(FastCheck.nat(), { maxLength: 24 })
    })

    const build = (s: typeof scenario extends FastCheck.Arbitrary<infer A> ? A : never) => {
      const lines: Array<string> = []
      const expected: Array<Sse.Event> = []
      let lastId: string | undefined = undefined
      for (const b of s.blocks) {
        if (b.event !== undefined) lines.push(field("event", b.event, b.spaces[0]))
        if (b.noise[0] !== undefined) lines.push(b.noise[0])
        b.data.forEach((d, i) => lines.push(field("data", d, b.spaces[1 + (i % 4)])))
        if (b.noise[1] !== undefined) lines.push(b.noise[1])
        if (b.id !== undefined) {
          lines.push(field("id", b.id, b.spaces[5]))
          if (!b.id.includes("\u0000")) lastId = b.id === "" ? undefined : b.id
        }
        lines.push("")
        if (b.data.length > 0) {
          expected.push({ event: b.event === "" ? undefined : b.event, data: b.data.join("\n"), id: lastId })
        }
      }
      let text = s.bom ? "\uFEFF" : ""
      let previous = ""
      lines.forEach((line, i) => {
        let end = s.endings[i % s.endings.length]
        // "\r" then an empty line ended by "\n" would read as one CRLF: the serialisation would be ambiguous
        if (previous === "\r" && line === "" && end === "\n") end = "\r\n"
        text += line + end
        previous = end
      })
      // an unterminated event at EOF, which must be discarded
      if (s.tail !== undefined) text += s.tail
      return { bytes: bytes(text), expected }
    }

    it("any chunking decodes to the generated events, the same as one whole chunk", () => {
      FastCheck.assert(
        FastCheck.property(scenario, (s) => {
          const { bytes: data, expected } = build(s)
          const whole = decodeChunks([data])
          assert.deepStrictEqual(whole, expected)
          assert.deepStrictEqual(decodeChunks(cutAt(data, s.cuts)), whole)
          assert.deepStrictEqual(decodeChunks(byteChunks(data)), whole)
        }),
        { numRuns: 300 }
      )
    })
  })
})

describe("Sse.decode", () => {
  const input = "\uFEFF: hi\r\nid: 1\r\nevent: delta\r\ndata: {\"c\":\"你\"}\r\n\r\ndata: [DONE]\n\ndata: cut"
  const expected = [ev("{\"c\":\"你\"}", "delta", "1"), ev("[DONE]", undefined, "1")]

  it.effect("decodes a multi-chunk byte stream, one element per event", () =>
    Effect.gen(function*() {
      const chunks = byteChunks(bytes(input))
      // fromIterable hands the transform many byte chunks per stream chunk; rechunk(1) one at a time
      const many = yield* Stream.fromIterable(chunks).pipe(Sse.decode, Stream.runCollect)
      const single = yield* Stream.fromIterable(chunks).pipe(Stream.rechunk(1), Sse.decode, Stream.runCollect)
      assert.deepStrictEqual(Chunk.toReadonlyArray(many), expected)
      assert.deepStrictEqual(Chunk.toReadonlyArray(single), expected)
    }))

  it.effect("each run of the stream starts from a fresh decoder", () =>
    Effect.gen(function*() {
      const stream = Stream.fromIterable(cutAt(bytes(input), [5, 30, 31, 60])).pipe(Sse.decode)
      const first = yield* Stream.runCollect(stream)
      const second = yield* Stream.runCollect(stream)
      assert.deepStrictEqual(Chunk.toReadonlyArray(first), expected)
      assert.deepStrictEqual(Chunk.toReadonlyArray(second), expected)
    }))

  it.effect("emits the events decoded before an upstream failure, then the failure", () =>
    Effect.gen(function*() {
      const seen: Array<Sse.Event> = []
      const result = yield* Stream.fromIterable([bytes("data: a\n\ndata: b\n")]).pipe(
        Stream.concat(Stream.fail("cut" as const)),
        Sse.decode,
        Stream.runForEach((event) => Effect.sync(() => seen.push(event))),
        Effect.either
      )
      assert.deepStrictEqual(result, Either.left("cut"))
      assert.deepStrictEqual(seen, [ev("a")])
    }))
})

describe("maxEventLength", () => {
  const bytes = (text: string) => new TextEncoder().encode(text)

  it("returns the events completed before an overlong one in the same push, however the chunks split", () => {
    const wire = "data: a\n\ndata: b\n\ndata: " + "x".repeat(64) + "\n\ndata: c\n\n"
    for (const split of [wire.length, 9, 18, 20]) {
      const decoder = Sse.makeDecoder({ maxEventLength: 16 })
      const events = [
        ...decoder.push(bytes(wire.slice(0, split))),
        ...decoder.push(bytes(wire.slice(split)))
      ]
      assert.deepStrictEqual(events.map((event) => event.data), ["a", "b"], `split at ${split}`)
      assert.isTrue(decoder.exceeded())
    }
  })
})
