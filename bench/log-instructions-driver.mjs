// Run under callgrind by bench/inference-log-instructions.ts: builds this build's app (dist/) with
// the settings in LOG_DRIVER_ENV, sends LOG_DRIVER_REQUESTS iris /predict misses through app.inject
// one at a time after 300 of warm-up, waits for the log to write what it queued, and closes.
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

const { buildApp } = await import(pathToFileURL(resolve('dist/app.js')).href);
const { loadConfig } = await import(pathToFileURL(resolve('dist/config.js')).href);
const env = {
  MODEL_DIR: resolve('models'),
  LOG_LEVEL: 'info',
  INFERENCE_WORKERS: '1',
  CACHE_ENABLED: 'false',
  ...JSON.parse(process.env.LOG_DRIVER_ENV ?? '{}'),
};
const silent = new Writable({ write: (_chunk, _enc, done) => done() });
const app = await buildApp(loadConfig(env), { logStream: silent });
await app.modelsLoaded;
const request = (i) => ({
  method: 'POST',
  url: '/predict',
  headers: { 'content-type': 'application/json' },
  payload: JSON.stringify({ model: 'iris', instances: [[5 + (i % 1000) / 1000, 3.5, 1.4, 0.2]] }),
});
const count = Number(process.env.LOG_DRIVER_REQUESTS ?? 1000);
for (let i = 0; i < 300 + count; i++) {
  const response = await app.inject(request(i));
  if (response.statusCode !== 200) throw new Error(`${response.statusCode} ${response.body}`);
}
await new Promise((r) => setTimeout(r, 500));
await app.close();
