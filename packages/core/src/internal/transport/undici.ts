/**
 * The transport over `Http.layer`'s own undici `Agent`: requests dispatched straight to it with a callback handler
 * (`dispatch.ts`), without `@effect/platform`'s request and response objects, spans, header records or Node
 * streams; timers of its own for each phase. Bounds, error bodies, scrubbing and error construction are
 * `errors.ts`'s, shared with the platform transport.
 *
 * @internal
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Undici from "undici"
import type * as HttpTransport from "../../HttpTransport.js"
import type { LlmError } from "../../LlmError.js"
import * as StreamDecoder from "../../StreamDecoder.js"
import * as dispatching from "./dispatch.js"
import * as Errors from "./errors.js"
import * as Headers from "./headers.js"

// bytes queued from the socket before the body is paused until the consumer pulls
const streamHighWaterMark = 64 * 1024

// how long the rest of a body is read after the decoder has seen its end marker, before the request is aborted
const drainGraceMillis = 5_000

const endOfStream: Effect.Effect<never, Option.Option<never>> = Effect.zipRight(
  Errors.socketReturned,
  Effect.fail(Option.none())
)

/** A call ready to go: the target, headers and body. */
interface Prepared {
  readonly target: dispatching.Target
  readonly headers: Readonly<Record<string, string>>
  readonly body: string | undefined
  readonly where: string
}

/** What the transport knows once, for all its calls. */
interface Shared {
  readonly dispatcher: Undici.Dispatcher
  readonly errors: Errors.Errors
}

/** Prepares a call, or returns the error that stops it before anything is sent. */
const makePrepare = (errors: Errors.Errors) => {
  const complete = Headers.makeCompleter()
  return (request: HttpTransport.Request, call: Errors.Call): LlmError | Prepared => {
    const where = Errors.where(request.method, request.url)
    const target = dispatching.targetOf(request.url)
    if (target === undefined) return errors.invalidRequest(`${where}: invalid URL`, call)
    const body = errors.serialise(request, call)
    if (typeof body === "object") return body
    return { target, headers: complete(request.headers, body !== undefined), body, where }
  }
}

/** A request sent to the dispatcher, as its sink, with the first-byte and total timers of its call. */
abstract class Dispatched implements dispatching.Sink {
  inFlight: dispatching.InFlight | undefined = undefined
  firstByteTimer: ReturnType<typeof setTimeout> | undefined = undefined
  totalTimer: ReturnType<typeof setTimeout> | undefined = undefined
  where = ""

  constructor(readonly shared: Shared, readonly call: Errors.Call) {}

  /** whether the call has ended already (then no timer is armed) */
  abstract get settled(): boolean
  abstract timedOut(phase: "first-byte" | "total"): void
  abstract onHeaders(status: number, headers: Record<string, string>): void
  abstract onData(chunk: Buffer): boolean
  abstract onComplete(): void
  abstract onError(error: Error): void
  abstract onThrow(cause: unknown): void

  start(request: HttpTransport.Request, prepared: Prepared): void {
    const errors = this.shared.errors
    this.where = prepared.where
    this.inFlight = dispatching.dispatch(
      this.shared.dispatcher,
      prepared.target,
      request.method,
      prepared.headers,
      prepared.body,
      this
    )
    if (this.settled) return
    if (errors.firstByteMillis !== undefined) {
      this.firstByteTimer = setTimeout(() => this.timedOut("first-byte"), errors.firstByteMillis)
    }
    if (errors.totalMillis !== undefined) {
      this.totalTimer = setTimeout(() => this.timedOut("total"), errors.totalMillis)
    }
  }
}

/** One `json` call: the body collected as it arrives, decoded once it ends. */
class JsonCall extends Dispatched {
  headers: Record<string, string> = {}
  body: Errors.Collector
  errorBody: Errors.Collector | undefined = undefined
  done = false

  constructor(
    shared: Shared,
    call: Errors.Call,
    readonly resume: (effect: Effect.Effect<HttpTransport.JsonResponse, LlmError>) => void
  ) {
    super(shared, call)
    this.body = new Errors.Collector(shared.errors.maxBody, false)
  }

  get settled(): boolean {
    return this.done
  }

  timedOut(phase: "first-byte" | "total"): void {
    this.inFlight!.abort()
    this.finish(Effect.fail(this.shared.errors.timeout(phase, this.call)))
  }

  clearTimers(): void {
    if (this.firstByteTimer !== undefined) clearTimeout(this.firstByteTimer)
    if (this.totalTimer !== undefined) clearTimeout(this.totalTimer)
  }

