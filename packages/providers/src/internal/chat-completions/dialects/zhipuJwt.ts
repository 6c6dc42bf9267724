/**
 * Zhipu's JWT (protocols Zhipu §4.2): HS256 over `{"alg":"HS256","sign_type":"SIGN"}` and
 * `{api_key, exp, timestamp}`, where `exp` and `timestamp` are in MILLISECONDS (not the JWT standard's
 * seconds), signed with the raw UTF-8 bytes of the key's secret.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { createHmac } from "node:crypto"

/** The two halves of a `<id>.<secret>` key, or `undefined` when it has another shape. */
export const splitKey = (key: string): { readonly id: string; readonly secret: string } | undefined => {
  const dot = key.indexOf(".")
  if (dot <= 0 || dot === key.length - 1) return undefined
  return { id: key.slice(0, dot), secret: key.slice(dot + 1) }
}

const header = Buffer.from(JSON.stringify({ alg: "HS256", sign_type: "SIGN" }), "utf8").toString("base64url")

/** Signs a token valid from `nowMs` for `ttlMs`. */
export const sign = (id: string, secret: string, nowMs: number, ttlMs: number): string => {
  const payload = Buffer.from(JSON.stringify({ api_key: id, exp: nowMs + ttlMs, timestamp: nowMs }), "utf8")
    .toString("base64url")
  const signature = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url")
  return `${header}.${payload}.${signature}`
}

/**
 * The `authorization` header, signed on first use and then reused until `renewBeforeMs` before the token expires,
 * read from Effect's `Clock` (so it runs on `TestClock`). Two fibers that find it stale at once both sign: both
 * tokens are valid, and no lock sits on the hot path.
 */
export const headerCache = (
  id: string,
  secret: string,
  ttlMs: number,
  renewBeforeMs: number
): Effect.Effect<Readonly<Record<string, string>>> => {
  let cached: Readonly<Record<string, string>> | undefined = undefined
  let renewAt = 0
  return Effect.map(Clock.currentTimeMillis, (now) => {
    if (cached === undefined || now >= renewAt) {
      cached = { authorization: `Bearer ${sign(id, secret, now, ttlMs)}` }
      renewAt = now + ttlMs - renewBeforeMs
    }
    return cached
  })
}
