import { stat } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import type { InferenceResult, InferenceTask, ModelRuntime, WorkerModel } from '../core/serving/model-runtime.js';
import { ServiceError } from '../errors.js';
import { InferencePool } from './inference-pool.js';
import { IdleRecycler } from './idle-recycler.js';
import { describeOnnx } from './onnx-describe.js';
import { returnMemory } from './return-memory.js';
import { runSession } from './run-session.js';
import { sessionOptions, type SessionMemory } from './session-options.js';

/**
 * A kernel that fails on the values it was given, after the input checks passed (a token id past
 * the vocabulary, a Range with delta 0), is the input's fault: a 400 naming onnxruntime's reason.
 */
const KERNEL_FAILURE = /Non-zero status code returned while running (\S+) node\. Name:'([^']*)' Status Message: (.*)/s;

function rejectedInput(err: unknown): ServiceError | undefined {
  const match = KERNEL_FAILURE.exec((err as Error)?.message ?? '');
  if (!match) return undefined;
  const [, op, node, reason] = match;
  return new ServiceError(
    'MODEL_REJECTED_INPUT',
    `the model could not run on this input: ${op}${node ? ` node ${node}` : ''}: ${reason!.trim()}`,
    undefined,
    { cause: err },
  );
}

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
  /** How much lower than the event loop's the worker threads' priority is (Linux nice). */
  nice: number;
  /** onnxruntime's arena and memory-pattern settings (ORT_CPU_MEM_ARENA, ORT_MEM_PATTERN). */
  memory?: SessionMemory;
  /**
   * Seconds without inference after which the workers are replaced, when memory grew
   * (INFERENCE_IDLE_RECYCLE_S); 0 or absent: never.
   */
  idleRecycleS?: number;
  /** Told after each recycle, with the process's RSS before and after, in bytes. */
  onRecycled?: (info: { rssBefore: number; rssAfter: number; seconds: number }) => void;
  onRecycleError?: (err: unknown) => void;
}

/** Runs seen on workers before a model may be moved to the main thread. */
const SAMPLES_BEFORE_INLINE = 20;
/**
 * Runs a model moved to the main thread on the strength of its hand-off is timed there before it
 * stays: it goes back to the workers for good unless its runs there took less than a worker's round
 * trip did, and less than INLINE_TRIAL_MAX_ROW_MICROS per row. That bound is loose on purpose: the
 * times are the runs' wall times, which on the main thread include the loop turn onnxruntime-node's
 * run() waits for (other requests' work), and a model only gets here when a worker ran it faster
 * than the hand-off took.
 */
const INLINE_TRIAL_RUNS = 50;
const INLINE_TRIAL_MAX_ROW_MICROS = 1000;
/**
 * The background worker's nice value, the lowest priority: when it competes with clients for a
 * core, the kernel gives the core to them.
 */
const BACKGROUND_NICE = 19;

/**
 * onnxruntime-node behind the core's ModelRuntime interface: metadata on the main thread,
 * inference on workers, except tiny models, which move to the main thread once measured.
 * Background runs (shadow traffic) go to one worker of their own at the lowest priority, started
 * with the first of them, which loads a version's session on its first run (a recycle closes it):
 * on the client workers, shadows of digits_large took 11-12% of its throughput, more on a loaded
 * machine, since every shadow met a client request on a busy core (bench/README.md). They are
 * measured as the others are (slowed by clients, they look slower, never tinier than they are), so a
 * tiny version moves to the main thread even when only shadows run it.
 */
