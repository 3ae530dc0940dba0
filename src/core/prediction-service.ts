import { randomUUID } from 'node:crypto';
import { ServiceError, type ErrorDetail } from '../errors.js';
import type { InferenceResult, ModelRuntime } from './inference.js';
import type { ModelEntry, ModelRegistry } from './model-registry.js';
import { decodeOutputs, type RowPrediction } from './output-codec.js';
import type { PredictRequest } from './predict-request.js';
import type { EncodedInput } from './input-codec.js';
import type { PredictionObserver, PredictionStatus } from './telemetry.js';

export interface PredictResponse {
  id: string;
  model: string;
  version: string;
  /** One per row for `instances`; a `features` request gets its single row's fields at the top level instead. */
  predictions?: RowPrediction[];
  warnings?: ErrorDetail[];
  [field: string]: unknown;
}

/** The protocol-neutral data plane: resolve, validate, infer, decode. HTTP lives in routes/. */
export class PredictionService {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly runtime: ModelRuntime,
    private readonly observer: PredictionObserver,
    private readonly newId: () => string = randomUUID,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async predict(request: PredictRequest): Promise<PredictResponse> {
    const entry = this.registry.resolve(request.model, request.version?.toString());
    const spec = entry.spec!;
    const started = this.now();
    let status: PredictionStatus = 'error';
    let rows = 0;
    try {
      const root = request.features ? 'features' : 'instances';
      const input = this.encode(entry, request);
      rows = input.rows;
      const outputs = await this.infer(entry, input);
      const predictions = decodeOutputs(spec, outputs, input.rows);
      status = 'success';
      const head = { id: this.newId(), model: spec.name, version: spec.version };
      const warnings = input.warnings.length > 0 ? { warnings: input.warnings } : {};
      return root === 'features' ? { ...head, ...predictions[0], ...warnings } : { ...head, predictions, ...warnings };
    } catch (err) {
      if (err instanceof ServiceError && err.code === 'INVALID_INPUT') status = 'invalid_input';
      throw err instanceof ServiceError ? err : new ServiceError('INFERENCE_FAILED', 'inference failed', undefined, { cause: err });
    } finally {
      this.observer.prediction({ model: spec.name, version: spec.version, status, seconds: (this.now() - started) / 1000, rows });
    }
  }

  private encode(entry: ModelEntry, request: PredictRequest): EncodedInput {
    const level = request.validation ?? entry.spec!.validation;
    return request.features ? entry.codec!.encode([request.features], 'features', level) : entry.codec!.encode(request.instances!, 'instances', level);
  }

  /** Models whose ONNX file fixes the batch at 1 get one run per row, outputs stacked back. */
  private async infer(entry: ModelEntry, input: EncodedInput): Promise<InferenceResult['outputs']> {
    const spec = entry.spec!;
    const { name, dtype } = spec.input as { name: string; dtype: string };
    const task = (data: EncodedInput['data'], dims: number[]) => this.runtime.run({ key: spec.key, input: name, dtype, data, dims, fetch: spec.fetch });
    if (!spec.singleRowBatch || input.rows === 1) return (await task(input.data, input.dims)).outputs;

    const rowSize = input.data.length / input.rows;
    const parts = await Promise.all(
      Array.from({ length: input.rows }, (_, r) => task(input.data.slice(r * rowSize, (r + 1) * rowSize), [1, ...input.dims.slice(1)])),
    );
    return Object.fromEntries(
      spec.fetch.map((out) => {
        const pieces = parts.map((p) => Array.from(p.outputs[out]!.data, Number));
        return [out, { data: pieces.flat(), dims: [input.rows, ...parts[0]!.outputs[out]!.dims.slice(1)] }];
      }),
    );
  }
}
