/**
 * The lean path under `Http.layer`: requests dispatched straight to the layer's undici `Agent` with a callback
 * handler, without `@effect/platform`'s request and response objects, spans, header records or Node streams.
 *
 * `Http.layer` provides an ordinary `HttpClient` and, beside it, `Http.Pool` (its agent and that client);
 * `HttpTransport.make` takes this path only when the `HttpClient` in context is that very client.
 *
 * @internal
 */
import type * as Undici from "undici"

/** @internal */
export interface Target {
  readonly origin: string
  readonly path: string
}

// A provider sends every call to one of a handful of URLs: parse each once.
const targets = new Map<string, Target | null>()

/** The origin and path of an absolute http(s) URL; `undefined` when it is not one. @internal */
export const targetOf = (url: string): Target | undefined => {
  let target = targets.get(url)
  if (target === undefined) {
    try {
      const parsed = new URL(url)
      target = parsed.protocol === "http:" || parsed.protocol === "https:"
        ? { origin: parsed.origin, path: parsed.pathname + parsed.search }
        : null
    } catch {
      target = null
    }
    if (targets.size > 256) targets.clear()
    targets.set(url, target)
  }
  return target ?? undefined
}

/** What one dispatched request reports. @internal */
export interface Sink {
  /** A final (non-1xx) status and its headers, names lower-cased. Returns false to pause the body. */
  readonly onHeaders: (status: number, headers: Record<string, string>) => void
  /** A piece of the body. Returns false to pause the socket until `resume` is called. */
  readonly onData: (chunk: Buffer) => boolean
  readonly onComplete: () => void
  readonly onError: (error: Error) => void
  /**
   * One of the callbacks above threw. undici would swallow the throw and leave the call waiting for a timer; the
   * request is aborted instead, and the call must end now.
   */
  readonly onThrow: (cause: unknown) => void
}

/** A request in flight. @internal */
export interface InFlight {
  /** Aborts the request (a no-op once it has completed); the sink's `onError` is not called for it. */
  readonly abort: () => void
  /** Resumes a body paused by `onData` returning false. */
  readonly resume: () => void
}

const aborted = (): Error => Object.assign(new Error("the request was aborted"), { name: "AbortError" })

const parseHeaders = (raw: Array<Buffer | string>): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString().toLowerCase()
    const value = raw[i + 1]!.toString()
    const previous = headers[name]
    headers[name] = previous === undefined ? value : `${previous}, ${value}`
  }
  return headers
}

// undici's callback handler (the one its own `request` uses): one object per request, no promises, no streams.
class Handler implements Undici.Dispatcher.DispatchHandler {
  abortRequest: ((reason: Error) => void) | undefined = undefined
  resumeBody: (() => void) | undefined = undefined
  finished = false
  constructor(readonly sink: Sink) {}
  onConnect(abort: (reason?: Error) => void): void {
    if (this.finished) abort(aborted())
    else this.abortRequest = abort
  }
  onHeaders(status: number, raw: Array<Buffer>, resume: () => void): boolean {
    if (status < 200) return true
    this.resumeBody = resume
    try {
      this.sink.onHeaders(status, parseHeaders(raw))
    } catch (cause) {
      this.threw(cause)
    }
    return !this.finished
  }
  onData(chunk: Buffer): boolean {
    if (this.finished) return false
    try {
      return this.sink.onData(chunk)
    } catch (cause) {
      this.threw(cause)
      return false
    }
  }
  onComplete(): void {
    if (this.finished) return
    this.finished = true
    try {
      this.sink.onComplete()
    } catch (cause) {
      this.sink.onThrow(cause)
    }
  }
  onError(error: Error): void {
    if (this.finished) return
    this.finished = true
    try {
      this.sink.onError(error)
    } catch (cause) {
      this.sink.onThrow(cause)
    }
  }
  /** A callback of the sink threw while the request was still running: it is aborted, and the sink told. */
  threw(cause: unknown): void {
    const wasFinished = this.finished
    this.finished = true
    if (!wasFinished) this.abortRequest?.(aborted())
    this.sink.onThrow(cause)
  }
  abort(): void {
    if (this.finished) return
    this.finished = true
    this.abortRequest?.(aborted())
  }
  resume(): void {
    this.resumeBody?.()
  }
}

/** Sends one request; its outcome goes to `sink`. @internal */
export const dispatch = (
  dispatcher: Undici.Dispatcher,
  target: Target,
  method: "GET" | "POST",
  headers: Readonly<Record<string, string>>,
  body: string | undefined,
  sink: Sink
): InFlight => {
  const handler = new Handler(sink)
  try {
    dispatcher.dispatch({
      origin: target.origin,
      path: target.path,
      method,
      headers: headers as Record<string, string>,
      body: body ?? null,
      // the caller's timers bound each phase
      headersTimeout: 0,
      bodyTimeout: 0
    }, handler)
  } catch (error) {
    // undici validates options synchronously (a header value with a line break)
    queueMicrotask(() => handler.onError(error as Error))
  }
  return handler
}
