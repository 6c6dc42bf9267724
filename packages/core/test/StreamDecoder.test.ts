import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as StreamDecoder from "../src/StreamDecoder.js"

// A decoder of numbers: doubles each, fails on a negative, ends with a total (or fails when told to).
const doubling = (failAtEnd = false) => () => {
  let total = 0
  return {
    step: (input: Chunk.Chunk<number>, out: Array<number>) => {
      for (const n of input) {
        if (n < 0) return `negative ${n}`
        total += n
        out.push(n * 2)
      }
      return undefined
    },
    end: (out: Array<number>) => {
      if (failAtEnd) return "cut"
      out.push(total)
      return undefined
    }
  }
}

describe("StreamDecoder", () => {
  it.effect("decodes every batch and appends what the end step gives", () =>
    Effect.gen(function*() {
      const out = yield* Stream.runCollect(
        Stream.fromChunks(Chunk.make(1, 2), Chunk.make(3)).pipe(StreamDecoder.decode(doubling()))
      )
      assert.deepStrictEqual(Chunk.toReadonlyArray(out), [2, 4, 6, 6])
    }))

  it.effect("what was decoded before a failure in the same batch is emitted, then the failure", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const exit = yield* Stream.fromChunks(Chunk.make(1, 2, -1, 4)).pipe(
        StreamDecoder.decode(doubling()),
        Stream.runForEach((n) => Effect.sync(() => seen.push(n))),
        Effect.exit
      )
      assert.deepStrictEqual(seen, [2, 4])
      assert.deepStrictEqual(exit, Exit.fail("negative -1"))
    }))

  it.effect("a failure stops pulling from upstream", () =>
    Effect.gen(function*() {
      const pulled = yield* Ref.make(0)
      const upstream = Stream.fromChunks(Chunk.make(1), Chunk.make(-1), Chunk.make(2), Chunk.make(3)).pipe(
        Stream.tap(() => Ref.update(pulled, (n) => n + 1)),
        Stream.rechunk(1)
      )
      const exit = yield* Stream.runDrain(upstream.pipe(StreamDecoder.decode(doubling()))).pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(yield* Ref.get(pulled), 2)
    }))

  it.effect("the end step can fail the stream after everything was emitted", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const exit = yield* Stream.make(1, 2).pipe(
        StreamDecoder.decode(doubling(true)),
        Stream.runForEach((n) => Effect.sync(() => seen.push(n))),
        Effect.exit
      )
      assert.deepStrictEqual(seen, [2, 4])
      assert.deepStrictEqual(exit, Exit.fail("cut"))
    }))

  it.effect("an upstream failure passes through and skips the end step", () =>
    Effect.gen(function*() {
      const exit = yield* Stream.concat(Stream.make(1), Stream.fail("boom")).pipe(
        StreamDecoder.decode(doubling()),
        Stream.runCollect,
        Effect.exit
      )
      assert.deepStrictEqual(exit, Exit.fail("boom"))
    }))

  it.effect("each run of the stream gets a fresh decoder", () =>
    Effect.gen(function*() {
      const stream = Stream.make(1, 2).pipe(StreamDecoder.decode(doubling()))
      const first = yield* Stream.runCollect(stream)
      const second = yield* Stream.runCollect(stream)
      assert.deepStrictEqual(Chunk.toReadonlyArray(first), Chunk.toReadonlyArray(second))
    }))

  it.effect("done ends the stream after that batch, with the end step, and stops pulling", () =>
    Effect.gen(function*() {
      const pulled = yield* Ref.make(0)
      const upstream = Stream.fromChunks(Chunk.make(1, 2), Chunk.make(0), Chunk.make(5)).pipe(
        Stream.tap(() => Ref.update(pulled, (n) => n + 1)),
        Stream.concat(Stream.never)
      )
      let sawZero = false
      const out = yield* upstream.pipe(
        StreamDecoder.decode(() => {
          let total = 0
          return {
            step: (input: Chunk.Chunk<number>, out: Array<number>) => {
              for (const n of input) {
                if (n === 0) sawZero = true
                else if (!sawZero) {
                  total += n
                  out.push(n)
                }
              }
              return undefined
            },
            end: (out: Array<number>) => {
              out.push(total)
              return undefined
            },
            done: () => sawZero
          }
        }),
        Stream.runCollect
      )
      assert.deepStrictEqual(Chunk.toReadonlyArray(out), [1, 2, 3])
      // the batch after the end marker was never pulled
      assert.strictEqual(yield* Ref.get(pulled), 3)
    }))
})
