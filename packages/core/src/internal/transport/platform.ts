/**
 * The transport over any `@effect/platform` `HttpClient`: what an Effect user gets who provides
 * `NodeHttpClient.layerUndici`, `FetchHttpClient.layer`, or a client derived from `Http.layer`'s. Bounds, error
 * bodies, scrubbing and error construction are `errors.ts`'s, shared with the undici transport.
 *
 * @internal
 */
import * as HttpBody from "@effect/platform/HttpBody"
import * as PlatformHttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as HttpTransport from "../../HttpTransport.js"
import type { LlmError } from "../../LlmError.js"
import * as StreamDecoder from "../../StreamDecoder.js"
import * as Errors from "./errors.js"
import * as Headers from "./headers.js"

const endOfBody: Stream.Stream<never> = Stream.drain(Stream.fromEffect(Errors.socketReturned))

const requestFailure = (
  errors: Errors.Errors,
  error: HttpClientError.HttpClientError,
  request: HttpClientRequest.HttpClientRequest,
  call: Errors.Call
): LlmError => {
  const where = Errors.where(request.method, request.url)
  if (error._tag === "RequestError") {
    switch (error.reason) {
      case "InvalidUrl":
        return errors.invalidRequest(`${where}: invalid URL`, call)
      case "Encode":
        return errors.invalidRequest(`${where}: the request body could not be encoded`, call)
      case "Transport":
        return errors.transportFailure(error.cause, where, call)
    }
  }
  return errors.transportFailure(error.cause, where, call)
}

const bodyFailure = (errors: Errors.Errors, error: HttpClientError.ResponseError, call: Errors.Call): LlmError =>
  errors.transportFailure(error.cause, Errors.bodyBrokeOff, call)

/** Feeds the body to `collector` until it says stop; a body that breaks off fails through `bodyFailure`. */
const collect = (
  errors: Errors.Errors,
  response: HttpClientResponse.HttpClientResponse,
  collector: Errors.Collector,
  call: Errors.Call
): Effect.Effect<void, LlmError> =>
  Effect.mapError(
    Stream.runForEachWhile(response.stream, (chunk) => Effect.sync(() => collector.add(chunk))),
    (error) => bodyFailure(errors, error, call)
  )

const statusFailure = (
  errors: Errors.Errors,
  response: HttpClientResponse.HttpClientResponse,
  headers: Readonly<Record<string, string>>,
  call: Errors.Call
): Effect.Effect<never, LlmError> =>
  Effect.suspend(() => {
    const body = Errors.errorBody()
    return collect(errors, response, body, call).pipe(
      // The status is what the call failed with; a body that breaks off midway is reported as far as it came.
      Effect.orElse(() => Effect.void),
      Effect.flatMap(() => Effect.fail(errors.statusError(response.status, headers, body.text(), call)))
    )
  })

// The body's content type is the body's own (`HttpBody.text`): only the user agent is added here.
const completeHeaders = Headers.makeCompleter()

const toHttpRequest = (
  errors: Errors.Errors,
  request: HttpTransport.Request,
  call: Errors.Call
): Effect.Effect<HttpClientRequest.HttpClientRequest, LlmError> => {
  const make = request.method === "POST" ? HttpClientRequest.post : HttpClientRequest.get
  const headers = completeHeaders(request.headers, false)
  const json = errors.serialise(request, call)
  if (json === undefined) return Effect.succeed(make(request.url, { headers }))
  if (typeof json !== "string") return Effect.fail(json)
  return Effect.succeed(make(request.url, { headers, body: HttpBody.text(json, "application/json") }))
}

