/**
 * The router's health state as pure transitions over an immutable snapshot. The router keeps the snapshot in one
 * `Ref` and applies every transition with `Ref.modify`, so that each decision (admit a member, open its cooldown)
 * is taken on the current state, never on a stale read.
 */

/** @internal */
export type Circuit =
  | { readonly _tag: "Closed" }
  | { readonly _tag: "Open"; readonly until: number }
  | { readonly _tag: "HalfOpen" }

/** @internal */
export interface MemberState {
  readonly inFlight: number
  /** Exponentially weighted moving average of the latency, in milliseconds; undefined before the first sample. */
  readonly ewma: number | undefined
  /** The most recent latencies (at most `sampleSize`), oldest first, for the p95. */
  readonly samples: ReadonlyArray<number>
  /** When the failures of the current window happened. */
  readonly failures: ReadonlyArray<number>
  readonly circuit: Circuit
  readonly requests: number
  readonly successes: number
  readonly failuresTotal: number
  readonly cooldowns: number
}

/** @internal */
export interface Config {
  readonly threshold: number
  readonly windowMillis: number
  readonly cooldownMillis: number
  readonly alpha: number
  readonly sampleSize: number
}

/** @internal */
export const initial: MemberState = {
  inFlight: 0,
  ewma: undefined,
  samples: [],
  failures: [],
  circuit: { _tag: "Closed" },
  requests: 0,
  successes: 0,
  failuresTotal: 0,
  cooldowns: 0
}

/** @internal */
export type Admission =
  | { readonly _tag: "Admitted"; readonly probe: boolean }
  | { readonly _tag: "Cooling"; readonly until: number }

const replace = (
  states: ReadonlyArray<MemberState>,
  index: number,
  state: MemberState
): ReadonlyArray<MemberState> => {
  const next = states.slice()
  next[index] = state
  return next
}

/**
 * Admits a request to member `index` unless it is cooling down. A member whose cooldown has ended is admitted
 * once, as the probe (half-open); while the probe runs, others are refused.
 *
 * @internal
 */
export const admit = (
  states: ReadonlyArray<MemberState>,
  index: number,
  now: number
): readonly [Admission, ReadonlyArray<MemberState>] => {
  const state = states[index]!
  const circuit = state.circuit
  if (circuit._tag === "HalfOpen") return [{ _tag: "Cooling", until: now }, states]
  if (circuit._tag === "Open" && circuit.until > now) return [{ _tag: "Cooling", until: circuit.until }, states]
  const probe = circuit._tag === "Open"
  return [
    { _tag: "Admitted", probe },
    replace(states, index, {
      ...state,
      inFlight: state.inFlight + 1,
      requests: state.requests + 1,
      circuit: probe ? { _tag: "HalfOpen" } : circuit
    })
  ]
}

/** What an attempt says about its member's health. @internal */
export type Outcome =
  | { readonly _tag: "Success"; readonly latencyMillis: number | undefined }
  /** A failure that counts towards the cooldown; `retryAfter` opens the cooldown at once. */
  | { readonly _tag: "Failure"; readonly retryAfterMillis: number | undefined }
  /** Neither: the member answered, but with an error that says nothing of its health (a bad request). */
  | { readonly _tag: "Neutral" }
  /** The attempt was abandoned (a hedge loser, a caller that left): nothing learnt. */
  | { readonly _tag: "Abandoned" }

/**
 * Applies an attempt's outcome. Answers whether this outcome put the member in cooldown.
 *
 * @internal
 */
export const report = (
  states: ReadonlyArray<MemberState>,
  index: number,
  probe: boolean,
  outcome: Outcome,
  now: number,
  config: Config
): readonly [boolean, ReadonlyArray<MemberState>] => {
  const state = states[index]!
  switch (outcome._tag) {
    case "Success": {
      const latency = outcome.latencyMillis
      let { ewma, samples } = state
      if (latency !== undefined) {
        ewma = ewma === undefined ? latency : ewma + config.alpha * (latency - ewma)
        samples = samples.length < config.sampleSize ? [...samples, latency] : [...samples.slice(1), latency]
      }
      return [
        false,
        replace(states, index, {
          ...state,
          ewma,
          samples,
          successes: state.successes + 1,
          // A success closes a probing circuit, and is the proof of health that forgives past failures.
          failures: probe || state.circuit._tag === "Closed" ? [] : state.failures,
          circuit: probe ? { _tag: "Closed" } : state.circuit
        })
      ]
    }
    case "Neutral":
      return [false, probe ? replace(states, index, { ...state, circuit: { _tag: "Closed" } }) : states]
    case "Abandoned":
      // A probe that was abandoned leaves the member probe-able at once.
      return [false, probe ? replace(states, index, { ...state, circuit: { _tag: "Open", until: now } }) : states]
    case "Failure": {
      const since = now - config.windowMillis
      const failures = [...state.failures.filter((t) => t > since), now]
      const retryAfter = outcome.retryAfterMillis
      const open = probe || retryAfter !== undefined || failures.length >= config.threshold
      if (!open) {
        return [false, replace(states, index, { ...state, failures, failuresTotal: state.failuresTotal + 1 })]
      }
      let until = now + (retryAfter ?? config.cooldownMillis)
      // A later deadline already set (a longer Retry-After) is kept, never shortened.
      const current = state.circuit
      if (current._tag === "Open" && current.until > until) until = current.until
      const wasOpen = current._tag === "Open" && current.until > now
      return [
        !wasOpen,
        replace(states, index, {
          ...state,
          failures: [],
          failuresTotal: state.failuresTotal + 1,
          circuit: { _tag: "Open", until },
          cooldowns: wasOpen ? state.cooldowns : state.cooldowns + 1
        })
      ]
    }
  }
}

/** Ends a request's presence in flight. @internal */
export const release = (states: ReadonlyArray<MemberState>, index: number): ReadonlyArray<MemberState> => {
  const state = states[index]!
  return replace(states, index, { ...state, inFlight: Math.max(0, state.inFlight - 1) })
}

/** The 95th percentile of the samples, undefined when there are fewer than `min`. @internal */
export const p95 = (state: MemberState, min: number): number | undefined => {
  if (state.samples.length < min) return undefined
  const sorted = state.samples.slice().sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]
}
