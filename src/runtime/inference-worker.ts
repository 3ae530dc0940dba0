import { threadId, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { InferenceResult, InferenceTask, WorkerInit } from '../core/serving/model-runtime.js';
import { lowerPriority } from './priority.js';
import { runSession } from './run-session.js';
import { sessionOptions } from './session-options.js';

/**
 * An inference, with the file its session loads from if this worker has none yet (a version added
 * after start, or a replaced worker).
 */
export type WorkerInference = InferenceTask & { path?: string };
/**
 * Sent to every worker once (see InferencePool.onEveryWorker): load a session ahead of traffic, or
 * release one; `ready` only answers, once the worker's start-up sessions have loaded.
 */
export type WorkerControl = { control: 'load' | 'release'; key: string; path?: string } | { control: 'ready' };
export type WorkerTask = WorkerInference | WorkerControl;

/**
 * Runs on a worker thread. onnxruntime-node's session.run() blocks the thread it runs on, so
 * each worker holds its own session per model and the main thread stays free for HTTP.
 * The module's default export is a promise: piscina waits for the start-up sessions to load
 * before the worker takes a task. Versions come and go afterwards through control tasks.
 */
async function start(init: WorkerInit) {
  lowerPriority(init.nice); // before the sessions exist: onnxruntime's own threads inherit it
  const options = sessionOptions(init.intraOpThreads, init.interOpThreads, init.memory);
  const sessions = new Map<string, Promise<ort.InferenceSession>>();
  const load = (key: string, path: string) => {
    const session = ort.InferenceSession.create(path, options);
    sessions.set(key, session);
    session.catch(() => sessions.delete(key)); // a later task may try again
    return session;
  };
  // A worker piscina starts to replace a dead one gets the start-up list too: a version removed
  // since may be gone from disk, which must not stop the worker; it is loaded on demand if used.
  await Promise.all(init.models.map((model) => load(model.key, model.path).catch(() => undefined)));

  return async function handle(task: WorkerTask): Promise<InferenceResult | { threadId: number }> {
    if ('control' in task) {
      if (task.control === 'load') await (sessions.get(task.key) ?? load(task.key, task.path!));
      else if (task.control === 'release') await release(sessions, task.key);
      return { threadId };
    }
    const session = sessions.get(task.key) ?? (task.path ? load(task.key, task.path) : undefined);
    if (!session) throw new Error(`model ${task.key} is not loaded on this worker`);
    return runSession(await session, task);
  };
}

async function release(sessions: Map<string, Promise<ort.InferenceSession>>, key: string): Promise<void> {
  const session = sessions.get(key);
  sessions.delete(key);
  await (await session?.catch(() => undefined))?.release();
}

export default start(workerData as WorkerInit);
