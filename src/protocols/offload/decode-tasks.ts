import type { RowKind } from '../../core/codec/rows-codec.js';
import { RowsCodec } from '../../core/codec/rows-codec.js';
import type { FeatureConfig } from '../../core/models/model-config.js';
import { declaredRows, rowsRefusal, type DeclaredRows } from '../../core/serving/admission.js';
import type { TensorSpec } from '../../core/models/model-spec.js';
import type { AnomalyKind } from '../../core/codec/input-checks.js';
import type { NamedTensors, Tensor } from '../../core/tensors/tensor.js';
import { ServiceError, type ErrorCode, type ErrorDetail } from '../../errors.js';
import { parseEnvelope } from '../envelope.js';
import { parseJson } from '../json-body.js';
import { predictRequestSchema, type PredictRequest } from '../v1/predict-request.js';
import { FEATURES, INSTANCES } from '../v1/rows-places.js';
import { decodeInputs, inputsByName, oipLocator, parseInferBody } from '../v2/infer-decode.js';
import type { InferRequest } from '../v2/infer-request.js';
import { OffloadChooser, type OffloadRouting } from './offload-routing.js';

/**
 * What a decode worker needs of a model version to decode a large JSON body into tensors: plain
 * data, built from the registry when the models have loaded.
 */
export interface OffloadModel {
  key: string;
  name: string;
  version: string;
  /** The version a request without one gets. */
  isDefault: boolean;
  inputs: TensorSpec[];
  /** The input /predict rows feed, when there is one. */
  rowInput?: string;
  features?: FeatureConfig[];
  validation: 'strict' | 'permissive';
  /** Its batch axis per batched input (BatchPlan.inputs); absent when it runs requests alone. */
  batchAxes?: Record<string, number>;
  /** Its max_queue_size: the row caps are checked here before a body's rows are decoded. */
  maxQueueRows: number;
}

export type DecodeTask =
  | { kind: 'predict'; body: Uint8Array; routing?: OffloadRouting }
  /** `key`: the version the URL names, or the default one; with `routing`, the split's variant instead. */
  | { kind: 'infer'; key: string; body: Uint8Array; headerLength?: string | string[]; routing?: OffloadRouting };

/** A ServiceError as it crosses threads. */
export interface PlainError {
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[];
}

/** `rows`: how many the body sent (1 for `features`), which the main thread holds to the row caps. */
export type PredictEnvelope = Omit<PredictRequest, 'features' | 'instances'> & { single: boolean; rows: number };

/** `variant`: the traffic split's variant the worker chose (see offload-routing.ts); the main thread pins it. */
export type DecodeResult =
  /**
   * /predict: the rows decoded for model `key`; or no key when this worker does not know the model
   * (the main thread decides).
   */
  | {
      kind: 'predict';
      envelope: PredictEnvelope;
      key?: string;
      variant?: string;
      tensor?: Tensor;
      warnings?: ErrorDetail[];
      kinds?: RowKind[];
      anomalies?: Partial<Record<AnomalyKind, number>>;
    }
  /**
   * OIP: the request without its tensors' data, and the tensors, decoded for model `key`; none when
   * its shapes are past the row caps.
   */
  | { kind: 'infer'; request: InferRequest; key: string; variant?: string; tensors?: NamedTensors; outputs?: string[] }
  /** OIP: this worker does not know the model version (it loaded after the worker started): the main thread decodes. */
  | { kind: 'unknown' }
  /** refused: in the envelope (before any model is involved) or in the tensors (a prediction that failed). */
  | {
      kind: 'error';
      stage: 'envelope' | 'tensors';
      error: PlainError;
      envelope?: PredictEnvelope;
      key?: string;
      variant?: string;
      anomalies?: Partial<Record<AnomalyKind, number>>;
    };

/** The models a worker decodes for, each with its rows codec built once. */
export class OffloadModels {
  private readonly codecs = new Map<string, RowsCodec>();
  private readonly anomalies: Partial<Record<AnomalyKind, number>> = {};
  readonly chooser = new OffloadChooser();

  constructor(
    private readonly models: OffloadModel[],
    /** MAX_JSON_DEPTH */
    readonly maxDepth: number,
    /** MAX_REQUEST_ROWS */
    private readonly maxRequestRows: number,
  ) {}

  /**
   * Whether a body this large is refused by the row caps whatever its values: then its rows are not
   * decoded here, and the main thread refuses it on the size the body declares (DataPlane.infer).
   */
  oversized(model: OffloadModel, declared: DeclaredRows): boolean {
    return (
      rowsRefusal(declared, {
        maxRequestRows: this.maxRequestRows,
        maxQueueRows: model.maxQueueRows,
        key: model.key,
      }) !== undefined
    );
  }

