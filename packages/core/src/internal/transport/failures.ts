/**
 * Plain helpers for the HTTP transport's error paths: classifying transport failures by walking their `cause`
 * chains, truncating bodies (secrets are scrubbed by `Secrets`). Nothing here imports `@effect/platform`, and
 * nothing here runs on a successful call.
 *
 * @internal
 */

/** @internal */
export type TransportFailure =
  | { readonly _tag: "ConnectTimeout"; readonly message: string }
  | { readonly _tag: "HeadersTimeout"; readonly message: string }
  | { readonly _tag: "BodyTimeout"; readonly message: string }
  | { readonly _tag: "InvalidRequest"; readonly message: string }
  | { readonly _tag: "Network"; readonly message: string }

interface Node {
  readonly code: string | undefined
  readonly syscall: string | undefined
  readonly message: string
}

const maxDepth = 8

/**
 * Every error reachable from `cause` through `cause` properties and `AggregateError.errors` (Node's happy eyeballs
 * reports one error per address tried), outermost first, each visited once.
 */
const nodesOf = (cause: unknown): Array<Node> => {
  const out: Array<Node> = []
  const seen = new Set<unknown>()
  const visit = (u: unknown, depth: number): void => {
    if (depth > maxDepth || typeof u !== "object" || u === null || seen.has(u)) return
    seen.add(u)
    const record = u as Record<string, unknown>
    out.push({
      code: typeof record.code === "string" ? record.code : undefined,
      syscall: typeof record.syscall === "string" ? record.syscall : undefined,
      message: typeof record.message === "string" ? record.message : ""
    })
    if (Array.isArray(record.errors)) { for (const inner of record.errors) visit(inner, depth + 1) }
    visit(record.cause, depth + 1)
  }
  visit(cause, 0)
  return out
}

const describeNode = (node: Node): string =>
  node.code === undefined || node.message.includes(node.code)
    ? node.message
    : node.message === ""
    ? node.code
    : `${node.message} (${node.code})`

/**
 * What happened, in the words of the lowest-level errors that say something (`connect ECONNREFUSED
 * 127.0.0.1:1234`, `other side closed (UND_ERR_SOCKET)`), skipping wrappers such as Effect's `RequestError`.
 */
const describe = (nodes: ReadonlyArray<Node>): string => {
  const coded = nodes.filter((node) => node.code !== undefined)
  const chosen = coded.length > 0 ? coded : nodes.filter((node) => node.message !== "")
  // an AggregateError carries the code of its first error: keep the distinct descriptions only
  const parts = [...new Set(chosen.map(describeNode).filter((part) => part !== ""))]
  return parts.length === 0 ? "unknown transport failure" : parts.join("; ")
}

/**
 * Sorts a transport failure into what the caller can act on. Undici's own header and body timeouts are disabled by
 * `@effect/platform-node` (it leaves timeouts to Effect), but are mapped all the same in case they ever fire.
 *
 * @internal
 */
export const classifyTransportFailure = (cause: unknown): TransportFailure => {
  const nodes = nodesOf(cause)
  const message = describe(nodes)
  for (const node of nodes) {
    switch (node.code) {
      case "UND_ERR_CONNECT_TIMEOUT":
        return { _tag: "ConnectTimeout", message: describeNode(node) }
      case "ETIMEDOUT":
        if (node.syscall === "connect") return { _tag: "ConnectTimeout", message: describeNode(node) }
        break
      case "UND_ERR_HEADERS_TIMEOUT":
        return { _tag: "HeadersTimeout", message: describeNode(node) }
      case "UND_ERR_BODY_TIMEOUT":
        return { _tag: "BodyTimeout", message: describeNode(node) }
      // a header value with a line break, an unsupported option: retrying cannot help
      case "UND_ERR_INVALID_ARG":
      case "ERR_INVALID_URL":
      case "ERR_INVALID_HTTP_TOKEN":
      case "ERR_INVALID_CHAR":
        return { _tag: "InvalidRequest", message: describeNode(node) }
    }
  }
  return { _tag: "Network", message }
}

/**
 * The first `max` characters of `text`, with an ellipsis when something was cut; never splits a surrogate pair.
 *
 * @internal
 */
export const truncate = (text: string, max: number): string => {
  if (text.length <= max) return text
  let end = max
  const last = text.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end--
  return text.slice(0, end) + "…"
}

/**
 * The first of `names` present in `headers` (lower-cased names).
 *
 * @internal
 */
export const requestIdOf = (
  headers: Readonly<Record<string, string>>,
  names: ReadonlyArray<string>
): string | undefined => {
  for (const name of names) {
    const value = headers[name]
    if (value !== undefined && value !== "") return value
  }
  return undefined
}

/**
 * Joins byte chunks into one array of at most `max` bytes.
 *
 * @internal
 */
export const concatBounded = (chunks: ReadonlyArray<Uint8Array>, max: number): Uint8Array => {
  let size = 0
  for (const chunk of chunks) size += chunk.length
  const out = new Uint8Array(Math.min(size, max))
  let offset = 0
  for (const chunk of chunks) {
    if (offset >= out.length) break
    const take = Math.min(chunk.length, out.length - offset)
    out.set(take === chunk.length ? chunk : chunk.subarray(0, take), offset)
    offset += take
  }
  return out
}
