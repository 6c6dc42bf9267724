/**
 * Test helpers for code that uses `@llm-api-router/core`: a scripted mock `LlmProvider` layer, and a tracer that
 * records its spans.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as MockProvider from "./MockProvider.js"

/**
 * @since 0.1.0
 */
export * as RecordingTracer from "./RecordingTracer.js"
