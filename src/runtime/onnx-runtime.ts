import type { InferenceResult, InferenceTask, ModelRuntime, WorkerModel } from '../core/inference.js';
import { InferencePool } from './inference-pool.js';
import { describeOnnx } from './onnx-describe.js';

/** onnxruntime-node behind the core's ModelRuntime interface: metadata on the main thread, inference on workers. */
export class OnnxRuntime implements ModelRuntime {
  private pool?: InferencePool;

  constructor(private readonly threads: { workers: number; intraOpThreads: number; interOpThreads: number }) {}

  get workers(): number {
    return this.threads.workers;
  }

  get threadsPerRun(): number {
    return this.threads.intraOpThreads;
  }

  describe(path: string) {
    return describeOnnx(path);
  }

  start(models: WorkerModel[]): void {
    if (this.pool) throw new Error('the inference pool is already started');
    this.pool = InferencePool.start({ models, ...this.threads });
  }

  run(task: InferenceTask): Promise<InferenceResult> {
    if (!this.pool) return Promise.reject(new Error('the inference pool is not started'));
    return this.pool.run(task);
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}
