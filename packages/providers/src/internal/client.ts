/**
 * The machinery under the Promise facade: running effects on the client's one `ManagedRuntime`, turning an `Exit`
 * into a resolved value or our own error (never a `FiberFailure`), linking `AbortSignal`s to fiber interruption,
 * and a pull-driven async iterator over a chunk stream.
 */
import { InvalidRequestError, type LlmError, type LlmProvider, ResponseCache } from "@llm-api-router/core"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

type Runtime = ManagedRuntime.ManagedRuntime<LlmProvider.LlmProvider, InvalidRequestError>

type AnyFiber = Fiber.RuntimeFiber<unknown, unknown>

/** @internal */
export const abortReason = (signal: AbortSignal): unknown =>
  signal.reason ?? new DOMException("This operation was aborted", "AbortError")

/**
 * What a failed run rejects with: when it was interrupted on purpose, the reason (the signal's, or the closed-client
 * error); else our failure itself (not Effect's `FiberFailure`, nor its span-carrying Proxy); else the defect itself.
 *
 * @internal
 */
export const rejection = (cause: Cause.Cause<unknown>, interruptedBy: unknown): unknown => {
  if (interruptedBy !== undefined && Cause.isInterrupted(cause)) return interruptedBy
  // Effect wraps an error failed inside a span in a Proxy that carries the span: hand out the error itself.
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return Cause.originalError(failure.value)
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) return Cause.originalError(defect.value)
  if (Cause.isInterruptedOnly(cause)) return new DOMException("This operation was aborted", "AbortError")
  return Cause.squash(cause)
}

/**
 * Runs effects on one lazily built `ManagedRuntime`, tracks the fibers in flight so that `close` can stop them, and
 * refuses work once closed.
 *
 * @internal
 */
export class Runner {
  readonly #runtime: Runtime
  readonly #provider: string
  readonly #fibers = new Set<AnyFiber>()
  #closing: Promise<void> | undefined

  constructor(runtime: Runtime, provider: string) {
    this.#runtime = runtime
    this.#provider = provider
  }

  get closed(): boolean {
    return this.#closing !== undefined
  }

  closedError(): InvalidRequestError {
    return new InvalidRequestError({
      provider: this.#provider,
      source: "client",
      message: "the client is closed: create a new Client to send more requests"
    })
  }

  /**
   * Forks `effect` and calls `onExit` with its exit and, when it was interrupted on purpose, the reason to report.
   * Returns undefined (after calling `onExit`) when the client is closed or the signal already aborted.
   */
  fork<A, E>(
    effect: Effect.Effect<A, E, LlmProvider.LlmProvider>,
    signal: AbortSignal | undefined,
    onExit: (exit: Exit.Exit<A, E | InvalidRequestError>, interruptedBy: unknown) => void
  ): Fiber.RuntimeFiber<A, E | InvalidRequestError> | undefined {
    if (this.closed) {
      onExit(Exit.interrupt(FiberId.none), this.closedError())
      return undefined
    }
    if (signal?.aborted) {
      onExit(Exit.interrupt(FiberId.none), abortReason(signal))
      return undefined
    }
    const fiber = this.#runtime.runFork(effect)
    this.#fibers.add(fiber as AnyFiber)
    let interruptedBy: unknown = undefined
    const onAbort = () => {
      interruptedBy = abortReason(signal!)
      fiber.unsafeInterruptAsFork(fiber.id())
    }
    signal?.addEventListener("abort", onAbort, { once: true })
    fiber.addObserver((exit) => {
      this.#fibers.delete(fiber as AnyFiber)
      signal?.removeEventListener("abort", onAbort)
      onExit(exit, interruptedBy ?? (this.closed ? this.closedError() : undefined))
    })
    return fiber
  }

  /** Runs `effect` to a promise that rejects with our error itself. */
  run<A, E>(effect: Effect.Effect<A, E, LlmProvider.LlmProvider>, signal: AbortSignal | undefined): Promise<A> {
    return new Promise<A>((resolve, reject) => {
      this.fork(effect, signal, (exit, interruptedBy) => {
        if (Exit.isSuccess(exit)) resolve(exit.value)
        else reject(rejection(exit.cause, interruptedBy))
      })
    })
  }

