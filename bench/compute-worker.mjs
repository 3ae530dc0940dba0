// One compute-ceiling worker: a session with the given threads runs batches back to back for a
// fixed time and reports rows/s. Plain JS so it starts in a worker thread without a loader.
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

const { model, threads, seconds, batch } = workerData;
const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
});
const shape = session.inputMetadata[0].shape.slice(1);
const size = shape.reduce((a, b) => a * b, 1);
const tensor = new ort.Tensor(
  'float32',
  new Float32Array(batch * size).map((_, i) => (i * 7) % 17),
  [batch, ...shape],
);
const feeds = { [session.inputNames[0]]: tensor };
await session.run(feeds);
let rows = 0;
const end = performance.now() + seconds * 1000;
while (performance.now() < end) {
  await session.run(feeds);
  rows += batch;
}
parentPort.postMessage(rows / seconds);
