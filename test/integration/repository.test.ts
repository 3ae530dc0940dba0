import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ServiceError } from '../../src/errors.js';
import { appFor, appsPerTest, BUNDLED_MODELS, postJson, startApp } from '../helpers/app.js';
import { TempRepository, bundled, fixture } from '../helpers/repository.js';

/** Real ONNX sessions on a repository holding every awkward case at once: the good still serve. */
describe('model repository', () => {
  const repo = new TempRepository()
    .addOnnx('image', '1', fixture('image_scaler.onnx'))
    .addOnnx('image', '3', fixture('image_scaler.onnx'))
    .addOnnx('ids', '1', fixture('int64_counter.onnx'))
    .addOnnx('pair', '1', fixture('two_inputs.onnx'))
    .addOnnx('arange', '1', fixture('arange.onnx'))
    .addBytes('corrupt', '1', 'this is not an onnx file')
    .addOnnx('tampered', '1', fixture('image_scaler.onnx'), { card: { versions: { '1': { sha256: '0'.repeat(64) } } } })
    .addOnnx('badjson', '1', fixture('image_scaler.onnx'), '{"task": "classification"')
    .addOnnx('mislabelled', '1', fixture('image_scaler.onnx'), { task: 'classification', labels: ['a', 'b'] });
  const app = appFor({}, repo);

  it('reports each model that failed with its reason, and stays ready for the others', async () => {
    const ready = await app().inject('/ready');
    expect(ready.statusCode).toBe(200);
    const states = Object.fromEntries(
      ready
        .json()
        .models.map((m: { name: string; version: string; state: string; reason?: string }) => [
          `${m.name}@${m.version}`,
          m,
        ]),
    );
    expect(states['image@1'].state).toBe('ready');
    expect(states['image@3'].state).toBe('ready');
    expect(states['ids@1'].state).toBe('ready');
    expect(states['corrupt@1']).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(/cannot load the ONNX file/),
    });
    expect(states['tampered@1']).toMatchObject({ state: 'failed', reason: expect.stringMatching(/sha256 mismatch/) });
    expect(states['badjson@1']).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(/model.json is not valid JSON/),
    });
    expect(states['mislabelled@1']).toMatchObject({ state: 'failed', reason: expect.stringMatching(/2 labels/) });
    expect(states['pair@1'].state).toBe('ready'); // two inputs: served over the Open Inference Protocol
  });

  it('serves a model that refuses the warm-up zeros, and says why its warm-up failed', async () => {
    const arange = (await app().inject('/models')).json().models.find((m: { name: string }) => m.name === 'arange')
      .versions[0];
    expect(arange).toMatchObject({
      state: 'ready',
      warmup: expect.stringMatching(/warm-up inference on zeros failed/),
      batching: {
        source: 'none',
        reason: 'no dim name is carried by every output and each batched input, and input "limit" [] has no open dim 0',
      },
    });
    const response = await postJson(app(), '/v2/models/arange/infer', {
      inputs: [
        { name: 'limit', datatype: 'INT64', shape: [], data: [7] },
        { name: 'delta', datatype: 'INT64', shape: [], data: [3] },
      ],
    });
    expect(response.body.outputs).toEqual([{ name: 'values', datatype: 'INT64', shape: [3], data: [0, 3, 6] }]);
    const zero = await postJson(app(), '/v2/models/arange/infer', {
      inputs: [
        { name: 'limit', datatype: 'INT64', shape: [], data: [7] },
        { name: 'delta', datatype: 'INT64', shape: [], data: [0] },
      ],
    });
    expect(zero.status).toBe(400); // the input checks pass; onnxruntime refuses the value, and says why
    expect(zero.body).toMatchObject({
      code: 'MODEL_REJECTED_INPUT',
      error: 'the model could not run on this input: Range: delta in Range operator can not be zero!',
    });
  });

  it('serves a model with no model.json from the ONNX metadata, nested or flat rows', async () => {
    const flat = Array.from({ length: 60 }, (_, i) => i / 10);
    const nested = [0, 1, 2].map((c) => [0, 1, 2, 3].map((y) => flat.slice(c * 20 + y * 5, c * 20 + y * 5 + 5)));
    const { status, body } = await postJson(app(), '/predict', { model: 'image', instances: [nested, flat] });
    expect(status).toBe(200);
    expect(body.version).toBe('3');
    const mean = (2 * flat.reduce((a, b) => a + b, 0)) / 60;
    for (const prediction of body.predictions) {
      expect(prediction.outputs.mean).toBeCloseTo(mean, 4);
      expect(prediction.outputs.scaled).toHaveLength(3);
      expect(prediction.outputs.scaled[2][3][4]).toBeCloseTo(2 * flat[59]!, 4);
    }
  });

  it('picks the requested version, and 404s an unknown one', async () => {
    const row = Array.from({ length: 60 }, () => 1);
    expect((await postJson(app(), '/predict', { model: 'image', version: '1', instances: [row] })).body.version).toBe(
      '1',
    );
    expect((await postJson(app(), '/predict', { model: 'image', version: 1, instances: [row] })).body.version).toBe(
      '1',
    );
    const missing = await postJson(app(), '/predict', { model: 'image', version: '2', instances: [row] });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({
      code: 'VERSION_NOT_FOUND',
      details: [{ path: 'version', message: 'versions: 1, 3' }],
    });
  });

  it('runs int64 models, with the open dim taken from the rows', async () => {
    const { status, body } = await postJson(app(), '/predict', {
      model: 'ids',
      instances: [
        [1, 2, 3],
        [10, 20, 30],
      ],
    });
    expect(status).toBe(200);
    expect(body.predictions.map((p: { outputs: { total: number } }) => p.outputs.total)).toEqual([6, 60]);
  });

  it('answers 400 naming the /v2 URL for a model with several inputs, 503 for a failed one', async () => {
    const pair = await postJson(app(), '/predict', { model: 'pair', instances: [[1, 2]] });
    expect(pair).toMatchObject({ status: 400, body: { code: 'UNSUPPORTED_MODEL' } });
    expect(pair.body.error).toMatch(/2 inputs \(a, b\).*POST \/v2\/models\/pair\/infer/);
    const corrupt = await postJson(app(), '/predict', { model: 'corrupt', instances: [[1]] });
    expect(corrupt).toMatchObject({ status: 503, body: { code: 'MODEL_FAILED' } });
  });

  it('lists every model with its inputs, outputs and state', async () => {
    const { models } = (await app().inject('/models')).json();
    const image = models.find((m: { name: string }) => m.name === 'image');
    expect(image.versions.map((v: { version: string }) => v.version)).toEqual(['1', '3']);
    expect(image.versions[0].inputs).toEqual([{ name: 'image', dtype: 'float32', shape: ['batch', 3, 4, 5] }]);
    expect(image.versions[0].batching).toEqual({
      source: 'named',
      dim: 'batch',
      axes: { inputs: { image: 0 }, outputs: { scaled: 0, mean: 0 } },
      max_batch_size: 64,
      reason: 'every output and each batched input carry the dim "batch"',
    });
    const pair = models.find((m: { name: string }) => m.name === 'pair').versions[0];
    expect(pair.predict).toMatch(/use \/v2\/models\/pair\/infer/);
    expect(image.versions[0].outputs.map((o: { name: string }) => o.name)).toEqual(['scaled', 'mean']);
    expect(models.find((m: { name: string }) => m.name === 'corrupt').versions[0].state).toBe('failed');
  });
});

