/**
 * What the benchmark server sends: an OpenAI chat completion, chat completion chunk streams, and the Responses API
 * equivalents that `@effect/ai-openai` asks for. Built once, as bytes, so that the server does no per-request work
 * beyond writing them.
 */

/** The model names the clients ask for; the server picks the reply by model. */
export const models = {
  /** any non-streaming call */
  json: "bench-json",
  /** a stream of 200 content chunks */
  n200: "bench-n200",
  /** a stream of 5,000 content chunks */
  n5000: "bench-n5000",
  /** a stream of about 50 MB */
  mb50: "bench-mb50"
} as const

export const chunkCounts: Record<string, number> = {
  [models.n200]: 200,
  [models.n5000]: 5000,
  // content pieces of 1 KiB: about 50 MB of events
  [models.mb50]: 42_000
}

const words = ["The ", "quick ", "brown ", "fox ", "jumps ", "over ", "the ", "lazy ", "dog. ", "Again, "]

const content = Array.from({ length: 40 }, (_, i) => words[i % words.length]).join("")

const usage = { prompt_tokens: 12, completion_tokens: 40, total_tokens: 52 }

export const chatCompletion = (model: string): string =>
  JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion",
    created: 1_764_000_000,
    model,
    system_fingerprint: "fp_bench",
    choices: [{
      index: 0,
      message: { role: "assistant", content, refusal: null },
      logprobs: null,
      finish_reason: "stop"
    }],
    usage
  })

const chunk = (model: string, delta: Record<string, unknown>, finish: string | null): string =>
  `data: ${
    JSON.stringify({
      id: "chatcmpl-bench",
      object: "chat.completion.chunk",
      created: 1_764_000_000,
      model,
      system_fingerprint: "fp_bench",
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }]
    })
  }\n\n`

/** `count` content chunks (the first with the role, the last with the finish reason), a usage chunk, `[DONE]`. */
export const chatStream = (model: string, count: number): string => {
  const big = model === models.mb50
  const piece = big ? "x".repeat(1024) : undefined
  const parts: Array<string> = []
  for (let i = 0; i < count; i++) {
    const text = piece ?? words[i % words.length]
    const delta = i === 0 ? { role: "assistant", content: text } : { content: text }
    parts.push(chunk(model, delta, i === count - 1 ? "stop" : null))
  }
  parts.push(`data: ${
    JSON.stringify({
      id: "chatcmpl-bench",
      object: "chat.completion.chunk",
      created: 1_764_000_000,
      model,
      system_fingerprint: "fp_bench",
      choices: [],
      usage: { prompt_tokens: 12, completion_tokens: count, total_tokens: 12 + count }
    })
  }\n\n`)
  parts.push("data: [DONE]\n\n")
  return parts.join("")
}

// --- the Responses API (for @effect/ai-openai) ---

const responseObject = (model: string, status: string, output: Array<unknown>, withUsage: boolean) => ({
  id: "resp_bench",
  object: "response",
  created_at: 1_764_000_000,
  status,
  background: false,
  error: null,
  incomplete_details: null,
  instructions: null,
  max_output_tokens: null,
  model,
  output,
  parallel_tool_calls: true,
  previous_response_id: null,
  reasoning: { effort: null, summary: null },
  service_tier: "default",
  store: false,
  temperature: 1,
  text: { format: { type: "text" } },
  tool_choice: "auto",
  tools: [],
  top_p: 1,
  truncation: "disabled",
  usage: withUsage
    ? {
      input_tokens: 12,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 40,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 52
    }
    : null,
  user: null,
  metadata: {}
})

const message = (text: string, status: string) => ({
  type: "message",
  id: "msg_bench",
  status,
  role: "assistant",
  content: status === "completed" ? [{ type: "output_text", text, annotations: [], logprobs: [] }] : []
})

export const response = (model: string): string =>
  JSON.stringify(responseObject(model, "completed", [message(content, "completed")], true))

export const responseStream = (model: string, count: number): string => {
  let sequence = 0
  const event = (type: string, fields: Record<string, unknown>): string =>
    `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...fields })}\n\n`
  const parts: Array<string> = []
  const ids = { item_id: "msg_bench", output_index: 0, content_index: 0 }
  parts.push(event("response.created", { response: responseObject(model, "in_progress", [], false) }))
  parts.push(event("response.in_progress", { response: responseObject(model, "in_progress", [], false) }))
  parts.push(event("response.output_item.added", { output_index: 0, item: message("", "in_progress") }))
  parts.push(event("response.content_part.added", {
    ...ids,
    part: { type: "output_text", text: "", annotations: [], logprobs: [] }
  }))
  const big = model === models.mb50
  const piece = big ? "x".repeat(1024) : undefined
  let text = ""
  for (let i = 0; i < count; i++) {
    const delta = piece ?? words[i % words.length]
    if (!big) text += delta
    parts.push(event("response.output_text.delta", { ...ids, delta, logprobs: [] }))
  }
  parts.push(event("response.output_text.done", { ...ids, text, logprobs: [] }))
  parts.push(event("response.content_part.done", {
    ...ids,
    part: { type: "output_text", text, annotations: [], logprobs: [] }
  }))
  parts.push(event("response.output_item.done", { output_index: 0, item: message(text, "completed") }))
  parts.push(event("response.completed", {
    response: responseObject(model, "completed", [message(text, "completed")], true)
  }))
  return parts.join("")
}
