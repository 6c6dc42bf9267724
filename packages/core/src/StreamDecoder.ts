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
 * What a bounded source of bytes (`HttpTransport.decodeStream`) tells each decoder it makes: the longest event
 * (SSE event, NDJSON line) its framing may hold, and the error that ends the stream once one grows past it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bounds<E> {
  readonly maxEventLength: number
  readonly eventTooLong: () => E
}

/**
 * The two moves of a decoder as channels: decoding one batch and going on with `next` (or ending, or failing), and
 * ending. Shared by {@link decode} and by sources that decode as they read (`HttpTransport.decodeStream`).
 *
 * @internal
 */
export const steps = <A, B, E>(decoder: Decoder<A, B, E>) => {
  // the channel types the steps fit in: what they write, and what they fail with on top of the decoder's errors
  type Out<E1, In, InErr, InDone> = Channel.Channel<Chunk.Chunk<B>, In, E | E1, InErr, void, InDone>
  const emitThen = <E1, In, InErr, InDone>(
    out: Array<B>,
    next: Out<E1, In, InErr, InDone>
  ): Out<E1, In, InErr, InDone> =>
    out.length === 0 ? next : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), next)
  const done = decoder.done
  const finish = <E1, In, InErr, InDone>(out: Array<B>): Out<E1, In, InErr, InDone> => {
    if (decoder.end === undefined) return emitThen(out, Channel.void)
    const error = decoder.end(out)
    return emitThen<E1, In, InErr, InDone>(out, error === undefined ? Channel.void : Channel.fail(error))
  }
  return {
    input: <E1, In, InErr, InDone>(
      input: Chunk.Chunk<A>,
      next: Out<E1, In, InErr, InDone>
    ): Out<E1, In, InErr, InDone> => {
      const out: Array<B> = []
      const error = decoder.step(input, out)
      if (error !== undefined) return emitThen<E1, In, InErr, InDone>(out, Channel.fail(error))
      return done !== undefined && done() ? finish(out) : emitThen(out, next)
    },
    end: <E1, In, InErr, InDone>(): Out<E1, In, InErr, InDone> => finish([])
  }
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
      const { end, input } = steps(make())
      const loop: Channel.Channel<Chunk.Chunk<B>, Chunk.Chunk<A>, E | E2, E, unknown, unknown> = Channel
        .readWithCause({
          onInput: (batch: Chunk.Chunk<A>) => input(batch, loop),
          onFailure: (cause) => Channel.failCause(cause),
          onDone: () => end()
        })
      return Stream.pipeThroughChannelOrFail(self, loop)
    })
