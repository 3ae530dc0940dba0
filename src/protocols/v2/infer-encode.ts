import type { InferResult } from '../../core/serving/data-plane.js';
import { tensorToBytes } from '../../core/tensors/binary.js';
import { isFloating } from '../../core/tensors/dtypes.js';
import { tensorToJsonText } from '../../core/tensors/json-data.js';
import type { Tensor } from '../../core/tensors/tensor.js';
import { ServiceError } from '../../errors.js';
import { classify } from './classification.js';
import { OIP_DATATYPE } from './datatypes.js';
import type { InferRequest } from './infer-request.js';
import type { InferResponse } from './route-schemas.js';

export interface InferAnswer {
  /**
   * The JSON header (the whole answer when nothing is binary); each output sent as JSON has
   * `data: []` here, its values' text in `json` (inferJson() puts them in).
   */
  header: InferResponse;
  /** The JSON outputs' values, in output order: the text inside each one's data array. */
  json: string[];
  /** Binary tensor data, in output order, to follow the header. Empty: a plain JSON answer. */
  binary: Uint8Array[];
}

/**
 * The inference response: the outputs asked for (every output by default), each as JSON data or,
 * where asked, as binary data after the header (parameters.binary_data_size says how much), and
 * the request id echoed. parameters.prediction_id is what POST /feedback joins ground truth by.
 */
export function encodeInferResponse(result: InferResult, request: InferRequest): InferAnswer {
  const { spec, plan } = result.runner;
  const requested =
    request.outputs ??
    spec.outputs.filter((o) => o.name in result.outputs).map((o) => ({ name: o.name, parameters: undefined }));
  const binary: Uint8Array[] = [];
  const json: string[] = [];
  const outputs = requested.map(({ name, parameters }) => {
    let tensor = result.outputs[name]!;
    if (parameters?.classification !== undefined) {
      const labels = name === spec.taskOutput ? spec.labels : undefined;
      tensor = classify(name, tensor, parameters.classification, plan?.outputs[name] === 0, labels);
    }
    const head = { name, datatype: OIP_DATATYPE[tensor.dtype], shape: tensor.shape };
    if (parameters?.binary_data ?? request.parameters?.binary_data_output ?? false) {
      const bytes = tensorToBytes(tensor);
      binary.push(bytes);
      return { ...head, parameters: { binary_data_size: bytes.byteLength } };
    }
    json.push(jsonData(name, tensor));
    return { ...head, data: [] };
  });
  const header = {
    model_name: spec.name,
    model_version: spec.version,
    ...(request.id !== undefined ? { id: request.id } : {}),
    parameters: {
      prediction_id: result.id,
      ...(result.variant !== undefined ? { variant: result.variant } : {}),
      cached: result.cached,
    },
    outputs,
  };
  return { header, json, binary };
}

/** Where an output's values go in the header's JSON: no name, id or key can hold it unescaped. */
const DATA_SLOT = '"data":[]';

/** The answer's JSON header as text, each JSON output's values in its data array. */
export function inferJson({ header, json }: InferAnswer): string {
  const parts = JSON.stringify(header).split(DATA_SLOT);
  let text = parts[0]!;
  for (let i = 0; i < json.length; i++) text += `"data":[${json[i]}]${parts[i + 1]}`;
  return text;
}

/** Flat, row-major JSON values' text (tensorToJsonText), refused when a float is not finite. */
function jsonData(name: string, tensor: Tensor): string {
  if (isFloating(tensor.dtype) && !allFinite(tensor)) {
    throw new ServiceError(
      'INFERENCE_FAILED',
      `output "${name}" holds NaN or Infinity, which JSON cannot carry; ask for it with binary_data`,
    );
  }
  return tensorToJsonText(tensor);
}

function allFinite({ data, dtype }: Tensor): boolean {
  const values = data as Float32Array | Float64Array | Uint16Array;
  if (dtype === 'float16') return (values as Uint16Array).every((bits) => (bits & 0x7c00) !== 0x7c00);
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}