  finish(effect: Effect.Effect<HttpTransport.JsonResponse, LlmError>): void {
    if (this.done) return
    this.done = true
    this.clearTimers()
    this.resume(effect)
  }

  fail(error: LlmError): void {
    this.finish(Effect.fail(error))
  }

  failStatus(): void {
    this.fail(this.shared.errors.statusError(this.call.status!, this.headers, this.errorBody!.text(), this.call))
  }

  onHeaders(status: number, received: Record<string, string>): void {
    if (this.firstByteTimer !== undefined) clearTimeout(this.firstByteTimer)
    const errors = this.shared.errors
    this.headers = received
    if (!errors.received(status, received, this.call)) {
      this.errorBody = Errors.errorBody()
    } else if (errors.declaredTooLarge(received)) {
      this.inFlight!.abort()
      this.fail(errors.bodyTooLarge(this.call))
    }
  }

  onData(chunk: Buffer): boolean {
    const errorBody = this.errorBody
    if (errorBody !== undefined) {
      if (errorBody.add(chunk)) return true
      this.inFlight!.abort()
      this.complete()
      return false
    }
    if (this.body.add(chunk)) return true
    this.inFlight!.abort()
    this.fail(this.shared.errors.bodyTooLarge(this.call))
    return false
  }

  complete(): void {
    if (this.done) return
    if (this.errorBody !== undefined) return this.failStatus()
    let text: string
    try {
      text = this.body.text()
    } catch (cause) {
      // a body beyond what a string can hold (about 512 MiB), with `limits.body` turned off
      return this.fail(this.shared.errors.unreadableBody(cause, this.call))
    }
    this.done = true
    this.clearTimers()
    // Finishing one turn later lets undici put the socket back first (see `Errors.socketReturned`); it schedules
    // that turn once this callback returns, hence the microtask.
    queueMicrotask(() => setImmediate(() => this.resume(this.shared.errors.decodeJson(text, this.headers, this.call))))
  }

  onComplete(): void {
    this.complete()
  }

  // our bug, not the server's: the call ends as a defect instead of waiting for a timer
  onThrow(cause: unknown): void {
    this.finish(Effect.die(cause))
  }

  onError(error: Error): void {
    const errors = this.shared.errors
    if (this.call.status === undefined) return this.fail(errors.transportFailure(error, this.where, this.call))
    // the status is what the call failed with; the body is reported as far as it came
    if (this.errorBody !== undefined) return this.failStatus()
    this.fail(errors.transportFailure(error, Errors.bodyBrokeOff, this.call))
  }

  cancel(): void {
    this.done = true
    this.clearTimers()
    this.inFlight?.abort()
  }
}

/** One streamed response: its body queued as it arrives, handed over a batch per pull. */
class BodyStream extends Dispatched {
  headers: Record<string, string> = {}
  queue: Array<Uint8Array> = []
  queued = 0
  paused = false
  ended = false
  failure: LlmError | undefined = undefined
  /** set, with `failure`, when a callback of ours threw: the stream then dies with it instead of failing */
  defect: { readonly cause: unknown } | undefined = undefined
  errorBody: Errors.Collector | undefined = undefined
  /** the fiber waiting for the headers, or for the next piece of the body */
  waitingHeaders: ((effect: Effect.Effect<void, LlmError>) => void) | undefined = undefined
  waitingBody: (() => void) | undefined = undefined
  idleTimer: ReturnType<typeof setTimeout> | undefined = undefined
  /** when the consumer started waiting (`performance.now()`), while it waits */
  waitingSince = 0
  headersDone = false
  /** the decoder has seen the body's end marker: what follows is read and dropped, so the socket can be reused */
  draining = false

  get settled(): boolean {
    return this.failure !== undefined || this.ended
  }

  timedOut(phase: "first-byte" | "idle" | "total"): void {
    this.inFlight!.abort()
    this.fail(this.shared.errors.timeout(phase, this.call))
  }

  onHeaders(status: number, received: Record<string, string>): void {
    this.clearFirstByte()
    this.headers = received
    if (!this.shared.errors.received(status, received, this.call)) {
      this.errorBody = Errors.errorBody()
    } else {
      this.headersDone = true
      this.wakeHeaders(Effect.void)
    }
  }

  onData(chunk: Buffer): boolean {
    if (this.errorBody !== undefined) {
      if (this.errorBody.add(chunk)) return true
      this.inFlight!.abort()
      this.failStatus()
      return false
    }
    if (this.draining) return true
    this.queue.push(chunk)
    this.queued += chunk.length
    if (this.waitingBody !== undefined) this.wakeBody()
    if (this.queued >= streamHighWaterMark) {
      this.paused = true
      return false
    }
    return true
  }

