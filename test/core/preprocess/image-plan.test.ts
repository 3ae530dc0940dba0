import { describe, expect, it } from 'vitest';
import type { TensorSpec } from '../../../src/core/models/model-spec.js';
import { imagePreprocessSchema } from '../../../src/core/models/preprocess-config.js';
import { planImage } from '../../../src/core/preprocess/image-plan.js';
import { fillImages } from '../../../src/core/preprocess/raw-inputs.js';
import { fromHalf } from '../../../src/core/tensors/dtypes.js';

const input = (shape: TensorSpec['shape'], dtype: TensorSpec['dtype'] = 'float32'): TensorSpec => ({
  name: 'x',
  dtype,
  shape,
});
const plan = (spec: TensorSpec, config: unknown = {}) => planImage(spec, imagePreprocessSchema.parse(config));

describe('an image plan: model.json preprocess resolved against the input', () => {
  it('takes layout, channels and size from the shape, scale 1/255 for floats and 1 for integers', () => {
    expect(plan(input(['batch', 3, 48, 192]))).toMatchObject({
      layout: 'nchw',
      channels: 'rgb',
      channelCount: 3,
      height: 48,
      width: 192,
      scale: [1 / 255, 1 / 255, 1 / 255],
      offset: [-0, -0, -0],
    });
    expect(plan(input(['n', 28, 28, 1], 'uint8'))).toMatchObject({ layout: 'nhwc', channels: 'gray', scale: [1] });
  });

  it('folds scale, mean and std into one multiply-add per channel, in the row’s channel order', () => {
    const p = plan(input([null, 3, 'h', 'w']), {
      size: [224, 224],
      channels: 'bgr',
      mean: [0.406, 0.456, 0.485],
      std: [0.225, 0.224, 0.229],
    });
    expect(p.scale[0]).toBeCloseTo(1 / 255 / 0.225, 12);
    expect(p.offset[2]).toBeCloseTo(-0.485 / 0.229, 12);
    expect(p).toMatchObject({ height: 224, width: 224, channels: 'bgr' });
  });

  it('refuses, naming the key, what does not fit the input', () => {
    const refused =
      (spec: TensorSpec, config: unknown = {}) =>
      () =>
        plan(spec, config);
    expect(refused(input(['batch', 3, 'h', 'w']))).toThrow(
      'model.json preprocess.x.image: say its size [height, width]: the input leaves the height open',
    );
    expect(refused(input(['batch', 3, 48, 192]), { size: [32, 192] })).toThrow(
      'size gives the height 32; the input fixes it at 48',
    );
    expect(refused(input(['batch', 3, 8, 8]), { channels: 'gray' })).toThrow(
      'channels "gray" makes 1 channels; the input\'s dim 1 is 3',
    );
    expect(refused(input(['batch', 64]))).toThrow('is not [batch, channels, height, width]');
    expect(refused(input(['batch', 5, 8, 8]))).toThrow('say its layout (nchw or nhwc)');
    expect(refused(input(['batch', 3, 8, 8], 'string'))).toThrow('holds string, not pixel values');
    expect(refused(input(['batch', 3, 8, 8]), { mean: [0.5, 0.5] })).toThrow('mean has 2 values for 3 channels');
  });
});

describe('decoded pixels into the input tensor', () => {
  // Two 1x2 images, rgb bytes: pixel p of image n is (10n + p, 100 + p, 200 + p)
  const images = [0, 1].map((n) => ({
    pixels: Uint8Array.from([10 * n, 100, 200, 10 * n + 1, 101, 201]),
    format: 'png',
    width: 2,
    height: 1,
  }));

  it('lays rows out nchw or nhwc, reversing the channels for bgr', () => {
    const nchw = fillImages(plan(input(['b', 3, 1, 2], 'uint8')), images);
    expect(nchw.shape).toEqual([2, 3, 1, 2]);
    expect([...(nchw.data as Uint8Array)]).toEqual([0, 1, 100, 101, 200, 201, 10, 11, 100, 101, 200, 201]);
    const bgr = fillImages(plan(input(['b', 1, 2, 3], 'uint8'), { channels: 'bgr', layout: 'nhwc' }), images);
    expect([...(bgr.data as Uint8Array)].slice(0, 6)).toEqual([200, 100, 0, 201, 101, 1]);
  });

  it('applies scale, mean and std per channel into floats, float16 and clamped integers', () => {
    const config = { scale: 1 / 255, mean: [0.5], std: [0.5] };
    const f32 = fillImages(plan(input(['b', 3, 1, 2]), config), images);
    expect(f32.data[0]).toBeCloseTo(-1, 6);
    expect(f32.data[4]).toBeCloseTo((200 / 255 - 0.5) / 0.5, 6);
    const half = fillImages(plan(input(['b', 3, 1, 2], 'float16'), config), images);
    expect(fromHalf((half.data as Uint16Array)[4]!)).toBeCloseTo((200 / 255 - 0.5) / 0.5, 2);
    const int8 = fillImages(plan(input(['b', 3, 1, 2], 'int8'), { mean: [128] }), images);
    expect([...(int8.data as Int8Array)].slice(0, 6)).toEqual([-128, -127, -28, -27, 72, 73]);
  });
});
