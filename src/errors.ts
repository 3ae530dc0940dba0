/**
 * The one error table. Codes are part of the API: clients branch on them, so a code is never
 * renamed or reused for another meaning. `Record<ErrorCode, ...>` makes the compiler check
 * every code has a status.
 */
export const errorStatus = {
  INVALID_JSON: 400,
  INVALID_REQUEST: 400,
  INVALID_INPUT: 400,
  UNSUPPORTED_MODEL: 400,
  MODEL_REJECTED_INPUT: 400,
  INVALID_FEEDBACK: 400,
  /** An encoded image that does not decode: corrupt or truncated (the message names the format). */
  INVALID_IMAGE: 400,
  /** Bytes sent as an image that are no image format the service decodes (JPEG, PNG, WebP, GIF). */
  NOT_AN_IMAGE: 415,
  /** An image over the model's max_bytes, or declaring more pixels than its max_pixels (refused before decoding). */
  IMAGE_TOO_LARGE: 413,
  /** Text that is not valid UTF-8 (or holds a lone surrogate), or a text field that is not a string. */
  INVALID_TEXT: 400,
  /** A text over the model's max_bytes, or over its max_length in tokens where truncation is off. */
  TEXT_TOO_LONG: 413,
  UNKNOWN_PREDICTION: 404,
  DUPLICATE_FEEDBACK: 409,
  PREDICTION_EXPIRED: 410,
  MODEL_NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  /** The model has no traffic split (model.json `traffic`): GET /experiments/{model}, the traffic control API. */
  NO_TRAFFIC_SPLIT: 404,
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** An `Expect` header other than 100-continue. */
  EXPECTATION_FAILED: 417,
  HEADERS_TOO_LARGE: 431,
  MODEL_NOT_READY: 503,
  MODEL_FAILED: 503,
  QUEUE_FULL: 503,
  DEADLINE_EXCEEDED: 504,
  /**
   * Memory bounds: more rows than MAX_REQUEST_ROWS; more rows than the model's queue holds; the
   * in-flight caps are full.
   */
  TOO_MANY_ROWS: 413,
  LARGER_THAN_QUEUE: 413,
  SERVER_BUSY: 503,
  /** The control API (ADMIN_TOKEN): no bearer token; a wrong one; the repository could not be read. */
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  REPOSITORY_UNAVAILABLE: 503,
  INFERENCE_FAILED: 500,
  INTERNAL_ERROR: 500,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof errorStatus;

export interface ErrorDetail {
  path: string;
  message: string;
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: string;
  code: ErrorCode;
  details?: ErrorDetail[];
}

export class ServiceError extends Error {
  readonly statusCode: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ServiceError';
    this.statusCode = errorStatus[code];
  }

  toBody(): ErrorBody {
    // Server faults keep their cause in the log; the client gets a generic message.
    if (this.statusCode === 500) {
      return { error: 'internal error while serving the request', code: this.code };
    }
    return this.details
      ? { error: this.message, code: this.code, details: this.details }
      : { error: this.message, code: this.code };
  }
}