/** @internal */
export const make = (httpClient: PlatformHttpClient.HttpClient, errors: Errors.Errors): HttpTransport.Transport => {
  // Trace headers (traceparent, b3) are nobody's business at a third-party API. Nor is there an `http.client` span:
  // the call's own span (`Telemetry`) says what happened, as it does over `Http.layer`, which makes none; and that
  // span would carry every response header as an attribute, where a server can put anything, the key included.
  const client = PlatformHttpClient.withTracerDisabledWhen(
    PlatformHttpClient.withTracerPropagation(httpClient, false),
    () => true
  )
  const { firstByte, idle, maxBody, total } = errors

  /** Sends the request and waits for a 2xx response's headers; any other status fails through `mapError`. */
  const open = (
    request: HttpTransport.Request,
    call: Errors.Call
  ): Effect.Effect<
    { readonly response: HttpClientResponse.HttpClientResponse; readonly headers: Readonly<Record<string, string>> },
    LlmError
  > =>
    Effect.flatMap(toHttpRequest(errors, request, call), (httpRequest) => {
      const sent = Effect.mapError(client.execute(httpRequest), (error) =>
        requestFailure(errors, error, httpRequest, call))
      const timed = firstByte === undefined ? sent : Effect.timeoutFail(sent, {
        duration: firstByte,
        onTimeout: () =>
          errors.timeout("first-byte", call)
      })
      return Effect.flatMap(timed, (response) => {
        // the getter builds a new object on every access
        const headers = response.headers
        return errors.received(response.status, headers, call)
          ? Effect.succeed({ response, headers })
          : statusFailure(errors, response, headers, call)
      })
    })

  /**
   * A 2xx body as text, up to `limits.body`. Past it (or when `content-length` says so) reading stops, which ends
   * the response's stream and so aborts its request: the connection is closed, not reused.
   */
  const readBody = (
    response: HttpClientResponse.HttpClientResponse,
    headers: Readonly<Record<string, string>>,
    call: Errors.Call
  ): Effect.Effect<string, LlmError> =>
    Effect.suspend(() => {
      if (errors.declaredTooLarge(headers)) {
        // started and stopped at once, without waiting for a first piece: ending the body's stream aborts the request
        return Effect.zipRight(
          Effect.ignore(Stream.runDrain(Stream.interruptWhen(response.stream, Effect.void))),
          Effect.fail(errors.bodyTooLarge(call))
        )
      }
      const body = new Errors.Collector(maxBody, false)
      return Effect.flatMap(collect(errors, response, body, call), () =>
        maxBody !== undefined && body.size > maxBody ? Effect.fail(errors.bodyTooLarge(call)) : Effect.try({
          try: () =>
            body.text(),
          catch: (cause) => errors.unreadableBody(cause, call)
        }))
    })

  const json = (request: HttpTransport.Request, context: HttpTransport.CallContext) =>
    Effect.suspend(() => {
      const call = Errors.newCall(context)
      const effect = Effect.flatMap(open(request, call), ({ headers, response }) =>
        Effect.flatMap(readBody(response, headers, call), (text) =>
          Effect.zipRight(Errors.socketReturned, errors.decodeJson(text, headers, call))))
      return total === undefined ? effect : Effect.timeoutFail(effect, {
        duration: total,
        onTimeout: () =>
          errors.timeout("total", call)
      })
    })

  const streamOf = (request: HttpTransport.Request, call: Errors.Call): Stream.Stream<Uint8Array, LlmError> =>
    Stream.suspend(() => {
      const body = Stream.unwrap(Effect.map(open(request, call), ({ response }) => {
        const bytes = Stream.mapError(response.stream, (error) => bodyFailure(errors, error, call))
        const guarded = idle === undefined
          ? bytes
          : Stream.timeoutFail(bytes, () => errors.timeout("idle", call), idle)
        return Stream.concat(guarded, endOfBody)
      }))
      return total === undefined ? body : Stream.interruptWhen(
        body,
        Effect.zipRight(Effect.sleep(total), Effect.failSync(() => errors.timeout("total", call)))
      )
    })

  const stream = (request: HttpTransport.Request, context: HttpTransport.CallContext) =>
    Stream.suspend(() => streamOf(request, Errors.newCall(context)))

  const decodeStream = <B>(
    request: HttpTransport.Request,
    context: HttpTransport.CallContext,
    decoder: (bounds: StreamDecoder.Bounds<LlmError>) => StreamDecoder.Decoder<Uint8Array, B, LlmError>
  ): Stream.Stream<B, LlmError> =>
    Stream.suspend(() => {
      const call = Errors.newCall(context)
      return StreamDecoder.decode(() => errors.scrubbing(decoder(errors.boundsOf(call))))(streamOf(request, call))
    })

  return { json, stream, decodeStream }
}