describe('readiness when every model must load', () => {
  const start = appsPerTest();

  it('stays 503 when READY_REQUIRES_ALL_MODELS is set and one model failed', async () => {
    const repo = new TempRepository()
      .addOnnx('image', '1', fixture('image_scaler.onnx'))
      .addBytes('corrupt', '1', 'junk');
    const app = await start({ READY_REQUIRES_ALL_MODELS: 'true' }, {}, repo);
    const ready = await app.inject('/ready');
    expect(ready.statusCode).toBe(503);
    expect(ready.json().status).toBe('not_ready');
  });

  it('is 503 with the reason when the model directory does not exist, and a prediction is refused with it', async () => {
    const app = await start({ MODEL_DIR: '/nonexistent/models' });
    const ready = await app.inject('/ready');
    expect(ready.statusCode).toBe(503);
    expect(ready.json().error).toBe('cannot read the model repository (MODEL_DIR): ENOENT');
    expect(app.logs.lines.find((l) => l.msg === ready.json().error)).toMatchObject({
      level: 50,
      dir: '/nonexistent/models',
    });
    const predict = await app.inject({
      method: 'POST',
      url: '/predict',
      payload: { model: 'iris', instances: [[5.1, 3.5, 1.4, 0.2]] },
    });
    expect([predict.statusCode, predict.json()]).toEqual([
      404,
      {
        error: 'unknown model "iris": cannot read the model repository (MODEL_DIR): ENOENT',
        code: 'MODEL_NOT_FOUND',
        details: [{ path: 'model', message: 'cannot read the model repository (MODEL_DIR): ENOENT' }],
      },
    ]);
  });
});

