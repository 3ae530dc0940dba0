import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../../src/core/loading/model-registry.js';
import type { ModelRunner } from '../../../src/core/serving/model-runner.js';
import { describeOnnx } from '../../../src/runtime/onnx-describe.js';
import { ServiceError } from '../../../src/errors.js';
import { FakeRuntime, rowSums, type FakeRuntimeOptions } from '../../helpers/fake-runtime.js';
import { bundled, fixture, TempRepository } from '../../helpers/repository.js';

/**
 * ModelRegistry (and its RepositoryRescan) loading a temporary repository into its router, with a fake
 * runtime: describe() is the real describeOnnx (it reads the ONNX metadata, and runs nothing); start, add,
 * remove and every run (the warm-ups) are recorded, never executed by onnxruntime. A failure here is the
 * loader's: the router's wording has tests of its own.
 */
const POLICY = { maxBatchRows: 8, maxDelayMs: 0, maxQueueRows: 32 };
const IRIS = bundled('iris');
const IRIS_LIKE = fixture('iris_like.onnx'); // the same inputs and outputs as iris, other weights
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

let repo: TempRepository | undefined;
afterEach(() => repo?.remove());

/** iris versions 1 and 2, and diabetes version 1. */
function irisRepository(): TempRepository {
  repo = new TempRepository()
    .addOnnx('iris', '1', IRIS)
    .addOnnx('iris', '2', IRIS)
    .addOnnx('diabetes', '1', bundled('diabetes'));
  return repo;
}

/** A registry on a fake runtime of two workers; `drained` (resolved by default) holds unloads back when given. */
function setup(
  drained: (runner: ModelRunner) => Promise<void> = async () => {},
  compute?: FakeRuntimeOptions['compute'],
) {
  const runtime = new FakeRuntime({ describe: describeOnnx, workers: 2, compute });
  const logs: { level: string; msg: string; obj: object }[] = [];
  const log = {
    info: (obj: object, msg: string) => logs.push({ level: 'info', msg, obj }),
    warn: (obj: object, msg: string) => logs.push({ level: 'warn', msg, obj }),
    error: (obj: object, msg: string) => logs.push({ level: 'error', msg, obj }),
  };
  const registry = new ModelRegistry(runtime, log, { defaultValidation: 'strict', batching: POLICY, drained });
  let changes = 0;
  registry.onChange(() => changes++);
  return { runtime, registry, logs, changes: () => changes };
}

/**
 * A data plane's drain held back: `asked` resolves with the runtime key the registry waits on, and the wait
 * ends at open().
 */
function heldDrain() {
  let open = () => {};
  let ask: (key: string) => void = () => {};
  const asked = new Promise<string>((resolve) => (ask = resolve));
  const drained = (runner: ModelRunner) => {
    ask(runner.spec.key);
    return new Promise<void>((resolve) => (open = resolve));
  };
  return { drained, asked, open: () => open() };
}

/** Whether a promise has settled once a few turns of the event loop have passed. */
async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

/** The error a call throws, its code and message. */
function refusal(call: () => unknown) {
  try {
    call();
  } catch (err) {
    expect(err).toBeInstanceOf(ServiceError);
    return { code: (err as ServiceError).code, message: (err as ServiceError).message };
  }
  return expect.unreachable('no error was thrown');
}
const served = (registry: ModelRegistry, model: string, version?: string) =>
  registry.router.resolve(model, version).runner!.spec.key;
const noChange = { added: [], replaced: [], removed: [], failed: [] };

