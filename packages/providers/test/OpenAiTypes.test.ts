/**
 * Code written against the `openai` package's types (6.49.0, a dev dependency) against ours. `pnpm typecheck`
 * compiles this file: the plain lines must compile; each `@ts-expect-error` line is a known gap of issue 15 ("Code
 * written against openai's types compiles against ours"), and stops compiling, so must lose its marker, once the gap
 * is closed.
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Domain from "@llm-api-router/core/Domain"
import { Client } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import type OpenAI from "openai"

type Create = Client["chat"]["completions"]["create"]
type Params = Parameters<Create>[0]
type EmbedParams = Parameters<Client["embeddings"]["create"]>[0]
const accepts = <T>(_: T): void => {}

export const requests = (
  messages: Array<OpenAI.Chat.ChatCompletionMessageParam>,
  tools: Array<OpenAI.Chat.ChatCompletionTool>,
  functionTools: Array<OpenAI.Chat.ChatCompletionFunctionTool>,
  toolChoice: OpenAI.Chat.ChatCompletionToolChoiceOption,
  params: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming,
  embedParams: OpenAI.EmbeddingCreateParams
): void => {
  const userOnly: Array<OpenAI.Chat.ChatCompletionUserMessageParam> = [{ role: "user", content: "hi" }]
  accepts<Params>({ messages: userOnly })
  // @ts-expect-error openai's message union (function messages, content parts we lack) is not our ChatMessage
  accepts<Params>({ messages })
  // @ts-expect-error openai's tools include custom tools
  accepts<Params>({ messages: userOnly, tools })
  accepts<Params>({ messages: userOnly, tools: functionTools })
  // @ts-expect-error openai's tool choice includes allowed_tools and custom
  accepts<Params>({ messages: userOnly, tool_choice: toolChoice })
  // @ts-expect-error openai's whole create params
  accepts<Params>(params)
  // @ts-expect-error newer request fields are excess properties
  accepts<Params>({ messages: userOnly, prediction: { type: "content", content: "x" }, store: true })
  // @ts-expect-error newer request fields are excess properties
  accepts<Params>({ messages: userOnly, modalities: ["text"], service_tier: "auto", verbosity: "low" })
  // @ts-expect-error newer request fields are excess properties
  accepts<Params>({ messages: userOnly, web_search_options: {}, prompt_cache_key: "k", safety_identifier: "s" })
  accepts<Params>({ messages: userOnly, metadata: { a: "b" } })
  accepts<EmbedParams>({ input: ["a", "b"], model: "m", dimensions: 4 })
  // @ts-expect-error openai's embedding params (token arrays, a required model)
  accepts<EmbedParams>(embedParams)
  // @ts-expect-error token-array input
  accepts<EmbedParams>({ input: [[1, 2, 3]] })
}

export const responses = (
  completion: Domain.ChatCompletion,
  chunk: Domain.ChatCompletionChunk,
  embeddings: Domain.EmbeddingResponse
): void => {
  // @ts-expect-error readonly arrays, logprobs and refusal shapes
  accepts<OpenAI.Chat.ChatCompletion>(completion)
  // @ts-expect-error readonly arrays, logprobs, service_tier and system_fingerprint shapes
  accepts<OpenAI.Chat.ChatCompletionChunk>(chunk)
  // @ts-expect-error readonly arrays
  accepts<OpenAI.CreateEmbeddingResponse>(embeddings)
  const history: Array<OpenAI.Chat.ChatCompletionMessageParam> = []
  // @ts-expect-error our response message is not an openai message param (readonly tool_calls)
  history.push(completion.choices[0]!.message)
}

describe("openai types", () => {
  it("an answer has OpenAI's fields at run time", async () => {
    const server = await FakeServer.start({ handler: FakeOpenAi.responder() })
    const client = new Client({ provider: "openai", apiKey: "sk-test", baseUrl: `${server.url}/v1`, defaultModel: "m" })
    try {
      const res = await client.chat.completions.create({ messages: [{ role: "user", content: "hi" }] })
      assert.strictEqual(res.object, "chat.completion")
      assert.strictEqual(res.choices[0]?.message.role, "assistant")
      assert.strictEqual(res.choices[0]?.message.content, "Echo: hi")
    } finally {
      await client.close()
      await server.close()
    }
  })

  // a gap of issue 15: OpenAI answers carry `refusal: null`; remove `.fails` once ours do
  it.fails("message.refusal is null, as in OpenAI's answers", async () => {
    const server = await FakeServer.start({ handler: FakeOpenAi.responder() })
    const client = new Client({ provider: "openai", apiKey: "sk-test", baseUrl: `${server.url}/v1`, defaultModel: "m" })
    try {
      const res = await client.chat.completions.create({ messages: [{ role: "user", content: "hi" }] })
      assert.strictEqual(res.choices[0]?.message.refusal, null)
    } finally {
      await client.close()
      await server.close()
    }
  })
})
