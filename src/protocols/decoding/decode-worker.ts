import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { lowerPriority } from '../../runtime/priority.js';
import type { DecodeResult, DecodeTask, WorkerModel } from './decode-task.js';
import { WorkerDecoding } from './worker-decoding.js';

/**
 * Runs on a decode worker thread: large bodies are parsed, their envelopes checked and their
 * tensors filled here, so the main thread's event loop only routes. The tensors' buffers move
 * back to the main thread, not copied.
 */
const init = workerData as { models: WorkerModel[]; nice: number; maxJsonDepth: number; maxRequestRows: number };
lowerPriority(init.nice);
const decoding = new WorkerDecoding(init.models, init.maxJsonDepth, init.maxRequestRows);

export default function decode(task: DecodeTask): unknown {
  const result = decoding.decode(task);
  const buffers = buffersOf(result);
  if (buffers.length === 0) return result;
  return move({ [transferableSymbol]: buffers, [valueSymbol]: result });
}

function buffersOf(result: DecodeResult): ArrayBuffer[] {
  const tensors = result.kind === 'decoded' ? Object.values(result.inputs?.tensors ?? {}) : [];
  const buffers = new Set<ArrayBuffer>();
  for (const { data } of tensors)
    if (!Array.isArray(data) && data.buffer instanceof ArrayBuffer) buffers.add(data.buffer);
  return [...buffers];
}