  onComplete(): void {
    if (this.errorBody !== undefined) return this.failStatus()
    this.ended = true
    this.clearTimers()
    if (this.waitingBody !== undefined) this.wakeBody()
  }

  onError(error: Error): void {
    if (this.errorBody !== undefined) return this.failStatus()
    this.fail(
      this.shared.errors.transportFailure(error, this.headersDone ? Errors.bodyBrokeOff : this.where, this.call)
    )
  }

  onThrow(cause: unknown): void {
    if (this.failure !== undefined || this.ended) return
    this.defect = { cause }
    this.fail(this.shared.errors.unhandled(cause, this.call))
  }

  failStatus(): void {
    this.fail(this.shared.errors.statusError(this.call.status!, this.headers, this.errorBody!.text(), this.call))
  }

  fail(error: LlmError): void {
    if (this.failure !== undefined || this.ended) return
    this.failure = error
    this.clearTimers()
    this.wakeHeaders(this.failed)
    if (this.waitingBody !== undefined) this.wakeBody()
  }

  clearFirstByte(): void {
    if (this.firstByteTimer !== undefined) {
      clearTimeout(this.firstByteTimer)
      this.firstByteTimer = undefined
    }
  }

  clearTimers(): void {
    this.clearFirstByte()
    if (this.totalTimer !== undefined) {
      clearTimeout(this.totalTimer)
      this.totalTimer = undefined
    }
    if (this.idleTimer !== undefined) {
      clearTimeout(this.idleTimer)
      this.idleTimer = undefined
    }
  }

  wakeHeaders(effect: Effect.Effect<void, LlmError>): void {
    const waiting = this.waitingHeaders
    if (waiting !== undefined) {
      this.waitingHeaders = undefined
      waiting(effect)
    }
  }

  wakeBody(): void {
    const waiting = this.waitingBody!
    this.waitingBody = undefined
    waiting()
  }

  // One idle timer per body, not one per wait: it is armed when a wait begins and none is pending, and when it
  // fires it fails the call only if the consumer has been waiting for the whole idle time; otherwise it re-arms
  // itself for what is left, or lapses when nobody waits.
  readonly onIdleTimer = (): void => {
    this.idleTimer = undefined
    const idleMillis = this.shared.errors.idleMillis
    if (this.waitingBody === undefined || idleMillis === undefined) return
    const left = idleMillis - (performance.now() - this.waitingSince)
    if (left > 0) {
      this.idleTimer = setTimeout(this.onIdleTimer, left)
      return
    }
    this.timedOut("idle")
  }

  /** The pieces queued so far (resuming a paused body), or `undefined` when none are. */
  take(): Chunk.Chunk<Uint8Array> | undefined {
    if (this.queue.length === 0) return undefined
    const out = Chunk.unsafeFromArray(this.queue)
    this.queue = []
    this.queued = 0
    if (this.paused) {
      this.paused = false
      this.inFlight!.resume()
    }
    return out
  }

  /** How the call ends once `failure` is set. */
  get failed(): Effect.Effect<never, LlmError> {
    return this.defect !== undefined ? Effect.die(this.defect.cause) : Effect.fail(this.failure!)
  }

  /** What a pull returns now: the queued pieces, the failure or the end. */
  next(): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<LlmError>> {
    const out = this.take()
    if (out !== undefined) return Effect.succeed(out)
    if (this.failure !== undefined) {
      return this.defect !== undefined ? Effect.die(this.defect.cause) : Effect.fail(Option.some(this.failure))
    }
    return endOfStream
  }

  get ready(): boolean {
    return this.queue.length > 0 || this.failure !== undefined || this.ended
  }

  /** Waits until `ready`, for at most the idle timeout. */
  // No canceler, which would cost an interruption handler on every wait: when the fiber is interrupted, the
  // runtime marks this wait's callback as called, so a wake-up that comes later does nothing.
  readonly wait: Effect.Effect<void> = Effect.async<void>((resume) => {
    this.waitingBody = () => resume(Effect.void)
    const idleMillis = this.shared.errors.idleMillis
    if (idleMillis !== undefined) {
      this.waitingSince = performance.now()
      if (this.idleTimer === undefined) this.idleTimer = setTimeout(this.onIdleTimer, idleMillis)
    }
  })

