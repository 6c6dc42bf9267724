import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Json from "../src/Json.js"

const nested = (depth: number, open = "[", close = "]", inner = ""): string =>
  open.repeat(depth) + inner + close.repeat(depth)

describe("Json.parse", () => {
  it("parses what JSON.parse parses", () => {
    assert.deepStrictEqual(Json.parse("{\"a\":[1,\"x\",null,true]}"), Either.right({ a: [1, "x", null, true] }))
    assert.deepStrictEqual(Json.parse("3"), Either.right(3))
    assert.deepStrictEqual(Json.parse("\"[[[\""), Either.right("[[["))
  })

  it("refuses what is not JSON, an empty text included, without throwing", () => {
    assert.deepStrictEqual(Json.parse(""), Either.left("not JSON"))
    assert.deepStrictEqual(Json.parse("{\"a\":"), Either.left("not JSON"))
    assert.deepStrictEqual(Json.parse("<html>"), Either.left("not JSON"))
  })

  it("accepts nesting up to maxDepth and refuses one level more, for arrays and objects", () => {
    const objects = (depth: number) => nested(depth, "{\"a\":", "}", "1")
    assert.isTrue(Either.isRight(Json.parse(nested(Json.maxDepth))))
    assert.deepStrictEqual(Json.parse(nested(Json.maxDepth + 1)), Either.left("nested too deeply"))
    assert.isTrue(Either.isRight(Json.parse(objects(Json.maxDepth))))
    assert.deepStrictEqual(Json.parse(objects(Json.maxDepth + 1)), Either.left("nested too deeply"))
  })

  it("refuses 100,000 levels (which JSON.parse accepts and later recursion cannot walk) at once", () => {
    assert.deepStrictEqual(Json.parse(nested(100_000)), Either.left("nested too deeply"))
    assert.deepStrictEqual(Json.parse(nested(100_000, "{\"k\":", "}", "0")), Either.left("nested too deeply"))
    // the deep part may sit anywhere, here inside a valid envelope
    const envelope = `{"choices":[{"message":{"content":${nested(100_000)}}}]}`
    assert.deepStrictEqual(Json.parse(envelope), Either.left("nested too deeply"))
  })

  it("does not count brackets inside strings, escaped quotes and backslashes included", () => {
    const brackets = JSON.stringify("[".repeat(10_000) + "\\\"" + "{".repeat(10_000))
    const text = `{"s":${brackets},"t":"\\\\","u":${nested(10)}}`
    const parsed = Json.parse(text)
    assert.isTrue(Either.isRight(parsed))
    // an escaped quote does not end the string: the brackets after it are still inside it
    assert.isTrue(Either.isRight(Json.parse(`["\\"${"[".repeat(1_000)}"]`)))
    // a quote after an even run of backslashes does end it
    assert.deepStrictEqual(
      Json.parse(`["\\\\", ${nested(Json.maxDepth)}]`),
      Either.left("nested too deeply")
    )
  })

  it("agrees with JSON.parse on any value within the depth bound", () =>
    FastCheck.assert(
      FastCheck.property(FastCheck.jsonValue({ depthSize: "medium" }), (value) => {
        const text = JSON.stringify(value)
        assert.deepStrictEqual(Json.parse(text), Either.right(JSON.parse(text)))
        // long enough to be scanned for depth
        const padded = `[${text},${JSON.stringify("\\\"[{".repeat(200))}]`
        assert.deepStrictEqual(Json.parse(padded), Either.right(JSON.parse(padded)))
      }),
      { numRuns: 300 }
    ))

  it("describes each failure without quoting the text", () => {
    assert.strictEqual(Json.describe("not JSON"), "not valid JSON")
    assert.strictEqual(Json.describe("nested too deeply"), `JSON nested deeper than ${Json.maxDepth} levels`)
  })
})
