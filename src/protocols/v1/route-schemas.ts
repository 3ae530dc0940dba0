import { z } from 'zod';
import { shadowStatusSchema, variantStatusSchema } from '../../core/experiments/traffic-status.js';
import { compiledAnswer } from '../openapi/describe-only.js';
import {
  ANY_REQUEST,
  errorResponses,
  INFERS,
  JOINS_FEEDBACK,
  READS_BODY,
  RESOLVES_MODEL,
} from '../openapi/error-responses.js';
import { feedbackResultSchema, feedbackSchema } from './feedback-schemas.js';
import { predictRequestSchema, tensorQuerySchema } from './predict-request.js';
import { predictResponseSchema } from './predict-response.js';

/** A raw little-endian tensor: /predict's binary body. */
const rawTensor = z
  .string()
  .meta({ format: 'binary', description: 'the raw little-endian tensor, batch first, described by the query string' });

/** One encoded image as the body: /predict for a model whose model.json preprocesses images. */
const imageFile = z.string().meta({
  format: 'binary',
  description: 'an image file (JPEG, PNG, WebP, GIF) for a model that preprocesses images; `?model=` names it',
});

const irisRow = {
  model: 'iris',
  features: { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
};

/** POST /predict: the envelopes it parses, and the answer its compiled serializer writes. */
export const predictRouteSchema = {
  tags: ['predict'],
  summary: 'Predict from named features, a list of rows, or a raw tensor',
  description:
    "JSON: one row of named `features`, or an `instances` list of rows, checked against the model's own metadata. " +
    'application/octet-stream: the body is the raw tensor and the query string (`model`, `dtype`, `shape`) describes it. ' +
    'A model whose model.json declares image preprocessing also takes `image` (base64) or `instances` of `{"image": …}`, ' +
    'or the image file itself as the body (image/jpeg, image/png, image/webp, image/gif) with `?model=`, ' +
    'or uploaded as multipart/form-data files named `image` with a `model` field. ' +
    'A model whose model.json names a tokenizer (preprocess.<name>.text) takes `text` or `texts` (one row each), ' +
    'a text/plain body with `?model=`, or a form field `text`.',
  // Documented optional: they are required with an application/octet-stream body only.
  querystring: tensorQuerySchema.partial(),
  body: {
    content: {
      'application/json': {
        schema: predictRequestSchema.meta({
          examples: [irisRow, { model: 'topics', text: 'The compiler ran out of memory' }],
        }),
      },
      'application/octet-stream': { schema: rawTensor },
      'image/jpeg': { schema: imageFile },
      'image/png': { schema: imageFile },
      'image/webp': { schema: imageFile },
      'image/gif': { schema: imageFile },
      'text/plain': {
        schema: z.string().describe('one UTF-8 text for a model that tokenises text; `?model=` names it'),
      },
      'multipart/form-data': {
        schema: z.object({
          model: z.string().describe('the model'),
          version: z.string().optional(),
          image: z.array(imageFile).describe('one file per row (`curl -F image=@cat.jpg -F model=m`), up to 64'),
          text: z.string().optional().describe('or one text, for a model that tokenises text (`-F text=…`)'),
        }),
      },
    },
  },
  response: {
    200: compiledAnswer(
      predictResponseSchema.describe("the prediction: one row's fields at the top level, or `predictions`"),
    ),
    ...errorResponses(ANY_REQUEST, READS_BODY, RESOLVES_MODEL, INFERS),
  },
};

export const feedbackRouteSchema = {
  tags: ['predict'],
  summary: 'Ground truth for an earlier prediction, joined by its id',
  body: feedbackSchema.meta({ examples: [{ id: '<the id /predict answered>', label: 'setosa' }] }),
  response: {
    200: feedbackResultSchema.describe('whether the prediction was right (classifiers) or its error (regressors)'),
    ...errorResponses(ANY_REQUEST, READS_BODY, JOINS_FEEDBACK),
  },
};

const dims = z
  .array(z.union([z.number().int(), z.string(), z.null()]))
  .describe('each dim: a size, a symbolic name, or null');
const tensor = z.object({ name: z.string(), dtype: z.string(), shape: dims });
const skipped = z.array(z.object({ entry: z.string(), reason: z.string() }));
const modelVersion = z.object({
  version: z.string(),
  file: z.string().optional(),
  state: z.enum(['loading', 'ready', 'failed', 'unsupported']),
  reason: z.string().optional(),
  warmup: z.unknown().optional(),
  reload: z
    .object({ state: z.enum(['loading', 'failed']), sha256: z.string().optional(), reason: z.string().optional() })
    .optional()
    .describe('a changed file loading beside this version, or why it failed to load (this version keeps serving)'),
  task: z.string().optional(),
  runs_on: z.string().optional().describe('worker threads or the main thread, as measured'),
  sha256: z.string().optional(),
  inputs: z.array(tensor).optional(),
  outputs: z.array(tensor).optional(),
  features: z.array(z.unknown()).optional(),
  labels: z.array(z.string()).optional(),
  validation: z.enum(['strict', 'permissive']).optional(),
  batching: z
    .object({
      source: z
        .enum(['named', 'probed', 'configured', 'none'])
        .describe(
          'named: a dim name every output and each batched input carry; probed: dim 0 open everywhere under other names, proven at load by running two rows together and each alone; configured: batching.axes in model.json, checked at load; none: each request runs alone',
        ),
      dim: z.string().optional(),
      axes: z
        .object({ inputs: z.record(z.string(), z.number().int()), outputs: z.record(z.string(), z.number().int()) })
        .optional()
        .describe('the batch axis of each batched input and of each output'),
      max_batch_size: z.number().int().optional(),
      reason: z.string(),
    })
    .optional()
    .describe('whether and along which axes requests merge into one inference, how that was established, and why'),
  predict: z
    .string()
    .optional()
    .describe('"rows", "texts" (a model that tokenises text), or why /predict cannot feed this model'),
  preprocess: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      "model.json's preprocess: the inputs that take encoded images, the texts a tokenizer turns into token inputs, and how",
    ),
  card: z.unknown().optional(),
});

const traffic = z
  .object({ variants: z.array(variantStatusSchema), shadows: z.array(shadowStatusSchema).optional() })
  .describe(
    'the model.json `traffic` split of the requests that name no version: each variant in order (the first is the control), its weight, and whether its version is ready; and the shadows requests are mirrored to',
  );

export const modelsRouteSchema = {
  tags: ['models'],
  summary: 'Every model: versions, state, tensors, batching, features, labels, model card, traffic split',
  response: {
    200: z.object({
      models: z.array(
        z.object({
          name: z.string(),
          description: z.string().optional(),
          dataset: z.unknown().optional(),
          versions: z.array(modelVersion),
          traffic: traffic.optional(),
          skipped,
        }),
      ),
      skipped,
    }),
    ...errorResponses(ANY_REQUEST),
  },
};
