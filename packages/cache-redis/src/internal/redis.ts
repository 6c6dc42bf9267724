/**
 * What the cache and the rate limiter share about talking to Redis: a connection that never queues, commands bounded
 * by a timeout, a circuit breaker that stops paying that timeout while Redis is down or frozen, and a close that
 * never waits on a silent Redis.
 *
 * @internal
 */
import { Secrets } from "@llm-api-router/core"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"

/**
 * The breaker's knobs. `failures` consecutive failed or timed-out commands open it; while open, commands are not
 * sent (they answer "unavailable" at once); once `cooldown` has passed, one probe (`PING`, bounded by the command
 * timeout) is sent in the background, never on a caller's time: it closes the breaker, or opens it for another
 * `cooldown`.
 *
 * @internal
 */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker; default 3. */
  readonly failures?: number | undefined
  /** How long it stays open before a probe; default 1 second. */
  readonly cooldown?: Duration.DurationInput | undefined
}

/** @internal */
export interface ConnectionOptions {
  readonly url?: string | Redacted.Redacted<string> | undefined
  readonly client?: Redis | undefined
  readonly timeout: Duration.DurationInput
  readonly connectTimeout?: Duration.DurationInput | undefined
  readonly closeTimeout?: Duration.DurationInput | undefined
  readonly breaker?: BreakerOptions | undefined
}

/** @internal */
export type BreakerState = "closed" | "open" | "probing"

/**
 * A Redis connection as both users see it.
 *
 * @internal
 */
export interface Connection {
  readonly redis: Redis
  /**
   * Runs one command: `Unavailable` at once while the breaker is open, else the command bounded by the timeout.
   * Its outcome feeds the breaker.
   */
  readonly run: <A>(f: () => Promise<A>) => Effect.Effect<A, Unavailable>
  /** Sends a command without waiting for it (a counter): skipped while the breaker is open, failures counted. */
  readonly fire: (f: () => Promise<unknown>, onFailure: () => void) => void
  readonly state: () => BreakerState
}

/**
 * Why a command did not answer: the breaker is open, or it failed or timed out.
 *
 * @internal
 */
export interface Unavailable {
  readonly _tag: "Unavailable"
  readonly reason: "open" | "failed"
  readonly message: string
}

const open: Unavailable = { _tag: "Unavailable", reason: "open", message: "Redis is unavailable (circuit open)" }

const messageOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

/**
 * A promise bounded by a plain timer: `Effect.timeoutFail` races two fibers, which costs several times a Redis round
 * trip.
 *
 * @internal
 */
export const bounded = <A>(f: () => Promise<A>, millis: number, message: string): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), millis)
    let promise: Promise<A>
    try {
      promise = f()
    } catch (error) {
      clearTimeout(timer)
      reject(error)
      return
    }
    promise.then((a) => {
      clearTimeout(timer)
      resolve(a)
    }, (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })

/**
 * The breaker's state machine, on Effect's `Clock` (so `TestClock` drives its cooldown). It is synchronous: a call
 * consults it without a fiber or a promise.
 *
 * @internal
 */
export const makeBreaker = (options: {
  readonly failures: number
  readonly cooldownMillis: number
  readonly clock: Clock.Clock
  readonly probe: () => Promise<unknown>
  readonly onChange?: ((state: BreakerState) => void) | undefined
}) => {
  let state: BreakerState = "closed"
  let consecutive = 0
  let openedAt = 0
  let stopped = false
  const set = (next: BreakerState) => {
    if (state === next) return
    state = next
    options.onChange?.(next)
  }
  const trip = () => {
    openedAt = options.clock.unsafeCurrentTimeMillis()
    set("open")
  }
  const startProbe = () => {
    set("probing")
    options.probe().then(
      () => {
        if (stopped) return
        consecutive = 0
        set("closed")
      },
      () => {
        if (!stopped) trip()
      }
    )
  }
  return {
    /** Whether a command may be sent now; past the cooldown, starts the probe (and still answers `false`). */
    allow: (): boolean => {
      if (state === "closed") return true
      if (
        state === "open" && !stopped && options.clock.unsafeCurrentTimeMillis() - openedAt >= options.cooldownMillis
      ) {
        startProbe()
      }
      return false
    },
    success: (): void => {
      consecutive = 0
    },
    failure: (): void => {
      consecutive++
      if (state === "closed" && consecutive >= options.failures) trip()
    },
    state: (): BreakerState => state,
    stop: (): void => {
      stopped = true
    }
  }
}

const toUrl = (url: string | Redacted.Redacted<string> | undefined): string =>
  url === undefined ? "redis://localhost:6379" : Redacted.isRedacted(url) ? Redacted.value(url) : url

/**
 * Waits (up to `timeout`, on a plain timer like the commands' bounds, so that a `TestClock` does not stop it) for the
 * connection to be ready; never fails.
 *
 * @internal
 */
