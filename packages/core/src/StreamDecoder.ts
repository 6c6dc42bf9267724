/**
 * The one way provider codecs turn a stream of wire events (SSE events, NDJSON lines) into our
 * chunks: a synchronous, stateful step run once per Stream chunk, and an end step run when the wire
 * stream ends.
 *
 * Its point is what happens on a failure in the middle of a batch: every chunk decoded before the
 * failing event is emitted first (nothing is lost), then the stream fails and stops pulling, which
 * closes the connection, even when the server keeps it open after its error event.
 *
 * @since 0.1.0
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Stream from "effect/Stream"

/**
 * @since 0.1.0
 * @category models
 */
export interface Decoder<A, B, E> {
  /** Decodes one batch, appending to `out`; returns an error to fail the stream after `out` is emitted. */
  readonly step: (input: Chunk.Chunk<A>, out: Array<B>) => E | undefined
  /**
   * Runs when the wire stream ends without a failure: appends the last elements (a usage chunk), or
   * returns an error (a stream that stopped before its end marker).
   */
  readonly end?: ((out: Array<B>) => E | undefined) | undefined
  /**
   * Asked after each step: `true` when the input has reached its end marker (an SSE `[DONE]`), so that the stream
   * ends there (with the end step) and stops pulling, even if the server keeps the connection open.
   */
  readonly done?: (() => boolean) | undefined
}

/**
 * Applies a `Decoder` to a stream. A fresh decoder state belongs inside `make`, which runs once per
 * run of the stream, so two runs never share state.
 *
 * @since 0.1.0
 * @category combinators
 */
export const decode =
  <A, B, E2>(make: () => Decoder<A, B, E2>) => <E, R>(self: Stream.Stream<A, E, R>): Stream.Stream<B, E | E2, R> =>
    Stream.suspend(() => {
      const decoder = make()
      type Loop = Channel.Channel<Chunk.Chunk<B>, Chunk.Chunk<A>, E | E2, E, unknown, unknown>
      const emitThen = (out: Array<B>, next: Loop): Loop =>
        out.length === 0 ? next : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), next)
      const done = decoder.done
      const finish = (out: Array<B>): Loop => {
        if (decoder.end === undefined) return emitThen(out, Channel.void)
        const error = decoder.end(out)
        return emitThen(out, error === undefined ? Channel.void : Channel.fail(error))
      }
      const loop: Loop = Channel.readWithCause({
        onInput: (input: Chunk.Chunk<A>): Loop => {
          const out: Array<B> = []
          const error = decoder.step(input, out)
          if (error !== undefined) return emitThen(out, Channel.fail(error))
          return done !== undefined && done() ? finish(out) : emitThen(out, loop)
        },
        onFailure: (cause): Loop => Channel.failCause(cause),
        onDone: (): Loop => finish([])
      })
      return Stream.pipeThroughChannelOrFail(self, loop)
    })
