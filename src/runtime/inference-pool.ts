import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { InferenceResult, WorkerInit, WorkerModel } from '../core/serving/model-runtime.js';
import type { WorkerControl, WorkerInference } from './inference-worker.js';

type PoolInit = WorkerInit & { workers: number };

/**
 * A fixed pool of worker threads (piscina), each holding one session per model. Under vitest
 * and tsx the sources are TypeScript and the worker starts through dev-worker.mjs; the built
 * service runs dist/*.js.
 */
export class InferencePool {
  /** Inference tasks started so far: with `running`, what the idle recycler watches. */
  started = 0;
  /** Tasks sent to the current piscina (inference and control); piscina counts those completed. */
  private sent = 0;

  private constructor(
    private pool: Piscina,
    private readonly init: PoolInit,
  ) {}

  /** Workers load their sessions as they start; the first task on each waits for that (warm-up does it). */
  static start(init: PoolInit): InferencePool {
    return new InferencePool(piscina(init), init);
  }

  run(task: WorkerInference): Promise<InferenceResult> {
    this.started++;
    this.sent++;
    return this.pool.run(task, { transferList: transferable(task) });
  }

  /** Tasks sent and not yet completed (settled, either way). */
  get running(): number {
    return this.sent - this.pool.completed;
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
  onEveryWorker(task: WorkerControl, rounds = 8): Promise<boolean> {
    return onEveryWorker(this.pool, task, rounds, () => this.sent++);
  }

  /**
   * Replaces every worker by a fresh one holding `models`, so the memory the old ones grew
   * (onnxruntime's arena, their V8 heaps) is freed with their threads. The fresh pool takes tasks
   * only once each of its threads has loaded its sessions; tasks sent before the switch finish on
   * the old pool, which then closes. So no task waits for a session to load and none fails; for
   * that, both pools hold their sessions for a moment. (piscina's own close() does not wait for
   * tasks still in its queue, hence the count of tasks sent.)
   */
  async replace(models: WorkerModel[]): Promise<void> {
    const fresh = piscina({ ...this.init, models });
    try {
      if (!(await onEveryWorker(fresh, { control: 'ready' })))
        throw new Error('a fresh inference worker did not start');
    } catch (err) {
      await fresh.destroy();
      throw err;
    }
    const [old, oldSent] = [this.pool, this.sent];
    [this.pool, this.sent] = [fresh, fresh.completed];
    await drained(old, oldSent);
    await old.close({ force: false });
  }

  get threads(): number {
    return this.pool.threads.length;
  }

  /** The workers' thread ids: a replaced pool has new ones. */
  get threadIds(): number[] {
    return this.pool.threads.map((t) => t.threadId);
  }

  async close(): Promise<void> {
    await drained(this.pool, this.sent);
    await this.pool.close({ force: false });
  }
}

function piscina(init: PoolInit): Piscina {
  const typescript = fileURLToPath(import.meta.url).endsWith('.ts');
  const pool = new Piscina({
    filename: fileURLToPath(new URL(typescript ? './dev-worker.mjs' : './inference-worker.js', import.meta.url)),
    workerData: {
      models: init.models,
      intraOpThreads: init.intraOpThreads,
      interOpThreads: init.interOpThreads,
      nice: init.nice,
      memory: init.memory,
    } satisfies WorkerInit,
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
  return pool;
}

/** Resolves once `sent` tasks have completed on the pool (checked every 5 ms: only while recycling or closing). */
async function drained(pool: Piscina, sent: number): Promise<void> {
  while (pool.completed < sent) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** See InferencePool.onEveryWorker. */
async function onEveryWorker(pool: Piscina, task: WorkerControl, rounds = 8, onSend = () => {}): Promise<boolean> {
  const reached = new Set<number>();
  const missing = () => pool.threads.filter((t) => !reached.has(t.threadId));
  const send = () => (onSend(), pool.run(task) as Promise<{ threadId: number }>);
  for (let round = 0; round < rounds && missing().length > 0; round++) {
    const answers = await Promise.all(missing().map(send));
    for (const answer of answers) reached.add(answer.threadId);
  }
  return missing().length === 0;
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
