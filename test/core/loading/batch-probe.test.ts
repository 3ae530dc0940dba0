import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { probeBatching, type ProbeRun } from '../../../src/core/loading/batch-probe.js';
import { decideBatching, type BatchingOptions } from '../../../src/core/models/batch-plan.js';
import { buildModelSpec, type ModelSpec } from '../../../src/core/models/model-spec.js';
import type { NamedTensors } from '../../../src/core/tensors/tensor.js';
import { describeOnnx } from '../../../src/runtime/onnx-describe.js';
import { runSession } from '../../../src/runtime/run-session.js';
import { fixture } from '../../helpers/repository.js';

/**
 * The probe on real onnxruntime sessions of fixture models whose dims are named as converters name them
 * (test/fixtures/build_fixtures.py): p2o_classifier (Paddle2ONNX), tf_dense (tf2onnx), and row_mixer, whose
 * rows are not independent although dim 0 is open everywhere.
 */
const sessions: ort.InferenceSession[] = [];
afterAll(async () => {
  for (const session of sessions) await session.release();
});

async function load(file: string, batching?: BatchingOptions) {
  const path = fixture(file);
  const spec = buildModelSpec(
    { name: file, version: '1', path, sha256: '' },
    { batching: batching && { enabled: true, ...batching } },
    await describeOnnx(path),
    'strict',
  );
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
  sessions.push(session);
  const runs: number[] = [];
  const run: ProbeRun = async (inputs, rows) => {
    runs.push(rows);
    return (await runSession(session, { key: file, inputs, fetch: spec.outputs.map((o) => o.name), rows })).outputs;
  };
  return { spec, run, runs, decision: decideBatching(spec.inputs, spec.outputs, batching) };
}

describe('probing a batch dim the file does not name', () => {
  it('proves dim 0 of a Paddle2ONNX image classifier, its height and width open, by two rows together and each alone', async () => {
    const { spec, run, runs, decision } = await load('p2o_classifier.onnx');
    expect(decision.source).toBe('probed');
    const proven = await probeBatching(run, spec, decision);
    expect(proven).toEqual({
      source: 'probed',
      plan: { dim: 'batch', inputs: { x: 0 }, outputs: { probabilities: 0 }, fixedOne: false },
      reason: expect.stringMatching(
        /^two distinct rows run together gave each row's answer alone \(within \d+% of the tolerance\)$/,
      ),
    });
    expect(runs).toEqual([1, 2, 1]);
  });

  it('proves the tf2onnx dense network', async () => {
    const { spec, run, decision } = await load('tf_dense.onnx');
    expect((await probeBatching(run, spec, decision)).plan?.outputs).toEqual({ probabilities: 0 });
  });

  it('refuses to merge a model that mixes its rows, and says which output showed it', async () => {
    const { spec, run, decision } = await load('row_mixer.onnx');
    const refused = await probeBatching(run, spec, decision);
    expect(refused.plan).toBeUndefined();
    expect(refused).toEqual({
      source: 'none',
      reason: expect.stringMatching(
        /^dim 0 is open on every tensor, under different names or none, but row 0's "y" run beside another row differs from it run alone \(by up to 0\.\d+\): the model mixes rows; each request runs alone$/,
      ),
    });
  });

  it('fails a batching.axes the probe disproves, and confirms one it proves', async () => {
    const mixer = await load('row_mixer.onnx', { axes: { x: 0, y: 0 } });
    await expect(probeBatching(mixer.run, mixer.spec, mixer.decision)).rejects.toThrow(
      /^model.json batching.axes does not hold: row 0's "y" run beside another row differs/,
    );
    const dense = await load('tf_dense.onnx', { axes: { dense_input: 0, probabilities: 0 } });
    expect(await probeBatching(dense.run, dense.spec, dense.decision)).toMatchObject({
      source: 'configured',
      plan: { inputs: { dense_input: 0 }, outputs: { probabilities: 0 } },
      reason: expect.stringMatching(/^batching.axes in model.json, confirmed: two distinct rows/),
    });
  });
});

describe('the probe’s verdicts, on runs it can be made to see', () => {
  const spec = {
    inputs: [{ name: 'x', dtype: 'float32', shape: ['a', 2] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['b', 2] }],
  } as unknown as ModelSpec;
  const decision = decideBatching(spec.inputs, spec.outputs);
  /** Echoes x as y, adding `noise` to every value of a run of two rows. */
  const echo =
    (noise: number, rowsOut?: number): ProbeRun =>
    async (inputs: NamedTensors, rows: number) => {
      const x = inputs.x!;
      const data = Float32Array.from(x.data as Float32Array, (v) => v + (rows === 2 ? noise : 0));
      const shape = rowsOut === undefined ? x.shape : [rowsOut, 2];
      return { y: { dtype: 'float32', shape, data: rowsOut === undefined ? data : data.slice(0, rowsOut * 2) } };
    };

  it('takes float differences within its tolerance (1e-4 relative) and refuses larger ones', async () => {
    expect((await probeBatching(echo(5e-5), spec, decision)).source).toBe('probed');
    expect((await probeBatching(echo(1e-3), spec, decision)).reason).toMatch(
      /differs from it run alone \(by up to 0\.00100\)/,
    );
  });

  it('refuses an output whose dim 0 does not follow the rows', async () => {
    expect((await probeBatching(echo(0, 1), spec, decision)).reason).toMatch(
      /output "y" has 1 along dim 0 for two rows and 1 for one/,
    );
  });

  it('runs every request alone when the model refuses the generated rows, and keeps batching.axes unchecked', async () => {
    const refuses: ProbeRun = () => Promise.reject(new Error('Invalid rank for input: x\nstack'));
    expect(await probeBatching(refuses, spec, decision)).toEqual({
      source: 'none',
      reason:
        "dim 0 is open on every tensor, under different names or none, but the probe's generated rows were refused (Invalid rank for input: x); each request runs alone",
    });
    const configured = decideBatching(spec.inputs, spec.outputs, { axes: { x: 0, y: 0 } });
    expect(await probeBatching(refuses, spec, configured)).toMatchObject({
      source: 'configured',
      plan: { inputs: { x: 0 } },
      reason:
        "batching.axes in model.json, unchecked: the probe's generated rows were refused (Invalid rank for input: x)",
    });
  });

  it('tries larger open dims when the smallest is refused', async () => {
    const sizes: number[] = [];
    const wide = {
      inputs: [{ name: 'x', dtype: 'float32', shape: ['a', 'w'] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['b', 'v'] }],
    } as unknown as ModelSpec;
    const run: ProbeRun = async (inputs, rows) => {
      sizes.push(inputs.x!.shape[1]!);
      if (inputs.x!.shape[1]! < 16) throw new Error('kernel larger than the image');
      return echo(0)(inputs, rows);
    };
    expect((await probeBatching(run, wide, decideBatching(wide.inputs, wide.outputs))).source).toBe('probed');
    expect(sizes).toEqual([1, 16, 16, 16]);
  });
});