describe('ModelRegistry: load', () => {
  it('loads every version, starts each on the runtime, warms it once per worker, and serves the highest', async () => {
    const { runtime, registry } = setup();
    const { dir } = irisRepository();
    await registry.load(dir);
    expect(registry.router.phase).toBe('loaded');
    expect(registry.router.all().map((e) => [e.name, e.version, e.state])).toEqual(
      expect.arrayContaining([
        ['iris', '1', 'ready'],
        ['iris', '2', 'ready'],
        ['diabetes', '1', 'ready'],
      ]),
    );
    expect(served(registry, 'iris')).toBe('iris@2');
    expect(served(registry, 'iris', '1')).toBe('iris@1');
    const v2 = registry.router.resolve('iris', '2');
    expect(v2).toMatchObject({ file: 'iris/2/model.onnx', path: join(dir, 'iris/2/model.onnx') });
    expect(v2.runner!.spec).toMatchObject({ sha256: sha256(IRIS), inputs: [{ name: 'input', dtype: 'float32' }] });
    expect(runtime.calls.sort()).toEqual(['start diabetes@1', 'start iris@1', 'start iris@2']);
    // Warm-up: one run of zeros per worker, symbolic dims at 1, every output fetched
    const warmups = runtime.tasksOf('iris@2');
    expect(warmups).toHaveLength(2);
    expect(warmups[0]).toMatchObject({ rows: 1, fetch: v2.runner!.spec.outputs.map((o) => o.name) });
    expect(warmups[0]!.inputs.input!.shape).toEqual([1, 4]);
    expect([...(warmups[0]!.inputs.input!.data as Float32Array)]).toEqual([0, 0, 0, 0]);
    expect(runtime.tasks).toHaveLength(6);
    expect(registry.loadProblems()).toEqual([]);
    expect(registry.isReady(true)).toBe(true);
  });

  it('probes dim 0 where each tensor names it differently, rebuilds the runner on the verdict, and fails a batching.axes it disproves', async () => {
    // The "axes" model mixes its rows: each row answers the sum of every row run with it.
    const mixing: FakeRuntimeOptions['compute'] = (task) => {
      const sums = rowSums(task);
      if (!task.key.startsWith('axes')) return sums;
      return Object.fromEntries(
        Object.entries(sums).map(([name, t]) => {
          const total = (t.data as Float32Array).reduce((a, b) => a + b, 0);
          return [name, { ...t, data: new Float32Array(t.data.length).fill(total) }];
        }),
      );
    };
    const { runtime, registry, logs } = setup(undefined, mixing);
    repo = new TempRepository()
      .addOnnx('paddle', '1', fixture('p2o_classifier.onnx'))
      .addOnnx('axes', '1', fixture('row_mixer.onnx'), { batching: { axes: { x: 0, y: 0 } } });
    await registry.load(repo.dir);
    const paddle = registry.router.resolve('paddle').runner!;
    expect(paddle.batching).toMatchObject({
      source: 'probed',
      plan: { inputs: { x: 0 }, outputs: { probabilities: 0 } },
    });
    expect(paddle.plan).toBe(paddle.batching.plan);
    expect('input' in paddle.rowInput).toBe(true); // /predict rows feed it now
    // two warm-ups, then the probe: a row alone, two rows together, the other row alone
    expect(runtime.tasksOf('paddle@1').map((t) => t.rows)).toEqual([1, 1, 1, 2, 1]);
    expect(logs).toContainEqual({
      level: 'info',
      msg: 'batch dim probed',
      obj: expect.objectContaining({ model: 'paddle', batching: 'probed' }),
    });
    const axes = registry.router.all().find((e) => e.name === 'axes')!;
    expect(axes).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(/^model.json batching.axes does not hold: row 0's "y"/),
    });
    expect(runtime.calls).toContain('remove axes@1');
  });

  it('reports a version that fails to load in loadProblems(), paths relative, and serves the rest', async () => {
    const { runtime, registry, logs } = setup();
    const { dir } = irisRepository().addBytes('iris', '3', 'not an ONNX file').write('empty/notes.txt', 'soon');
    await registry.load(dir);
    const problems = registry.loadProblems();
    expect(problems).toHaveLength(2);
    expect(problems).toContain('empty@0: no <version>/model.onnx found');
    // onnxruntime's message names the file: relative to the repository, as answers name files
    const broken = problems.find((p) => p.startsWith('iris@3: '))!;
    expect(broken).toMatch(/^iris@3: cannot load the ONNX file: .*\biris\/3\/model\.onnx\b/);
    expect(problems.join('\n')).not.toContain(dir);
    expect(served(registry, 'iris')).toBe('iris@2'); // the highest ready version
    expect(refusal(() => registry.router.resolve('iris', '3'))).toEqual({
      code: 'MODEL_FAILED',
      message: `model ${broken.replace(': ', ' failed to load: ')}`,
    });
    expect(runtime.calls).not.toContain('start iris@3');
    expect(runtime.tasksOf('iris@3')).toEqual([]);
    expect(registry.isReady(false)).toBe(true);
    expect(registry.isReady(true)).toBe(false);
    expect(logs.filter((l) => l.msg === 'model failed to load').map((l) => l.obj)).toEqual(
      expect.arrayContaining([expect.objectContaining({ model: 'iris', version: '3' })]),
    );
  });

  it('serves a version whose warm-up fails, with why', async () => {
    const { runtime, registry } = setup();
    runtime.failRun = () => new Error('zeros are not a valid sample rate');
    await registry.load(irisRepository().dir);
    const entry = registry.router.resolve('iris', '1');
    expect(entry.state).toBe('ready');
    expect(entry.warmup).toBe('warm-up inference on zeros failed: zeros are not a valid sample rate');
    expect(registry.loadProblems()).toEqual([]);
  });

  it('says why an unreadable or empty repository serves nothing', async () => {
    const missing = setup();
    await missing.registry.load('/nonexistent/models');
    expect(missing.registry.loadProblems()).toEqual(['cannot read the model repository (MODEL_DIR): ENOENT']);
    expect(refusal(() => missing.registry.router.resolve('iris')).message).toBe(
      'unknown model "iris": cannot read the model repository (MODEL_DIR): ENOENT',
    );
    expect(missing.registry.isReady(false)).toBe(false);

    const empty = setup();
    repo = new TempRepository();
    await empty.registry.load(repo.dir);
    expect(empty.registry.loadProblems()).toEqual(['no models found in MODEL_DIR']);
    expect(empty.runtime.calls).toEqual([]);
  });
});

