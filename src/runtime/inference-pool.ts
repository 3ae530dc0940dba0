import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { InferenceResult, WorkerInit } from '../core/serving/model-runtime.js';
import type { WorkerControl, WorkerInference } from './inference-worker.js';

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
      workerData: { models: init.models, intraOpThreads: init.intraOpThreads, interOpThreads: init.interOpThreads, nice: init.nice, memory: init.memory } satisfies WorkerInit,
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

  run(task: WorkerInference): Promise<InferenceResult> {
    return this.pool.run(task, { transferList: transferable(task) });
  }

  /**
   * Runs a control task once on every live worker. Piscina hands a task to any worker, and an
   * idle worker sleeps in Atomics.wait (atomics: 'sync'), so a message port or a
   * BroadcastChannel would not be read until its next task: instead the task is sent once per
   * worker, each answer names the thread that ran it, and the threads not yet reached get another
   * round. Concurrent tasks go to distinct idle workers, so one round usually suffices; a busy
   * worker can make a round hit one thread twice. False when some thread was not reached in
   * `rounds` (it then loads on demand from the path an inference carries; a release waits for
   * the worker's end).
   */
  async onEveryWorker(task: WorkerControl, rounds = 8): Promise<boolean> {
    const reached = new Set<number>();
    const missing = () => this.pool.threads.filter((t) => !reached.has(t.threadId));
    for (let round = 0; round < rounds && missing().length > 0; round++) {
      const answers = await Promise.all(missing().map(() => this.pool.run(task) as Promise<{ threadId: number }>));
      for (const answer of answers) reached.add(answer.threadId);
    }
    return missing().length === 0;
  }

  get threads(): number {
    return this.pool.threads.length;
  }

  async close(): Promise<void> {
    await this.pool.close({ force: false });
  }
}

/**
 * The input buffers the task owns outright (a typed array covering its whole buffer), moved to
 * the worker instead of copied. A view into a larger buffer is copied: the rest is not ours.
 */
function transferable(task: WorkerInference): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const { data } of Object.values(task.inputs)) {
    if (Array.isArray(data) || !(data.buffer instanceof ArrayBuffer)) continue;
    if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) buffers.add(data.buffer);
  }
  return [...buffers];
}