  /** Stops every call and stream in flight, then releases the runtime (and so the connection pool). Idempotent. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closing = Effect.runPromise(Fiber.interruptAll(Array.from(this.#fibers))).then(() =>
        this.#runtime.dispose()
      )
    }
    return this.#closing
  }
}

const noop = () => {}

// ---------------------------------------------------------------------------------------------
// per-call options
// ---------------------------------------------------------------------------------------------

/** Per-call options, checked. */
export interface CallOptions {
  readonly signal: AbortSignal | undefined
  readonly cache: false | ResponseCache.CallOptions | undefined
}

const noOptions: CallOptions = { signal: undefined, cache: undefined }

const badOption = (provider: string, param: string, message: string): InvalidRequestError =>
  new InvalidRequestError({
    provider,
    source: "client",
    param,
    message: `invalid request options: ${param}: ${message}`
  })

const isRecord = (u: unknown): u is Record<string, unknown> => {
  if (typeof u !== "object" || u === null) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

// What the runner uses of a signal; an `AbortSignal` of another realm (jsdom) passes too.
const isAbortSignal = (u: unknown): u is AbortSignal =>
  u instanceof AbortSignal || (typeof u === "object" && u !== null &&
    typeof (u as AbortSignal).aborted === "boolean" &&
    typeof (u as AbortSignal).addEventListener === "function" &&
    typeof (u as AbortSignal).removeEventListener === "function")

/**
 * Checks the per-call options of `create`: `{ signal, cache }`, each optional. Never throws: an accessor or a Proxy
 * that throws is a bad option too.
 *
 * @internal
 */
export const readOptions = (provider: string, options: unknown): Either.Either<CallOptions, InvalidRequestError> => {
  if (options === undefined) return Either.right(noOptions)
  let at = "options"
  try {
    if (!isRecord(options)) {
      return Either.left(badOption(provider, "options", "expected an object such as { signal, cache }"))
    }
    for (const key of Object.keys(options)) {
      if (key !== "signal" && key !== "cache") {
        return Either.left(
          badOption(provider, `options.${key.slice(0, 64)}`, "unknown option; expected signal or cache")
        )
      }
    }
    at = "options.signal"
    const signal: unknown = options.signal
    if (signal !== undefined && !isAbortSignal(signal)) {
      return Either.left(badOption(provider, "options.signal", "expected an AbortSignal"))
    }
    at = "options.cache"
    const cache: unknown = options.cache
    if (cache === undefined || cache === false) return Either.right({ signal, cache })
    const checked = ResponseCache.validateCallOptions(cache, provider, "options.cache")
    if (Either.isLeft(checked)) return Either.left(checked.left)
    return Either.right({ signal, cache: checked.right })
  } catch {
    return Either.left(badOption(provider, at, "reading it threw"))
  }
}

/**
 * Splits `create`'s params into `stream` and the request. `undefined` when the params cannot be split (not an
 * object, or reading them throws): they then go to validation as they are, which words what is wrong.
 *
 * @internal
 */
export const splitStream = (
  provider: string,
  params: unknown
): Either.Either<{ readonly stream: boolean; readonly request: unknown }, InvalidRequestError> | undefined => {
  if (typeof params !== "object" || params === null) return undefined
  let stream: unknown
  let request: Record<string, unknown>
  try {
    ;({ stream, ...request } = params as Record<string, unknown>)
  } catch {
    return undefined
  }
  if (stream !== undefined && stream !== null && typeof stream !== "boolean") {
    return Either.left(
      new InvalidRequestError({
        provider,
        source: "client",
        param: "stream",
        message: "invalid request: stream: expected a boolean"
      })
    )
  }
  return Either.right({ stream: stream === true, request })
}

type Outcome<A> = { readonly _tag: "Value"; readonly value: A } | { readonly _tag: "Done" } | {
  readonly _tag: "Error"
  readonly error: unknown
}

/**
 * An async iterator over a stream run on one fiber. The fiber hands each non-empty chunk over and then waits until
 * the consumer has taken all of it, so the stream is pulled only as fast as it is read. Interrupting the fiber
 * (`return`, the signal, `Client.close`) runs the stream's finalizers, which abort the HTTP request.
 *
 * @internal
 */
export class ChunkIterator<A> implements AsyncIterableIterator<A> {
  #buffer: ReadonlyArray<A> = []
  #index = 0
  // Resumes the stream fiber once the current chunk is consumed.
  #resume: (() => void) | undefined
  // Callers of `next` waiting for the stream, first come first served.
  readonly #waiters: Array<(outcome: Outcome<A>) => void> = []
  #end: Outcome<A> | undefined
  #returned = false
  readonly #fiber: Fiber.RuntimeFiber<void, unknown> | undefined
  readonly #exited: Promise<void>

  constructor(runner: Runner, stream: Stream.Stream<A, LlmError, LlmProvider.LlmProvider>, signal?: AbortSignal) {
    let exited: () => void = noop
    this.#exited = new Promise<void>((resolve) => {
      exited = resolve
    })
    const deliver = (chunk: Chunk.Chunk<A>) =>
      Effect.async<void>((resume) => {
        this.#buffer = Chunk.toReadonlyArray(chunk)
        this.#index = 0
        this.#resume = () => resume(Effect.void)
        this.#wake()
      })
    const run = Stream.runForEachChunk(stream, (chunk) => Chunk.isEmpty(chunk) ? Effect.void : deliver(chunk))
    this.#fiber = runner.fork(run, signal, (exit, interruptedBy) => {
      this.#resume = undefined
      if (this.#returned || Exit.isSuccess(exit)) this.#end = { _tag: "Done" }
      else this.#end = { _tag: "Error", error: rejection(exit.cause, interruptedBy) }
      exited()
      this.#wake()
    }) as Fiber.RuntimeFiber<void, unknown> | undefined
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  /** Resolves once the first element is ready, or rejects with the error that ended the stream before it. */
  async start(): Promise<void> {
    const outcome = await this.#take()
    if (outcome._tag === "Error") throw outcome.error
    // Not consumed: put the element back for the first `next`.
    if (outcome._tag === "Value") this.#index--
  }

