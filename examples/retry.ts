/**
 * Retry configuration: the default policy (which honours `retry-after`), a `RetryConfig`, any `Schedule`, and no
 * retries at all. Only retryable errors (429, 5xx, timeouts, network) are retried; when attempts run out the error
 * is `RetryExhausted`, carrying the last one.
 *
 * Always offline: the failures are scripted on a fake OpenAI-compatible server.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/retry.ts
 */
import { ProviderError, Retry, RetryExhausted } from "@llm-api-router/core"
import type { ProviderConfig } from "@llm-api-router/providers"
import { Client } from "@llm-api-router/providers"
import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
import { Schedule } from "effect"

const server = await FakeServer.start({ handler: FakeOpenAi.responder() })
console.log(`Offline: the failures are scripted on a fake OpenAI-compatible server at ${server.url}.`)
const overloaded = () => FakeOpenAi.errorReply(503, { message: "overloaded" })

const run = async (label: string, retry: ProviderConfig.ProviderConfig["retry"], failures: number) => {
  await using client = new Client({ provider: "openai", apiKey: "sk-offline", baseUrl: server.url, retry })
  server.reset()
  server.setHandler(FakeOpenAi.responder())
  for (let i = 0; i < failures; i++) server.enqueue(overloaded())
  let outcome: string
  try {
    const res = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] })
    outcome = `answered "${res.choices[0]?.message.content}"`
  } catch (error) {
    if (error instanceof RetryExhausted) outcome = `RetryExhausted (last: ${error.lastError._tag})`
    else if (error instanceof ProviderError) outcome = "ProviderError"
    else throw error
  }
  console.log(`${label}: ${outcome} after ${server.requests.length} attempt(s)`)
}

// The default policy: 3 retries, exponential from 1 s with jitter; a retry-after (here 200 ms) replaces the delay.
{
  await using client = new Client({ provider: "openai", apiKey: "sk-offline", baseUrl: server.url })
  server.enqueue(FakeOpenAi.errorReply(429, { message: "slow down", code: "rate_limit_exceeded" }, {
    "retry-after-ms": "200"
  }))
  const res = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] })
  console.log(`default policy: waited the 200 ms the 429 asked for, then "${res.choices[0]?.message.content}"`)
}

// A RetryConfig: the same policy, other numbers.
await run("RetryConfig { maxRetries: 2 }", { maxRetries: 2, initialDelay: "20 millis", jitter: false }, 1)
await run("RetryConfig { maxRetries: 2 }, 3 failures", { maxRetries: 2, initialDelay: "20 millis", jitter: false }, 3)
// Any Schedule: here every 10 ms, at most 4 times; Retry.withRetryAfter adds the retry-after handling to it.
await run(
  "Schedule.spaced + recurs(4)",
  Retry.withRetryAfter(Schedule.spaced("10 millis").pipe(Schedule.intersect(Schedule.recurs(4)))),
  3
)
// No retries: the first error is the answer (not wrapped in RetryExhausted).
await run("retry: false", false, 1)
await server.close()
