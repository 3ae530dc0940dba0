import type {
  InferenceResult,
  InferenceTask,
  ModelRuntime,
  WorkerModel,
} from '../../src/core/serving/model-runtime.js';

/**
 * A runtime (the real onnxruntime, or test/helpers/fake-runtime.ts) whose runs can be held back (a
 * request stays in flight for as long as a test needs), all of them or those of chosen runtime keys,
 * and whose loading of chosen files can be held too (a version stays "loading").
 */
export class HeldRuntime implements ModelRuntime {
  private gates: { holds: (key: string) => boolean; passed: Promise<void>; open: () => void }[] = [];
  /** Runs waiting at the gate now. */
  waiting = 0;
  /** Files (path suffixes) whose describe() waits for `loadGate`. */
  readonly heldFiles = new Set<string>();
  loadGate: Promise<void> = Promise.resolve();

  constructor(readonly inner: ModelRuntime) {}
  get workers() {
    return this.inner.workers;
  }
  get threadsPerRun() {
    return this.inner.threadsPerRun;
  }
  async describe(path: string) {
    if ([...this.heldFiles].some((f) => path.endsWith(f))) await this.loadGate;
    return this.inner.describe(path);
  }
  start(models: WorkerModel[]) {
    this.inner.start(models);
  }
  add(model: WorkerModel) {
    return this.inner.add(model);
  }
  remove(key: string) {
    return this.inner.remove(key);
  }
  close() {
    return this.inner.close();
  }
  /** Holds the runs of the keys `holds` picks (all by default) until release(). */
  hold(holds: (key: string) => boolean = () => true): void {
    let open = () => {};
    const passed = new Promise<void>((resolve) => (open = resolve));
    this.gates.push({ holds, passed, open });
  }
  /** Lets every held run go, and holds no more. */
  release(): void {
    this.gates.splice(0).forEach((gate) => gate.open());
  }
  async run(task: InferenceTask): Promise<InferenceResult> {
    this.waiting++;
    await this.gates.find((gate) => gate.holds(task.key))?.passed;
    this.waiting--;
    return this.inner.run(task);
  }
}
