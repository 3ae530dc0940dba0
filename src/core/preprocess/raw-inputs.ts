import { ServiceError } from '../../errors.js';
import { dtypes, setElement, type TypedArray } from '../tensors/dtypes.js';
import { emptyTensor, type NamedTensors, type Tensor } from '../tensors/tensor.js';
import { imageShape, type ImagePlan } from './image-plan.js';
import { tensorsFromTexts, type RawTexts, type TextObserver, type TextTokenizer } from './raw-texts.js';
import type { TextPlan } from './text-plan.js';

/**
 * What a client sent for an input instead of its tensor: one encoded item (an image file's bytes) per
 * row, with the path each is named by in errors (`instances[2].image`, `inputs.x[2]`).
 */
export interface RawItems {
  items: Uint8Array[];
  paths: string[];
}

/** By name: an image input's encoded items, or a text's strings (its name is model.json's, not an input's). */
export type RawInputs = Record<string, RawItems | RawTexts>;

/** An image decoded, oriented and resized as its plan says: height x width x channelCount bytes, rgb or gray. */
export interface DecodedImage {
  pixels: Uint8Array;
  /** What the bytes were: jpeg, png, webp, gif. */
  format: string;
  /** The image's own size, before resizing. */
  width: number;
  height: number;
}

/**
 * Decodes images off the event loop (adapters/sharp-images.ts). Throws a ServiceError naming `where`:
 * 415 NOT_AN_IMAGE, 400 INVALID_IMAGE (corrupt or truncated, with the format), 413 IMAGE_TOO_LARGE
 * (more pixels than the plan allows, found before decoding).
 */
export interface ImageDecoder {
  decode(bytes: Uint8Array, plan: ImagePlan, where: string): Promise<DecodedImage>;
}

/** Told of every image decoded (format, own size) or refused (the error code). */
export interface ImageObserver {
  decoded?(model: string, image: DecodedImage): void;
  refused?(model: string, code: string): void;
}

/** What turns a model version's raw inputs into tensors: its plans, with the decoder and tokenizers that run them. */
export interface Preprocessing {
  images: Readonly<Record<string, ImagePlan>>;
  decoder?: ImageDecoder;
  imageObserver?: ImageObserver;
  texts: Readonly<Record<string, TextPlan>>;
  /** Loaded with the version (model-registry.ts), one per text plan. */
  tokenizers?: Readonly<Record<string, TextTokenizer>>;
  textObserver?: TextObserver;
}

/**
 * The raw inputs of a request turned into tensors, one row per item, by the model's plans: images
 * decoded at once (the decoder's threads) and written into the input's dtype and layout with scale,
 * mean and std per channel; texts tokenised into the token inputs they feed.
 */
export async function tensorsFromRaw(model: string, raw: RawInputs, prep: Preprocessing): Promise<NamedTensors> {
  const tensors: NamedTensors = {};
  for (const [input, sent] of Object.entries(raw)) {
    if ('texts' in sent) {
      const plan = prep.texts[input];
      const tokenizer = prep.tokenizers?.[input];
      if (!plan || !tokenizer)
        throw new ServiceError('INVALID_INPUT', `model ${model} takes no text "${input}"`, [
          { path: sent.paths[0] ?? input, message: `model ${model} declares no text preprocessing named "${input}"` },
        ]);
      Object.assign(tensors, await tensorsFromTexts(model, plan, tokenizer, sent, prep.textObserver));
      continue;
    }
    const { items, paths } = sent;
    const plan = prep.images[input];
    const decoder = prep.decoder;
    const observer = prep.imageObserver;
    if (!plan || !decoder)
      throw new ServiceError('INVALID_INPUT', `input "${input}" takes a tensor, not images`, [
        { path: paths[0] ?? input, message: `model ${model} declares no image preprocessing for input "${input}"` },
      ]);
    const images = await Promise.all(
      items.map(async (bytes, i) => {
        try {
          if (bytes.length > plan.maxBytes)
            throw new ServiceError(
              'IMAGE_TOO_LARGE',
              `an image of ${bytes.length} bytes; the model takes up to ${plan.maxBytes}`,
              [{ path: paths[i]!, message: `${bytes.length} bytes, over max_bytes ${plan.maxBytes}` }],
            );
          const image = await decoder.decode(bytes, plan, paths[i]!);
          observer?.decoded?.(model, image);
          return image;
        } catch (err) {
          observer?.refused?.(model, (err as ServiceError).code ?? 'INTERNAL_ERROR');
          throw err;
        }
      }),
    );
    tensors[input] = fillImages(plan, images);
  }
  return tensors;
}

/** Decoded pixels into the input's tensor: the plan's layout, channel order, dtype and per-channel affine. */
export function fillImages(plan: ImagePlan, images: DecodedImage[]): Tensor {
  const tensor = emptyTensor(plan.dtype, imageShape(plan, images.length));
  const { height, width, channelCount, scale, offset } = plan;
  const plane = height * width;
  const data = tensor.data as TypedArray;
  const kind = dtypes[plan.dtype].kind;
  const { min, max } = dtypes[plan.dtype];
  const direct = kind === 'float' ? (data as Float32Array | Float64Array) : undefined;
  // Row channel c reads decoded channel source[c]: bgr reverses rgb.
  const source = plan.channels === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const nchw = plan.layout === 'nchw';
  for (let n = 0; n < images.length; n++) {
    const pixels = images[n]!.pixels;
    const base = n * plane * channelCount;
    for (let c = 0; c < channelCount; c++) {
      const from = source[c]!;
      const a = scale[c]!;
      const b = offset[c]!;
      for (let p = 0; p < plane; p++) {
        const value = pixels[p * channelCount + from]! * a + b;
        const at = nchw ? base + c * plane + p : base + p * channelCount + c;
        if (direct) direct[at] = value;
        else if (kind === 'half') setElement(data, plan.dtype, at, value);
        else setElement(data, plan.dtype, at, Math.min(max, Math.max(min, Math.round(value))));
      }
    }
  }
  return tensor;
}
