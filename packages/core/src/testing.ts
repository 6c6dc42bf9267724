/**
 * Test helpers for code that uses `@llm-api-router/core`: a scripted mock `LlmProvider` layer.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as MockProvider from "./MockProvider.js"
