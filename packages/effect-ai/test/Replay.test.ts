import { assert, describe, it } from "@effect/vitest"
import { appendReplayFields, makeMemo, replayFieldsOf } from "../src/internal/replay.js"

describe("the reasoning replay memo", () => {
  it("recalls what it was given by the reasoning text, and nothing for an unknown or empty text", () => {
    const memo = makeMemo(4)
    const blocks = [{ type: "thinking", thinking: "a", signature: "s" }]
    memo.remember("a", { thinking_blocks: blocks })
    memo.remember("", { thinking_blocks: blocks })
    assert.deepStrictEqual(memo.recall("a"), { thinking_blocks: blocks })
    assert.isUndefined(memo.recall("b"))
    assert.isUndefined(memo.recall(""))
  })

  it("is bounded: past its capacity the oldest entry goes, one recalled or renewed stays", () => {
    const memo = makeMemo(2)
    memo.remember("one", { thinking_blocks: [1] })
    memo.remember("two", { thinking_blocks: [2] })
    memo.remember("one", { thinking_blocks: [1] })
    memo.remember("three", { thinking_blocks: [3] })
    assert.isUndefined(memo.recall("two"))
    assert.deepStrictEqual(memo.recall("one"), { thinking_blocks: [1] })
    assert.deepStrictEqual(memo.recall("three"), { thinking_blocks: [3] })
  })

  it("reads only non-empty arrays of the replay fields, and appends a stream's pieces in order", () => {
    assert.isUndefined(replayFieldsOf({ thinking_blocks: [], other: [1] }))
    assert.isUndefined(replayFieldsOf(null))
    assert.deepStrictEqual(replayFieldsOf({ reasoning_details: [{ a: 1 }], thinking_blocks: "x" }), {
      reasoning_details: [{ a: 1 }]
    })
    const first = appendReplayFields(undefined, { thinking_blocks: [1] })
    assert.deepStrictEqual(appendReplayFields(first, { thinking_blocks: [2], reasoning_details: [3] }), {
      thinking_blocks: [1, 2],
      reasoning_details: [3]
    })
  })
})
