import type { OnnxMetadata } from '../models/model-spec.js';
import type { NamedTensors } from '../tensors/tensor.js';

/** What crosses the thread boundary: plain data only, structured-cloneable. */
export interface WorkerModel {
  key: string;
  path: string;
}

export interface WorkerInit {
  models: WorkerModel[];
  intraOpThreads: number;
  interOpThreads: number;
  /** How much lower than the event loop's the worker threads' priority is (Linux nice). */
  nice: number;
  /** onnxruntime's arena and memory-pattern settings; its defaults when absent. */
  memory?: { cpuArena: boolean; memPattern: boolean };
}

/**
 * One inference. The runtime owns the tensors from here on: their buffers may be transferred to
 * a worker thread, after which the caller must not read them.
 */
export interface InferenceTask {
  key: string;
  inputs: NamedTensors;
  fetch: string[];
  /** Rows in the run, for per-row timing. */
  rows: number;
  /** No client waits for it (shadow traffic): the runtime may run it where it yields the CPU to clients. */
  background?: boolean;
}

export interface InferenceResult {
  outputs: NamedTensors;
  /** Time session.run() took, without queueing or thread hand-off. */
  seconds: number;
  /**
   * When session.run() started, in epoch ms (performance.timeOrigin + now on the thread that ran
   * it): the inference span's child.
   */
  startedAt?: number;
}

/** The core's view of the inference runtime; runtime/ implements it with onnxruntime-node. */
export interface ModelRuntime {
  describe(path: string): Promise<OnnxMetadata>;
  /** Starts the workers holding a session for each model; called once, after describe(). */
  start(models: WorkerModel[]): void;
  /**
   * Loads a version's session on every worker after start (starting them if none run yet); rejects
   * when it cannot load.
   */
  add(model: WorkerModel): Promise<void>;
  /** Releases a version's sessions, on the workers and the main thread; call it once nothing runs on the key. */
  remove(key: string): Promise<void>;
  run(task: InferenceTask): Promise<InferenceResult>;
  /** Where a model's inference runs now: tiny models may move from the workers to the main thread. */
  placement?(key: string): 'workers' | 'main-thread';
  /** How many workers run inference; warm-up runs once on each. */
  readonly workers: number;
  /** onnxruntime threads one run may use: run time x this bounds its CPU time. */
  readonly threadsPerRun: number;
  close(): Promise<void>;
}
