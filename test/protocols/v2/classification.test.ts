import { describe, expect, it } from 'vitest';
import { appFor, appsPerTest, BUNDLED_MODELS } from '../../helpers/app.js';
import { FIXTURE_MODELS } from '../../helpers/repository.js';

describe('OIP v2 classification extension', () => {
  const app = appFor({ MODEL_DIR: FIXTURE_MODELS });

  const infer = async (model: string, body: unknown) => {
    const response = await app().inject({
      method: 'POST',
      url: `/v2/models/${model}/infer`,
      payload: JSON.stringify(body),
    });
    return { status: response.statusCode, body: response.json() };
  };
  const mixer = (x: number[][], outputs: unknown[]) => ({
    inputs: [
      { name: 'x', datatype: 'FP32', shape: [x.length, 3], data: x.flat() },
      { name: 'scale', datatype: 'INT64', shape: [], data: [1] },
    ],
    outputs,
  });

  it('returns the top K per row as BYTES "value:index", highest first, ties to the lower index', async () => {
    const { status, body } = await infer(
      'mixer',
      mixer(
        [
          [0.5, 2, 1],
          [3, 3, -1],
        ],
        [{ name: 'y', parameters: { classification: 2 } }],
      ),
    );
    expect(status).toBe(200);
    expect(body.outputs).toEqual([{ name: 'y', datatype: 'BYTES', shape: [2, 2], data: ['2:1', '1:2', '3:0', '3:1'] }]);
  });

  it('caps K at the number of classes, and adds model.json labels to the task output', async () => {
    const { body } = await infer('text_classifier', {
      inputs: [
        { name: 'input_ids', datatype: 'INT64', shape: [1, 2], data: [4, 5] },
        { name: 'attention_mask', datatype: 'INT64', shape: [1, 2], data: [1, 1] },
      ],
      outputs: [{ name: 'probabilities', parameters: { classification: 5 } }],
    });
    const [first, second] = body.outputs[0].data as string[];
    expect(body.outputs[0].shape).toEqual([1, 2]);
    expect(first).toMatch(/^0\.\d+:[01]:(negative|positive)$/);
    expect(second!.split(':')[2]).not.toBe(first!.split(':')[2]);
    expect(Number(first!.split(':')[0])).toBeGreaterThanOrEqual(Number(second!.split(':')[0]));
  });

  it('ranks a whole output that has no batch dim, and refuses to rank strings or booleans', async () => {
    const fixed = await infer('fixed_pair', {
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [2, 2], data: [1, 2, 3, 4] },
        { name: 'b', datatype: 'FP32', shape: [2, 2], data: [1, 0, 0, 1] },
      ],
      outputs: [{ name: 'product', parameters: { classification: 2 } }],
    });
    expect(fixed.body.outputs[0]).toEqual({ name: 'product', datatype: 'BYTES', shape: [2], data: ['4:3', '3:2'] });
    const words = await infer('vocab', {
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['cat'] }],
      outputs: [{ name: 'words', parameters: { classification: 1 } }],
    });
    expect(words.status).toBe(400);
    expect(words.body.error).toMatch(/cannot be ranked/);
  });
});

describe('classification on a bundled classifier', () => {
  const start = appsPerTest();

  it('labels iris with the classes of model.json', async () => {
    const app = await start({ MODEL_DIR: BUNDLED_MODELS });
    const response = await app.inject({
      method: 'POST',
      url: '/v2/models/iris/infer',
      payload: JSON.stringify({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
        outputs: [{ name: 'probabilities', parameters: { classification: 1 } }],
      }),
    });
    expect(response.json().outputs[0].data[0]).toMatch(/^0\.9\d*:0:setosa$/);
  });
});
