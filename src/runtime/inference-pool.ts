import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { InferenceResult, InferenceTask, WorkerInit } from '../core/serving/model-runtime.js';

/**
 * A fixed pool of worker threads (piscina), each holding one session per model. Under vitest
 * and tsx the sources are TypeScript and the worker starts through dev-worker.mjs; the built
 * service runs dist/*.js.
 */
export class InferencePool {
  private constructor(private readonly pool: Piscina) {}

  /** Workers load their sessions as they start; the first task on each waits for that (warm-up does it). */
  static start(init: WorkerInit & { workers: number }): InferencePool {
    const source = fileURLToPath(import.meta.url);
    const typescript = source.endsWith('.ts');
    const pool = new Piscina({
      filename: fileURLToPath(new URL(typescript ? './dev-worker.mjs' : './inference-worker.js', import.meta.url)),
      workerData: { models: init.models, intraOpThreads: init.intraOpThreads, interOpThreads: init.interOpThreads } satisfies WorkerInit,
      minThreads: init.workers,
      maxThreads: init.workers,
      idleTimeout: Infinity,
      // Admission control belongs in front of the pool (body limit, row cap, later the batcher's queue bound).
      maxQueue: Infinity,
      // Workers wait for tasks on Atomics.wait rather than message events: a third more requests/s
      // on the tabular benchmark. Safe here: a task's promise settles only after session.run() has.
      atomics: 'sync',
    });
    // A worker that dies fails its tasks; piscina replaces it. Without a listener the event would crash us.
    pool.on('error', () => {});
    return new InferencePool(pool);
  }

  run(task: InferenceTask): Promise<InferenceResult> {
    return this.pool.run(task, { transferList: [task.data.buffer as ArrayBuffer] });
  }

  get threads(): number {
    return this.pool.threads.length;
  }

  async close(): Promise<void> {
    await this.pool.close({ force: false });
  }
}
