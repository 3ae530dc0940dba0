import ort from 'onnxruntime-node';
import type { InferenceResult, InferenceTask } from '../core/serving/model-runtime.js';
import type { DType, TensorData } from '../core/tensors/dtypes.js';
import type { NamedTensors } from '../core/tensors/tensor.js';

/** One task on one session: the same on a worker thread and, for tiny models, on the main thread. */
export async function runSession(session: ort.InferenceSession, task: InferenceTask): Promise<InferenceResult> {
  const started = performance.now();
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(task.inputs)) feeds[name] = new ort.Tensor(t.dtype as ort.Tensor.Type, t.data as never, t.shape);
  const results = await session.run(feeds, task.fetch);
  const seconds = (performance.now() - started) / 1000;
  const outputs: NamedTensors = {};
  for (const name of task.fetch) {
    const tensor = results[name]!;
    outputs[name] = { dtype: tensor.type as DType, shape: [...tensor.dims], data: plainData(tensor) };
  }
  return { outputs, seconds };
}

/** float16 as its bits in a Uint16Array, whichever array type this Node and onnxruntime hand back. */
function plainData(tensor: ort.Tensor): TensorData {
  const data = tensor.data as TensorData;
  if (tensor.type === 'float16' && !(data instanceof Uint16Array)) {
    const typed = data as unknown as ArrayBufferView;
    return new Uint16Array(typed.buffer, typed.byteOffset, typed.byteLength / 2);
  }
  return data;
}
