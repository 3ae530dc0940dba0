import { ServiceError, type ErrorDetail } from '../../errors.js';
import { rowCacheKey } from '../cache/cache-key.js';
import type { ModelRuntime } from './model-runtime.js';
import type { EncodedInput } from '../codec/input-codec.js';
import type { ModelEntry, ModelRegistry } from '../models/model-registry.js';
import type { ModelSpec } from '../models/model-spec.js';
import { decodeRow, type RowPrediction } from '../codec/output-codec.js';
import type { PredictRequest } from '../../protocols/v1/predict-request.js';
import type { PredictionCache } from '../cache/prediction-cache.js';
import { splitRows, type RowOutputs } from '../cache/row-outputs.js';
import { SingleFlight } from '../cache/single-flight.js';
import type { PredictionObserver, PredictionStatus } from './telemetry.js';
import { Batcher, type BatchObserver, type BatchPolicy } from './batcher.js';
import { tensorFromBytes, type TensorHeader } from '../tensors/binary-tensor.js';
import type { ModelMonitoring } from '../monitoring/model-monitoring.js';
import { newPredictionId } from './prediction-id.js';
import type { DType } from '../tensors/dtypes.js';
import type { ValidationLevel } from '../codec/input-schema.js';

export interface PredictResponse {
  id: string;
  model: string;
  version: string;
  /** True when every row came from the cache. */
  cached: boolean;
  /** One per row for `instances`; a `features` request gets its single row's fields at the top level instead. */
  predictions?: RowPrediction[];
  warnings?: ErrorDetail[];
  [field: string]: unknown;
}

/** The protocol-neutral data plane: resolve, validate, look up the cache, infer, decode. HTTP lives in routes/. */
/** Which model a request is for, and its deadline. */
interface Target {
  model: string;
  version?: string | number;
  timeout_ms?: number;
}

export interface TensorRequest extends Target, TensorHeader {
  body: Uint8Array;
  validation?: ValidationLevel;
}

export interface PredictionServiceDeps {
  registry: ModelRegistry;
  runtime: ModelRuntime;
  observer: PredictionObserver;
  batchObserver: BatchObserver;
  cache?: PredictionCache;
  monitoring?: ModelMonitoring;
  /** Batching defaults (model.json `batching` overrides per model) and the default deadline. */
  batching: BatchPolicy;
  timeoutMs: number;
  newId?: () => string;
  now?: () => number;
}

export class PredictionService {
  private readonly flights = new SingleFlight<RowOutputs>();
  private readonly batcher: Batcher;
  private readonly newId: () => string;
  private readonly now: () => number;

  constructor(private readonly deps: PredictionServiceDeps) {
    this.newId = deps.newId ?? (() => newPredictionId());
    this.now = deps.now ?? (() => performance.now());
    this.batcher = new Batcher(deps.runtime.workers, (spec, input) => this.inferRows(spec, input), deps.batchObserver, this.now);
  }

  /** Resolves when no request is queued or running. */
  drained(): Promise<void> {
    return this.batcher.idle();
  }

  /** Queue depth and running batches per model, for the gauges. */
  batchStats() {
    return this.batcher.stats();
  }

  /** JSON rows: one `features` object or an `instances` list. */
  predict(request: PredictRequest): Promise<PredictResponse> {
    return this.serve(request, (entry) => this.encode(entry, request), request.features !== undefined);
  }

  /** A raw little-endian tensor (binary input), batch dim first. */
  predictTensor(request: TensorRequest): Promise<PredictResponse> {
    return this.serve(
      request,
      (entry) => {
        const spec = entry.spec!;
        const { data, dims } = tensorFromBytes(request.body, request, (spec.input as { dtype: DType }).dtype);
        return entry.codec!.checkTensor(data, dims, request.validation ?? spec.validation);
      },
      false,
    );
  }

  private async serve(target: Target, encode: (entry: ModelEntry) => EncodedInput, single: boolean): Promise<PredictResponse> {
    const entry = this.deps.registry.resolve(target.model, target.version?.toString());
    const spec = entry.spec!;
    const started = this.now();
    let status: PredictionStatus = 'error';
    let rows = 0;
    try {
      const input = encode(entry);
      rows = input.rows;
      this.deps.monitoring?.observeInput(spec, input.data, input.rows); // before the data is handed to a worker
      const timeoutMs = target.timeout_ms ?? this.deps.timeoutMs;
      const { outputs, cached } = this.cacheable(spec)
        ? await this.throughCache(spec, input, timeoutMs)
        : { outputs: await this.batched(spec, input, timeoutMs), cached: false };
      const predictions = outputs.map((row) => decodeRow(spec, row));
      status = 'success';
      const id = this.newId();
      const monitoring = this.deps.monitoring;
      if (monitoring) setImmediate(() => monitoring.observePredictions(spec, id, predictions));
      const head = { id, model: spec.name, version: spec.version, cached };
      const warnings = input.warnings.length > 0 ? { warnings: input.warnings } : {};
      return single ? { ...head, ...predictions[0], ...warnings } : { ...head, predictions, ...warnings };
    } catch (err) {
      if (err instanceof ServiceError && err.code === 'INVALID_INPUT') status = 'invalid_input';
      throw err instanceof ServiceError ? err : new ServiceError('INFERENCE_FAILED', 'inference failed', undefined, { cause: err });
    } finally {
      this.deps.observer.prediction({ model: spec.name, version: spec.version, status, seconds: (this.now() - started) / 1000, rows });
    }
  }

