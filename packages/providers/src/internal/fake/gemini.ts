import type { ErrorBody, ResponderOptions, SseOptions, StreamReplyOptions } from "../../FakeGemini.js"
import type { Handler, RecordedRequest, Reply } from "../../FakeServer.js"
import * as Embedding from "./embedding.js"
import { countWords, isRecord, type Json, sampleOf, wordPieces } from "./text.js"

// ---------------------------------------------------------------------------------------------------------------
// framing and replies
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export const frames = (events: ReadonlyArray<unknown>, options?: SseOptions): Array<string> => {
  const eol = options?.lineEnding ?? "\r\n"
  const end = eol + eol
  return events.map((event) => `data: ${typeof event === "string" ? event : JSON.stringify(event)}${end}`)
}

/** @internal */
export const sse = (events: ReadonlyArray<unknown>, options?: SseOptions): string => frames(events, options).join("")

/** @internal */
export const streamReply = (events: ReadonlyArray<unknown>, options?: StreamReplyOptions): Reply => ({
  status: options?.status,
  headers: { "content-type": "text/event-stream", "content-disposition": "attachment", ...options?.headers },
  chunks: frames(events, options),
  split: options?.split,
  headersDelay: options?.headersDelay,
  chunkDelay: options?.chunkDelay,
  disconnectAfter: options?.disconnectAfter
})

/** @internal */
export const jsonReply = (body: unknown, status = 200, headers?: Readonly<Record<string, string>>): Reply => ({
  status,
  headers: { "content-type": "application/json; charset=UTF-8", ...headers },
  body: JSON.stringify(body)
})

const canonical: Readonly<Record<number, string>> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ABORTED",
  429: "RESOURCE_EXHAUSTED",
  499: "CANCELLED",
  500: "INTERNAL",
  501: "NOT_IMPLEMENTED",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED"
}