export class OnnxRuntime implements ModelRuntime {
  private pool?: InferencePool;
  private background?: InferencePool;
  private readonly paths = new Map<string, string>();
  /** Each file as it was when its sessions loaded: a worker never reloads a file changed since. */
  private readonly files = new Map<string, Promise<string | undefined>>();
  private recycler?: IdleRecycler;
  /** add, remove and recycle, one at a time: a fresh pool is built from the versions of the moment. */
  private serial: Promise<unknown> = Promise.resolve();
  /** Per model on the workers: runs, their compute seconds, rows, and their hand-off seconds (wall minus compute). */
  private readonly measured = new Map<string, Measured>();
  private readonly inline = new Map<string, Promise<ort.InferenceSession | undefined>>();
  /** Models on the main thread on trial (moved for their hand-off), with their runs there so far. */
  private readonly trial = new Map<string, { runs: number; seconds: number; rows: number; workerRunSeconds: number }>();
  /** Runs in progress per main-thread session, and the sessions to release once theirs end. */
  private readonly inlineRuns = new Map<ort.InferenceSession, number>();
  private readonly releasing = new Set<ort.InferenceSession>();
  /** Models that failed their trial: they stay on the workers. */
  private readonly keptOnWorkers = new Set<string>();

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
    for (const model of models) this.track(model);
    const pool = (this.pool = InferencePool.start({ models, ...this.options }));
    const idleS = this.options.idleRecycleS ?? 0;
    if (idleS > 0) {
      this.recycler = new IdleRecycler({
        idleMs: idleS * 1000,
        activity: () => pool,
        recycle: () => this.recycle(),
        onError: this.options.onRecycleError,
      }).start();
    }
  }

  add(model: WorkerModel): Promise<void> {
    return this.serially(async () => {
      if (!this.pool) this.start([]); // nothing was servable at start
      this.track(model);
      // A thread not reached loads it on its first inference of it, from the path the task carries.
      await this.pool!.onEveryWorker({ control: 'load', key: model.key, path: model.path });
    });
  }

  remove(key: string): Promise<void> {
    return this.serially(async () => {
      this.paths.delete(key);
      this.files.delete(key);
      this.measured.delete(key);
      this.trial.delete(key);
      this.keptOnWorkers.delete(key);
      const inline = this.inline.get(key);
      this.inline.delete(key);
      await (await inline)?.release();
      await this.pool?.onEveryWorker({ control: 'release', key });
      await this.background?.onEveryWorker({ control: 'release', key });
    });
  }

  /**
   * Replaces the inference workers by fresh ones holding the same versions, then returns what the
   * old ones and the main thread freed to the OS (src/runtime/return-memory.ts). Runs on its own
   * when the pool has been idle INFERENCE_IDLE_RECYCLE_S (src/runtime/idle-recycler.ts). Inference
   * goes on throughout (InferencePool.replace). Skipped, resolving false, while a version's file
   * has changed on disk since it loaded: the fresh workers would load the new bytes under the old
   * version (a rescan loads a changed file as a new version, after which recycling resumes).
   */
  recycle(): Promise<boolean> {
    return this.serially(async () => {
      if (!this.pool) return false;
      const models = [...this.paths].map(([key, path]) => ({ key, path }));
      const now = await Promise.all(models.map((m) => fileIdentity(m.path)));
      const then = await Promise.all(models.map((m) => this.files.get(m.key)));
      if (now.some((identity, i) => identity === undefined || identity !== then[i])) return false;
      const started = performance.now();
      const rssBefore = process.memoryUsage.rss();
      await this.pool.replace(models);
      const background = this.background; // started again by the next shadow, which loads its sessions
      this.background = undefined;
      await background?.close();
      await returnMemory();
      this.options.onRecycled?.({
        rssBefore,
        rssAfter: process.memoryUsage.rss(),
        seconds: (performance.now() - started) / 1000,
      });
      return true;
    });
  }

  /** The inference workers' thread ids: a recycle replaces them all. */
  get workerThreadIds(): number[] {
    return this.pool?.threadIds ?? [];
  }

  private track(model: WorkerModel): void {
    this.paths.set(model.key, model.path);
    this.files.set(model.key, fileIdentity(model.path));
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const result = this.serial.then(task);
    this.serial = result.catch(() => undefined);
    return result;
  }

  async run(task: InferenceTask): Promise<InferenceResult> {
    if (!this.pool) throw new Error('the inference pool is not started');
    try {
      const session = await this.inline.get(task.key);
      if (session) {
        this.inlineRuns.set(session, (this.inlineRuns.get(session) ?? 0) + 1);
        try {
          const result = await runSession(session, task);
          if (this.trial.has(task.key)) this.judgeTrial(task.key, result.seconds, task.rows, session);
          return result;
        } finally {
          this.inlineRunEnded(session);
        }
      }
      const pool = task.background ? this.backgroundPool() : this.pool;
      const sent = performance.now();
      const result = await pool.run({ ...task, path: this.paths.get(task.key) });
      this.measure(task.key, result.seconds, task.rows, (performance.now() - sent) / 1000);
      return result;
    } catch (err) {
      throw rejectedInput(err) ?? err;
    }
  }

  private backgroundPool(): InferencePool {
    return (this.background ??= InferencePool.start({
      models: [],
      ...this.options,
      workers: 1,
      nice: BACKGROUND_NICE,
    }));
  }

  placement(key: string): 'workers' | 'main-thread' {
    return this.inline.has(key) ? 'main-thread' : 'workers';
  }

  /**
   * A model moves to a session on the main thread once measured tiny: its rows take less than
   * inlineMaxRowMicros each on the workers, or its runs take less than their hand-off to a worker
   * and back (what a lone request pays). The second is a trial: on this 2-core machine a one-row
   * iris run took 60-250 µs on a worker (a cold thread at a lower priority, sharing the cores), 30
   * µs on the main thread, and the hand-off 100-400 µs; judged per row it stayed on the workers, at
   * half the req/s it has inline. On the main thread its runs are timed again (judgeTrial).
   */
  private measure(key: string, seconds: number, rows: number, wallSeconds: number): void {
    const bound = this.options.inlineMaxRowMicros;
    if (bound <= 0 || this.inline.has(key) || this.keptOnWorkers.has(key) || !this.paths.has(key)) return;
    const m = this.measured.get(key) ?? { runs: 0, seconds: 0, rows: 0, runSeconds: [], hopSeconds: [] };
    m.runs++;
    m.seconds += seconds;
    m.rows += rows;
    m.runSeconds.push(seconds);
    m.hopSeconds.push(Math.max(0, wallSeconds - seconds));
    this.measured.set(key, m);
    if (m.runs < SAMPLES_BEFORE_INLINE) return;
    const verdict = placementOf(m, bound);
    if (verdict === 'workers') {
      this.measured.delete(key); // measure again later: load changes
      return;
    }
    if (verdict === 'trial')
      this.trial.set(key, {
        runs: 0,
        seconds: 0,
        rows: 0,
        workerRunSeconds: median(m.runSeconds) + median(m.hopSeconds),
      });
    const options = sessionOptions(this.options.intraOpThreads, this.options.interOpThreads, this.options.memory);
    // Until the session exists, runs keep going to the workers; a failure leaves them there.
    this.inline.set(
      key,
      ort.InferenceSession.create(this.paths.get(key)!, options).catch(() => undefined),
    );
  }

  /** A model on trial on the main thread stays once its runs there are seen to cost less than on a worker. */
  private judgeTrial(key: string, seconds: number, rows: number, session: ort.InferenceSession): void {
    const t = this.trial.get(key)!;
    t.runs++;
    t.seconds += seconds;
    t.rows += rows;
    if (t.runs < INLINE_TRIAL_RUNS) return;
    this.trial.delete(key);
    if (passesTrial(t)) return;
    // New runs go to the workers at once; the session is released after the runs still on it.
    this.inline.delete(key);
    this.keptOnWorkers.add(key);
    this.releasing.add(session);
  }

  private inlineRunEnded(session: ort.InferenceSession): void {
    const left = this.inlineRuns.get(session)! - 1;
    if (left > 0) {
      this.inlineRuns.set(session, left);
      return;
    }
    this.inlineRuns.delete(session);
    if (this.releasing.delete(session)) void session.release().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.recycler?.stop();
    await this.serial;
    await this.pool?.close();
    await this.background?.close();
    for (const session of this.inline.values()) await (await session)?.release();
  }
}