describe('while models load', () => {
  it('answers 503 MODEL_NOT_READY on /predict and 503 on /ready, 200 on /health', async () => {
    const repo = new TempRepository().addOnnx('image', '1', fixture('image_scaler.onnx'));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The real runtime, held at the metadata step until the test lets it go.
    const { OnnxRuntime } = await import('../../src/runtime/onnx-runtime.js');
    const runtime = new OnnxRuntime({
      workers: 1,
      intraOpThreads: 1,
      interOpThreads: 1,
      inlineMaxRowMicros: 0,
      nice: 10,
    });
    const describe = runtime.describe.bind(runtime);
    runtime.describe = async (path) => {
      await gate;
      return describe(path);
    };
    const app = await startApp({ MODEL_DIR: repo.dir }, { runtime, waitForModels: false });
    try {
      expect((await app.inject('/health')).statusCode).toBe(200);
      const ready = await app.inject('/ready');
      expect(ready.statusCode).toBe(503);
      expect(ready.json().status).toBe('loading');
      const early = await app.inject({
        method: 'POST',
        url: '/predict',
        payload: { model: 'image', instances: [Array(60).fill(0)] },
      });
      expect(early.statusCode).toBe(503);
      expect(early.json().code).toBe('MODEL_NOT_READY');
      release();
      await app.modelsLoaded;
      expect((await app.inject('/ready')).statusCode).toBe(200);
      const later = await app.inject({
        method: 'POST',
        url: '/predict',
        payload: { model: 'image', instances: [Array(60).fill(0)] },
      });
      expect(later.statusCode).toBe(200);
    } finally {
      release();
      await app.close();
      repo.remove();
    }
  });
});

/**
 * The repository as a trust boundary, on the bundled models: a symlink out of MODEL_DIR is refused
 * at every level while the good models serve, misspelt version folders are reported instead of
 * colliding, and no answer of any route names a file by its absolute path.
 */