  /**
   * The model version a request names, by its one spelling only (`01` names none: the main thread
   * answers 404, as ModelRouter.resolve does).
   */
  find(name: string, version?: string): OffloadModel | undefined {
    return this.models.find((m) => m.name === name && (version === undefined ? m.isDefault : m.version === version));
  }

  byKey(key: string): OffloadModel | undefined {
    return this.models.find((m) => m.key === key);
  }

  codec(model: OffloadModel): RowsCodec {
    let codec = this.codecs.get(model.key);
    if (!codec) {
      const input = model.inputs.find((i) => i.name === model.rowInput)!;
      codec = new RowsCodec(
        input,
        model.features,
        (kind, count) => (this.anomalies[kind] = (this.anomalies[kind] ?? 0) + count),
      );
      this.codecs.set(model.key, codec);
    }
    return codec;
  }

  /** The anomalies counted since the last call. */
  takeAnomalies(): Partial<Record<AnomalyKind, number>> | undefined {
    const counts = { ...this.anomalies };
    for (const kind of Object.keys(this.anomalies) as AnomalyKind[]) delete this.anomalies[kind];
    return Object.keys(counts).length > 0 ? counts : undefined;
  }
}

/**
 * A /predict JSON body: parsed, its envelope checked, and its rows decoded for the version it will run
 * on, where it is known here.
 */
export function decodePredict(body: Uint8Array, models: OffloadModels, routing?: OffloadRouting): DecodeResult {
  let envelope: PredictEnvelope;
  let rows: { single: boolean; values: unknown[] };
  try {
    const request = parseEnvelope(predictRequestSchema, parseJson(body, models.maxDepth), '');
    const { features, instances, ...rest } = request;
    rows = { single: features !== undefined, values: features !== undefined ? [features] : instances! };
    envelope = { ...rest, single: rows.single, rows: rows.values.length };
  } catch (err) {
    return { kind: 'error', stage: 'envelope', error: plain(err) };
  }
  const chosen =
    envelope.version === undefined ? models.chooser.choose(routing, envelope.model, envelope.routing_key) : undefined;
  const variant = chosen ? { variant: chosen.name } : {};
  const model = models.find(envelope.model, chosen?.version ?? envelope.version?.toString());
  if (!model?.rowInput || models.oversized(model, { rows: rows.values.length, path: INSTANCES.whole }))
    return { kind: 'predict', envelope, ...variant };
  try {
    const decoded = models
      .codec(model)
      .decode(rows.values, rows.single ? FEATURES : INSTANCES, envelope.validation ?? model.validation);
    return {
      kind: 'predict',
      envelope,
      key: model.key,
      ...variant,
      tensor: decoded.tensor,
      warnings: decoded.warnings,
      kinds: decoded.kinds,
    };
  } catch (err) {
    return {
      kind: 'error',
      stage: 'tensors',
      error: plain(err),
      envelope,
      key: model.key,
      ...variant,
      anomalies: models.takeAnomalies(),
    };
  }
}

/** An OIP infer body (JSON, or a JSON header and binary data): parsed, and its tensors decoded. */
export function decodeInfer(task: Extract<DecodeTask, { kind: 'infer' }>, models: OffloadModels): DecodeResult {
  const named = models.byKey(task.key);
  if (!named) return { kind: 'unknown' };
  let body;
  try {
    body = parseInferBody(
      Buffer.from(task.body.buffer, task.body.byteOffset, task.body.byteLength),
      task.headerLength,
      models.maxDepth,
    );
  } catch (err) {
    return { kind: 'error', stage: 'envelope', error: plain(err) };
  }
  const chosen = models.chooser.choose(task.routing, named.name, body.request.parameters?.routing_key);
  const model = chosen ? models.find(named.name, chosen.version) : named;
  if (!model) return { kind: 'unknown' };
  const variant = chosen ? { variant: chosen.name } : {};
  // The answer needs the request's id, parameters and outputs, never its data.
  const request: InferRequest = {
    ...body.request,
    inputs: body.request.inputs.map(({ data: _data, ...input }) => input),
  };
  if (models.oversized(model, declaredRows(model.batchAxes, inputsByName(request), oipLocator)))
    return { kind: 'infer', request, key: model.key, ...variant };
  try {
    const decoded = decodeInputs(body, model.inputs);
    return { kind: 'infer', request, key: model.key, ...variant, tensors: decoded.tensors, outputs: decoded.outputs };
  } catch (err) {
    return { kind: 'error', stage: 'tensors', error: plain(err), key: model.key, ...variant };
  }
}

function plain(err: unknown): PlainError {
  if (err instanceof ServiceError)
    return { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
  throw err;
}

/** The error a worker refused with, as the main thread throws it. */
export function serviceError(error: PlainError): ServiceError {
  return new ServiceError(error.code, error.message, error.details);
}
