import type { InferenceResult } from './model-runtime.js';

export type TraceAttributes = Record<string, string | number | boolean>;

/**
 * One step of a request, as the core reports it; adapters/tracing implements it with
 * OpenTelemetry. Tracing off means no span at all: every call site is `trace?.…`, so an untraced
 * request costs a null check and nothing else. Times are performance.now() milliseconds on the
 * main thread, given explicitly, so a step can be recorded after it happened (a queue wait is
 * known only when its batch leaves).
 */
export interface TraceSpan {
  /** A child span starting at startMs. */
  child(name: string, startMs: number, attributes?: TraceAttributes): TraceSpan;
  set(attributes: TraceAttributes): void;
  /** The step failed: the error status, and the service's error code as error.type. */
  fail(code: string, message: string): TraceSpan;
  end(endMs: number): void;
}

/** Attribute names of the service's own (not OpenTelemetry semantic convention) attributes. */
export const TRACE_ATTR = {
  model: 'onnx_serve.model.name',
  version: 'onnx_serve.model.version',
  rows: 'onnx_serve.rows',
  cached: 'onnx_serve.cached',
  cacheHits: 'onnx_serve.cache.hits',
  batchRows: 'onnx_serve.batch.rows',
  batchRequests: 'onnx_serve.batch.requests',
  runsOn: 'onnx_serve.inference.runs_on',
  runSeconds: 'onnx_serve.inference.run_seconds',
} as const;

/**
 * The inference of one batch, recorded in the trace of every request it served: the round trip
 * from the main thread to the worker and back, and within it session.run() as the worker timed it.
 * The worker's clock reads in epoch ms (its performance.now() has another origin); the child is
 * kept inside the round trip, so clock skew between threads never shows a child outside its parent.
 */
export function traceInference(
  traces: TraceSpan[],
  startMs: number,
  endMs: number,
  attributes: TraceAttributes,
  result?: InferenceResult,
  error?: { code: string; message: string },
): void {
  for (const trace of traces) {
    const span = trace.child('inference', startMs, attributes);
    if (result) {
      span.set({ [TRACE_ATTR.runSeconds]: result.seconds });
      if (result.startedAt !== undefined) {
        const runStart = Math.min(Math.max(result.startedAt - performance.timeOrigin, startMs), endMs);
        span.child('session.run', runStart).end(Math.min(runStart + result.seconds * 1000, endMs));
      }
    }
    if (error) span.fail(error.code, error.message);
    span.end(endMs);
  }
}

/** A cache lookup: L1, and when L1 missed and Redis was asked, the Redis round trip as its child. */
export function traceCacheLookup(
  trace: TraceSpan,
  startMs: number,
  remoteStartMs: number | undefined,
  endMs: number,
  rows: number,
  hits: number,
): void {
  const span = trace.child('cache lookup', startMs, { [TRACE_ATTR.rows]: rows, [TRACE_ATTR.cacheHits]: hits });
  if (remoteStartMs !== undefined)
    span.child('redis MGET', remoteStartMs, { 'db.system.name': 'redis', 'db.operation.name': 'MGET' }).end(endMs);
  span.end(endMs);
}
