/**
 * Zhipu's (BigModel, GLM) differences from the plain OpenAI protocol (protocols Zhipu §4): business error codes
 * inside coarse statuses, the `sensitive` / `network_error` / `model_context_window_exceeded` finish reasons,
 * sampling ranges, `tool_choice` limited to `"auto"`, bare base64 images, and embeddings without base64.
 *
 * @internal
 */
import {
  AuthenticationError,
  ContentFilterError,
  ContextLengthError,
  type FinishReason,
  InvalidRequestError,
  type LlmError,
  type LlmProvider,
  PermissionDeniedError,
  ProviderError,
  QuotaExceededError
} from "@llm-api-router/core"
import { errorFields, type ErrorInfo, rateLimited } from "../../errors.js"

const invalid = (info: ErrorInfo, param?: string) =>
  new InvalidRequestError({
    ...errorFields(info),
    source: "provider",
    ...(param !== undefined ? { param } : info.param !== undefined ? { param: info.param } : {})
  })

/**
 * The business-code table. Zhipu's HTTP status is coarse (429 means throttled, out of balance or out of plan
 * quota alike), so the code decides; a code not listed falls through to OpenAI's status table.
 */
export const classifyError = (info: ErrorInfo): LlmError | undefined => {
  switch (info.code) {
    case "1000": // authentication failed
    case "1001": // authentication header missing
    case "1002": // invalid token
    case "1003": // token expired
    case "1004": // token authentication failed
      return new AuthenticationError(errorFields(info))
    case "1110": // account inactive
    case "1111": // account does not exist
    case "1112": // account locked
    case "1120": // account unreachable
    case "1121": // account locked for irregular activity
    case "1220": // no permission for this API
    case "1313": // fair-use violation (coding plan)
      return new PermissionDeniedError(errorFields(info))
    case "1113": // in arrears / no balance (sent as a 429)
    case "1304": // daily call limit reached
    case "1308": // usage limit reached, reset time in the message
    case "1309": // plan expired / quota exhausted
    case "1310": // weekly or monthly limit reached
      return new QuotaExceededError(errorFields(info))
    case "1210": // bad parameters
    case "1212": // the model does not support this call
    case "1213": // a required field is missing
    case "1214": // a field is invalid
    case "1215": // mutually exclusive fields
    case "1221": // API offline
    case "1222": // API does not exist
    case "1231": // duplicate request id
      return invalid(info)
    case "1211": // unknown model
      return invalid(info, "model")
    case "1261": // prompt too long
      return new ContextLengthError(errorFields(info))
    case "1301": // unsafe or sensitive content in the input or output
      return new ContentFilterError(errorFields(info))
    case "1302": // concurrency too high
    case "1303": // request frequency too high
    case "1305": // overloaded, too many requests
      return rateLimited(info)
    case "500":
    case "1230": // call process error
    case "1234": // network error
      return new ProviderError(errorFields(info))
  }
  switch (info.status) {
    case 434: // no API permission
      return new PermissionDeniedError(errorFields(info))
    case 435: // file larger than 100 MB
      return invalid(info)
  }
  return undefined
}

/**
 * `network_error`: inference failed; there is no OpenAI equivalent, and a retry may succeed.
 * `model_context_window_exceeded`: the context filled up mid-answer, a `length` cut.
 * (`sensitive` is in OpenAI's table already, as `content_filter`.)
 */
export const finishReason = (
  raw: string,
  context: { readonly provider: string; readonly model: string }
): FinishReason | LlmError | undefined => {
  switch (raw) {
    case "network_error":
      return new ProviderError({
        provider: context.provider,
        model: context.model,
        code: raw,
        message: `${context.provider}: inference failed on the server (finish_reason "network_error")`
      })
    case "model_context_window_exceeded":
      return "length"
  }
  return undefined
}

type Message = LlmProvider.ResolvedChatRequest["messages"][number]

const bareBase64 = (url: string): string => {
  if (!url.startsWith("data:")) return url
  const comma = url.indexOf(",")
  return comma < 0 ? url : url.slice(comma + 1)
}

/** Images as bare base64: the official SDK strips the data-URL prefix, and some models reject it. */
const imagesAsBareBase64 = (message: Message): Message => {
  if (message.role !== "user" || typeof message.content === "string") return message
  if (!message.content.some((part) => part.type === "image_url" && part.image_url.url.startsWith("data:"))) {
    return message
  }
  return {
    ...message,
    content: message.content.map((part) =>
      part.type === "image_url" && part.image_url.url.startsWith("data:")
        ? { ...part, image_url: { ...part.image_url, url: bareBase64(part.image_url.url) } }
        : part
    )
  }
}

/**
 * The chat body hook:
 * - `temperature` 0 (greedy in OpenAI's terms) becomes `do_sample: false`; the rest is kept inside the open
 *   interval (0, 1) older models require, as the official SDK does; `top_p` within [0.01, 0.99];
 * - `tool_choice`: Zhipu takes only `"auto"`; `"none"` is honoured by not offering the tools, `"required"` and a
 *   named tool become `"auto"` (the tools are still offered);
 * - `stream_options` is not sent: the usage comes on the finishing chunk anyway;
 * - data-URL images are sent as bare base64.
 */
export const chatBody = (
  body: Record<string, unknown>,
  _request: LlmProvider.ResolvedChatRequest
): Record<string, unknown> => {
  delete body.stream_options
  const temperature = body.temperature
  if (typeof temperature === "number") {
    if (temperature <= 0) {
      delete body.temperature
      body.do_sample = false
    } else if (temperature >= 1) {
      body.temperature = 0.99
    }
  }
  const topP = body.top_p
  if (typeof topP === "number") body.top_p = Math.min(0.99, Math.max(0.01, topP))
  const choice = body.tool_choice
  if (choice !== undefined && choice !== "auto") {
    if (choice === "none") {
      delete body.tools
      delete body.tool_choice
    } else {
      body.tool_choice = "auto"
    }
  }
  const messages = body.messages as ReadonlyArray<Message>
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!
    if (message.role === "user" && typeof message.content !== "string") {
      body.messages = messages.map(imagesAsBareBase64)
      break
    }
  }
  return body
}
