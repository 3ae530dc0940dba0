import ort from 'onnxruntime-node';
import type { OnnxMetadata, TensorInfo } from '../core/models/model-spec.js';

/**
 * Reads inputs, outputs, dtypes and shapes from an ONNX file on the main thread, then releases
 * the session. A corrupt file fails here, before any worker sees it.
 */
export async function describeOnnx(path: string): Promise<OnnxMetadata> {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
  try {
    return { inputs: session.inputMetadata.map(toInfo), outputs: session.outputMetadata.map(toInfo) };
  } finally {
    await session.release();
  }
}

function toInfo(meta: ort.InferenceSession.ValueMetadata): TensorInfo {
  if (!meta.isTensor) return { name: meta.name, dtype: 'non-tensor', shape: [] };
  // A symbolic dim keeps its name (`batch`): dims with one name must agree across a request's inputs.
  return {
    name: meta.name,
    dtype: meta.type,
    shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' && d !== '' ? d : null)),
  };
}
