import type { AnomalyKind } from '../../core/codec/input-checks.js';
import type { BatchPlan } from '../../core/models/batch-plan.js';
import type { RouterSnapshot } from '../../core/models/model-router.js';
import type { ModelSpec } from '../../core/models/model-spec.js';
import { ServiceError, type ErrorCode, type ErrorDetail } from '../../errors.js';
import type { PortableInputs, RequestHead } from '../codec.js';

/** What a decode worker knows of a model version: plain data, sent when its pool starts. */
export interface WorkerModel {
  spec: ModelSpec;
  plan?: BatchPlan;
  /** Its max_queue_size: the row caps are checked before a body's rows are decoded. */
  maxQueueRows: number;
}

/** A body to decode: by the codec named, for the version the router's state routes it to. */
export interface DecodeTask {
  codec: string;
  body: Uint8Array;
  head: RequestHead;
  routing: RouterSnapshot;
}

/** A ServiceError as it crosses threads. */
export interface PlainError {
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[];
}

export type DecodeResult =
  /** The body or its envelope is wrong whatever the model: answered as the inline parse would. */
  | { kind: 'refused'; error: PlainError }
  /**
   * The envelope (as the codec's portable() leaves it) and, for the model version `key` the worker
   * routed it to, the inputs or why they were refused. No key: the worker could not route it (the
   * main thread does, and says why); a key without inputs or error: past the row caps, refused
   * by the data plane on what it declares. `variant`: the split's variant chosen, which the main
   * thread pins.
   */
  | {
      kind: 'decoded';
      envelope: unknown;
      key?: string;
      variant?: string;
      inputs?: PortableInputs;
      error?: PlainError;
      /** Feature anomalies the rows codec counted, for the model version decoded for. */
      anomalies?: { model: string; version: string; counts: Partial<Record<AnomalyKind, number>> };
    };

export function plainError(err: unknown): PlainError {
  if (err instanceof ServiceError)
    return { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
  throw err;
}

/** The error a worker refused with, as the main thread throws it. */
export function serviceError(error: PlainError): ServiceError {
  return new ServiceError(error.code, error.message, error.details);
}
