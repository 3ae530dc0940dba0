import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { lowerPriority } from '../../runtime/priority.js';
import {
  decodeInfer,
  decodePredict,
  OffloadModels,
  type DecodeResult,
  type DecodeTask,
  type OffloadModel,
} from './decode-tasks.js';

/**
 * Runs on a decode worker thread: large JSON bodies are parsed, their envelopes checked and
 * their tensors filled here, so the main thread's event loop only routes. The tensors' buffers
 * move back to the main thread, not copied.
 */
const init = workerData as { models: OffloadModel[]; nice: number; maxJsonDepth: number; maxRequestRows: number };
lowerPriority(init.nice);
const models = new OffloadModels(init.models, init.maxJsonDepth, init.maxRequestRows);

export default function decode(task: DecodeTask): unknown {
  const result = task.kind === 'predict' ? decodePredict(task.body, models, task.routing) : decodeInfer(task, models);
  const buffers = buffersOf(result);
  if (buffers.length === 0) return result;
  return move({ [transferableSymbol]: buffers, [valueSymbol]: result });
}

function buffersOf(result: DecodeResult): ArrayBuffer[] {
  const tensors =
    result.kind === 'infer'
      ? Object.values(result.tensors ?? {})
      : result.kind === 'predict' && result.tensor
        ? [result.tensor]
        : [];
  const buffers = new Set<ArrayBuffer>();
  for (const { data } of tensors)
    if (!Array.isArray(data) && data.buffer instanceof ArrayBuffer) buffers.add(data.buffer);
  return [...buffers];
}
