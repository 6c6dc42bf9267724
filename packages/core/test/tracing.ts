import * as RecordingTracer from "../src/RecordingTracer.js"

/** A tracer over the built-in one that keeps every span it makes, for tests that read spans. */
export const recordingTracer = RecordingTracer.make