describe('ModelRegistry: rescan', () => {
  it('changes nothing before the first load has finished', async () => {
    const { registry } = setup();
    expect(await registry.rescan()).toEqual({ ...noChange, error: 'models are still loading' });
  });

  it('finds nothing to do when the repository is as loaded: no file described again, no listener told', async () => {
    const { runtime, registry, changes } = setup();
    await registry.load(irisRepository().dir);
    const described = runtime.described.length;
    expect(await registry.rescan()).toEqual(noChange);
    expect(runtime.described).toHaveLength(described);
    expect(changes()).toBe(0);
  });

  it('loads an added version on the runtime, warms it, and serves it as the new default', async () => {
    const { runtime, registry, changes } = setup();
    const repository = irisRepository();
    await registry.load(repository.dir);
    repository.addOnnx('iris', '3', IRIS_LIKE);
    expect(await registry.rescan()).toEqual({ ...noChange, added: ['iris@3'] });
    expect(runtime.calls).toContain('add iris@3');
    expect(runtime.tasksOf('iris@3')).toHaveLength(2);
    expect(served(registry, 'iris')).toBe('iris@3');
    expect(changes()).toBe(1);
  });

  it('takes a removed version out of routing at once, and releases it only once the data plane has drained it', async () => {
    const drain = heldDrain();
    const { runtime, registry } = setup(drain.drained);
    const repository = irisRepository();
    await registry.load(repository.dir);
    rmSync(join(repository.dir, 'iris/2'), { recursive: true });
    const rescan = registry.rescan();
    expect(await Promise.race([drain.asked, rescan.then(() => 'the rescan finished without asking')])).toBe('iris@2');
    expect(served(registry, 'iris')).toBe('iris@1');
    expect(refusal(() => registry.router.resolve('iris', '2'))).toEqual({
      code: 'VERSION_NOT_FOUND',
      message: 'model "iris" version 2 was unloaded: iris/2/model.onnx was removed from the repository',
    });
    expect(runtime.calls).not.toContain('remove iris@2');
    expect(await settledSoon(rescan)).toBe(false);
    drain.open();
    expect(await rescan).toEqual({ ...noChange, removed: ['iris@2'] });
    expect(runtime.calls).toContain('remove iris@2');
    expect(runtime.sessions.has('iris@2')).toBe(false);
  });

  it('answers a model removed whole 404 with why, and releases it', async () => {
    const { runtime, registry } = setup();
    const repository = irisRepository();
    await registry.load(repository.dir);
    rmSync(join(repository.dir, 'diabetes'), { recursive: true });
    expect(await registry.rescan()).toEqual({ ...noChange, removed: ['diabetes@1'] });
    expect(refusal(() => registry.router.resolve('diabetes'))).toEqual({
      code: 'MODEL_NOT_FOUND',
      message: 'model "diabetes" was unloaded: removed from the repository',
    });
    expect(runtime.calls).toContain('remove diabetes@1');
  });

  it('replaces a changed file with a new runner under a new runtime key, and releases the old one once drained', async () => {
    const drain = heldDrain();
    const { runtime, registry } = setup(drain.drained);
    const repository = irisRepository();
    await registry.load(repository.dir);
    const old = registry.router.resolve('iris', '2').runner!;
    copyFileSync(IRIS_LIKE, join(repository.dir, 'iris/2/model.onnx'));
    const rescan = registry.rescan();
    expect(await Promise.race([drain.asked, rescan.then(() => 'the rescan finished without asking')])).toBe('iris@2');
    // Already serving the new runner, warmed on every worker; the old one still loaded
    const now = registry.router.resolve('iris', '2').runner!;
    expect(now).not.toBe(old);
    expect(now.spec).toMatchObject({ key: 'iris@2#2', sha256: sha256(IRIS_LIKE) });
    expect(runtime.tasksOf('iris@2#2')).toHaveLength(2);
    expect(runtime.calls.at(-1)).toBe('add iris@2#2');
    expect(await settledSoon(rescan)).toBe(false);
    drain.open();
    expect(await rescan).toEqual({ ...noChange, replaced: ['iris@2'] });
    expect(runtime.calls.slice(-2)).toEqual(['add iris@2#2', 'remove iris@2']);
  });

  it('keeps the loaded version serving when its changed file fails to load, and does not retry that file', async () => {
    const { runtime, registry } = setup();
    const repository = irisRepository();
    await registry.load(repository.dir);
    const old = registry.router.resolve('iris', '2').runner!;
    repository.addBytes('iris', '2', 'truncated');
    expect(await registry.rescan()).toEqual({ ...noChange, failed: ['iris@2'] });
    const entry = registry.router.resolve('iris', '2');
    expect(entry.runner).toBe(old);
    expect(entry.reload).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(/^cannot load the ONNX file: /),
    });
    expect(runtime.calls).not.toContain('remove iris@2');
    const described = runtime.described.length;
    expect(await registry.rescan()).toEqual(noChange);
    expect(runtime.described).toHaveLength(described);
    // The loaded file back: current again
    copyFileSync(IRIS, join(repository.dir, 'iris/2/model.onnx'));
    expect(await registry.rescan()).toEqual(noChange);
    expect(registry.router.resolve('iris', '2').reload).toBeUndefined();
  });

  it('fails a new version the runtime cannot load, and reports it', async () => {
    const { runtime, registry } = setup();
    const repository = irisRepository();
    await registry.load(repository.dir);
    runtime.failAdd = () => new Error('std::bad_alloc');
    repository.addOnnx('iris', '3', IRIS_LIKE);
    expect(await registry.rescan()).toEqual({ ...noChange, failed: ['iris@3'] });
    expect(registry.loadProblems()).toEqual(['iris@3: cannot load the ONNX file: std::bad_alloc']);
    expect(served(registry, 'iris')).toBe('iris@2');
  });
});

