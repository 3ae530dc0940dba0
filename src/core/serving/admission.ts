import { ServiceError } from '../../errors.js';
import { tensorLocator, type Locator } from '../tensors/paths.js';
import type { InflightLimiter } from './inflight-limiter.js';
import type { ModelRunner } from './model-runner.js';

export interface AdmissionLimits {
  /** Rows one request may carry, whatever its protocol (MAX_REQUEST_ROWS). */
  maxRequestRows: number;
  /** The process-wide cap on rows in flight; absent: none. */
  inflight?: InflightLimiter;
}

/** Inputs by name with their shapes: decoded tensors, or the shapes a request declares before its values are read. */
export type DeclaredShapes = Readonly<Record<string, { readonly shape: readonly number[] } | undefined>>;

/** A request's size along the model's batch dim, and the field that says so (`instances`, `shape`, `inputs.x`). */
export interface DeclaredRows {
  rows: number;
  path: string;
}

/**
 * The caps on one request's rows as plain numbers, so a decode worker holds a body to them exactly
 * as the data plane does.
 */
export interface RowCaps {
  maxRequestRows: number;
  /** The model's max_queue_size: a larger request could never be queued fairly. */
  maxQueueRows: number;
  /** The model version, for the message. */
  key: string;
}

/**
 * The size along the batch dim: the largest any batched input claims (the input checks then insist
 * they agree); 1 without one.
 */
export function declaredRows(
  batchAxes: Readonly<Record<string, number>> | undefined,
  shapes: DeclaredShapes,
  at: Locator = tensorLocator,
): DeclaredRows {
  let largest: DeclaredRows = { rows: 1, path: 'inputs' };
  for (const [name, axis] of Object.entries(batchAxes ?? {})) {
    const size = shapes[name]?.shape[axis];
    if (typeof size === 'number' && size > largest.rows) largest = { rows: size, path: at.tensor(name) };
  }
  return largest;
}

/**
 * Why a request this large is refused whatever its values (413 TOO_MANY_ROWS past MAX_REQUEST_ROWS,
 * 413 LARGER_THAN_QUEUE past the model's queue), or undefined. Decided on the size a request
 * declares, before any row is decoded or checked: a 1M-row body costs no row walk.
 */
export function rowsRefusal({ rows, path }: DeclaredRows, caps: RowCaps): ServiceError | undefined {
  if (rows > caps.maxRequestRows) {
    return new ServiceError(
      'TOO_MANY_ROWS',
      `${rows} rows in one request; at most ${caps.maxRequestRows} (MAX_REQUEST_ROWS): send them in several requests`,
      [{ path, message: `at most ${caps.maxRequestRows} rows` }],
    );
  }
  if (rows > caps.maxQueueRows) {
    return new ServiceError(
      'LARGER_THAN_QUEUE',
      `${rows} rows in one request; model ${caps.key} queues at most ${caps.maxQueueRows} (max_queue_size): send them in several requests`,
      [{ path, message: `at most ${caps.maxQueueRows} rows for this model` }],
    );
  }
  return undefined;
}

/** Throws rowsRefusal() for a request to this runner; nothing without limits. */
export function refuseOversized(
  runner: { spec: { key: string }; policy: { maxQueueRows: number } },
  declared: DeclaredRows,
  limits: AdmissionLimits | undefined,
): void {
  const refusal =
    limits &&
    rowsRefusal(declared, {
      maxRequestRows: limits.maxRequestRows,
      maxQueueRows: runner.policy.maxQueueRows,
      key: runner.spec.key,
    });
  if (refusal) throw refusal;
}

/**
 * Whether a decoded request may go on: its rows within the caps (checked again on the tensors, for
 * a protocol that declared nothing), then a share of the rows in flight. Returns what gives that
 * share back; the caller calls it however the request ends.
 */
export function admitRows(
  runner: ModelRunner,
  tensors: DeclaredShapes,
  limits: AdmissionLimits | undefined,
  at: Locator = tensorLocator,
): () => void {
  if (!limits) return () => {};
  const declared = declaredRows(runner.plan?.inputs, tensors, at);
  refuseOversized(runner, declared, limits);
  return limits.inflight?.take('rows', declared.rows) ?? (() => {});
}
