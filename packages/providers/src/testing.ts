/**
 * Fake provider servers for tests that must cross a real socket (`@llm-api-router/providers/testing`).
 *
 * `FakeServer` is the protocol-agnostic loopback server (scripted replies, request recording, fault injection);
 * `FakeOpenAi` builds OpenAI-compatible replies for it and can answer requests by itself.
 *
 * @example
 * ```ts
 * import { FakeOpenAi, FakeServer } from "@llm-api-router/providers/testing"
 *
 * const server = await FakeServer.start()
 * server.enqueue(FakeOpenAi.streamReply([chunk1, chunk2], { split: 7, chunkDelay: 5 }))
 * // point a provider's baseUrl at `${server.url}/v1`, run it, then assert on server.requests
 * await server.close()
 * ```
 *
 * @since 0.1.0
 */

/**
 * A loopback HTTP server that replays scripted replies, records requests and injects transport faults.
 *
 * @since 0.1.0
 */
export * as FakeServer from "./FakeServer.js"

/**
 * OpenAI-compatible replies (SSE streams, JSON and error bodies) and an auto-responder for `FakeServer`.
 *
 * @since 0.1.0
 */
export * as FakeOpenAi from "./FakeOpenAi.js"

/**
 * Anthropic Messages replies (SSE with `event:` lines, JSON and error bodies) and an auto-responder for `FakeServer`.
 *
 * @since 0.1.0
 */
export * as FakeAnthropic from "./FakeAnthropic.js"

/**
 * Ollama native-API replies (NDJSON streams, JSON and `{"error"}` bodies) and an auto-responder for `FakeServer`.
 *
 * @since 0.1.0
 */
export * as FakeOllama from "./FakeOllama.js"

/**
 * DashScope native-protocol replies (its SSE framing, flat error bodies, error events) and an auto-responder for
 * `FakeServer`.
 *
 * @since 0.1.0
 */
export * as FakeDashScope from "./FakeDashScope.js"

/**
 * Gemini replies (CRLF-framed SSE, JSON bodies, errors in Google's envelope) and an auto-responder for `FakeServer`.
 *
 * @since 0.1.0
 */
export * as FakeGemini from "./FakeGemini.js"

/**
 * Reproducible faults, drawn per call and per server, for the OpenAI-compatible fake server.
 *
 * @since 0.2.0
 */
export * as FakeFaults from "./FakeFaults.js"
