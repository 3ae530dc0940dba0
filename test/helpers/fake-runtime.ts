import type { OnnxMetadata } from '../../src/core/models/model-spec.js';
import type {
  InferenceResult,
  InferenceTask,
  ModelRuntime,
  WorkerModel,
} from '../../src/core/serving/model-runtime.js';
import type { NamedTensors } from '../../src/core/tensors/tensor.js';

/**
 * Every output in `fetch` as float32 [rows, 1]: the sum of each row of the task's first input (whatever its
 * width). A request's answer then says which of its rows it holds, in which order.
 */
export function rowSums(task: InferenceTask): NamedTensors {
  const input = Object.values(task.inputs)[0]!;
  const width = input.shape.slice(1).reduce((a, d) => a * d, 1);
  const data = input.data as ArrayLike<number>;
  const sums = Float32Array.from({ length: task.rows }, (_, r) => {
    let sum = 0;
    for (let i = 0; i < width; i++) sum += Number(data[r * width + i]);
    return sum;
  });
  return Object.fromEntries(task.fetch.map((name) => [name, { dtype: 'float32', shape: [task.rows, 1], data: sums }]));
}

export interface FakeRuntimeOptions {
  /** The outputs of a run; rowSums by default. */
  compute?: (task: InferenceTask) => NamedTensors;
  /**
   * What describe() answers for a file; without it describe() refuses. The registry's tests pass the real
   * describeOnnx (metadata only: no inference session is ever run).
   */
  describe?: (path: string) => Promise<OnnxMetadata>;
  workers?: number;
}

/**
 * A ModelRuntime without onnxruntime: runs are computed in JavaScript, on the main thread, and every task is
 * recorded (key, rows, inputs, fetch), as is every start/add/remove. A run on a key with no session (never
 * started or added, or removed) fails as the real runtime's does. Hold its runs back with HeldRuntime around it.
 */
export class FakeRuntime implements ModelRuntime {
  readonly workers: number;
  readonly threadsPerRun = 1;
  /** Every task run() was given, in order (warm-ups included). */
  readonly tasks: InferenceTask[] = [];
  /** `start <key>`, `add <key>`, `remove <key>`, `close`, in call order. */
  readonly calls: string[] = [];
  /** The keys with a session now. */
  readonly sessions = new Set<string>();
  /** The files describe() was asked about, in order. */
  readonly described: string[] = [];
  /** When it returns an error for a task, run() fails with it. */
  failRun?: (task: InferenceTask) => Error | undefined;
  /** When it returns an error for a model, add() fails with it. */
  failAdd?: (model: WorkerModel) => Error | undefined;

  constructor(private readonly options: FakeRuntimeOptions = {}) {
    this.workers = options.workers ?? 1;
  }

  async describe(path: string): Promise<OnnxMetadata> {
    this.described.push(path);
    if (!this.options.describe) throw new Error('this fake runtime describes no file');
    return this.options.describe(path);
  }

  start(models: WorkerModel[]): void {
    for (const model of models) {
      this.calls.push(`start ${model.key}`);
      this.sessions.add(model.key);
    }
  }

  async add(model: WorkerModel): Promise<void> {
    this.calls.push(`add ${model.key}`);
    const error = this.failAdd?.(model);
    if (error) throw error;
    this.sessions.add(model.key);
  }

  async remove(key: string): Promise<void> {
    this.calls.push(`remove ${key}`);
    this.sessions.delete(key);
  }

  async run(task: InferenceTask): Promise<InferenceResult> {
    this.tasks.push(task);
    if (!this.sessions.has(task.key)) throw new Error(`no session for model ${task.key}`);
    const error = this.failRun?.(task);
    if (error) throw error;
    return { outputs: (this.options.compute ?? rowSums)(task), seconds: 0.001 };
  }

  async close(): Promise<void> {
    this.calls.push('close');
  }

  /** The recorded tasks of one key. */
  tasksOf(key: string): InferenceTask[] {
    return this.tasks.filter((task) => task.key === key);
  }
}