/** @internal */
export const canonicalStatus = (status: number): string =>
  canonical[status] ?? (status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT")

/** @internal */
export const errorEnvelope = (status: number, error: ErrorBody): unknown => ({
  error: {
    code: status,
    message: error.message,
    status: error.status ?? canonicalStatus(status),
    ...(error.details !== undefined ? { details: error.details } : {})
  }
})

/** @internal */
export const errorReply = (status: number, error: ErrorBody, headers?: Readonly<Record<string, string>>): Reply => ({
  status,
  headers: { "content-type": "application/json; charset=UTF-8", ...headers },
  // Google pretty-prints its error bodies
  body: JSON.stringify(errorEnvelope(status, error), null, 2) + "\n"
})

/** @internal */
export const retryInfo = (retryDelay: string): unknown => ({
  "@type": "type.googleapis.com/google.rpc.RetryInfo",
  retryDelay
})

/** @internal */
export const errorInfo = (reason: string): unknown => ({
  "@type": "type.googleapis.com/google.rpc.ErrorInfo",
  reason,
  domain: "googleapis.com",
  metadata: { service: "generativelanguage.googleapis.com" }
})

// ---------------------------------------------------------------------------------------------------------------
// the auto-responder
// ---------------------------------------------------------------------------------------------------------------

const FILLER: ReadonlyArray<string> = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit"]

const partsOf = (content: unknown): ReadonlyArray<Json> =>
  isRecord(content) && Array.isArray(content.parts) ? content.parts.filter(isRecord) : []

const textOfParts = (parts: ReadonlyArray<Json>): string => {
  let text = ""
  for (const part of parts) {
    if (typeof part.text === "string") text += text.length === 0 ? part.text : ` ${part.text}`
  }
  return text
}

const promptTokens = (body: Json, contents: ReadonlyArray<unknown>): number => {
  let n = countWords(textOfParts(partsOf(body.systemInstruction)))
  for (const content of contents) n += countWords(textOfParts(partsOf(content))) + 3
  return n
}

/** The names of the declared functions, and the declaration the responder calls. */
const declarations = (body: Json): Array<Json> => {
  const out: Array<Json> = []
  if (!Array.isArray(body.tools)) return out
  for (const tool of body.tools) {
    if (isRecord(tool) && Array.isArray(tool.functionDeclarations)) {
      for (const declaration of tool.functionDeclarations) {
        if (isRecord(declaration) && typeof declaration.name === "string") out.push(declaration)
      }
    }
  }
  return out
}

interface Call {
  readonly name: string
  readonly args: Json
}

const callFor = (body: Json, lastParts: ReadonlyArray<Json>, userText: string): Call | undefined => {
  const functions = declarations(body)
  if (functions.length === 0) return undefined
  if (lastParts.some((part) => isRecord(part.functionResponse))) return undefined
  const config = isRecord(body.toolConfig) && isRecord(body.toolConfig.functionCallingConfig)
    ? body.toolConfig.functionCallingConfig
    : {}
  if (config.mode === "NONE") return undefined
  const allowed = Array.isArray(config.allowedFunctionNames) ? config.allowedFunctionNames : undefined
  const declaration = functions.find((f) => allowed === undefined || allowed.includes(f.name))
  if (declaration === undefined) return undefined
  const parameters = isRecord(declaration.parameters)
    ? declaration.parameters
    : isRecord(declaration.parametersJsonSchema)
    ? declaration.parametersJsonSchema
    : {}
  const args = sampleOf(parameters, userText)
  return { name: declaration.name as string, args: isRecord(args) ? args : {} }
}

/** What the real API checks about a conversation's function turns, with its real messages. */
const checkTurns = (contents: ReadonlyArray<unknown>, signatures: boolean): string | undefined => {
  for (let i = 0; i < contents.length; i++) {
    const content = contents[i]
    if (!isRecord(content) || content.role !== "model") continue
    const calls = partsOf(content).filter((part) => isRecord(part.functionCall))
    if (calls.length === 0) continue
    if (signatures && typeof calls[0]!.thoughtSignature !== "string") {
      return `Function call is missing a thought_signature in functionCall parts. This is required for tools to ` +
        `work correctly, and missing thought_signature may lead to degraded model performance. Additional data, ` +
        `function call \`default_api:${(calls[0]!.functionCall as Json).name}\` , position ${i + 1}.`
    }
    const next = contents[i + 1]
    if (next === undefined) continue
    const responses = partsOf(next).filter((part) => isRecord(part.functionResponse))
    if (!isRecord(next) || next.role !== "user" || responses.length !== calls.length) {
      return "Please ensure that the number of function response parts is equal to the number of function call " +
        "parts of the function call turn."
    }
  }
  return undefined
}

const positiveInt = (u: unknown): number | undefined =>
  typeof u === "number" && Number.isInteger(u) && u > 0 ? u : undefined

/** @internal */
export const DEFAULT_CHAT_MODEL = "gemini-fake"

/** @internal */
export const responder = (options?: ResponderOptions): Handler => {
  let sequence = 0
  const signatures = options?.thoughtSignatures !== false

  const generate = (model: string, body: Json, stream: boolean): Reply => {
    const contents = body.contents
    if (!Array.isArray(contents) || contents.length === 0) {
      return errorReply(400, { message: "* GenerateContentRequest.contents: contents is not specified" })
    }
    const problem = checkTurns(contents, signatures)
    if (problem !== undefined) return errorReply(400, { message: problem })
    const n = ++sequence
    const responseId = `fake-response-${n}`
    const modelVersion = options?.model ?? model
    const lastParts = partsOf(contents[contents.length - 1])
    let userText = textOfParts(lastParts)
    if (userText === "" && lastParts.some((part) => isRecord(part.functionResponse))) {
      const outputs = lastParts.flatMap((part) =>
        isRecord(part.functionResponse) ? [JSON.stringify(part.functionResponse.response ?? null)] : []
      )
      userText = `the tools said ${outputs.join(", ")}`
    }
    const call = callFor(body, lastParts, userText)
    const config = isRecord(body.generationConfig) ? body.generationConfig : {}
    let pieces: Array<string> = []
    let finishReason = "STOP"
    if (call === undefined) {
      const format = isRecord(config.responseJsonSchema)
        ? config.responseJsonSchema
        : isRecord(config.responseSchema)
        ? config.responseSchema
        : undefined
      // A response schema is answered with a value of that schema, spread over several chunks.
      pieces = wordPieces(
        format !== undefined ? JSON.stringify(sampleOf(format, userText), null, 1) : `Echo: ${userText}`
      )
      const words = options?.words
      if (words !== undefined) {
        if (pieces.length > words) pieces.length = Math.max(0, words)
        for (let i = 0; pieces.length < words; i++) pieces.push(` ${FILLER[i % FILLER.length]}`)
      }
      const limit = positiveInt(config.maxOutputTokens)
      if (limit !== undefined && pieces.length > limit) {
        pieces.length = limit
        finishReason = "MAX_TOKENS"
      }
    }
    const prompt = promptTokens(body, contents)
    const completion = call === undefined ? pieces.length : countWords(JSON.stringify(call.args)) + 1
    const usageMetadata = {
      promptTokenCount: prompt,
      candidatesTokenCount: completion,
      totalTokenCount: prompt + completion
    }
    const callPart = call === undefined ? undefined : {
      functionCall: { name: call.name, args: call.args },
      ...(signatures ? { thoughtSignature: Buffer.from(`fake-signature-${n}`).toString("base64") } : {})
    }
    const response = (parts: ReadonlyArray<unknown>, finish: string | undefined, usage: unknown): Json => ({
      candidates: [{
        content: { parts, role: "model" },
        ...(finish !== undefined ? { finishReason: finish } : {}),
        index: 0
      }],
      usageMetadata: usage,
      modelVersion,
      responseId
    })
    if (!stream) {
      return jsonReply(
        response(callPart !== undefined ? [callPart] : [{ text: pieces.join("") }], finishReason, usageMetadata)
      )
    }
    const events: Array<unknown> = []
    const early = { promptTokenCount: prompt, totalTokenCount: prompt }
    if (callPart !== undefined) events.push(response([callPart], undefined, usageMetadata))
    else for (const piece of pieces) events.push(response([{ text: piece }], undefined, early))
    // the last chunk, as Gemini sends it: an empty text part, the finish reason, the final counts
    events.push(response([{ text: "" }], finishReason, usageMetadata))
    return streamReply(events, { chunkDelay: options?.chunkDelay })
  }

  const batchEmbed = (model: string, body: Json): Reply => {
    const requests = body.requests
    if (!Array.isArray(requests) || requests.length === 0) {
      return errorReply(400, { message: "* BatchEmbedContentsRequest.requests: requests is not specified" })
    }
    if (requests.length > 100) {
      return errorReply(400, {
        message: "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch"
      })
    }
    const embeddings: Array<unknown> = []
    for (let i = 0; i < requests.length; i++) {
      const item = requests[i]
      const text = isRecord(item) ? textOfParts(partsOf(item.content)) : ""
      if (!isRecord(item) || item.model !== `models/${model}` || text === "") {
        return errorReply(400, {
          message: `* BatchEmbedContentsRequest.requests[${i}]: each request needs model "models/${model}" and text`
        })
      }
      const dimensions = positiveInt(item.outputDimensionality) ?? 8
      embeddings.push({ values: Array.from(Embedding.vector(text, dimensions)) })
    }
    return jsonReply({ embeddings })
  }

  return (request: RecordedRequest): Reply => {
    const query = request.path.indexOf("?")
    const path = query < 0 ? request.path : request.path.slice(0, query)
    const key = request.headers["x-goog-api-key"]
    if (key === undefined) {
      return errorReply(403, {
        message: "Method doesn't allow unregistered callers (callers without established identity). Please use API " +
          "Key or other form of API consumer identity to call this API."
      })
    }
    if (options?.apiKey !== undefined && key !== options.apiKey) {
      return errorReply(400, {
        message: "API key not valid. Please pass a valid API key.",
        details: [errorInfo("API_KEY_INVALID")]
      })
    }
    const match = /\/models\/([^/:]+):([A-Za-z]+)$/.exec(path)
    if (request.method === "POST" && match !== null) {
      const [, model, method] = match
      if (!isRecord(request.json)) return errorReply(400, { message: "Invalid JSON payload received." })
      switch (method) {
        case "generateContent":
          return generate(model!, request.json, false)
        case "streamGenerateContent":
          return generate(model!, request.json, true)
        case "batchEmbedContents":
          return batchEmbed(model!, request.json)
      }
    }
    return errorReply(404, {
      message: `models/${match?.[1] ?? "?"} is not found for API version v1beta, or is not supported for ${
        match?.[2] ?? request.method
      }.`
    })
  }
}
