import { Worker } from 'node:worker_threads';

/**
 * The compute ceiling: onnxruntime in-process, no HTTP, at several batch sizes, with the
 * service's thread budget split the way the service splits it (`workers` sessions on worker
 * threads, `threads` intra-op threads each). The best batch size's rows/s is the ceiling.
 */
export async function computeCeiling(
  model: string,
  workers: number,
  threads: number,
  seconds: number,
  batches = [1, 8, 32, 64],
) {
  const results: { batch: number; rowsPerSec: number }[] = [];
  for (const batch of batches) {
    const rates = await Promise.all(
      Array.from(
        { length: workers },
        () =>
          new Promise<number>((resolve, reject) => {
            const worker = new Worker(new URL('./compute-worker.mjs', import.meta.url), {
              workerData: { model, threads, seconds, batch },
            });
            worker.once('message', (rate: number) => {
              resolve(rate);
              void worker.terminate();
            });
            worker.once('error', reject);
          }),
      ),
    );
    results.push({ batch, rowsPerSec: Math.round(rates.reduce((a, b) => a + b, 0)) });
  }
  const best = results.reduce((a, b) => (b.rowsPerSec > a.rowsPerSec ? b : a));
  return { workers, threadsPerWorker: threads, results, best };
}
