import type { InferenceSession } from 'onnxruntime-node';

/** One place for the session settings, so the worker and the in-process benchmark agree. */
export function sessionOptions(intraOpThreads: number, interOpThreads: number): InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: interOpThreads,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
}
