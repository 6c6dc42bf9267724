/**
 * An `@effect/ai` call (its prompt, tools, tool choice and response format) as one of our chat requests.
 *
 * @internal
 */
import * as AiError from "@effect/ai/AiError"
import type * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Prompt from "@effect/ai/Prompt"
import * as Tool from "@effect/ai/Tool"
import type {
  ChatCompletionRequest,
  ChatMessage,
  FunctionTool,
  ToolCall,
  ToolChoice,
  UserContentPart
} from "@llm-api-router/core"
import { LlmProvider } from "@llm-api-router/core"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import { module } from "../ErrorMapping.js"
import type { ReplayFields, ReplayMemo } from "./replay.js"
import { appendReplayFields, replayFieldsOf } from "./replay.js"
import { metadataKey } from "./response.js"

/** The request fields a caller may set for every call (`Config`): everything but what the prompt and tools decide. */
export type Defaults = Omit<ChatCompletionRequest, "messages" | "tools" | "tool_choice" | "response_format">

/**
 * How the answer of a `generateObject` call comes back: as text (`json_schema` or JSON mode), or as the arguments of
 * a forced tool named `name`, which become the text that `@effect/ai` decodes.
 */
export type Structured =
  | { readonly _tag: "Text" }
  | { readonly _tag: "Tool"; readonly name: string }

