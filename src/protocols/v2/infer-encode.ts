import type { InferResult } from '../../core/serving/data-plane.js';
import { tensorToBytes } from '../../core/tensors/binary.js';
import { isFloating } from '../../core/tensors/dtypes.js';
import { tensorToJson } from '../../core/tensors/json-data.js';
import type { Tensor } from '../../core/tensors/tensor.js';
import { ServiceError } from '../../errors.js';
import { classify } from './classification.js';
import { OIP_DATATYPE } from './datatypes.js';
import type { InferRequest } from './infer-request.js';
import type { InferResponse } from './route-schemas.js';

export interface InferAnswer {
  /** The JSON header (the whole answer when nothing is binary). */
  header: InferResponse;
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
    return { ...head, data: jsonData(name, tensor) };
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
  return { header, binary };
}

/** Flat, row-major JSON values (tensorToJson), refused when a float is not finite. */
function jsonData(name: string, tensor: Tensor): unknown[] {
  const values = tensorToJson(tensor);
  if (isFloating(tensor.dtype) && !(values as number[]).every(Number.isFinite)) {
    throw new ServiceError(
      'INFERENCE_FAILED',
      `output "${name}" holds NaN or Infinity, which JSON cannot carry; ask for it with binary_data`,
    );
  }
  return values;
}
