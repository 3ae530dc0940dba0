import { z } from 'zod';
import {
  ANY_REQUEST,
  errorBodySchema,
  errorResponses,
  INFERS,
  PATH_PARAMS,
  READS_BODY,
  RESOLVES_MODEL,
} from '../openapi/error-responses.js';
import { versionText } from '../version-param.js';
import { OIP_DATATYPE } from './datatypes.js';
import { inferRequestSchema } from './infer-request.js';
import { EXTENSIONS } from './metadata.js';

/**
 * Shapes and bodies of the Open Inference Protocol v2 REST API
 * (/work/shared/specs/open_inference_rest.yaml), as this server answers them.
 */
const tags = ['Open Inference Protocol v2'];
const datatype = z.enum(Object.values(OIP_DATATYPE) as [string, ...string[]]);
const binary = (description: string) => z.string().meta({ format: 'binary', description });

const modelParams = z.object({ model: z.string().describe("the model's name in the repository") });
const versionParams = modelParams.extend({ version: versionText });

export const serverMetadataSchema = z.object({
  name: z.string(),
  version: z.string(),
  extensions: z.array(z.enum(EXTENSIONS as [string, ...string[]])),
});

const tensorMetadata = z.object({
  name: z.string(),
  datatype,
  shape: z.array(z.number().int()).describe('-1 where the size varies'),
  parameters: z
    .union([
      z.object({
        preprocess: z.literal('image'),
        tensor: z.object({ datatype, shape: z.array(z.number().int()) }),
      }),
      z.object({
        preprocess: z.literal('text'),
        tensors: z.record(z.string(), z.object({ datatype, shape: z.array(z.number().int()) })),
      }),
    ])
    .optional()
    .describe(
      'an input model.json preprocesses. image: BYTES, one encoded image (JPEG, PNG, WebP, GIF) per row, feeding `tensor`; text: BYTES, one UTF-8 text per row, tokenised into `tensors` (its token ids, attention mask, type ids). The tensors may also be sent as such',
    ),
});
export const modelMetadataSchema = z.object({
  name: z.string(),
  versions: z.array(z.string()),
  platform: z.literal('onnxruntime_onnx'),
  inputs: z.array(tensorMetadata),
  outputs: z.array(tensorMetadata),
});

/** The inference response's JSON (its header, when binary data follows). */
export const inferResponseSchema = z.object({
  model_name: z.string(),
  model_version: z.string(),
  id: z.string().optional().describe("the request's id, echoed"),
  parameters: z.object({
    prediction_id: z.string().describe('what POST /feedback joins ground truth by'),
    variant: z
      .string()
      .optional()
      .describe("the traffic split's variant that served the request (models with a split, no version named)"),
    cached: z.boolean(),
  }),
  outputs: z.array(
    z.object({
      name: z.string(),
      datatype,
      shape: z.array(z.number().int()),
      parameters: z
        .object({
          binary_data_size: z.number().int().describe("this output's bytes follow the JSON header, in output order"),
        })
        .optional(),
      data: z.array(z.unknown()).optional().describe('flat, row-major; BOOL as true/false, BYTES as strings'),
    }),
  ),
});

export type InferResponse = z.infer<typeof inferResponseSchema>;

const irisInfer = {
  inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }],
  outputs: [{ name: 'probabilities', parameters: { classification: 2 } }],
};

const modelErrors = errorResponses(ANY_REQUEST, PATH_PARAMS, RESOLVES_MODEL);

export const serverMetadataRoute = {
  tags,
  summary: 'Server metadata: name, version, extensions',
  response: { 200: serverMetadataSchema, ...errorResponses(ANY_REQUEST) },
};

export const serverLiveRoute = {
  tags,
  summary: 'Server live (liveness)',
  response: { 200: z.object({ live: z.literal(true) }), ...errorResponses(ANY_REQUEST) },
};

const readiness = z.object({ ready: z.boolean() });
export const serverReadyRoute = {
  tags,
  summary: 'Server ready (readiness): 503 until the models are warmed, and from SIGTERM on',
  response: { 200: readiness, ...errorResponses(ANY_REQUEST), 503: readiness.describe('not ready') },
};

export const modelMetadataRoute = (withVersion: boolean) => ({
  tags,
  summary: `Model metadata${withVersion ? ', one version' : ''}: tensors with OIP datatypes and shapes, versions, platform`,
  params: withVersion ? versionParams : modelParams,
  response: { 200: modelMetadataSchema, ...modelErrors },
});

export const modelReadyRoute = (withVersion: boolean) => ({
  tags,
  summary: `Model ready${withVersion ? ', one version' : ''}: 503 while it loads or when it failed`,
  params: withVersion ? versionParams : modelParams,
  response: {
    200: z.object({ name: z.string(), version: z.string(), ready: z.literal(true) }),
    ...errorResponses(ANY_REQUEST, PATH_PARAMS, ['MODEL_NOT_FOUND', 'VERSION_NOT_FOUND']),
    503: z
      .object({
        name: z.string(),
        version: z.string().optional(),
        ready: z.literal(false),
        error: z.string(),
        code: errorBodySchema(['MODEL_NOT_READY', 'MODEL_FAILED', 'UNSUPPORTED_MODEL']).shape.code,
      })
      .describe('not ready: loading, failed, or not servable'),
  },
});

export const inferRoute = (withVersion: boolean) => ({
  tags,
  summary: `Inference${withVersion ? ' on one version' : ''}: JSON or binary tensors, output selection, top-K classification`,
  description:
    "JSON, or the binary tensor data extension: the JSON inference request followed by the tensors' bytes, the JSON's length in " +
    "Inference-Header-Content-Length (any Content-Type, or none, as Triton's client sends). Bodies may be gzip or deflate; answers are " +
    'compressed when the client accepts it.',
  params: withVersion ? versionParams : modelParams,
  headers: z.object({
    'Inference-Header-Content-Length': z
      .string()
      .regex(/^\d+$/)
      .optional()
      .describe('binary bodies: the byte length of the JSON inference request at the start'),
  }),
  body: {
    content: {
      'application/json': { schema: inferRequestSchema.meta({ examples: [irisInfer] }) },
      'application/octet-stream': {
        schema: binary(
          "the JSON inference request, then each input's bytes (parameters.binary_data_size), in input order",
        ),
      },
    },
  },
  response: {
    200: {
      description:
        'the outputs; when any is asked for as binary_data, the JSON header (its length in the Inference-Header-Content-Length answer header) then the bytes',
      content: {
        'application/json': { schema: inferResponseSchema },
        'application/octet-stream': { schema: binary("the JSON inference response, then each binary output's bytes") },
      },
    },
    ...errorResponses(ANY_REQUEST, PATH_PARAMS, READS_BODY, RESOLVES_MODEL, INFERS),
  },
});