interface Measured {
  runs: number;
  seconds: number;
  rows: number;
  /** Per run: its compute, and its hand-off (wall minus compute). */
  runSeconds: number[];
  hopSeconds: number[];
}

/**
 * Where runs measured on the workers cost less (see OnnxRuntime.measure): 'inline' when their rows
 * are under the bound, 'trial' when only their hand-off says so, else 'workers'.
 */
export function placementOf(m: Measured, inlineMaxRowMicros: number): 'inline' | 'trial' | 'workers' {
  if ((m.seconds / m.rows) * 1e6 < inlineMaxRowMicros) return 'inline';
  // Medians: a worker's first run of a version loads its session, a hand-off of seconds.
  return median(m.hopSeconds) > median(m.runSeconds) ? 'trial' : 'workers';
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** Whether a model's runs on the main thread cost less than a worker's round trip did (see judgeTrial). */
export function passesTrial(t: { runs: number; seconds: number; rows: number; workerRunSeconds: number }): boolean {
  return t.seconds / t.runs < t.workerRunSeconds && (t.seconds / t.rows) * 1e6 < INLINE_TRIAL_MAX_ROW_MICROS;
}

/** Device, inode, size and modification time: what changes when a file is replaced or rewritten. */
async function fileIdentity(path: string): Promise<string | undefined> {
  const s = await stat(path).catch(() => undefined);
  return s && `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
}
