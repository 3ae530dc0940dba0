import { afterEach, describe, expect, it, vi } from 'vitest';
import { PredictionCache, type SharedTier } from '../../../src/core/cache/prediction-cache.js';
import { ValueSigner } from '../../../src/core/cache/value-signer.js';
import { modelConfigSchema } from '../../../src/core/models/model-config.js';
import type { ModelEntry, ModelState } from '../../../src/core/models/model-entry.js';
import type { RepositoryModel } from '../../../src/core/models/model-repository.js';
import { ModelRouter } from '../../../src/core/models/model-router.js';
import { buildModelSpec } from '../../../src/core/models/model-spec.js';
import type { AdmissionLimits } from '../../../src/core/serving/admission.js';
import { DataPlane, type DecodedInputs, type InferResult } from '../../../src/core/serving/data-plane.js';
import { InflightLimiter } from '../../../src/core/serving/inflight-limiter.js';
import { buildRunner, type BatchPolicy, type ModelRunner } from '../../../src/core/serving/model-runner.js';
import type { PredictionEvent } from '../../../src/core/serving/telemetry.js';
import { ServiceError } from '../../../src/errors.js';
import { FakeRuntime } from '../../helpers/fake-runtime.js';
import { HeldRuntime } from '../../helpers/held-runtime.js';
import { keyFor } from '../../helpers/traffic.js';

/**
 * DataPlane over a real ModelRouter of real runners (buildRunner on a regression spec of `x` float32
 * [batch, 3] -> `y` and `z`, both [batch, 1], `y` the task's output), a real Batcher and PredictionCache.
 * Only the runtime is fake: it answers each row's sum, records every task, and can be held (HeldRuntime)
 * or made to fail. A failure here is the data plane's; the router has tests of its own.
 */
const POLICY: BatchPolicy = { maxBatchRows: 8, maxDelayMs: 0, maxQueueRows: 32 };
const META = {
  inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 3] }],
  outputs: [
    { name: 'y', dtype: 'float32', shape: ['batch', 1] },
    { name: 'z', dtype: 'float32', shape: ['batch', 1] },
  ],
};

function entry(
  name: string,
  version: string,
  state: ModelState = 'ready',
  policy: Partial<BatchPolicy> = {},
): ModelEntry<ModelRunner> {
  const file = `${name}/${version}/model.onnx`;
  const base = { name, version, file, path: `/models/${file}`, state };
  if (state !== 'ready') return { ...base, reason: state === 'failed' ? 'the file is not an ONNX model' : undefined };
  const spec = buildModelSpec(
    { name, version, path: base.path, sha256: 'a'.repeat(64) },
    modelConfigSchema.parse({ task: 'regression' }),
    META,
    'strict',
  );
  return { ...base, runner: buildRunner(spec, { ...POLICY, ...policy }) };
}

interface Setup {
  policy?: Partial<BatchPolicy>;
  cache?: PredictionCache;
  admission?: AdmissionLimits;
  timeoutMs?: number;
  workers?: number;
}

/**
 * `sum` versions 1 and 2 ready, `warming` still loading, `broken` failed; every ready runner started on the
 * runtime.
 */
function setup(options: Setup = {}) {
  const router = new ModelRouter<ModelRunner>();
  router.set('sum', [entry('sum', '1', 'ready', options.policy), entry('sum', '2', 'ready', options.policy)]);
  router.set('warming', [entry('warming', '1', 'loading')]);
  router.set('broken', [entry('broken', '1', 'failed')]);
  router.phase = 'loaded';
  const fake = new FakeRuntime({ workers: options.workers ?? 1 });
  fake.start(router.all().flatMap((e) => (e.runner ? [{ key: e.runner.spec.key, path: e.path }] : [])));
  const runtime = new HeldRuntime(fake);
  const predictions: PredictionEvent[] = [];
  const plane = new DataPlane({
    router,
    runtime,
    observer: { prediction: (event) => predictions.push(event), inferenceCost: () => {} },
    batchObserver: { batch: () => {}, queueWait: () => {} },
    timeoutMs: options.timeoutMs ?? 30_000,
    ...(options.cache ? { cache: options.cache } : {}),
    ...(options.admission ? { admission: options.admission } : {}),
  });
  const runnerOf = (version: string) => router.resolve('sum', version).runner!;
  return { router, fake, runtime, plane, predictions, runnerOf };
}

