/**
 * Stream helpers for the per-chunk hot path.
 *
 * @internal
 */
import * as Channel from "effect/Channel"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/**
 * `Stream.unwrap` without its cost per chunk. `Stream.unwrap` flattens a stream of streams, so every chunk of the
 * inner stream passes through one more stage; a channel that continues with the inner stream's channel hands the
 * chunks on as they are.
 */
export const unwrap = <A, E, R, E2, R2>(
  effect: Effect.Effect<Stream.Stream<A, E, R>, E2, R2>
): Stream.Stream<A, E | E2, R | R2> => Stream.fromChannel(Channel.unwrap(Effect.map(effect, Stream.toChannel)))