export interface Planned {
  readonly request: ChatCompletionRequest
  readonly structured: Structured
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/

const malformed = (method: string, description: string) => new AiError.MalformedInput({ module, method, description })

class Rejected {
  constructor(readonly error: AiError.MalformedInput) {}
}

// ---------------------------------------------------------------------------------------------
// prompt
// ---------------------------------------------------------------------------------------------

const isUrlString = (data: string) =>
  data.startsWith("https://") || data.startsWith("http://") || data.startsWith("data:")

/** The file as a URL: a URL as it is, bytes and base64 text as a `data:` URL. */
const fileUrl = (part: Prompt.FilePart): string => {
  const data = part.data
  if (data instanceof URL) return data.href
  if (data instanceof Uint8Array) return `data:${part.mediaType};base64,${Encoding.encodeBase64(data)}`
  return isUrlString(data) ? data : `data:${part.mediaType};base64,${data}`
}

const fileBase64 = (method: string, part: Prompt.FilePart): string => {
  const data = part.data
  if (data instanceof Uint8Array) return Encoding.encodeBase64(data)
  if (data instanceof URL || isUrlString(data)) {
    throw new Rejected(malformed(method, `a ${part.mediaType} file must be sent as data, not as a URL`))
  }
  return data
}

/**
 * Anthropic's prompt-caching marker from a prompt message's or part's provider options: ours
 * (`{ "llm-api-router": { cacheControl } }`) or `@effect/ai-anthropic`'s (`{ anthropic: { cacheControl } }`), so that
 * prompts written for that provider cache the same way here. It is passed on as it is: the request's validation
 * names it when it is not `{ type: "ephemeral", ttl? }`.
 */
const cacheControlOf = (options: Prompt.ProviderOptions): { readonly cache_control?: any } => {
  const marker = options[metadataKey]?.cacheControl ?? options.anthropic?.cacheControl
  return marker === undefined ? {} : { cache_control: marker }
}

const userPart = (method: string, part: Prompt.UserMessagePart): UserContentPart => {
  if (part.type === "text") return { type: "text", text: part.text, ...cacheControlOf(part.options) }
  const mediaType = part.mediaType.toLowerCase()
  if (mediaType.startsWith("image/")) {
    return { type: "image_url", image_url: { url: fileUrl(part) }, ...cacheControlOf(part.options) }
  }
  if (mediaType === "audio/wav" || mediaType === "audio/x-wav" || mediaType === "audio/wave") {
    return { type: "input_audio", input_audio: { data: fileBase64(method, part), format: "wav" } }
  }
  if (mediaType === "audio/mpeg" || mediaType === "audio/mp3") {
    return { type: "input_audio", input_audio: { data: fileBase64(method, part), format: "mp3" } }
  }
  if (mediaType === "application/pdf" || mediaType.startsWith("text/")) {
    const data = part.data
    if (typeof data === "string" && !isUrlString(data) && data.startsWith("file-")) {
      return { type: "file", file: { file_id: data }, ...cacheControlOf(part.options) }
    }
    return {
      type: "file",
      file: {
        file_data: fileUrl(part),
        ...(part.fileName !== undefined ? { filename: part.fileName } : {})
      }
    }
  }
  throw new Rejected(malformed(method, `a file of media type ${part.mediaType} cannot be sent to the model`))
}

const stringify = (value: unknown): string => {
  if (typeof value === "string") return value
  return JSON.stringify(value) ?? "null"
}

const assistantMessage = (
  message: Prompt.AssistantMessage,
  memo: ReplayMemo
): Extract<ChatMessage, { role: "assistant" }> | undefined => {
  let text = ""
  let reasoning: string | undefined = undefined
  let replay: ReplayFields | undefined = undefined
  const calls: Array<ToolCall> = []
  for (const part of message.content) {
    switch (part.type) {
      case "text":
        text += part.text
        break
      case "reasoning": {
        reasoning = (reasoning ?? "") + part.text
        const given = replayFieldsOf(part.options[metadataKey])
        if (given !== undefined) replay = appendReplayFields(replay, given)
        break
      }
      case "tool-call":
        // A call the provider ran itself has nothing to answer on our side.
        if (!part.providerExecuted) {
          calls.push({
            id: part.id,
            type: "function",
            function: { name: part.name, arguments: stringify(part.params) }
          })
        }
        break
      // Provider-executed results and generated files have no place in a Chat Completions assistant turn.
      case "tool-result":
      case "file":
        break
    }
  }
  if (text === "" && calls.length === 0 && reasoning === undefined) return undefined
  // A prompt built from an answer by `@effect/ai` has lost the reasoning's signatures: the model remembers them.
  if (replay === undefined && reasoning !== undefined) replay = memo.recall(reasoning)
  return {
    role: "assistant",
    content: text === "" && calls.length > 0 ? null : text,
    ...(calls.length > 0 ? { tool_calls: calls } : {}),
    ...(reasoning !== undefined ? { reasoning_content: reasoning } : {}),
    ...replay,
    ...cacheControlOf(message.options)
  }
}

/** A tool's result as the tool message's text; a failure as `{"error": …}`, as `Toolkit.run` sends it. */
const toolResultContent = (part: Prompt.ToolResultPart): string =>
  part.isFailure ? JSON.stringify({ error: part.result ?? null }) : stringify(part.result)

const messagesOf = (method: string, prompt: Prompt.Prompt, memo: ReplayMemo): Array<ChatMessage> => {
  const messages: Array<ChatMessage> = []
  for (const message of prompt.content) {
    switch (message.role) {
      case "system":
        messages.push({ role: "system", content: message.content, ...cacheControlOf(message.options) })
        break
      case "user": {
        const parts = message.content.map((part) => userPart(method, part))
        const only = parts[0]
        messages.push({
          role: "user",
          content: parts.length === 1 && only!.type === "text" && only!.cache_control === undefined
            ? only!.text
            : parts,
          ...cacheControlOf(message.options)
        })
        break
      }
      case "assistant": {
        const assistant = assistantMessage(message, memo)
        if (assistant !== undefined) messages.push(assistant)
        // Results of calls the provider ran are not sent back: the provider already has them.
        break
      }
      case "tool": {
        const results = message.content.filter((part) => !part.providerExecuted)
        results.forEach((part, i) => {
          // The message's marker goes on its last result: the one Anthropic's cache boundary falls after.
          const marker = i === results.length - 1 ? { ...cacheControlOf(message.options) } : {}
          messages.push({
            role: "tool",
            tool_call_id: part.id,
            content: toolResultContent(part),
            ...marker,
            ...cacheControlOf(part.options)
          })
        })
        break
      }
    }
  }
  return messages
}

// ---------------------------------------------------------------------------------------------
// tools and response format
// ---------------------------------------------------------------------------------------------

const functionTool = (method: string, tool: Tool.Any): FunctionTool => {
  if (Tool.isProviderDefined(tool)) {
    throw new Rejected(
      malformed(method, `the provider-defined tool ${tool.name} (${tool.id}) is not available through llm-api-router`)
    )
  }
  const ast = tool.parametersSchema.ast
  const description = tool.description ?? Tool.getDescriptionFromSchemaAst(ast)
  return {
    type: "function",
    function: {
      name: tool.name,
      ...(description !== undefined ? { description } : {}),
      parameters: Tool.getJsonSchemaFromSchemaAst(ast) as unknown as Record<string, unknown>
    }
  }
}

const toolChoiceOf = (choice: LanguageModel.ToolChoice<any>): ToolChoice => {
  if (typeof choice === "string") return choice
  if ("tool" in choice) return { type: "function", function: { name: choice.tool } }
  // `oneOf`: `@effect/ai` has already left out the other tools.
  return choice.mode ?? "auto"
}

/** A name the object's answer may travel under: OpenAI's and the forced tool's `[a-zA-Z0-9_-]{1,64}`. */
const objectNameOf = (name: string): string => {
  if (TOOL_NAME.test(name)) return name
  const cleaned = name.replace(/[^a-zA-Z0-9_-]+/g, "_").slice(0, 64)
  return cleaned === "" || cleaned === "_" ? "object" : cleaned
}

const instruction = (schema: Record<string, unknown>, description: string | undefined): string =>
  `${description !== undefined ? `${description}\n\n` : ""}Answer with a single JSON value, and nothing else, ` +
  `that matches this JSON Schema:\n${JSON.stringify(schema)}`

const withSystem = (messages: Array<ChatMessage>, text: string): Array<ChatMessage> => {
  const first = messages[0]
  if (first !== undefined && first.role === "system" && typeof first.content === "string") {
    return [{ ...first, content: `${first.content}\n\n${text}` }, ...messages.slice(1)]
  }
  return [{ role: "system", content: text }, ...messages]
}

// ---------------------------------------------------------------------------------------------
// the request
// ---------------------------------------------------------------------------------------------

/**
 * The chat request for one call, and how its structured answer (if any) comes back. The structured-output mode is
 * the provider's (`info.capabilities`): a `json_schema` response format where the provider takes one (Anthropic
 * lowers it to its own forced tool), a forced tool where only tools are available (DeepSeek), JSON mode with the
 * schema in a system message otherwise (Zhipu).
 */
export const plan = (
  method: string,
  options: LanguageModel.ProviderOptions,
  info: LlmProvider.ProviderInfo,
  defaults: Defaults | undefined,
  memo: ReplayMemo
): Either.Either<Planned, AiError.MalformedInput> => {
  try {
    let messages = messagesOf(method, options.prompt, memo)
    const tools = options.tools.map((tool) => functionTool(method, tool))
    const request: { -readonly [K in keyof ChatCompletionRequest]: ChatCompletionRequest[K] } = {
      ...defaults,
      messages
    }
    if (tools.length > 0) {
      request.tools = tools
      request.tool_choice = toolChoiceOf(options.toolChoice)
    }
    let structured: Structured = { _tag: "Text" }
    const format = options.responseFormat
    if (format.type === "json") {
      const ast = format.schema.ast
      const name = objectNameOf(format.objectName)
      const description = Tool.getDescriptionFromSchemaAst(ast)
      const schema = Tool.getJsonSchemaFromSchemaAst(ast) as unknown as Record<string, unknown>
      const caps = info.capabilities
      const mode = caps.jsonSchema ? "json-schema" : LlmProvider.structuredOutputMode(caps)
      if (mode === "json-schema") {
        request.response_format = {
          type: "json_schema",
          json_schema: { name, ...(description !== undefined ? { description } : {}), schema }
        }
      } else if (mode === "tool" && tools.length === 0) {
        request.tools = [{
          type: "function",
          function: {
            name,
            description: description ?? "Give the answer by calling this tool, the answer as its arguments.",
            parameters: schema
          }
        }]
        request.tool_choice = { type: "function", function: { name } }
        structured = { _tag: "Tool", name }
      } else {
        messages = withSystem(messages, instruction(schema, description))
        request.messages = messages
        request.response_format = { type: "json_object" }
      }
    }
    return Either.right({ request, structured })
  } catch (error) {
    if (error instanceof Rejected) return Either.left(error.error)
    throw error
  }
}