/** A decode() answering these rows as `x`. */
const rows =
  (...values: number[][]) =>
  (): DecodedInputs => ({
    tensors: { x: { dtype: 'float32', shape: [values.length, 3], data: new Float32Array(values.flat()) } },
  });
const ys = (result: InferResult) => [...(result.outputs.y!.data as Float32Array)];
const ticks = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable('the request succeeded'),
    (err: unknown) => err as ServiceError,
  );
const newCache = (shared?: SharedTier) =>
  new PredictionCache({ maxEntries: 100, maxBytes: 1 << 20, ttlSeconds: 60 }, { cacheLookup: () => {} }, shared);

let held: HeldRuntime | undefined;
afterEach(() => held?.release()); // a test that failed while holding leaves nothing waiting

describe('DataPlane: routing through the router', () => {
  it('runs a request that names no version on the highest ready version, and answers its rows', async () => {
    const { plane, fake, predictions } = setup();
    const result = await plane.infer({ model: 'sum' }, rows([1, 2, 3], [4, 5, 6]));
    expect(result.runner.spec.version).toBe('2');
    expect(fake.tasks.map((t) => [t.key, t.rows])).toEqual([['sum@2', 2]]);
    expect(ys(result)).toEqual([6, 15]);
    expect(result.outputs.y!.shape).toEqual([2, 1]);
    expect(result.predictions).toEqual([{ values: [6] }, { values: [15] }]);
    expect(result).toMatchObject({ rows: 2, cached: false, warnings: [] });
    expect(predictions).toMatchObject([{ model: 'sum', version: '2', status: 'success', rows: 2 }]);
  });

  it('runs a request that names a version on that version', async () => {
    const { plane, fake } = setup();
    const result = await plane.infer({ model: 'sum', version: '1' }, rows([1, 1, 1]));
    expect(result.runner.spec.version).toBe('1');
    expect(fake.tasks.map((t) => t.key)).toEqual(['sum@1']);
  });

  it("passes the router's 404 and 503 through as they are worded, without decoding or running", async () => {
    const { plane, fake } = setup();
    const decode = vi.fn(rows([1, 2, 3]));
    const cases = [
      [{ model: 'nope' }, 404, 'MODEL_NOT_FOUND', 'unknown model "nope"'],
      [{ model: 'sum', version: '7' }, 404, 'VERSION_NOT_FOUND', 'model "sum" has no version 7'],
      [{ model: 'warming' }, 503, 'MODEL_NOT_READY', 'model warming@1 is still loading'],
      [{ model: 'broken' }, 503, 'MODEL_FAILED', 'model broken@1 failed to load: the file is not an ONNX model'],
    ] as const;
    for (const [target, statusCode, code, message] of cases) {
      const err = await failure(plane.infer(target, decode));
      expect(err, JSON.stringify(target)).toBeInstanceOf(ServiceError);
      expect({ statusCode: err.statusCode, code: err.code, message: err.message }).toEqual({
        statusCode,
        code,
        message,
      });
    }
    expect(decode).not.toHaveBeenCalled();
    expect(fake.tasks).toEqual([]);
  });

  it("reports the traffic split's variant that served a request, in the result and to the observer", async () => {
    const { plane, router, predictions } = setup();
    const config = modelConfigSchema.parse({
      traffic: {
        variants: [
          { name: 'stable', version: 1, weight: 50 },
          { name: 'canary', version: 2, weight: 50 },
        ],
      },
    });
    const model: RepositoryModel = { name: 'sum', config, versions: [], skipped: [] };
    router.traffic.apply([model]);
    const key = keyFor({ router }, 'sum', 'stable');
    const result = await plane.infer({ model: 'sum', routingKey: key }, rows([1, 2, 3]));
    expect(result).toMatchObject({ variant: 'stable', runner: { spec: { version: '1' } } });
    expect(predictions).toMatchObject([{ version: '1', variant: 'stable', status: 'success' }]);
  });
});

