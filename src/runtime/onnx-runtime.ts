import ort from 'onnxruntime-node';
import type { InferenceResult, InferenceTask, ModelRuntime, WorkerModel } from '../core/serving/model-runtime.js';
import { InferencePool } from './inference-pool.js';
import { describeOnnx } from './onnx-describe.js';
import { runSession } from './run-session.js';
import { sessionOptions } from './session-options.js';

export interface RuntimeOptions {
  workers: number;
  intraOpThreads: number;
  interOpThreads: number;
  /**
   * A model whose rows take less than this on a worker (µs per row, measured on real traffic) is
   * moved to a session on the main thread: for it, the hand-off to a worker and back costs more
   * than the inference, and the event loop is blocked for at most a batch of such rows. 0: never.
   */
  inlineMaxRowMicros: number;
}

/** Runs seen on workers before a model may be moved to the main thread. */
const SAMPLES_BEFORE_INLINE = 20;

/**
 * onnxruntime-node behind the core's ModelRuntime interface: metadata on the main thread,
 * inference on workers, except tiny models, which move to the main thread once measured.
 */
export class OnnxRuntime implements ModelRuntime {
  private pool?: InferencePool;
  private readonly paths = new Map<string, string>();
  private readonly measured = new Map<string, { runs: number; seconds: number; rows: number }>();
  private readonly inline = new Map<string, Promise<ort.InferenceSession | undefined>>();

  constructor(private readonly options: RuntimeOptions) {}

  get workers(): number {
    return this.options.workers;
  }

  get threadsPerRun(): number {
    return this.options.intraOpThreads;
  }

  describe(path: string) {
    return describeOnnx(path);
  }

  start(models: WorkerModel[]): void {
    if (this.pool) throw new Error('the inference pool is already started');
    for (const model of models) this.paths.set(model.key, model.path);
    this.pool = InferencePool.start({ models, ...this.options });
  }

  async run(task: InferenceTask): Promise<InferenceResult> {
    if (!this.pool) throw new Error('the inference pool is not started');
    const session = await this.inline.get(task.key);
    if (session) return runSession(session, task);
    const result = await this.pool.run(task);
    this.measure(task.key, result.seconds, task.rows);
    return result;
  }

  placement(key: string): 'workers' | 'main-thread' {
    return this.inline.has(key) ? 'main-thread' : 'workers';
  }

  private measure(key: string, seconds: number, rows: number): void {
    if (this.options.inlineMaxRowMicros <= 0 || this.inline.has(key)) return;
    const m = this.measured.get(key) ?? { runs: 0, seconds: 0, rows: 0 };
    m.runs++;
    m.seconds += seconds;
    m.rows += rows;
    this.measured.set(key, m);
    if (m.runs < SAMPLES_BEFORE_INLINE) return;
    if ((m.seconds / m.rows) * 1e6 < this.options.inlineMaxRowMicros) {
      const options = sessionOptions(this.options.intraOpThreads, this.options.interOpThreads);
      // Until the session exists, runs keep going to the workers; a failure leaves them there.
      this.inline.set(key, ort.InferenceSession.create(this.paths.get(key)!, options).catch(() => undefined));
    } else {
      this.measured.set(key, { runs: 0, seconds: 0, rows: 0 }); // measure again later: load changes
    }
  }

  async close(): Promise<void> {
    await this.pool?.close();
    for (const session of this.inline.values()) await (await session)?.release();
  }
}
