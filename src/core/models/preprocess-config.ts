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

/**
 * model.json `preprocess.<name>.text`: text a Hugging Face tokenizer.json turns into the model's token
 * inputs (core/preprocess/text-plan.ts). `<name>` is what clients call the text (`text`), not a model input.
 */
export const textPreprocessSchema = z.strictObject({
  /** The tokenizer file, in the version's folder or else beside model.json. */
  tokenizer: z
    .string()
    .min(1)
    .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'a path inside the model folder')
    .default('tokenizer.json'),
  /** Tokens per text, special ones included; the ids input's fixed dim when omitted. */
  max_length: z.number().int().min(1).max(1_048_576).optional(),
  /** Cut longer texts to max_length (counted in ml_texts_truncated_total); false: refuse them (413). */
  truncation: z.boolean().default(true),
  /** max_length: every row the same length, so requests merge; longest: to the request's longest text. */
  padding: z.enum(['max_length', 'longest']).default('max_length'),
  /** The model inputs filled; the standard names when the model has them. */
  inputs: z
    .strictObject({
      ids: z.string().min(1).optional(),
      mask: z.string().min(1).optional(),
      type_ids: z.string().min(1).optional(),
    })
    .default({}),
  /** UTF-8 bytes of one text, refused (413) beyond, before tokenising. */
  max_bytes: z
    .number()
    .int()
    .min(1)
    .default(256 * 1024),
});

export type TextPreprocess = z.infer<typeof textPreprocessSchema>;

/** model.json `preprocess`: per input, what clients send instead of its tensor (an image, or text). */
export const preprocessSchema = z.record(
  z.string().min(1),
  z.union([z.strictObject({ image: imagePreprocessSchema }), z.strictObject({ text: textPreprocessSchema })]),
);

export type PreprocessConfig = z.infer<typeof preprocessSchema>;