describe('DataPlane: what it refuses', () => {
  it('answers a decode error as the protocol worded it (4xx), observed as invalid_input, and never runs', async () => {
    const { plane, fake, predictions } = setup();
    const refusal = new ServiceError('INVALID_INPUT', 'instances[1][0]: not a number');
    const err = await failure(
      plane.infer({ model: 'sum' }, () => {
        throw refusal;
      }),
    );
    expect(err).toBe(refusal);
    expect(err.statusCode).toBe(400);
    expect(fake.tasks).toEqual([]);
    expect(predictions).toMatchObject([{ model: 'sum', version: '2', status: 'invalid_input', rows: 0 }]);
  });

  it("refuses decoded tensors the model's input checks reject (400 INVALID_INPUT), before the runtime", async () => {
    const { plane, fake, predictions } = setup();
    const wide = (): DecodedInputs => ({
      tensors: { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) } },
    });
    const err = await failure(plane.infer({ model: 'sum' }, wide));
    expect({ statusCode: err.statusCode, code: err.code }).toEqual({ statusCode: 400, code: 'INVALID_INPUT' });
    expect(err.message).toBe('invalid input at x: dim 1 is 4; the model takes float32[batch,3]');
    expect(fake.tasks).toEqual([]);
    expect(predictions).toMatchObject([{ status: 'invalid_input' }]);
  });

  it('refuses an output the model does not have (400 INVALID_REQUEST)', async () => {
    const { plane, fake } = setup();
    const decode = () => ({ ...rows([1, 2, 3])(), outputs: ['w'] });
    const err = await failure(plane.infer({ model: 'sum' }, decode));
    expect({ code: err.code, message: err.message }).toEqual({
      code: 'INVALID_REQUEST',
      message: 'unknown output "w"; the model has y, z',
    });
    expect(fake.tasks).toEqual([]);
  });

  it("fetches the outputs asked for, plus the task's output, in the model's order; all of them by default", async () => {
    const { plane, fake } = setup();
    const asking = (outputs?: string[]) => () => ({ ...rows([1, 2, 3])(), ...(outputs ? { outputs } : {}) });
    await plane.infer({ model: 'sum' }, asking(['y']));
    const all = await plane.infer({ model: 'sum' }, asking());
    await plane.infer({ model: 'sum' }, asking(['z']));
    expect(fake.tasks.map((t) => t.fetch)).toEqual([['y'], ['y', 'z'], ['y', 'z']]);
    expect(Object.keys(all.outputs)).toEqual(['y', 'z']);
  });

  it('refuses a request whose declared rows pass MAX_REQUEST_ROWS (413) before decode is called', async () => {
    const { plane, fake, predictions } = setup({ admission: { maxRequestRows: 4 } });
    const decode = vi.fn(rows([1, 2, 3]));
    const declared = vi.fn(() => ({ rows: 5, path: 'instances' }));
    const err = await failure(plane.infer({ model: 'sum' }, decode, { declared }));
    expect({ statusCode: err.statusCode, code: err.code }).toEqual({ statusCode: 413, code: 'TOO_MANY_ROWS' });
    expect(err.message).toBe('5 rows in one request; at most 4 (MAX_REQUEST_ROWS): send them in several requests');
    expect(err.details).toEqual([{ path: 'instances', message: 'at most 4 rows' }]);
    expect(declared).toHaveBeenCalledWith(expect.objectContaining({ spec: expect.objectContaining({ key: 'sum@2' }) }));
    expect(decode).not.toHaveBeenCalled();
    expect(fake.tasks).toEqual([]);
    expect(predictions).toMatchObject([{ status: 'invalid_input' }]);
  });

  it("refuses declared rows past the model's max_queue_size (413 LARGER_THAN_QUEUE) before decode", async () => {
    const { plane } = setup({ admission: { maxRequestRows: 1000 }, policy: { maxQueueRows: 6 } });
    const decode = vi.fn(rows([1, 2, 3]));
    const err = await failure(plane.infer({ model: 'sum' }, decode, { declared: () => ({ rows: 7, path: 'shape' }) }));
    expect(err.code).toBe('LARGER_THAN_QUEUE');
    expect(err.message).toContain('model sum@2 queues at most 6 (max_queue_size)');
    expect(decode).not.toHaveBeenCalled();
  });

  it('holds decoded rows to the caps too when nothing was declared, and never runs them', async () => {
    const { plane, fake } = setup({ admission: { maxRequestRows: 2 } });
    const err = await failure(plane.infer({ model: 'sum' }, rows([1, 1, 1], [2, 2, 2], [3, 3, 3])));
    expect(err.code).toBe('TOO_MANY_ROWS');
    expect(err.details).toEqual([{ path: 'x', message: 'at most 2 rows' }]);
    expect(fake.tasks).toEqual([]);
  });

  it('takes a share of the rows in flight, refuses past it (503 SERVER_BUSY), and gives it back however a request ends', async () => {
    const inflight = new InflightLimiter({ bytes: 1 << 20, rows: 4 });
    const { plane, runtime, fake } = setup({ admission: { maxRequestRows: 100, inflight } });
    held = runtime;
    runtime.hold();
    const first = plane.infer({ model: 'sum' }, rows([1, 1, 1], [2, 2, 2], [3, 3, 3]));
    expect(inflight.stats().rows).toBe(3);
    const busy = await failure(plane.infer({ model: 'sum' }, rows([1, 1, 1], [2, 2, 2])));
    expect({ statusCode: busy.statusCode, code: busy.code }).toEqual({ statusCode: 503, code: 'SERVER_BUSY' });
    runtime.release();
    expect(ys(await first)).toEqual([3, 6, 9]);
    expect(inflight.stats().rows).toBe(0);
    fake.failRun = () => new Error('out of memory');
    await failure(plane.infer({ model: 'sum' }, rows([1, 1, 1])));
    expect(inflight.stats().rows).toBe(0);
  });
});