describe('ModelRegistry: unload and load', () => {
  it('unloads a model through the API until it is loaded again, which loads it under new runtime keys', async () => {
    const { runtime, registry } = setup();
    await registry.load(irisRepository().dir);
    expect(await registry.unloadModel('iris')).toBe(true);
    expect(refusal(() => registry.router.resolve('iris'))).toEqual({
      code: 'MODEL_NOT_FOUND',
      message: 'model "iris" was unloaded: unloaded through the control API',
    });
    expect(runtime.calls).toEqual(expect.arrayContaining(['remove iris@1', 'remove iris@2']));
    expect(served(registry, 'diabetes')).toBe('diabetes@1');

    // A rescan leaves it out, and lists what it left out
    expect(await registry.rescan()).toEqual(noChange);
    expect(registry.router.entries('iris')).toEqual([]);
    expect(registry.unloadedVersions()).toEqual([
      { name: 'iris', version: '1' },
      { name: 'iris', version: '2' },
    ]);

    const loaded = await registry.loadModel('iris');
    expect(loaded.added.sort()).toEqual(['iris@1', 'iris@2']);
    expect(served(registry, 'iris')).toBe('iris@2#2');
    expect(runtime.calls).toEqual(expect.arrayContaining(['add iris@1#2', 'add iris@2#2']));
    expect(registry.unloadedVersions()).toEqual([]);
  });

  it('answers false for a model it does not know', async () => {
    const { registry } = setup();
    await registry.load(irisRepository().dir);
    expect(await registry.unloadModel('nope')).toBe(false);
  });
});