describe('a hostile model repository', () => {
  const outside = new TempRepository().addOnnx('stolen', '1', bundled('iris'));
  const iris = readFileSync(join(BUNDLED_MODELS, 'iris/model.json'), 'utf8');
  const repo = new TempRepository()
    .addOnnx('iris', '1', bundled('iris'), iris)
    .addOnnx('iris', '01', bundled('iris'))
    .addOnnx('iris', '1.0', bundled('iris'))
    .addOnnx('diabetes', '1', bundled('diabetes'), readFileSync(join(BUNDLED_MODELS, 'diabetes/model.json'), 'utf8'))
    .symlink('alias/1/model.onnx', '../../diabetes/1/model.onnx')
    .symlink('escape/1/model.onnx', join(outside.dir, 'stolen/1/model.onnx'))
    .symlink('escape-version/1', join(outside.dir, 'stolen/1'))
    .symlink('escape-model', join(outside.dir, 'stolen'))
    .addBytes('corrupt', '1', 'this is not an onnx file')
    .write('README.md', 'not a model')
    .write('digits.onnx', 'misplaced');
  afterAll(() => outside.remove()); // registered first, so it runs after the app's close
  const app = appFor({}, repo);
  const irisRow = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };

  it('refuses every symlink out of MODEL_DIR with its reason, and serves the good models', async () => {
    const ready = await app().inject('/ready');
    expect(ready.statusCode).toBe(200);
    const states = Object.fromEntries(
      ready.json().models.map((m: { name: string; version: string }) => [`${m.name}@${m.version}`, m]),
    );
    expect(states).toEqual({
      'alias@1': { name: 'alias', version: '1', state: 'ready' },
      'corrupt@1': {
        name: 'corrupt',
        version: '1',
        state: 'failed',
        reason: 'cannot load the ONNX file: Load model from corrupt/1/model.onnx failed:Protobuf parsing failed.',
      },
      'diabetes@1': { name: 'diabetes', version: '1', state: 'ready' },
      'escape-model@0': {
        name: 'escape-model',
        version: '0',
        state: 'failed',
        reason: 'escape-model is a symlink to outside MODEL_DIR: refused',
      },
      'escape-version@1': {
        name: 'escape-version',
        version: '1',
        state: 'failed',
        reason: 'escape-version/1 is a symlink to outside MODEL_DIR: refused',
      },
      'escape@1': {
        name: 'escape',
        version: '1',
        state: 'failed',
        reason: 'escape/1/model.onnx is a symlink to outside MODEL_DIR: refused',
      },
      'iris@1': { name: 'iris', version: '1', state: 'ready' },
    });
    const refused = await postJson(app(), '/predict', { model: 'escape', features: irisRow });
    expect(refused).toMatchObject({
      status: 503,
      body: {
        code: 'MODEL_FAILED',
        error: 'model escape@1 failed to load: escape/1/model.onnx is a symlink to outside MODEL_DIR: refused',
      },
    });

    expect(await postJson(app(), '/predict', { model: 'iris', features: irisRow })).toMatchObject({
      status: 200,
      body: { label: 'setosa', version: '1' },
    });
    const alias = await postJson(app(), '/predict', { model: 'alias', instances: [Array(10).fill(0)] });
    const diabetes = await postJson(app(), '/predict', { model: 'diabetes', instances: [Array(10).fill(0)] });
    expect(alias.status).toBe(200); // a symlink inside MODEL_DIR keeps working (without model.json: raw outputs)
    expect(alias.body.predictions[0].outputs.value).toEqual(diabetes.body.predictions[0].values);
  });

  it('reports 01 beside 1 and the other entries it skipped on /models, instead of a silent collision', async () => {
    const { models, skipped } = (await app().inject('/models')).json();
    const iris = models.find((m: { name: string }) => m.name === 'iris');
    expect(iris.versions.map((v: { version: string; file: string }) => [v.version, v.file])).toEqual([
      ['1', 'iris/1/model.onnx'],
    ]);
    expect(iris.skipped).toEqual([
      { entry: 'iris/01', reason: 'not the canonical spelling of version 1: it collides with iris/1' },
      { entry: 'iris/1.0', reason: 'not a version folder: versions are positive integers (1, 2, 10)' },
    ]);
    expect(models.find((m: { name: string }) => m.name === 'diabetes').skipped).toEqual([]);
    expect(skipped).toEqual([
      { entry: 'digits.onnx', reason: 'an ONNX file at the top level is not served: put it at digits/1/model.onnx' },
    ]);
    const warned = app()
      .logs.lines.filter((l) => l.msg === 'model repository entry skipped')
      .map((l) => l.entry);
    expect(warned.sort()).toEqual(['digits.onnx', 'iris/01', 'iris/1.0']);
  });

  it('names no absolute path in any answer of any route, and logs the full paths instead', async () => {
    const secrets = [repo.dir, realpathSync(repo.dir), outside.dir, realpathSync(outside.dir)];
    const names = ['iris', 'alias', 'diabetes', 'escape', 'escape-version', 'escape-model', 'corrupt', 'missing'];
    const oip = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] };
    const requests = [
      ...['/health', '/ready', '/models', '/metrics', '/v2', '/v2/health/live', '/v2/health/ready'].map((url) => ({
        method: 'GET' as const,
        url,
      })),
      ...names.flatMap((m) => [
        ...[
          `/v2/models/${m}`,
          `/v2/models/${m}/ready`,
          `/v2/models/${m}/versions/1`,
          `/v2/models/${m}/versions/1/ready`,
        ].map((url) => ({ method: 'GET' as const, url })),
        { method: 'POST' as const, url: `/v2/models/${m}/infer`, payload: oip },
        { method: 'POST' as const, url: `/v2/models/${m}/versions/1/infer`, payload: oip },
        { method: 'POST' as const, url: '/predict', payload: { model: m, features: irisRow } },
        { method: 'POST' as const, url: '/predict', payload: { model: m, version: '0', instances: [[1, 2, 3, 4]] } },
      ]),
      { method: 'POST' as const, url: '/feedback', payload: { id: 'nope', label: 'setosa' } },
    ];
    const statuses = new Set<number>();
    for (const request of requests) {
      const response = await app().inject(request);
      statuses.add(response.statusCode);
      for (const secret of secrets) expect(response.body, `${request.method} ${request.url}`).not.toContain(secret);
    }
    // Served, refused input, unknown, failed: every kind of answer was read
    expect([...statuses].sort()).toEqual([200, 400, 404, 503]);

    const failed = app().logs.lines.find((l) => l.msg === 'model failed to load' && l.model === 'corrupt');
    expect(failed).toMatchObject({ path: join(realpathSync(repo.dir), 'corrupt/1/model.onnx') });
    const refused = app().logs.lines.find(
      (l) => l.msg === 'model repository entry refused' && l.entry === 'escape/1/model.onnx',
    );
    expect(refused!.detail).toContain(realpathSync(outside.dir));
  });
});

