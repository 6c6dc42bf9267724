import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { ChatCompletionRequest, ChatMessage, ToolCall } from "../src/Domain.js"
import { ToolError } from "../src/LlmError.js"
import { MockProvider } from "../src/testing.js"
import * as Tool from "../src/Tool.js"
import * as Toolkit from "../src/Toolkit.js"

const messages: ReadonlyArray<ChatMessage> = [{ role: "user", content: "Weather in Paris and Oslo?" }]

const call = (id: string, name: string, args: string): ToolCall => ({
  id,
  type: "function",
  function: { name, arguments: args }
})

const usage = (n: number) => ({ prompt_tokens: n, completion_tokens: 1, total_tokens: n + 1 })

const GetWeather = Tool.make("get_weather", {
  description: "Current weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ celsius: Schema.Number }),
  handler: ({ city }) =>
    city === "Atlantis" ? Effect.fail(`no station in ${city}`) : Effect.succeed({ celsius: city === "Oslo" ? -2 : 18 })
})

const requests = Effect.map(MockProvider.calls, (calls) => calls.map((c) => c.request as ChatCompletionRequest))

describe("Toolkit.run", () => {
  it.effect("calls the model, runs the tools, sends the results back, and stops at the answer", () =>
    Effect.gen(function*() {
      const run = yield* Toolkit.run({ toolkit: Toolkit.make(GetWeather), messages })
      assert.strictEqual(run.stoppedBy, "answer")
      assert.strictEqual(run.steps.length, 2)
      assert.strictEqual(run.completion.choices[0]!.message.content, "18 and -2")
      assert.deepStrictEqual(run.usage, { prompt_tokens: 30, completion_tokens: 2, total_tokens: 32 })
      assert.deepStrictEqual(run.steps[0]!.toolResults, [
        { _tag: "ToolResult", id: "call_1", name: "get_weather", result: { celsius: 18 } },
        { _tag: "ToolResult", id: "call_2", name: "get_weather", result: { celsius: -2 } }
      ])
      assert.deepStrictEqual(run.steps[1]!.toolResults, [])
      assert.deepStrictEqual(run.messages.map((m) => m.role), ["user", "assistant", "tool", "tool", "assistant"])
      const [first, second] = yield* requests
      assert.deepStrictEqual(first!.tools, [{
        type: "function",
        function: {
          name: "get_weather",
          description: "Current weather in a city",
          parameters: {
            type: "object",
            required: ["city"],
            properties: { city: { type: "string" } },
            additionalProperties: false
          }
        }
      }])
      assert.deepStrictEqual(second!.messages.slice(2), [
        { role: "tool", tool_call_id: "call_1", content: "{\"celsius\":18}" },
        { role: "tool", tool_call_id: "call_2", content: "{\"celsius\":-2}" }
      ])
      assert.deepStrictEqual(second!.messages[1]!.role === "assistant" ? second!.messages[1]!.tool_calls : [], [
        call("call_1", "get_weather", "{\"city\":\"Paris\"}"),
        call("call_2", "get_weather", "{\"city\":\"Oslo\"}")
      ])
    }).pipe(Effect.provide(MockProvider.layer([
      MockProvider.reply({
        tool_calls: [
          call("call_1", "get_weather", "{\"city\":\"Paris\"}"),
          call("call_2", "get_weather", "{\"city\":\"Oslo\"}")
        ],
        usage: usage(10)
      }),
      MockProvider.reply({ content: "18 and -2", usage: usage(20) })
    ]))))

  it.effect("the calls of a step run at once by default, one at a time with concurrency: 1, results in call order", () =>
    Effect.gen(function*() {
      let inFlight = 0
      let most = 0
      const order: Array<string> = []
      const Slow = Tool.make("slow", {
        parameters: Schema.Struct({ n: Schema.Number }),
        handler: ({ n }) =>
          Effect.gen(function*() {
            inFlight++
            most = Math.max(most, inFlight)
            // Later calls finish first, so that the order of the results is the calls', not the handlers'.
            for (let i = 0; i < 10 - n; i++) yield* Effect.yieldNow()
            inFlight--
            order.push(`done ${n}`)
            return n
          })
      })
      const toolkit = Toolkit.make(Slow)
      const parallel = yield* Toolkit.run({ toolkit, messages, maxSteps: 2 })
      assert.strictEqual(most, 3)
      assert.deepStrictEqual(order, ["done 3", "done 2", "done 1"])
      assert.deepStrictEqual(parallel.steps[0]!.toolResults.map((r) => r.id), ["c1", "c2", "c3"])
      most = 0
      yield* Toolkit.run({ toolkit, messages, maxSteps: 2, concurrency: 1 })
      assert.strictEqual(most, 1)
    }).pipe(
      Effect.provide(MockProvider.layer(() =>
        MockProvider.reply({
          tool_calls: [1, 2, 3].map((n) => call(`c${n}`, "slow", `{"n":${n}}`))
        })
      ))
    ))

  it.effect("maxSteps bounds the model calls: the last allowed call's tools are not run, a success", () =>
    Effect.gen(function*() {
      let runs = 0
      const Count = Tool.make("count", { handler: () => Effect.sync(() => ++runs) })
      const run = yield* Toolkit.run({ toolkit: Toolkit.make(Count), messages, maxSteps: 3 })
      assert.strictEqual(run.stoppedBy, "max-steps")
      assert.strictEqual(run.steps.length, 3)
      assert.strictEqual(runs, 2)
      assert.deepStrictEqual(run.steps[2]!.toolResults, [])
      assert.strictEqual(run.steps[2]!.toolCalls.length, 1)
      assert.strictEqual((yield* MockProvider.calls).length, 3)
      // The last assistant turn is in the messages, its calls unanswered.
      assert.strictEqual(run.messages[run.messages.length - 1]!.role, "assistant")
    }).pipe(Effect.provide(MockProvider.layer(() => MockProvider.reply({ tool_calls: [call("c", "count", "")] })))))

  it.effect("stopWhen is asked after each step that ran tools and ends the run", () =>
    Effect.gen(function*() {
      const asked: Array<number> = []
      const run = yield* Toolkit.run({
        toolkit: Toolkit.make(GetWeather),
        messages,
        stopWhen: (step, steps) => {
          asked.push(steps.length)
          return step.toolResults.some((r) => r._tag === "ToolResult" && (r.result as { celsius: number }).celsius < 0)
        }
      })
      assert.strictEqual(run.stoppedBy, "stop-when")
      assert.deepStrictEqual(asked, [1, 2])
      assert.strictEqual((yield* MockProvider.calls).length, 2)
      assert.strictEqual(run.messages[run.messages.length - 1]!.role, "tool")
    }).pipe(Effect.provide(MockProvider.layer([
      MockProvider.reply({ tool_calls: [call("a", "get_weather", "{\"city\":\"Paris\"}")] }),
      MockProvider.reply({ tool_calls: [call("b", "get_weather", "{\"city\":\"Oslo\"}")] }),
      MockProvider.reply("never asked")
    ]))))

  it.effect("failureMode \"return\": unknown tools, bad arguments and handler failures go back as {\"error\"}", () =>
    Effect.gen(function*() {
      const run = yield* Toolkit.run({ toolkit: Toolkit.make(GetWeather), messages })
      assert.strictEqual(run.stoppedBy, "answer")
      const failures = run.steps[0]!.toolResults
      assert.deepStrictEqual(failures.map((r) => r._tag === "ToolFailure" ? r.reason : r._tag), [
        "UnknownTool",
        "InvalidArguments",
        "InvalidArguments",
        "HandlerFailed"
      ])
      const [, second] = yield* requests
      const contents = second!.messages.slice(2).map((m) => JSON.parse(m.content as string).error as string)
      assert.strictEqual(contents[0], "there is no tool named \"get_time\"; the tools are: get_weather")
      assert.match(contents[1]!, /^the arguments are not JSON: /)
      assert.strictEqual(contents[2], "invalid arguments: city: Expected string, actual 3")
      assert.strictEqual(contents[3], "no station in Atlantis")
      assert.deepStrictEqual(second!.messages.slice(2).map((m) => m.role === "tool" && m.is_error), [
        true,
        true,
        true,
        true
      ])
    }).pipe(Effect.provide(MockProvider.layer([
      MockProvider.reply({
        tool_calls: [
          call("a", "get_time", "{}"),
          call("b", "get_weather", "{\"city\":"),
          call("c", "get_weather", "{\"city\":3}"),
          call("d", "get_weather", "{\"city\":\"Atlantis\"}")
        ]
      }),
      MockProvider.reply("sorry")
    ]))))

  it.effect("failureMode \"error\": the first failure ends the run with ToolError", () =>
    Effect.gen(function*() {
      const toolkit = Toolkit.make(GetWeather)
      const unknown = yield* Effect.flip(Toolkit.run({ toolkit, messages, failureMode: "error" }))
      assert.instanceOf(unknown, ToolError)
      if (unknown._tag !== "ToolError") return
      assert.strictEqual(unknown.reason, "UnknownTool")
      assert.strictEqual(unknown.toolName, "get_time")
      assert.strictEqual(unknown.toolCallId, "a")
      assert.strictEqual(unknown.provider, "mock")
      const failed = yield* Effect.flip(Toolkit.run({ toolkit, messages, failureMode: "error" }))
      assert.strictEqual(failed._tag === "ToolError" ? failed.reason : failed._tag, "HandlerFailed")
      assert.strictEqual(failed._tag === "ToolError" ? failed.cause : undefined, "no station in Atlantis")
      assert.strictEqual((yield* MockProvider.calls).length, 2)
    }).pipe(Effect.provide(MockProvider.layer([
      MockProvider.reply({ tool_calls: [call("a", "get_time", "{}")] }),
      MockProvider.reply({ tool_calls: [call("d", "get_weather", "{\"city\":\"Atlantis\"}")] })
    ]))))

  it.effect("a success Schema encodes the result; a Standard Schema and a bare JSON Schema serve as parameters", () =>
    Effect.gen(function*() {
      const When = Tool.make("when", {
        success: Schema.Struct({ at: Schema.Date }),
        handler: () => Effect.succeed({ at: new Date(0) })
      })
      const Echo = Tool.make("echo", {
        jsonSchema: { type: "object", properties: { x: { type: "number" } } },
        handler: (args) => Effect.succeed(args)
      })
      const Half = Tool.make("half", {
        parameters: {
          "~standard": {
            version: 1,
            vendor: "hand-made",
            validate: (u: unknown) =>
              typeof (u as { n?: unknown }).n === "number"
                ? { value: u as { n: number } }
                : { issues: [{ message: "n?" }] }
          }
        },
        jsonSchema: { type: "object", properties: { n: { type: "number" } }, required: ["n"] },
        handler: ({ n }: { n: number }) => Effect.succeed(n / 2)
      })
      const run = yield* Toolkit.run({ toolkit: Toolkit.make(When, Echo, Half), messages })
      const [, second] = yield* requests
      assert.deepStrictEqual(second!.messages.slice(2).map((m) => m.content), [
        "{\"at\":\"1970-01-01T00:00:00.000Z\"}",
        "{\"x\":1}",
        "2",
        "{\"error\":\"invalid arguments: n?\"}"
      ])
      assert.strictEqual(run.stoppedBy, "answer")
    }).pipe(Effect.provide(MockProvider.layer([
      MockProvider.reply({
        tool_calls: [
          call("a", "when", ""),
          call("b", "echo", "{\"x\":1}"),
          call("c", "half", "{\"n\":4}"),
          call("d", "half", "{}")
        ]
      }),
      MockProvider.reply("done")
    ]))))

  it.effect("bad options and tools are InvalidRequestError naming the field, before any I/O", () =>
    Effect.gen(function*() {
      const param = <T extends ReadonlyArray<Tool.Any>>(options: Toolkit.RunOptions<T>) =>
        Effect.map(Effect.flip(Toolkit.run(options)), (e) => e._tag === "InvalidRequestError" ? e.param : e._tag)
      const toolkit = Toolkit.make(GetWeather)
      assert.strictEqual(yield* param({ toolkit, messages, maxSteps: 0 }), "maxSteps")
      assert.strictEqual(yield* param({ toolkit, messages, concurrency: 0 }), "concurrency")
      assert.strictEqual(yield* param({ toolkit, messages, failureMode: "loud" as never }), "failureMode")
      assert.strictEqual(yield* param({ toolkit, messages, tools: [] } as never), "tools")
      assert.strictEqual(
        yield* param({ toolkit: Toolkit.make(GetWeather, GetWeather), messages }),
        "toolkit.tools[1].name"
      )
      const bad = Tool.make("bad name", { handler: () => Effect.void })
      assert.strictEqual(yield* param({ toolkit: Toolkit.make(bad), messages }), "toolkit.tools[0].name")
      const list = Tool.make("list", { parameters: Schema.Array(Schema.String), handler: () => Effect.void })
      assert.strictEqual(yield* param({ toolkit: Toolkit.make(list), messages }), "toolkit.tools[0].parameters")
      assert.strictEqual(yield* param({ toolkit, messages: [] }), "messages")
      assert.strictEqual((yield* MockProvider.calls).length, 0)
    }).pipe(Effect.provide(MockProvider.layer([]))))
})

