/**
 * @llm-api-router/cache-redis: a `ResponseCache` storage in Redis, shared across processes.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as RedisCache from "./RedisCache.js"

/**
 * @since 0.1.0
 */
export * as RedisRateLimit from "./RedisRateLimit.js"