describe('DataPlane: runtime failures and deadlines', () => {
  it('answers a runtime failure 500 INFERENCE_FAILED, keeping the cause for the log, observed as error', async () => {
    const { plane, fake, predictions } = setup();
    const crash = new Error('onnxruntime: bad_alloc');
    fake.failRun = () => crash;
    const err = await failure(plane.infer({ model: 'sum' }, rows([1, 2, 3])));
    expect(err).toBeInstanceOf(ServiceError);
    expect({ statusCode: err.statusCode, code: err.code, cause: err.cause }).toEqual({
      statusCode: 500,
      code: 'INFERENCE_FAILED',
      cause: crash,
    });
    expect(err.toBody()).toEqual({ error: 'internal error while serving the request', code: 'INFERENCE_FAILED' });
    expect(predictions).toMatchObject([{ status: 'error', rows: 1 }]);
  });

  it("answers 504 DEADLINE_EXCEEDED past the request's timeoutMs, and a request still queued then never runs", async () => {
    const { plane, runtime, fake, predictions } = setup();
    held = runtime;
    runtime.hold();
    const running = plane.infer({ model: 'sum' }, rows([1, 1, 1]), { timeoutMs: 30_000 });
    const queued = plane.infer({ model: 'sum' }, rows([2, 2, 2]), { timeoutMs: 20 });
    const err = await failure(queued);
    expect({ statusCode: err.statusCode, code: err.code, message: err.message }).toEqual({
      statusCode: 504,
      code: 'DEADLINE_EXCEEDED',
      message: 'no answer within 20 ms',
    });
    runtime.release();
    expect(ys(await running)).toEqual([3]);
    await plane.drained();
    expect(fake.tasks.map((t) => t.rows)).toEqual([1]);
    expect(predictions.map((p) => p.status).sort()).toEqual(['error', 'success']);
  });

  it("uses the data plane's timeoutMs when the request sets none", async () => {
    const { plane, runtime } = setup({ timeoutMs: 20 });
    held = runtime;
    runtime.hold();
    const err = await failure(plane.infer({ model: 'sum' }, rows([1, 1, 1])));
    expect(err.code).toBe('DEADLINE_EXCEEDED');
  });
});

