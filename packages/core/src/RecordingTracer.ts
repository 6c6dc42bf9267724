/**
 * A tracer that keeps every span it makes, for tests that read spans (their attributes, how they ended).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

/**
 * @since 0.1.0
 * @category models
 */
export interface RecordingTracer {
  /** Every span made so far, in the order they were started. */
  readonly spans: Array<Tracer.Span>
  /** Install with `Effect.withTracer(tracer)`. */
  readonly tracer: Tracer.Tracer
}

/**
 * A recording tracer over the tracer in context (Effect's built-in one by default).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<RecordingTracer> = Effect.map(Effect.tracer, (base) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (...args) => {
      const span = base.span(...args)
      spans.push(span)
      return span
    },
    context: base.context
  })
  return { spans, tracer }
})
