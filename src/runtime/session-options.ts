import type { InferenceSession } from 'onnxruntime-node';

/**
 * onnxruntime's memory settings (ORT_CPU_MEM_ARENA, ORT_MEM_PATTERN); measured in
 * docs/reliability.md#memory-bounds.
 */
export interface SessionMemory {
  /** The CPU arena: freed blocks are kept for the next run instead of returned to the allocator. */
  cpuArena: boolean;
  /** Memory-pattern planning: one allocation per run sized from the shapes seen before. */
  memPattern: boolean;
}

/** One place for the session settings, so the worker and the in-process benchmark agree. */
export function sessionOptions(
  intraOpThreads: number,
  interOpThreads: number,
  memory?: SessionMemory,
): InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: interOpThreads,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    ...(memory ? { enableCpuMemArena: memory.cpuArena, enableMemPattern: memory.memPattern } : {}),
  };
}
