/**
 * @llm-api-router/core: the domain (OpenAI-shaped requests, responses and chunks), the errors, the
 * `LlmProvider` service, retries, the SSE and NDJSON decoders and the HTTP layer.
 *
 * @since 0.1.0
 */
export * from "./Domain.js"
export * from "./LlmError.js"

/**
 * @since 0.1.0
 */
export * as Sse from "./Sse.js"
/**
 * @since 0.1.0
 */
export * as Json from "./Json.js"
/**
 * @since 0.1.0
 */
export * as Ndjson from "./Ndjson.js"
/**
 * @since 0.1.0
 */
export * as LlmProvider from "./LlmProvider.js"
/**
 * @since 0.1.0
 */
export * as Retry from "./Retry.js"
/**
 * @since 0.1.0
 */
export * as ChatStream from "./ChatStream.js"
/**
 * @since 0.1.0
 */
export * as Http from "./Http.js"
/**
 * @since 0.1.0
 */
export * as HttpTransport from "./HttpTransport.js"
/**
 * @since 0.1.0
 */
export * as ResponseCache from "./ResponseCache.js"
/**
 * @since 0.1.0
 */
export * as StreamDecoder from "./StreamDecoder.js"
/**
 * @since 0.1.0
 */
export * as Router from "./Router.js"
/**
 * @since 0.1.0
 */
export * as RateLimit from "./RateLimit.js"
/**
 * @since 0.1.0
 */
export * as Telemetry from "./Telemetry.js"
/**
 * @since 0.1.0
 */
export * as Identity from "./Identity.js"
/**
 * @since 0.1.0
 */
export * as Structured from "./Structured.js"
/**
 * @since 0.1.0
 */
export * as Tool from "./Tool.js"
/**
 * @since 0.1.0
 */
export * as Toolkit from "./Toolkit.js"
/**
 * @since 0.1.0
 */
export * as Secrets from "./Secrets.js"

/**
 * @since 0.2.0
 */
export * as ChunkContract from "./ChunkContract.js"

/**
 * @since 0.2.0
 */
export * as ChunkBuilder from "./ChunkBuilder.js"
