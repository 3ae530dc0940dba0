import ort from 'onnxruntime-node';
import type { InferenceResult, InferenceTask } from '../core/serving/model-runtime.js';
import type { DType, TensorData } from '../core/tensors/dtypes.js';
import type { NamedTensors, Tensor } from '../core/tensors/tensor.js';

/** One task on one session: the same on a worker thread and, for tiny models, on the main thread. */
export async function runSession(session: ort.InferenceSession, task: InferenceTask): Promise<InferenceResult> {
  const started = performance.now();
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(task.inputs)) feeds[name] = toOrtTensor(t);
  const results = await session.run(feeds, task.fetch);
  const seconds = (performance.now() - started) / 1000;
  const outputs: NamedTensors = {};
  for (const name of task.fetch) {
    const tensor = results[name]!;
    outputs[name] = { dtype: tensor.type as DType, shape: [...tensor.dims], data: plainData(tensor) };
  }
  return { outputs, seconds, startedAt: performance.timeOrigin + started };
}

function toOrtTensor(t: Tensor): ort.Tensor {
  const tensor = new ort.Tensor(t.dtype, t.data, t.shape);
  // Where the runtime has Float16Array (Node 24), onnxruntime-common wraps float16 bits in one, and
  // onnxruntime-node 1.30's native binding cannot read it ("not enough space: expected 8, got 0").
  // It reads the plain Uint16Array of bits on every Node version.
  if (t.dtype === 'float16') (tensor as unknown as { cpuData: unknown }).cpuData = t.data;
  return tensor;
}

/** float16 as its bits in a Uint16Array, whichever array type this Node and onnxruntime hand back. */
function plainData(tensor: ort.Tensor): TensorData {
  const data = tensor.data;
  if (tensor.type === 'float16' && !(data instanceof Uint16Array)) {
    const typed = data as unknown as ArrayBufferView;
    return new Uint16Array(typed.buffer, typed.byteOffset, typed.byteLength / 2);
  }
  return data;
}