  async next(): Promise<IteratorResult<A, undefined>> {
    const outcome = await this.#take()
    if (outcome._tag === "Value") return { done: false, value: outcome.value }
    if (outcome._tag === "Error") throw outcome.error
    return { done: true, value: undefined }
  }

  async return(): Promise<IteratorResult<A, undefined>> {
    if (this.#end === undefined && this.#fiber !== undefined) {
      this.#returned = true
      this.#fiber.unsafeInterruptAsFork(this.#fiber.id())
      await this.#exited
    }
    this.#end = { _tag: "Done" }
    this.#buffer = []
    return { done: true, value: undefined }
  }

  #take(): Promise<Outcome<A>> {
    const ready = this.#waiters.length === 0 ? this.#poll() : undefined
    if (ready !== undefined) return Promise.resolve(ready)
    return new Promise<Outcome<A>>((resolve) => {
      this.#waiters.push(resolve)
    })
  }

  // The next outcome if one is available now; otherwise asks the stream for more and returns undefined.
  #poll(): Outcome<A> | undefined {
    if (this.#index < this.#buffer.length) return { _tag: "Value", value: this.#buffer[this.#index++] as A }
    const end = this.#end
    if (end !== undefined) {
      // An error is reported once; after it the iterator is done, as a generator is.
      if (end._tag === "Error") this.#end = { _tag: "Done" }
      return end
    }
    const resume = this.#resume
    if (resume !== undefined) {
      this.#resume = undefined
      resume()
    }
    return undefined
  }

  #wake(): void {
    while (this.#waiters.length > 0) {
      const outcome = this.#poll()
      if (outcome === undefined) return
      this.#waiters.shift()!(outcome)
    }
  }
}