  readonly awaitHeaders: Effect.Effect<void, LlmError> = Effect.suspend(() => {
    if (this.headersDone) return Effect.void
    if (this.failure !== undefined) return this.failed
    return Effect.async<void, LlmError>((resume) => {
      this.waitingHeaders = resume
      return Effect.sync(() => {
        this.waitingHeaders = undefined
      })
    })
  })

  readonly pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<LlmError>> = Effect.suspend(() =>
    this.ready ? this.next() : Effect.zipRight(this.wait, Effect.suspend(() => this.next()))
  )

  close(): void {
    this.clearTimers()
    this.waitingBody = undefined
    if (this.draining && !this.ended && this.failure === undefined) {
      // The answer is complete; the server's end of the body normally follows at once. Read it and drop it,
      // so that the connection goes back to the pool, but give up on a server that keeps it open.
      this.queue = []
      if (this.paused) {
        this.paused = false
        this.inFlight!.resume()
      }
      this.totalTimer = setTimeout(() => this.inFlight!.abort(), drainGraceMillis)
      // nothing waits for it: it must not keep the process alive
      this.totalTimer.unref?.()
      return
    }
    this.inFlight?.abort()
  }
}

type Loop<B> = Channel.Channel<Chunk.Chunk<B>, unknown, LlmError, unknown, void, unknown>

/** @internal */
export const make = (dispatcher: Undici.Dispatcher, errors: Errors.Errors): HttpTransport.Transport => {
  const shared: Shared = { dispatcher, errors }
  const prepare = makePrepare(errors)

  const json = (
    request: HttpTransport.Request,
    context: HttpTransport.CallContext
  ): Effect.Effect<HttpTransport.JsonResponse, LlmError> =>
    Effect.async<HttpTransport.JsonResponse, LlmError>((resume) => {
      const call = Errors.newCall(context)
      const prepared = prepare(request, call)
      if ("_tag" in prepared) return resume(Effect.fail(prepared))
      const running = new JsonCall(shared, call, resume)
      running.start(request, prepared)
      return Effect.sync(() => running.cancel())
    })

  /** Sends the request; `use` reads the body of its 2xx response. The request is aborted when `use` ends early. */
  const withBody = <B>(
    request: HttpTransport.Request,
    context: HttpTransport.CallContext,
    use: (body: BodyStream) => Loop<B>
  ): Stream.Stream<B, LlmError> =>
    Stream.fromChannel(Channel.suspend(() => {
      const call = Errors.newCall(context)
      const prepared = prepare(request, call)
      if ("_tag" in prepared) return Channel.fail(prepared)
      // The request starts here, and its finalizer is in place before the channel runs any effect that could be
      // interrupted: a suspended channel is evaluated, and its `ensuring` registered, in one synchronous step.
      const body = new BodyStream(shared, call)
      body.start(request, prepared)
      return Channel.ensuringWith(
        Channel.zipRight(Channel.fromEffect(body.awaitHeaders), use(body)),
        () => Effect.sync(() => body.close())
      )
    }))

  const stream = (request: HttpTransport.Request, context: HttpTransport.CallContext) =>
    withBody(request, context, (body) => Stream.toChannel(Stream.repeatEffectChunkOption(body.pull)))

  // Decoding as the body is read: each read of the socket goes through the decoder within the one stage that reads
  // it, with no stream of bytes (and no pipe between two stages) in between.
  const decodeStream = <B>(
    request: HttpTransport.Request,
    context: HttpTransport.CallContext,
    decoder: (bounds: StreamDecoder.Bounds<LlmError>) => StreamDecoder.Decoder<Uint8Array, B, LlmError>
  ): Stream.Stream<B, LlmError> =>
    withBody(request, context, (body) => {
      const decoding = errors.scrubbing(decoder(errors.boundsOf(body.call)))
      const done = decoding.done
      const { end, input } = StreamDecoder.steps(
        done === undefined ? decoding : {
          ...decoding,
          done: () => done() && (body.draining = true)
        }
      )
      const ended: Loop<B> = Channel.zipRight(
        Channel.fromEffect(Errors.socketReturned),
        Channel.suspend(() => end<never, unknown, unknown, unknown>())
      )
      const loop: Loop<B> = Channel.suspend(() => {
        const bytes = body.take()
        if (bytes !== undefined) return input<never, unknown, unknown, unknown>(bytes, loop)
        if (body.failure !== undefined) return Channel.fromEffect(body.failed)
        if (body.ended) return ended
        return Channel.zipRight(Channel.fromEffect(body.wait), loop)
      })
      return loop
    })

  return { json, stream, decodeStream }
}
