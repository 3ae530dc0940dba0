import ort from 'onnxruntime-node';
import type { InferenceResult, InferenceTask } from '../core/serving/model-runtime.js';

/** One task on one session: the same on a worker thread and, for tiny models, on the main thread. */
export async function runSession(session: ort.InferenceSession, task: InferenceTask): Promise<InferenceResult> {
  const started = performance.now();
  const input = new ort.Tensor(task.dtype as ort.Tensor.Type, task.data as never, task.dims);
  const results = await session.run({ [task.input]: input }, task.fetch);
  const seconds = (performance.now() - started) / 1000;
  const outputs: InferenceResult['outputs'] = {};
  for (const name of task.fetch) {
    const tensor = results[name]!;
    outputs[name] = { data: tensor.data as ArrayLike<number | bigint>, dims: [...tensor.dims] };
  }
  return { outputs, seconds };
}
