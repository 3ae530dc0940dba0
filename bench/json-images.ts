/**
 * Large JSON tensors against binary: an image CNN (x [N,3,48,192] -> [N,2], ~1.5 ms per image,
 * test/fixtures/onnx/image_cnn.onnx), each request 4 distinct images, as nested JSON `instances`
 * (~800 KB) and as the same images in binary, the cache off, while /health is sampled every 20 ms
 * from a process of its own. Reports rows/s, the JSON/binary ratio, and /health p50/p99/max for
 * both runs. Part of `npm run bench`; alone: `npx tsx bench/json-images.ts` after `npm run build`.
 */
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, runSampler, type HealthSamples, type LoadResult } from './lib.js';
import { ChildServer } from './servers.js';

const IMAGES_PER_REQUEST = 4;
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
const PIXELS = 3 * 48 * 192;

/** A repository holding only the benchmark CNN. */
export function imageRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cnn-'));
  mkdirSync(join(dir, 'image_cnn', '1'), { recursive: true });
  copyFileSync(
    new URL('../test/fixtures/onnx/image_cnn.onnx', import.meta.url),
    join(dir, 'image_cnn', '1', 'model.onnx'),
  );
  return dir;
}

/**
 * 8 distinct requests of 4 images each: normalised pixels in [-1, 1] to 4 decimals, as a client's
 * JSON holds them (~760 KB a request), and the same values as float32 bytes.
 */
function bodies() {
  return Array.from({ length: 8 }, (_, b) => {
    const values = Float64Array.from(
      { length: IMAGES_PER_REQUEST * PIXELS },
      (_, i) => Math.round(Math.sin((b + 1) * 0.37 * (i + 1)) * 1e4) / 1e4,
    );
    const image = (n: number) =>
      [0, 1, 2].map((c) =>
        Array.from({ length: 48 }, (_, y) =>
          Array.from(values.subarray(n * PIXELS + c * 9216 + y * 192, n * PIXELS + c * 9216 + (y + 1) * 192)),
        ),
      );
    const f32 = Float32Array.from(values);
    return {
      // OIP's flat list, as numpy's tolist() writes float32 (0.12300000339746475): ~2.1 MB
      oip: `{"inputs":[{"name":"x","shape":[${IMAGES_PER_REQUEST},3,48,192],"datatype":"FP32","data":[${f32.join(', ')}]}]}`,
      json: JSON.stringify({
        model: 'image_cnn',
        instances: Array.from({ length: IMAGES_PER_REQUEST }, (_, n) => image(n)),
      }),
      binary: Buffer.from(Float32Array.from(values).buffer),
    };
  });
}

export function sampleHealth(url: string, seconds: number): Promise<HealthSamples> {
  return runSampler('health-sampler.mjs', `${url}/health`, seconds);
}

export interface ImageRun {
  load: LoadResult;
  health: Awaited<ReturnType<typeof sampleHealth>>;
}

/** One JSON run and one binary run (unless jsonOnly), each with /health sampled through it after the warm-up. */
export async function jsonAgainstBinary(
  service: ChildServer,
  connections: number,
  seconds: number,
  options: { jsonOnly?: boolean; label?: string; oip?: boolean } = {},
): Promise<{ json: ImageRun; binary: ImageRun; oip?: ImageRun }> {
  const requests = bodies();
  const run = async (name: string, url: string, payloads: (string | Buffer)[]) => {
    await load(name, url, payloads, connections, WARMUP_SECONDS, { warmupSeconds: 0 });
    const health = sampleHealth(service.url, seconds);
    const result = await load(name, url, payloads, connections, seconds, {
      pid: service.pid,
      rowsPerRequest: IMAGES_PER_REQUEST,
      warmupSeconds: 0,
    });
    return { load: result, health: await health };
  };
  const json = await run(
    `service, image CNN, nested JSON (4 images, ~800 KB)${options.label ?? ''}`,
    `${service.url}/predict`,
    requests.map((r) => r.json),
  );
  if (options.jsonOnly) return { json, binary: json };
  const binary = await run(
    'service, image CNN, binary (the same 4 images)',
    `${service.url}/predict?model=image_cnn&dtype=float32&shape=${IMAGES_PER_REQUEST},3,48,192`,
    requests.map((r) => r.binary),
  );
  const oip = options.oip
    ? await run(
        'service, image CNN, OIP JSON, flat float32 as numpy writes it (~2.1 MB)',
        `${service.url}/v2/models/image_cnn/infer`,
        requests.map((r) => r.oip),
      )
    : undefined;
  return { json, binary, ...(oip && { oip }) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const service = await ChildServer.start(
    'dist/server.js',
    { MODEL_DIR: imageRepository(), CACHE_ENABLED: 'false' },
    '/ready',
  );
  const { json, binary, oip } = await jsonAgainstBinary(
    service,
    Number(process.env.BENCH_CONNECTIONS ?? 16),
    Number(process.env.BENCH_SECONDS ?? 5),
    { oip: true },
  );
  await service.stop();
  for (const r of [json, binary, oip!])
    console.log(
      r.load.name,
      `${r.load.rowsPerSec} rows/s`,
      `errors ${r.load.errors + r.load.non2xx}`,
      'main cores',
      r.load.serverCores?.main,
      '/health',
      JSON.stringify(r.health),
    );
  console.log('/predict nested JSON / binary rows/s:', +(json.load.rowsPerSec / binary.load.rowsPerSec).toFixed(3));
  console.log('OIP flat JSON / binary rows/s:', +(oip!.load.rowsPerSec / binary.load.rowsPerSec).toFixed(3));
}