describe('an answer built from an onnxruntime message', () => {
  const start = appsPerTest();

  it('names the model file relative to MODEL_DIR', async () => {
    const repo = new TempRepository().addOnnx(
      'iris',
      '1',
      bundled('iris'),
      readFileSync(join(BUNDLED_MODELS, 'iris/model.json'), 'utf8'),
    );
    const { OnnxRuntime } = await import('../../src/runtime/onnx-runtime.js');
    const runtime = new OnnxRuntime({
      workers: 1,
      intraOpThreads: 1,
      interOpThreads: 1,
      inlineMaxRowMicros: 0,
      nice: 10,
    });
    // The real runtime; a run fails as a kernel that names its model file would (a missing external-data file, say).
    const file = join(realpathSync(repo.dir), 'iris/1/model.onnx');
    const run = runtime.run.bind(runtime);
    runtime.run = async (task) => {
      if (task.rows === 1 && task.inputs.input?.data[0] === 7)
        throw new ServiceError(
          'MODEL_REJECTED_INPUT',
          `the model could not run on this input: cannot open ${file}.data`,
        );
      return run(task);
    };
    const app = await start({ CACHE_ENABLED: 'false' }, { runtime }, repo);
    const answer = await postJson(app, '/predict', {
      model: 'iris',
      features: { sepal_length: 7, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
    });
    expect(answer).toMatchObject({
      status: 400,
      body: {
        code: 'MODEL_REJECTED_INPUT',
        error: 'the model could not run on this input: cannot open iris/1/model.onnx.data',
      },
    });
  });
});
