import { Metadata, status, type ServiceError as GrpcError } from '@grpc/grpc-js';
import type { ErrorCode, ServiceError } from '../../errors.js';

/**
 * Each of our error codes as the gRPC status a client branches on. The input's faults are
 * INVALID_ARGUMENT whatever their HTTP status (413 and 415 included: the request is wrong, not the
 * server full); a full server or queue is RESOURCE_EXHAUSTED (retry elsewhere or later); a model not
 * yet (or no longer) serving is UNAVAILABLE, which clients retry; a request past its deadline is
 * DEADLINE_EXCEEDED. The compiler checks every code has one.
 */
const STATUS: Record<ErrorCode, status> = {
  INVALID_JSON: status.INVALID_ARGUMENT,
  INVALID_REQUEST: status.INVALID_ARGUMENT,
  INVALID_INPUT: status.INVALID_ARGUMENT,
  UNSUPPORTED_MODEL: status.FAILED_PRECONDITION,
  MODEL_REJECTED_INPUT: status.INVALID_ARGUMENT,
  INVALID_FEEDBACK: status.INVALID_ARGUMENT,
  INVALID_IMAGE: status.INVALID_ARGUMENT,
  NOT_AN_IMAGE: status.INVALID_ARGUMENT,
  IMAGE_TOO_LARGE: status.INVALID_ARGUMENT,
  INVALID_TEXT: status.INVALID_ARGUMENT,
  TEXT_TOO_LONG: status.INVALID_ARGUMENT,
  UNKNOWN_PREDICTION: status.NOT_FOUND,
  DUPLICATE_FEEDBACK: status.ALREADY_EXISTS,
  PREDICTION_EXPIRED: status.NOT_FOUND,
  MODEL_NOT_FOUND: status.NOT_FOUND,
  VERSION_NOT_FOUND: status.NOT_FOUND,
  ROUTE_NOT_FOUND: status.UNIMPLEMENTED,
  NO_TRAFFIC_SPLIT: status.NOT_FOUND,
  REQUEST_TIMEOUT: status.DEADLINE_EXCEEDED,
  PAYLOAD_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  URI_TOO_LONG: status.INVALID_ARGUMENT,
  UNSUPPORTED_MEDIA_TYPE: status.INVALID_ARGUMENT,
  EXPECTATION_FAILED: status.INVALID_ARGUMENT,
  HEADERS_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  MODEL_NOT_READY: status.UNAVAILABLE,
  MODEL_FAILED: status.UNAVAILABLE,
  QUEUE_FULL: status.RESOURCE_EXHAUSTED,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  TOO_MANY_ROWS: status.INVALID_ARGUMENT,
  LARGER_THAN_QUEUE: status.INVALID_ARGUMENT,
  SERVER_BUSY: status.RESOURCE_EXHAUSTED,
  UNAUTHORIZED: status.UNAUTHENTICATED,
  FORBIDDEN: status.PERMISSION_DENIED,
  REPOSITORY_UNAVAILABLE: status.UNAVAILABLE,
  INFERENCE_FAILED: status.INTERNAL,
  INTERNAL_ERROR: status.INTERNAL,
};

export function grpcStatusOf(code: ErrorCode): status {
  return STATUS[code];
}

/**
 * The error line a client reads: `CODE: message (at path: detail)`, the first detail named where the
 * message does not name it already, all of them in trailing metadata. Server faults say no more than
 * over REST (toBody()).
 */
export function errorMessage(error: ServiceError): string {
  const body = error.toBody();
  const first = body.details?.[0];
  const at = first && !body.error.includes(first.path) ? ` (at ${first.path}: ${first.message})` : '';
  return `${body.code}: ${body.error}${at}`;
}

/**
 * A ServiceError as the call's status: the mapped code, the message above, and trailing metadata
 * with our code (`error-code`), the field that was wrong (`error-field`) and every detail as JSON
 * (`error-details-bin`, UTF-8 JSON), for clients that branch on more than the status.
 */
export function grpcError(error: ServiceError): Partial<GrpcError> {
  const body = error.toBody();
  const metadata = new Metadata();
  metadata.set('error-code', body.code);
  if (body.details?.[0]) metadata.set('error-field', printable(body.details[0].path));
  if (body.details) metadata.set('error-details-bin', Buffer.from(JSON.stringify(body.details)));
  if (error.statusCode === 503) metadata.set('retry-after', '1');
  return { code: grpcStatusOf(body.code), details: errorMessage(error), metadata };
}

/** A metadata text value is printable ASCII: a field name with other characters is percent-encoded. */
function printable(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? text : encodeURIComponent(text);
}
