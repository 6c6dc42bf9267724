/**
 * The headers every request goes with, beyond the provider's own: `content-type` on a body, and the library's
 * `user-agent` unless the request names one of its own (a provider's `headers` option overrides it).
 *
 * Providers reuse one headers object from call to call, so the completed object is made once per headers object and
 * kept beside it (a WeakMap): nothing is built per call.
 *
 * @internal
 */
import { version } from "../version.js"

/** What we say we are: `llm-api-router/<version>`. */
export const userAgent = `llm-api-router/${version}`

type Headers = Readonly<Record<string, string>>

const namesUserAgent = (headers: Headers): boolean => {
  for (const name in headers) {
    if (name.length === 10 && name.toLowerCase() === "user-agent") return true
  }
  return false
}

/** Completes a request's headers, `json` when it has a body. */
export const makeCompleter = () => {
  const plain = new WeakMap<Headers, Headers>()
  const withJson = new WeakMap<Headers, Headers>()
  return (headers: Headers, json: boolean): Headers => {
    const cache = json ? withJson : plain
    let out = cache.get(headers)
    if (out === undefined) {
      const agent = namesUserAgent(headers) ? undefined : userAgent
      out = {
        ...(agent !== undefined ? { "user-agent": agent } : {}),
        ...headers,
        ...(json ? { "content-type": "application/json" } : {})
      }
      cache.set(headers, out)
    }
    return out
  }
}
