/**
 * Issue #21's image targets. The benchmark image CNN (test/fixtures/onnx/image_cnn.onnx, x [N,3,48,192],
 * ~1.5 ms an image) served with model.json `preprocess` (contain into 48x192, left, scale/mean/std 0.5),
 * fed in turns, 16 connections (BENCH_CONNECTIONS), BENCH_ROUNDS rounds of BENCH_SECONDS, /health sampled
 * every 20 ms from a process of its own through each run:
 *   - one JPEG per request as the body (image/jpeg, ?model=), 8 distinct 96x384 photo-like pictures;
 *   - the same pictures preprocessed by the server's own pipeline once, sent as float32 tensors
 *     (application/octet-stream) to the same model: what a client that preprocesses itself sends.
 * Prints rows/s, /health p50/p99, the ratio JPEG / tensor (target >= 0.8x, /health p99 < 10 ms), and the
 * size of 4 images as base64 JPEG JSON against the flat JSON tensor numpy's tolist() writes (target >= 50x).
 * `npm run build && npx tsx bench/image-inputs.ts`
 */
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { SharpImages } from '../src/adapters/sharp-images.js';
import { imagePreprocessSchema } from '../src/core/models/preprocess-config.js';
import { planImage } from '../src/core/preprocess/image-plan.js';
import { fillImages } from '../src/core/preprocess/raw-inputs.js';
import { sampleHealth } from './json-images.js';
import { load, machine, median, saveResults } from './lib.js';
import { ChildServer } from './servers.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PREPROCESS = {
  size: [48, 192],
  fit: 'contain',
  position: 'left',
  scale: 1 / 255,
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
};

function repository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bench-images-'));
  mkdirSync(join(dir, 'image_cnn', '1'), { recursive: true });
  copyFileSync(
    new URL('../test/fixtures/onnx/image_cnn.onnx', import.meta.url),
    join(dir, 'image_cnn', '1', 'model.onnx'),
  );
  writeFileSync(join(dir, 'image_cnn', 'model.json'), JSON.stringify({ preprocess: { x: { image: PREPROCESS } } }));
  return dir;
}

/** A 96x384 picture: gradients and stripes that differ per seed, as JPEG (quality 90). */
async function picture(seed: number): Promise<Buffer> {
  const [w, h] = [384, 96];
  const rgb = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      rgb[i] = (x * (seed + 1)) % 256;
      rgb[i + 1] = (y * 2 + seed * 30) % 256;
      rgb[i + 2] = 128 + Math.round(127 * Math.sin((x + seed * 13) / 9) * Math.cos(y / 7));
    }
  return sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

const jpegs = await Promise.all(Array.from({ length: 8 }, (_, i) => picture(i)));
const plan = planImage(
  { name: 'x', dtype: 'float32', shape: ['batch', 3, 48, 192] },
  imagePreprocessSchema.parse(PREPROCESS),
);
const decoder = new SharpImages();
const tensors = await Promise.all(
  jpegs.map(async (jpeg) => {
    const tensor = fillImages(plan, [await decoder.decode(jpeg, plan, 'bench')]);
    return Buffer.from((tensor.data as Float32Array).buffer);
  }),
);

const four = jpegs.slice(0, 4);
const jpegJson = JSON.stringify({ model: 'image_cnn', instances: four.map((j) => ({ image: j.toString('base64') })) });
const tensorJson = JSON.stringify({
  inputs: [
    {
      name: 'x',
      datatype: 'FP32',
      shape: [4, 3, 48, 192],
      data: tensors
        .slice(0, 4)
        .flatMap((t) =>
          Array.from(new Float32Array(t.buffer, t.byteOffset, t.length / 4), (v) => Number(v.toPrecision(17))),
        ),
    },
  ],
});
console.log(
  `4 images: ${jpegJson.length} bytes as base64 JPEG JSON, ${tensorJson.length} as the flat JSON tensor: ${(tensorJson.length / jpegJson.length).toFixed(1)}x smaller (raw JPEG files: ${four.reduce((a, j) => a + j.length, 0)} bytes)`,
);

const service = await ChildServer.start(
  'dist/server.js',
  { MODEL_DIR: repository(), CACHE_ENABLED: 'false', LOG_LEVEL: 'warn' },
  '/ready',
);
try {
  const rounds: Record<string, number | undefined>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const run = async (name: string, url: string, bodies: Buffer[], type: string) => {
      const health = sampleHealth(service.url, SECONDS + 1);
      const result = await load(name, url, bodies, CONNECTIONS, SECONDS, {
        pid: service.pid,
        warmupSeconds: 1,
        headers: { 'content-type': type },
      });
      if (result.errors + result.non2xx > 0)
        throw new Error(`${name}: ${result.errors} errors, ${result.non2xx} non-2xx`);
      return { rows: result.rowsPerSec, health: await health, p99: result.p99Ms };
    };
    const jpeg = await run('JPEG body', `${service.url}/predict?model=image_cnn`, jpegs, 'image/jpeg');
    const tensor = await run(
      'float32 tensor body',
      `${service.url}/predict?model=image_cnn&dtype=float32&shape=1,3,48,192`,
      tensors,
      'application/octet-stream',
    );
    rounds.push({
      jpeg: jpeg.rows,
      tensor: tensor.rows,
      jpegHealthP99: jpeg.health.p99Ms,
      tensorHealthP99: tensor.health.p99Ms,
    });
    console.log(
      `round ${round + 1}: JPEG ${jpeg.rows} rows/s (p99 ${jpeg.p99} ms, /health p50 ${jpeg.health.p50Ms} p99 ${jpeg.health.p99Ms} ms), ` +
        `tensor ${tensor.rows} rows/s (p99 ${tensor.p99} ms, /health p50 ${tensor.health.p50Ms} p99 ${tensor.health.p99Ms} ms): ${(jpeg.rows / tensor.rows).toFixed(2)}x`,
    );
  }
  const ratios = rounds.map((r) => r.jpeg! / r.tensor!);
  console.log(
    `${CONNECTIONS} connections, median JPEG / tensor rows/s: ${median(ratios).toFixed(2)}x (range ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}); target >= 0.8x with /health p99 < 10 ms`,
  );
  console.log('saved', saveResults('image-inputs.json', { machine: machine(), connections: CONNECTIONS, rounds }));
} finally {
  await service.stop();
}
