import { workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { InferenceResult, InferenceTask, WorkerInit } from '../core/serving/model-runtime.js';
import { lowerPriority } from './priority.js';
import { runSession } from './run-session.js';
import { sessionOptions } from './session-options.js';

/**
 * Runs on a worker thread. onnxruntime-node's session.run() blocks the thread it runs on, so
 * each worker holds its own session per model and the main thread stays free for HTTP.
 * The module's default export is a promise: piscina waits for every session to load before
 * the worker takes a task.
 */
async function start(init: WorkerInit) {
  lowerPriority(init.nice); // before the sessions exist: onnxruntime's own threads inherit it
  const options = sessionOptions(init.intraOpThreads, init.interOpThreads, init.memory);
  const sessions = new Map<string, ort.InferenceSession>();
  for (const model of init.models) sessions.set(model.key, await ort.InferenceSession.create(model.path, options));

  return async function infer(task: InferenceTask): Promise<InferenceResult> {
    const session = sessions.get(task.key);
    if (!session) throw new Error(`model ${task.key} is not loaded on this worker`);
    return runSession(session, task);
  };
}

export default start(workerData as WorkerInit);
