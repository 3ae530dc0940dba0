import { z } from 'zod';

const side = z.number().int().min(1).max(16_384);
const perChannel = z.array(z.number()).min(1).max(3);

/**
 * model.json `preprocess.<input>.image`: how an encoded image (JPEG, PNG, WebP, the first frame of a
 * GIF) becomes one row of the input. Omitted keys follow from the input's shape and dtype
 * (core/preprocess/image-plan.ts).
 */
export const imagePreprocessSchema = z.strictObject({
  /** [height, width] the image is resized to; the input's fixed dims when omitted. */
  size: z.tuple([side, side]).optional(),
  /** fill: stretch to the size; contain: fit inside it, padded with `background`; cover: fill it, centre-cropped. */
  fit: z.enum(['fill', 'contain', 'cover']).default('fill'),
  /** Where contain places the image (and cover crops from). */
  position: z
    .enum(['centre', 'top', 'right', 'bottom', 'left', 'right top', 'right bottom', 'left bottom', 'left top'])
    .default('centre'),
  /** The padding's colour for contain, 0-255 per channel (one value: every channel). */
  background: z.array(z.number().int().min(0).max(255)).min(1).max(3).default([0]),
  /** Channel order; from the input's channel dim when omitted (1: gray, 3: rgb). */
  channels: z.enum(['rgb', 'bgr', 'gray']).optional(),
  /** Where the channel dim is; from the input's shape when omitted (dim 1 or the last of size 1 or 3). */
  layout: z.enum(['nchw', 'nhwc']).optional(),
  /** The resize filter, as PIL names it. */
  resample: z.enum(['nearest', 'bilinear', 'bicubic', 'lanczos3']).default('bilinear'),
  /** value = (pixel x scale - mean) / std per channel; scale is 1/255 for float inputs, 1 for integer ones. */
  scale: z.number().positive().optional(),
  mean: perChannel.optional(),
  std: z.array(z.number().positive()).min(1).max(3).optional(),
  /** Bytes of one encoded image, refused (413) beyond. */
  max_bytes: z
    .number()
    .int()
    .min(1)
    .default(16 * 1024 * 1024),
  /** Pixels (width x height) an image may declare, refused (413) before decoding: decompression bombs. */
  max_pixels: z.number().int().min(1).default(40_000_000),
});

export type ImagePreprocess = z.infer<typeof imagePreprocessSchema>;

/** model.json `preprocess`: per input, what clients send instead of its tensor. */
export const preprocessSchema = z.record(z.string().min(1), z.strictObject({ image: imagePreprocessSchema }));

export type PreprocessConfig = z.infer<typeof preprocessSchema>;
