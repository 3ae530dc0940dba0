import type { RowKind } from '../../core/codec/rows-codec.js';
import type { DecodeView } from '../../core/serving/model-runner.js';
import { tensorFromBytes } from '../../core/tensors/binary.js';
import { isDType } from '../../core/tensors/dtypes.js';
import { formatPath, unravel, type Locator } from '../../core/tensors/paths.js';
import { invalidAt } from '../../core/tensors/tensor-errors.js';
import { ServiceError } from '../../errors.js';
import type { ProtocolCodec } from '../codec.js';
import { parseEnvelope } from '../envelope.js';
import { parseJson } from '../json-body.js';
import { predictRequestSchema, tensorQuerySchema, type PredictRequest } from './predict-request.js';
import { FEATURES, INSTANCES } from './rows-places.js';

/** Binary input names positions as tensor[row][...] and the tensor as a whole by its shape. */
const binaryLocator: Locator = {
  element: (_input, flat, shape) => formatPath(['tensor', ...unravel(flat, shape)]),
  tensor: () => 'shape',
};

type Common = Pick<PredictRequest, 'model' | 'validation' | 'timeout_ms' | 'routing_key'>;

/**
 * A /predict request without its rows: JSON (`single` for one `features` object) or a raw tensor
 * described by the query string. `rows`: how many it sends, held to the row caps before decoding.
 */
export type PredictEnvelope = Common &
  (
    | { binary: false; version?: string | number; single: boolean; rows: number }
    | { binary: true; version?: string; dtype: string; shape: number[]; single: false; rows: number }
  );

/** The rows of a JSON body, or the bytes of a binary one. */
export type PredictData = unknown[] | Buffer;

/** /predict feeds one input with rows; other models are served over the Open Inference Protocol. */
function rowsInput(model: DecodeView) {
  if ('refusal' in model.rowInput) {
    const { name } = model.spec;
    throw new ServiceError(
      'UNSUPPORTED_MODEL',
      `model ${model.spec.key} cannot be fed rows by /predict: ${model.rowInput.refusal}; call POST /v2/models/${name}/infer`,
      [{ path: 'model', message: `use POST /v2/models/${name}/infer (Open Inference Protocol)` }],
    );
  }
  return model.rowInput;
}

/** The outputs /predict answers with: the task's output, or every tensor output of a raw model. */
function outputsOf(model: DecodeView): string[] | undefined {
  return model.spec.taskOutput ? [model.spec.taskOutput] : undefined;
}

/**
 * POST /predict's decoder. JSON: one `features` object or an `instances` list of rows, decoded by
 * the model's rows codec. application/octet-stream: the body is a raw little-endian tensor, described
 * by the query string (?model=digits&dtype=float32&shape=4,1,8,8).
 */
export const predictCodec: ProtocolCodec<PredictEnvelope, PredictData> = {
  name: 'predict',
  offloads: (head) => !head.binary,

  parse(body, head, maxDepth) {
    if (head.binary) {
      const query = parseEnvelope(tensorQuerySchema, head.query, 'query');
      const envelope = { ...query, binary: true as const, single: false as const, rows: query.shape[0]! };
      return { envelope, data: body ?? Buffer.alloc(0) };
    }
    const request = parseEnvelope(predictRequestSchema, body && parseJson(body, maxDepth), '');
    const { features, instances, ...rest } = request;
    const single = features !== undefined;
    const rows = single ? [features] : instances!;
    return { envelope: { ...rest, binary: false, single, rows: rows.length }, data: rows };
  },

  target: (envelope) => ({
    model: envelope.model,
    version: envelope.version?.toString(),
    routingKey: envelope.routing_key,
  }),

  options: (envelope) => ({ validation: envelope.validation, timeoutMs: envelope.timeout_ms }),

  declared: (envelope) => ({
    rows: envelope.rows,
    path: envelope.binary ? binaryLocator.tensor('') : INSTANCES.whole,
  }),

  decode(envelope, data, model) {
    const { input, codec } = rowsInput(model);
    if (envelope.binary) {
      const dtype = model.spec.inputs[0]!.dtype;
      if (!isDType(envelope.dtype)) throw invalidAt('dtype', `unknown dtype "${envelope.dtype}"`);
      if (envelope.dtype !== dtype)
        throw invalidAt('dtype', `the model input is ${dtype}, the body says ${envelope.dtype}`);
      return {
        tensors: { [input]: tensorFromBytes(data as Buffer, dtype, envelope.shape, 'body') },
        outputs: outputsOf(model),
        locator: binaryLocator,
      };
    }
    const level = envelope.validation ?? model.spec.validation;
    const decoded = codec.decode(data as unknown[], envelope.single ? FEATURES : INSTANCES, level);
    return {
      tensors: { [input]: decoded.tensor },
      outputs: outputsOf(model),
      warnings: decoded.warnings,
      locator: decoded.locator,
      layout: decoded.kinds,
    };
  },

  locate(envelope, inputs, model) {
    if (envelope.binary) return binaryLocator;
    const { input, codec } = rowsInput(model);
    const shape = inputs.tensors[input]!.shape.slice(1);
    return codec.locatorOf(envelope.single ? FEATURES : INSTANCES, inputs.layout as RowKind[], shape);
  },
};
