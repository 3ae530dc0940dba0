import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { errorStatus, type ErrorBody, type ErrorCode } from '../../errors.js';

/** The error body of errors.ts, for the codes one status can carry on one route. */
export function errorBodySchema(codes: readonly [ErrorCode, ...ErrorCode[]]) {
  return z.object({
    error: z.string().describe('what went wrong, for people; a generic message for 500'),
    code: z.enum(codes).describe('stable: clients branch on it'),
    details: z
      .array(
        z.object({
          path: z.string().describe('the field, header or position, e.g. features.sepal_length'),
          message: z.string(),
        }),
      )
      .optional()
      .describe('every field that was wrong'),
  });
}

// The documented body is the one errors.ts sends, both ways.
type Documented = z.infer<ReturnType<typeof errorBodySchema>>;
const agrees: [Documented extends ErrorBody ? true : false, ErrorBody extends Documented ? true : false] = [true, true];
void agrees;

/** What any request can be answered with: refused by Node's HTTP parser or by fastify, or a fault of ours. */
export const ANY_REQUEST = [
  'INVALID_REQUEST',
  'REQUEST_TIMEOUT',
  'EXPECTATION_FAILED',
  'HEADERS_TOO_LARGE',
  'INTERNAL_ERROR',
] as const satisfies ErrorCode[];
/**
 * A route that reads a body: its JSON, size, Content-Type, charset and Content-Encoding; the
 * in-flight cap on body bytes.
 */
export const READS_BODY = [
  'INVALID_JSON',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'SERVER_BUSY',
] as const satisfies ErrorCode[];
/** A path parameter longer than fastify's maxParamLength. */
export const PATH_PARAMS = ['URI_TOO_LONG'] as const satisfies ErrorCode[];
/** A route that resolves a model version through the registry. */
export const RESOLVES_MODEL = [
  'MODEL_NOT_FOUND',
  'VERSION_NOT_FOUND',
  'MODEL_NOT_READY',
  'MODEL_FAILED',
  'UNSUPPORTED_MODEL',
] as const satisfies ErrorCode[];
/**
 * Inference through the data plane: inputs checked against the model, the row caps, the queue, the
 * deadline, the run.
 */
export const INFERS = [
  'INVALID_INPUT',
  'TOO_MANY_ROWS',
  'LARGER_THAN_QUEUE',
  'SERVER_BUSY',
  'MODEL_REJECTED_INPUT',
  'QUEUE_FULL',
  'DEADLINE_EXCEEDED',
  'INFERENCE_FAILED',
  // images, for inputs model.json preprocesses
  'NOT_AN_IMAGE',
  'INVALID_IMAGE',
  'IMAGE_TOO_LARGE',
  // texts, for models whose model.json names a tokenizer
  'INVALID_TEXT',
  'TEXT_TOO_LONG',
] as const satisfies ErrorCode[];
/** Ground truth joined to a prediction. */
export const JOINS_FEEDBACK = [
  'INVALID_FEEDBACK',
  'UNKNOWN_PREDICTION',
  'DUPLICATE_FEEDBACK',
  'PREDICTION_EXPIRED',
] as const satisfies ErrorCode[];

/**
 * A route's error responses: its codes grouped by status, each status documented with the error
 * body and the enum of the codes it carries there. The statuses come from the one error table.
 */
export function errorResponses(...groups: (readonly ErrorCode[])[]): Record<number, z.ZodType> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(groups.flat())) {
    const status = errorStatus[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, codes]) => [
      status,
      errorBodySchema(codes as [ErrorCode, ...ErrorCode[]]).describe(`${STATUS_CODES[status]}: ${codes.join(', ')}`),
    ]),
  );
}
