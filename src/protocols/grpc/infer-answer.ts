import type { InferResult } from '../../core/serving/data-plane.js';
import { encodeInferResponse } from '../v2/infer-encode.js';
import type { InferRequest } from '../v2/infer-request.js';
import { messages, parameterMessages } from './proto.js';

/**
 * ModelInferResponse for a result, as bytes: OIP's own answer (infer-encode.ts: the outputs asked
 * for, classification, prediction_id, variant, cached) with every output as raw_output_contents,
 * as Triton answers over gRPC (exact for every datatype, FP16 and 64-bit integers included).
 */
export function inferResponseBytes(result: InferResult, request: InferRequest): Uint8Array {
  return messages.inferResponse.encode(inferResponseMessage(result, request)).finish();
}

/** One answer of ModelStreamInfer: the response, or the error that request met (its id and model kept). */
export function streamResponseBytes(
  answer: { result: InferResult; request: InferRequest } | { error: string; id?: string; model?: string },
): Uint8Array {
  const message =
    'result' in answer
      ? { infer_response: inferResponseMessage(answer.result, answer.request) }
      : {
          error_message: answer.error,
          infer_response: {
            ...(answer.id ? { id: answer.id } : {}),
            ...(answer.model ? { model_name: answer.model } : {}),
          },
        };
  return messages.streamResponse.encode(message).finish();
}

function inferResponseMessage(result: InferResult, request: InferRequest) {
  const rawOutputs = {
    ...request,
    parameters: { ...request.parameters, binary_data_output: true },
    ...(request.outputs
      ? { outputs: request.outputs.map((o) => ({ ...o, parameters: { ...o.parameters, binary_data: true } })) }
      : {}),
  };
  const { header, binary } = encodeInferResponse(result, rawOutputs);
  return {
    model_name: header.model_name,
    model_version: header.model_version,
    ...(header.id !== undefined ? { id: header.id } : {}),
    parameters: parameterMessages(header.parameters),
    outputs: header.outputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
    raw_output_contents: binary,
  };
}
