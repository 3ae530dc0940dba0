import type { ImagePreprocess } from '../models/preprocess-config.js';
import { shapeText, type TensorSpec } from '../models/model-spec.js';
import { dtypes, type DType } from '../tensors/dtypes.js';

/**
 * How an encoded image becomes one row of an input, every default resolved against the input's
 * shape and dtype when the model loads; what the image decoder and the tensor fill need.
 */
export interface ImagePlan {
  input: string;
  dtype: DType;
  height: number;
  width: number;
  channels: 'rgb' | 'bgr' | 'gray';
  /** 3 for rgb and bgr, 1 for gray. */
  channelCount: number;
  layout: 'nchw' | 'nhwc';
  fit: 'fill' | 'contain' | 'cover';
  position: ImagePreprocess['position'];
  /** The padding's colour for contain, one value per channel of the decoded image (rgb order). */
  background: [number, number, number];
  resample: ImagePreprocess['resample'];
  /** Per channel of the row, in the row's channel order: value = pixel x scale[c] + offset[c]. */
  scale: number[];
  offset: number[];
  maxBytes: number;
  maxPixels: number;
}

/** The model.json preprocess of an input checked against it; throws, naming the key, when they disagree. */
export function planImage(input: TensorSpec, config: ImagePreprocess): ImagePlan {
  const fail = (why: string): never => {
    throw new Error(`model.json preprocess.${input.name}.image: ${why}`);
  };
  const { shape, dtype } = input;
  const kind = dtypes[dtype].kind;
  if (kind === 'string' || kind === 'bool') fail(`input "${input.name}" holds ${dtype}, not pixel values`);
  if (shape.length !== 4)
    fail(
      `input "${input.name}" ${shapeText(shape)} is not [batch, channels, height, width] or [batch, height, width, channels]`,
    );
  const channelDim = (d: (typeof shape)[number]) => d === 1 || d === 3;
  const layout =
    config.layout ??
    (channelDim(shape[1]!)
      ? 'nchw'
      : channelDim(shape[3]!)
        ? 'nhwc'
        : fail(`say its layout (nchw or nhwc): ${shapeText(shape)} does not show where the channels are`));
  const [channelAxis, heightAxis, widthAxis] = layout === 'nchw' ? [1, 2, 3] : [3, 1, 2];
  const declared = shape[channelAxis];
  const channels =
    config.channels ??
    (declared === 1
      ? 'gray'
      : declared === 3
        ? 'rgb'
        : fail(`say its channels (rgb, bgr or gray): dim ${channelAxis} is ${declared ?? 'open'}`));
  const channelCount = channels === 'gray' ? 1 : 3;
  if (typeof declared === 'number' && declared !== channelCount)
    fail(`channels "${channels}" makes ${channelCount} channels; the input's dim ${channelAxis} is ${declared}`);
  const fixed = [shape[heightAxis], shape[widthAxis]];
  const size = config.size ?? fixed;
  for (const [i, name] of ['height', 'width'].entries()) {
    const want = fixed[i];
    if (typeof size[i] !== 'number') fail(`say its size [height, width]: the input leaves the ${name} open`);
    if (typeof want === 'number' && want !== size[i])
      fail(`size gives the ${name} ${size[i]}; the input fixes it at ${want}`);
  }
  const perChannel = (values: number[] | undefined, fallback: number, key: string): number[] => {
    if (values === undefined) return Array<number>(channelCount).fill(fallback);
    if (values.length === 1) return Array<number>(channelCount).fill(values[0]!);
    if (values.length !== channelCount) fail(`${key} has ${values.length} values for ${channelCount} channels`);
    return values;
  };
  const scale = config.scale ?? (kind === 'float' || kind === 'half' ? 1 / 255 : 1);
  const mean = perChannel(config.mean, 0, 'mean');
  const std = perChannel(config.std, 1, 'std');
  const background = config.background.length === 1 ? Array<number>(3).fill(config.background[0]!) : config.background;
  if (background.length !== 3) fail('background has 2 values: give 1 or 3');
  return {
    input: input.name,
    dtype,
    height: size[0] as number,
    width: size[1] as number,
    channels,
    channelCount,
    layout,
    fit: config.fit,
    position: config.position,
    background: background as [number, number, number],
    resample: config.resample,
    scale: std.map((s) => scale / s),
    offset: mean.map((m, c) => -m / std[c]!),
    maxBytes: config.max_bytes,
    maxPixels: config.max_pixels,
  };
}

/** The tensor shape of `rows` images under a plan. */
export function imageShape(plan: ImagePlan, rows: number): number[] {
  const { height, width, channelCount } = plan;
  return plan.layout === 'nchw' ? [rows, channelCount, height, width] : [rows, height, width, channelCount];
}
