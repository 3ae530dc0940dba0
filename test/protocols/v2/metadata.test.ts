import { describe, expect, it } from 'vitest';
import { appFor, appsPerTest } from '../../helpers/app.js';
import { FIXTURE_MODELS, TempRepository, fixture } from '../../helpers/repository.js';

describe('OIP v2 server and model metadata, health and readiness', () => {
  const app = appFor({ MODEL_DIR: FIXTURE_MODELS });

  it('GET /v2 names the server, its version and the extensions it implements', async () => {
    const response = await app().inject('/v2');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      name: 'onnx-serve',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      extensions: ['binary_tensor_data', 'classification'],
    });
  });

  it('answers live and ready', async () => {
    expect((await app().inject('/v2/health/live')).json()).toEqual({ live: true });
    const ready = await app().inject('/v2/health/ready');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ ready: true });
  });

  it('gives a multi-input model its platform, versions, datatypes and shapes, -1 where a dim varies', async () => {
    const stateful = await app().inject('/v2/models/stateful');
    expect(stateful.statusCode).toBe(200);
    expect(stateful.json()).toEqual({
      name: 'stateful',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'audio', datatype: 'FP32', shape: [-1, -1] },
        { name: 'sr', datatype: 'INT64', shape: [] },
        { name: 'state', datatype: 'FP32', shape: [2, -1, 4] },
      ],
      outputs: [
        { name: 'prob', datatype: 'FP32', shape: [-1, 1] },
        { name: 'state_out', datatype: 'FP32', shape: [2, -1, 4] },
      ],
    });
    expect((await app().inject('/v2/models/stateful/versions/1')).json()).toEqual(stateful.json());
  });

  it('maps every element type to its OIP datatype', async () => {
    const types = (await app().inject('/v2/models/all_types'))
      .json()
      .inputs.map((i: { datatype: string }) => i.datatype);
    expect(types).toEqual(['INT8', 'UINT8', 'INT16', 'UINT16', 'INT32', 'UINT32', 'INT64', 'UINT64', 'FP64', 'FP16']);
    const half = (await app().inject('/v2/models/masked_half')).json();
    expect(half.inputs.map((i: { datatype: string }) => i.datatype)).toEqual(['FP16', 'BOOL']);
    expect(half.outputs.map((i: { datatype: string }) => i.datatype)).toEqual(['FP16', 'INT32', 'BOOL']);
    expect((await app().inject('/v2/models/vocab')).json().inputs[0]).toEqual({
      name: 'text',
      datatype: 'BYTES',
      shape: [-1],
    });
  });

  it('answers model ready 200 with the version, 404 for an unknown model or version', async () => {
    expect((await app().inject('/v2/models/mixer/ready')).json()).toEqual({ name: 'mixer', version: '1', ready: true });
    expect((await app().inject('/v2/models/mixer/versions/1/ready')).statusCode).toBe(200);
    const unknown = await app().inject('/v2/models/nope/ready');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'MODEL_NOT_FOUND', error: expect.any(String) });
    const version = await app().inject('/v2/models/mixer/versions/9');
    expect(version.statusCode).toBe(404);
    expect(version.json().code).toBe('VERSION_NOT_FOUND');
  });
});

describe('OIP v2 readiness of models that failed or are still loading', () => {
  const start = appsPerTest();

  it('answers 503 for a model that failed to load, and for every model while they load', async () => {
    const repo = new TempRepository()
      .addOnnx('good', '1', fixture('two_inputs.onnx'))
      .addBytes('corrupt', '1', 'not onnx');
    const app = await start({}, { waitForModels: false }, repo);
    const loading = await app.inject('/v2/models/good/ready');
    const healthLoading = await app.inject('/v2/health/ready');
    await app.modelsLoaded;
    expect(loading.statusCode).toBe(503);
    expect(loading.json()).toMatchObject({ ready: false, code: 'MODEL_NOT_READY' });
    expect(healthLoading.statusCode).toBe(503);
    expect((await app.inject('/v2/models/good/ready')).statusCode).toBe(200);
    const failed = await app.inject('/v2/models/corrupt/ready');
    expect(failed.statusCode).toBe(503);
    expect(failed.json()).toMatchObject({ name: 'corrupt', ready: false, code: 'MODEL_FAILED' });
    expect((await app.inject('/v2/models/corrupt')).statusCode).toBe(503);
  });
});