  private encode(entry: ModelEntry, request: PredictRequest): EncodedInput {
    const level = request.validation ?? entry.spec!.validation;
    return request.features ? entry.codec!.encode([request.features], 'features', level) : entry.codec!.encode(request.instances!, 'instances', level);
  }

  private cacheable(spec: ModelSpec): boolean {
    return this.deps.cache !== undefined && spec.config.cache?.enabled !== false;
  }

  /**
   * Each row is looked up on its own, so a row seen before hits whatever batch it arrives in.
   * Misses already being computed by another request are joined (single flight); the rest run
   * as one inference, and their outputs are written to the cache after the answer is sent.
   */
  private async throughCache(spec: ModelSpec, input: EncodedInput, timeoutMs: number): Promise<{ outputs: RowOutputs[]; cached: boolean }> {
    const cache = this.deps.cache!;
    const rowSize = input.data.length / input.rows;
    const rowDims = input.dims.slice(1);
    const keys = Array.from({ length: input.rows }, (_, r) => rowCacheKey(spec, input.dtype, rowDims, input.data.subarray(r * rowSize, (r + 1) * rowSize)));
    const found = await cache.getMany(keys);

    const pending = new Map<string, Promise<RowOutputs>>();
    const leaders = new Map<string, number>(); // key -> the row that computes it
    keys.forEach((key, r) => {
      if (found[r] || pending.has(key) || leaders.has(key)) return;
      const flight = this.flights.joinable(key);
      if (flight) pending.set(key, flight);
      else leaders.set(key, r);
    });
    if (leaders.size > 0) {
      const leadKeys = [...leaders.keys()];
      const subset = sliceRows(input, [...leaders.values()], rowSize);
      const ttl = spec.config.cache?.ttl_seconds;
      const promises = this.flights.lead(leadKeys, async () => {
        const outputs = await this.batched(spec, subset, timeoutMs);
        setImmediate(() => outputs.forEach((row, i) => cache.set(leadKeys[i]!, row, ttl)));
        return outputs;
      });
      leadKeys.forEach((key, i) => pending.set(key, promises[i]!));
    }
    const resolved = new Map<string, RowOutputs>();
    await Promise.all([...pending].map(async ([key, promise]) => resolved.set(key, await promise)));
    return { outputs: keys.map((key, r) => found[r] ?? resolved.get(key)!), cached: pending.size === 0 };
  }

  /** Through the batcher, with the model's own batching options over the defaults. */
  private batched(spec: ModelSpec, input: EncodedInput, timeoutMs: number): Promise<RowOutputs[]> {
    const options = spec.config.batching;
    const policy: BatchPolicy = {
      maxBatchRows: spec.singleRowBatch ? 1 : (options?.max_batch_size ?? this.deps.batching.maxBatchRows),
      maxDelayMs: options?.max_queue_delay_ms ?? this.deps.batching.maxDelayMs,
      maxQueueRows: options?.max_queue_size ?? this.deps.batching.maxQueueRows,
    };
    return this.batcher.submit(spec, policy, input, timeoutMs);
  }

  private async inferRows(spec: ModelSpec, input: EncodedInput): Promise<RowOutputs[]> {
    try {
      return splitRows(await this.infer(spec, input), input.rows);
    } catch (err) {
      throw err instanceof ServiceError ? err : new ServiceError('INFERENCE_FAILED', 'inference failed', undefined, { cause: err });
    }
  }

  /** Models whose ONNX file fixes the batch at 1 get one run per row, outputs stacked back. */
  private async infer(spec: ModelSpec, input: EncodedInput) {
    const name = (spec.input as { name: string }).name;
    const task = async (data: EncodedInput['data'], dims: number[]) => {
      const result = await this.deps.runtime.run({ key: spec.key, input: name, dtype: input.dtype, data, dims, fetch: spec.fetch });
      this.deps.observer.inferenceCost(spec.name, spec.version, result.seconds * this.deps.runtime.threadsPerRun);
      return result;
    };
    if (!spec.singleRowBatch || input.rows === 1) return (await task(input.data, input.dims)).outputs;

    const rowSize = input.data.length / input.rows;
    const parts = await Promise.all(
      Array.from({ length: input.rows }, (_, r) => task(input.data.slice(r * rowSize, (r + 1) * rowSize), [1, ...input.dims.slice(1)])),
    );
    return Object.fromEntries(
      spec.fetch.map((out) => [
        out,
        { data: parts.flatMap((p) => Array.from(p.outputs[out]!.data, Number)), dims: [input.rows, ...parts[0]!.outputs[out]!.dims.slice(1)] },
      ]),
    );
  }
}

/** A copy of some rows of an encoded input, as their own contiguous tensor. */
function sliceRows(input: EncodedInput, rows: number[], rowSize: number): EncodedInput {
  if (rows.length === input.rows) return input;
  const data = input.data.slice(0, rows.length * rowSize);
  rows.forEach((r, i) => data.set(input.data.subarray(r * rowSize, (r + 1) * rowSize) as never, i * rowSize));
  return { ...input, data, rows: rows.length, dims: [rows.length, ...input.dims.slice(1)] };
}
