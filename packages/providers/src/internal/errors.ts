/**
 * What every codec needs to turn a provider's failure into one of our errors: the facts gathered
 * from a response or an error event, and the fields and message every error carries. The mapping
 * table itself (which facts give which tag) is each protocol's own.
 *
 * @internal
 */
import { ResponseDecodeError } from "@llm-api-router/core"

/** What we know about a failure, from a non-2xx response or an error event inside a stream. */
export interface ErrorInfo {
  readonly provider: string
  readonly model: string | undefined
  /** The HTTP status, when the error came with one (an error event in a 200 stream has none). */
  readonly status: number | undefined
  readonly message: string
  /** The provider's error type or category (OpenAI `type`, Anthropic `error.type`, Gemini `status`). */
  readonly type: string | undefined
  /** The provider's own error code. */
  readonly code: string | undefined
  readonly param: string | undefined
  readonly requestId: string | undefined
  readonly body: string | undefined
  readonly headers: Readonly<Record<string, string>>
}

const MAX_BODY_IN_ERROR = 2048

/** Bodies kept in errors are cut to 2 KiB: enough to read, never a memory problem. */
export const truncate = (text: string): string =>
  text.length <= MAX_BODY_IN_ERROR ? text : `${text.slice(0, MAX_BODY_IN_ERROR)}… (${text.length} characters)`

/** `"openai: Incorrect API key provided (HTTP 401, code invalid_api_key)"` */
export const describe = (info: ErrorInfo): string => {
  const facts: Array<string> = []
  if (info.status !== undefined) facts.push(`HTTP ${info.status}`)
  if (info.code !== undefined) facts.push(`code ${info.code}`)
  else if (info.type !== undefined) facts.push(`type ${info.type}`)
  const suffix = facts.length > 0 ? ` (${facts.join(", ")})` : ""
  return `${info.provider}: ${info.message}${suffix}`
}

/** The fields every error class takes, from what we know. */
export const errorFields = (info: ErrorInfo) => ({
  provider: info.provider,
  message: describe(info),
  ...(info.model !== undefined ? { model: info.model } : {}),
  ...(info.status !== undefined ? { status: info.status } : {}),
  ...(info.requestId !== undefined ? { requestId: info.requestId } : {}),
  ...(info.code !== undefined ? { code: info.code } : {}),
  ...(info.body !== undefined ? { body: info.body } : {})
})

/** A response that does not match its protocol. */
export const decodeError = (provider: string, model: string | undefined, what: string, detail: string) =>
  new ResponseDecodeError({
    provider,
    ...(model !== undefined ? { model } : {}),
    message: `${provider}: ${what}: ${detail}`
  })

let idCounter = 0

/** Ids for things a server sent without one (tool calls, responses); unique within the process. */
export const generateId = (prefix: string): string =>
  `${prefix}${Date.now().toString(36)}${(idCounter++).toString(36)}${Math.random().toString(36).slice(2, 8)}`
