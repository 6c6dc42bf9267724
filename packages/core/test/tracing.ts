import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

/** A tracer over the built-in one that keeps every span it makes, for tests that read spans. */
export const recordingTracer: Effect.Effect<{ readonly spans: Array<Tracer.Span>; readonly tracer: Tracer.Tracer }> =
  Effect.map(Effect.tracer, (base) => {
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