describe('DataPlane: batching', () => {
  it('merges requests that wait together into one runtime task (rows summed), and gives each its own rows', async () => {
    const { plane, runtime, fake, predictions } = setup();
    held = runtime;
    runtime.hold();
    const first = plane.infer({ model: 'sum' }, rows([0, 0, 1])); // takes the only worker
    const second = plane.infer({ model: 'sum' }, rows([1, 0, 0], [2, 0, 0]));
    const third = plane.infer({ model: 'sum' }, rows([0, 3, 0]));
    runtime.release();
    const results = await Promise.all([first, second, third]);
    expect(fake.tasks.map((t) => t.rows)).toEqual([1, 3]);
    expect([...(fake.tasks[1]!.inputs.x!.data as Float32Array)]).toEqual([1, 0, 0, 2, 0, 0, 0, 3, 0]);
    expect(results.map(ys)).toEqual([[1], [1, 2], [3]]);
    expect(results.map((r) => r.rows)).toEqual([1, 2, 1]);
    expect(predictions.map((p) => p.rows)).toEqual([1, 2, 1]);
  });

  it('runs a request larger than max batch in parts and joins their outputs in order', async () => {
    const { plane, fake } = setup({ policy: { maxBatchRows: 2 } });
    const values = [1, 2, 3, 4, 5].map((v) => [v, 0, 0]);
    const result = await plane.infer({ model: 'sum' }, rows(...values));
    expect(fake.tasks.map((t) => t.rows)).toEqual([2, 2, 1]);
    expect(ys(result)).toEqual([1, 2, 3, 4, 5]);
    expect(result.outputs.y!.shape).toEqual([5, 1]);
    expect(result.rows).toBe(5);
  });
});

describe('DataPlane: the prediction cache', () => {
  it('answers a second identical request from the cache (cached: true) without a runtime task', async () => {
    const { plane, fake } = setup({ cache: newCache() });
    const first = await plane.infer({ model: 'sum' }, rows([1, 2, 3], [4, 5, 6]));
    await ticks(); // entries are written after the answer
    const second = await plane.infer({ model: 'sum' }, rows([1, 2, 3], [4, 5, 6]));
    expect(first.cached).toBe(false);
    expect(second.cached).toBe(true);
    expect(ys(second)).toEqual([6, 15]);
    expect(fake.tasks).toHaveLength(1);
  });

  it('looks each row up on its own: only the rows not seen before run', async () => {
    const { plane, fake } = setup({ cache: newCache() });
    await plane.infer({ model: 'sum' }, rows([1, 2, 3]));
    await ticks();
    const mixed = await plane.infer({ model: 'sum' }, rows([7, 0, 0], [1, 2, 3], [0, 0, 9]));
    expect(mixed.cached).toBe(false);
    expect(ys(mixed)).toEqual([7, 6, 9]);
    expect(fake.tasks.map((t) => [...(t.inputs.x!.data as Float32Array)])).toEqual([
      [1, 2, 3],
      [7, 0, 0, 0, 0, 9],
    ]);
  });

  it('keeps versions apart: the same rows on another version run again', async () => {
    const { plane, fake } = setup({ cache: newCache() });
    await plane.infer({ model: 'sum', version: '1' }, rows([1, 2, 3]));
    await ticks();
    const other = await plane.infer({ model: 'sum', version: '2' }, rows([1, 2, 3]));
    expect(other.cached).toBe(false);
    expect(fake.tasks.map((t) => t.key)).toEqual(['sum@1', 'sum@2']);
  });

  it('runs identical rows in flight at once only once (single flight)', async () => {
    const { plane, runtime, fake } = setup({ cache: newCache() });
    held = runtime;
    runtime.hold();
    const a = plane.infer({ model: 'sum' }, rows([1, 2, 3]));
    const b = plane.infer({ model: 'sum' }, rows([1, 2, 3]));
    runtime.release();
    expect((await Promise.all([a, b])).map(ys)).toEqual([[6], [6]]);
    expect(fake.tasks).toHaveLength(1);
  });
});