describe("Toolkit.stream", () => {
  it.effect("each step's chunks, the tool events in call order, and Finish with the run last", () =>
    Effect.gen(function*() {
      const events = Chunk.toArray(
        yield* Stream.runCollect(Toolkit.stream({
          toolkit: Toolkit.make(GetWeather),
          messages
        }))
      )
      const tags = events.map((e) => e._tag).filter((tag, i, all) => tag !== "Chunk" || all[i - 1] !== "Chunk")
      assert.deepStrictEqual(tags, ["Chunk", "ToolCall", "ToolCall", "ToolResult", "ToolFailure", "Chunk", "Finish"])
      const calls = events.filter((e) => e._tag === "ToolCall")
      assert.deepStrictEqual(calls[0], { _tag: "ToolCall", id: "c1", name: "get_weather", arguments: { city: "Oslo" } })
      const failure = events.find((e) => e._tag === "ToolFailure")
      assert.deepStrictEqual(failure, {
        _tag: "ToolFailure",
        id: "c2",
        name: "get_weather",
        message: "no station in Atlantis",
        reason: "HandlerFailed"
      })
      const finish = events[events.length - 1]!
      if (finish._tag !== "Finish") return assert.fail("no Finish")
      assert.strictEqual(finish.run.stoppedBy, "answer")
      assert.strictEqual(finish.run.completion.choices[0]!.message.content, "Oslo is cold")
      assert.strictEqual(finish.run.steps.length, 2)
      const calls2 = yield* MockProvider.calls
      assert.deepStrictEqual(calls2.map((c) => c.method), ["stream", "stream"])
    }).pipe(Effect.provide(MockProvider.layer([
      MockProvider.reply({
        tool_calls: [
          call("c1", "get_weather", "{\"city\":\"Oslo\"}"),
          call("c2", "get_weather", "{\"city\":\"Atlantis\"}")
        ]
      }),
      MockProvider.stream("Oslo is cold")
    ]))))
})
