import type { TypedArray } from '../tensors/dtypes.js';

/** What crosses the thread boundary: plain data only, structured-cloneable. */
export interface WorkerModel {
  key: string;
  path: string;
}

export interface WorkerInit {
  models: WorkerModel[];
  intraOpThreads: number;
  interOpThreads: number;
}

export interface InferenceTask {
  key: string;
  input: string;
  dtype: string;
  data: TypedArray;
  dims: number[];
  fetch: string[];
}

export interface InferenceResult {
  outputs: Record<string, { data: ArrayLike<number | bigint>; dims: number[] }>;
  /** Time session.run() took on the worker, without queueing or thread hand-off. */
  seconds: number;
}

/** The core's view of the inference runtime; runtime/ implements it with onnxruntime-node. */
export interface ModelRuntime {
  describe(path: string): Promise<import('../models/model-spec.js').OnnxMetadata>;
  /** Starts the workers holding a session for each model; called once, after describe(). */
  start(models: WorkerModel[]): void;
  run(task: InferenceTask): Promise<InferenceResult>;
  /** Where a model's inference runs now: tiny models may move from the workers to the main thread. */
  placement?(key: string): 'workers' | 'main-thread';
  /** How many workers run inference; warm-up runs once on each. */
  readonly workers: number;
  /** onnxruntime threads one run may use: run time x this bounds its CPU time. */
  readonly threadsPerRun: number;
  close(): Promise<void>;
}