describe('DataPlane: runnerDrained', () => {
  it('resolves only once the requests in flight on the runner have been answered', async () => {
    const { plane, runtime, runnerOf } = setup();
    held = runtime;
    runtime.hold();
    const pending = plane.infer({ model: 'sum', version: '2' }, rows([1, 2, 3]));
    let drained = false;
    const done = plane.runnerDrained(runnerOf('2')).then(() => (drained = true));
    await ticks();
    expect(drained).toBe(false);
    runtime.release();
    await pending;
    await done;
    expect(drained).toBe(true);
  });

  it('waits for a request whose cache lookup is still pending, before it reaches the batcher', async () => {
    let answer: (values: (string | null)[]) => void = () => {};
    const shared: SharedTier = {
      store: { getMany: () => new Promise((resolve) => (answer = resolve)), set: () => {} },
      signer: new ValueSigner(Buffer.from('a test key of at least thirty-two characters')),
      refused: () => {},
    };
    const { plane, fake, runnerOf } = setup({ cache: newCache(shared) });
    const pending = plane.infer({ model: 'sum' }, rows([1, 2, 3]));
    let drained = false;
    const done = plane.runnerDrained(runnerOf('2')).then(() => (drained = true));
    await ticks();
    expect(drained).toBe(false);
    expect(fake.tasks).toEqual([]);
    answer([null]);
    expect(ys(await pending)).toEqual([6]);
    await done;
    expect(drained).toBe(true);
  });

  it('waits for a batch still on the runtime after its request was answered 504', async () => {
    const { plane, runtime, runnerOf } = setup();
    held = runtime;
    runtime.hold();
    expect((await failure(plane.infer({ model: 'sum' }, rows([1, 2, 3]), { timeoutMs: 10 }))).code).toBe(
      'DEADLINE_EXCEEDED',
    );
    let drained = false;
    const done = plane.runnerDrained(runnerOf('2')).then(() => (drained = true));
    await ticks();
    expect(drained).toBe(false);
    runtime.release();
    await done;
    expect(drained).toBe(true);
  });

  it("does not wait for another version's requests", async () => {
    const { plane, runtime, runnerOf } = setup();
    held = runtime;
    runtime.hold((key) => key === 'sum@2');
    const pending = plane.infer({ model: 'sum', version: '2' }, rows([1, 2, 3]));
    await plane.runnerDrained(runnerOf('1'));
    runtime.release();
    await pending;
  });
});

describe('DataPlane: the observer', () => {
  it('is told of every request once, with its status', async () => {
    const { plane, fake, predictions } = setup();
    await plane.infer({ model: 'sum', version: '1' }, rows([1, 2, 3], [3, 2, 1]));
    await failure(
      plane.infer({ model: 'sum' }, () => {
        throw new ServiceError('INVALID_INPUT', 'bad');
      }),
    );
    fake.failRun = () => new Error('crash');
    await failure(plane.infer({ model: 'sum' }, rows([1, 1, 1])));
    expect(predictions.map(({ version, status, rows }) => ({ version, status, rows }))).toEqual([
      { version: '1', status: 'success', rows: 2 },
      { version: '2', status: 'invalid_input', rows: 0 },
      { version: '2', status: 'error', rows: 1 },
    ]);
    expect(predictions.every((p) => p.model === 'sum' && p.seconds >= 0)).toBe(true);
  });
});
