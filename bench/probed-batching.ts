/**
 * Issue #21's batching target: a model exported with a differently named batch dim on each tensor
 * (tf2onnx's dense_input [unk__12, 256] -> probabilities [unk__13, 16], test/fixtures/onnx/tf_dense.onnx,
 * ~1 ms a run of 1 row, ~1.4 ms of 16: reading its 18 MB of weights is the cost) is proven at load and
 * merges requests. One server holds it twice: `probed` as the file is, `alone` with batching.enabled
 * false in model.json, so every request runs by itself. Both take the same distinct one-row OIP JSON
 * requests at BENCH_CONNECTIONS (16), in turns for BENCH_ROUNDS rounds of BENCH_SECONDS; the answers are
 * compared first. Prints rows/s of each round and the median ratio probed / alone (target >= 2x).
 * `npm run build && npx tsx bench/probed-batching.ts`
 */
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, machine, median, saveResults } from './lib.js';
import { ChildServer } from './servers.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WIDTH = 256;

function repository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bench-probed-'));
  for (const name of ['probed', 'alone']) {
    mkdirSync(join(dir, name, '1'), { recursive: true });
    copyFileSync(new URL('../test/fixtures/onnx/tf_dense.onnx', import.meta.url), join(dir, name, '1', 'model.onnx'));
  }
  writeFileSync(join(dir, 'alone', 'model.json'), JSON.stringify({ batching: { enabled: false } }));
  return dir;
}

/** 64 distinct one-row requests, values as a client's JSON holds them. */
const bodies = Array.from({ length: 64 }, (_, b) =>
  JSON.stringify({
    inputs: [
      {
        name: 'dense_input',
        datatype: 'FP32',
        shape: [1, WIDTH],
        data: Array.from({ length: WIDTH }, (_, i) => Math.round(Math.sin((b + 1) * 0.37 * (i + 1)) * 1e4) / 1e4),
      },
    ],
  }),
);

const service = await ChildServer.start(
  'dist/server.js',
  { MODEL_DIR: repository(), CACHE_ENABLED: 'false', LOG_LEVEL: 'warn' },
  '/ready',
);
try {
  const models = (await (await fetch(`${service.url}/models`)).json()) as {
    models: { name: string; versions: { batching: { source: string; reason: string } }[] }[];
  };
  for (const m of models.models) console.log(m.name, JSON.stringify(m.versions[0]!.batching));

  let worst = 0;
  for (const body of bodies.slice(0, 16)) {
    const answer = async (model: string) => {
      const response = await fetch(`${service.url}/v2/models/${model}/infer`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      return ((await response.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data;
    };
    const [a, b] = [await answer('probed'), await answer('alone')];
    a.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[i]!))));
  }
  console.log(`answers, probed against alone, 16 requests one at a time: largest difference ${worst}`);

  const rounds: { probed: number; alone: number; probedP99: number; aloneP99: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const run = (model: string) =>
      load(model, `${service.url}/v2/models/${model}/infer`, bodies, CONNECTIONS, SECONDS, {
        pid: service.pid,
        warmupSeconds: 1,
      });
    const alone = await run('alone');
    const probed = await run('probed');
    for (const r of [probed, alone])
      if (r.errors + r.non2xx > 0) throw new Error(`${r.name}: ${r.errors} errors, ${r.non2xx} non-2xx`);
    rounds.push({ probed: probed.rowsPerSec, alone: alone.rowsPerSec, probedP99: probed.p99Ms, aloneP99: alone.p99Ms });
    console.log(
      `round ${round + 1}: probed ${probed.rowsPerSec} rows/s (p99 ${probed.p99Ms} ms), alone ${alone.rowsPerSec} rows/s (p99 ${alone.p99Ms} ms): ${(probed.rowsPerSec / alone.rowsPerSec).toFixed(2)}x`,
    );
  }
  const ratios = rounds.map((r) => r.probed / r.alone);
  console.log(
    `${CONNECTIONS} connections, median probed / alone: ${median(ratios).toFixed(2)}x (range ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}); target >= 2x`,
  );
  console.log(
    'saved',
    saveResults('probed-batching.json', { machine: machine(), connections: CONNECTIONS, rounds, worst }),
  );
} finally {
  await service.stop();
}