export const awaitReady = (redis: Redis, timeout: Duration.Duration): Effect.Effect<void> =>
  redis.status === "ready"
    ? Effect.void
    : Effect.async<void>((resume) => {
      const done = () => {
        clearTimeout(timer)
        redis.off("ready", done)
        resume(Effect.void)
      }
      const timer = setTimeout(done, Duration.toMillis(timeout))
      redis.once("ready", done)
      return Effect.sync(() => {
        clearTimeout(timer)
        redis.off("ready", done)
      })
    })

/**
 * Closes a client within `millis`: `QUIT` (which lets Redis finish what was sent) when the connection is ready and
 * Redis is not known to be down, and past `millis`, or when it fails, a plain disconnect. A frozen Redis never
 * answers `QUIT`; ioredis destroys the socket `disconnectTimeout` after ending it.
 *
 * @internal
 */
export const close = (redis: Redis, millis: number, healthy: () => boolean): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (redis.status !== "ready" || !healthy()) {
      redis.disconnect()
      return resume(Effect.void)
    }
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      redis.disconnect()
      resume(Effect.void)
    }
    const timer = setTimeout(finish, millis)
    try {
      redis.quit().then(finish, finish)
    } catch {
      finish()
    }
  })

/**
 * A connection made from `url` (closed with the scope, within `closeTimeout`) or the caller's `client` (left open),
 * with its breaker. `onChange` hears the breaker's transitions.
 *
 * @internal
 */
export const connect = (
  options: ConnectionOptions,
  onChange?: (state: BreakerState) => void
): Effect.Effect<Connection, never, Scope.Scope> =>
  Effect.gen(function*() {
    const timeoutMillis = Math.max(1, Duration.toMillis(Duration.decode(options.timeout)))
    const timeoutMessage = `Redis did not answer within ${Duration.format(Duration.millis(timeoutMillis))}`
    const closeMillis = Math.max(1, Duration.toMillis(Duration.decode(options.closeTimeout ?? 250)))
    // The password of the URL (or of the caller's client) never reaches a message, a log line or an error: a Redis
    // or a proxy in front of it may quote what it was sent.
    const { scrub } = Secrets.make([options.client?.options.password], { urls: [options.url] })
    const connectMillis = Math.max(1, Duration.toMillis(Duration.decode(options.connectTimeout ?? "1 second")))
    const redis = options.client ?? (yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = new Redis(toUrl(options.url), {
          // Fail fast instead of queueing: a command sent while the connection is not ready is refused at once.
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          connectTimeout: connectMillis,
          // After `disconnect`, the socket is destroyed this soon even if Redis never closes its side.
          disconnectTimeout: closeMillis,
          // Keep trying, never more than a second apart: the connection comes back by itself.
          retryStrategy: (times) => Math.min(times * 50, 1000)
        })
        // Errors are reported per command, where they are handled; without a listener ioredis would print them.
        client.on("error", () => {})
        return client
      }),
      (client) => close(client, closeMillis, () => breaker.state() === "closed")
    ))
    const clock = yield* Effect.clock
    const breaker = makeBreaker({
      failures: Math.max(1, options.breaker?.failures ?? 3),
      cooldownMillis: Duration.toMillis(Duration.decode(options.breaker?.cooldown ?? "1 second")),
      clock,
      probe: () => bounded(() => redis.ping(), timeoutMillis, timeoutMessage),
      onChange
    })
    yield* Effect.addFinalizer(() => Effect.sync(breaker.stop))
    yield* awaitReady(redis, Duration.millis(connectMillis))

    const failOpen = Effect.fail(open)
    const run = <A>(f: () => Promise<A>): Effect.Effect<A, Unavailable> =>
      Effect.suspend(() => breaker.allow() ? send(f) : failOpen)
    const send = <A>(f: () => Promise<A>): Effect.Effect<A, Unavailable> =>
      Effect.async<A, Unavailable>((resume) => {
        let settled = false
        const timer = setTimeout(() => {
          if (settled) return
          settled = true
          breaker.failure()
          resume(Effect.fail({ _tag: "Unavailable", reason: "failed", message: timeoutMessage }))
        }, timeoutMillis)
        const settle = (error: unknown, a?: A) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          if (error === undefined) {
            breaker.success()
            resume(Effect.succeed(a as A))
          } else {
            breaker.failure()
            resume(Effect.fail({ _tag: "Unavailable", reason: "failed", message: scrub(messageOf(error)) }))
          }
        }
        try {
          f().then((a) => settle(undefined, a), (error) => settle(error ?? new Error("Redis command failed")))
        } catch (error) {
          settle(error ?? new Error("Redis command failed"))
        }
        return Effect.sync(() => {
          settled = true
          clearTimeout(timer)
        })
      })

    const fire = (f: () => Promise<unknown>, onFailure: () => void): void => {
      if (!breaker.allow()) return
      try {
        f().catch(onFailure)
      } catch {
        onFailure()
      }
    }

    return { redis, run, fire, state: breaker.state } satisfies Connection
  })
