import { ServiceError } from '../../errors.js';
import type { NamedTensors } from '../tensors/tensor.js';
import { tensorLocator, type Locator } from '../tensors/paths.js';
import type { InflightLimiter } from './inflight-limiter.js';
import type { ModelRunner } from './model-runner.js';

export interface AdmissionLimits {
  /** Rows one request may carry, whatever its protocol (MAX_REQUEST_ROWS). */
  maxRequestRows: number;
  /** The process-wide cap on rows in flight; absent: none. */
  inflight?: InflightLimiter;
}

/**
 * Whether a decoded request may go on, decided before its values are checked or queued: its rows
 * (its size along the batch dim) within MAX_REQUEST_ROWS and within the model's queue, which a
 * larger request could never fit fairly; then a share of the rows in flight. Returns what gives
 * that share back; the caller calls it however the request ends.
 */
export function admitRows(runner: ModelRunner, tensors: NamedTensors, limits: AdmissionLimits | undefined, at: Locator = tensorLocator): () => void {
  if (!limits) return () => {};
  const { rows, input } = requestRows(runner, tensors);
  const path = input === undefined ? 'inputs' : at.tensor(input);
  if (rows > limits.maxRequestRows) {
    throw new ServiceError('TOO_MANY_ROWS', `${rows} rows in one request; at most ${limits.maxRequestRows} (MAX_REQUEST_ROWS): send them in several requests`, [
      { path, message: `at most ${limits.maxRequestRows} rows` },
    ]);
  }
  const queue = runner.policy.maxQueueRows;
  if (rows > queue) {
    throw new ServiceError('LARGER_THAN_QUEUE', `${rows} rows in one request; model ${runner.spec.key} queues at most ${queue} (max_queue_size): send them in several requests`, [
      { path, message: `at most ${queue} rows for this model` },
    ]);
  }
  return limits.inflight?.take('rows', rows) ?? (() => {});
}

/** A request's size along the model's batch dim (the largest any batched input claims; the input checks then insist they agree); 1 without one. */
function requestRows(runner: ModelRunner, tensors: NamedTensors): { rows: number; input?: string } {
  let largest: { rows: number; input?: string } = { rows: 1 };
  for (const [name, axis] of Object.entries(runner.plan?.inputs ?? {})) {
    const size = tensors[name]?.shape[axis];
    if (typeof size === 'number' && size > largest.rows) largest = { rows: size, input: name };
  }
  return largest;
}
