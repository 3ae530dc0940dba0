// Checks what models/build_models.py wrote, through onnxruntime-node (the runtime the server uses):
// each model loads, its input/output names and shapes match model.json, batches of 1 and 7 work,
// the file's sha256 matches the card, and the holdout rows reproduce the recorded score to 1e-4
// (and iris calls [5.1,3.5,1.4,0.2] setosa).
// Then times test/fixtures/onnx/heavy.onnx (built by test/fixtures/build_fixtures.py) on one
// thread. Run from the repo root: node models/verify_models.cjs
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const ort = require('onnxruntime-node');

const ROOT = path.resolve(__dirname, '..');
const MODELS = ['iris', 'breast_cancer', 'diabetes', 'digits', 'digits_large'];
const ROW_SHAPE = { iris: [4], breast_cancer: [30], diabetes: [10], digits: [1, 8, 8], digits_large: [1, 32, 32] };
const one = { intraOpNumThreads: 1, interOpNumThreads: 1 };

function check(ok, message) {
  if (!ok) throw new Error(message);
}

async function run(session, rows, rowShape) {
  const input = new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, ...rowShape]);
  const output = (await session.run({ [session.inputNames[0]]: input }))[session.outputNames[0]];
  return { dims: output.dims, data: output.data };
}

async function verifyModel(name) {
  const dir = path.join(ROOT, 'models', name);
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const holdout = JSON.parse(fs.readFileSync(path.join(dir, 'holdout.json'), 'utf8'));
  const file = path.join(dir, '1', 'model.onnx');
  const card = config.card.versions['1'];
  check(
    crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex') === card.sha256,
    `${name}: sha256 differs from the card`,
  );
  const session = await ort.InferenceSession.create(file, one);
  const [input] = session.inputMetadata;
  const [output] = session.outputMetadata;
  const width = config.labels ? config.labels.length : 1;
  check(session.inputNames.length === 1 && input.name === config.input, `${name}: input ${session.inputNames}`);
  check(session.outputNames.length === 1 && output.name === config.output, `${name}: output ${session.outputNames}`);
  check(
    JSON.stringify(input.shape) === JSON.stringify(['batch', ...ROW_SHAPE[name]]),
    `${name}: input shape ${input.shape}`,
  );
  check(JSON.stringify(output.shape) === JSON.stringify(['batch', width]), `${name}: output shape ${output.shape}`);
  if (config.features) check(config.features.length === holdout.rows[0].length, `${name}: features vs row size`);
  for (const n of [1, 7]) {
    const { dims } = await run(session, holdout.rows.slice(0, n), ROW_SHAPE[name]);
    check(JSON.stringify(dims) === JSON.stringify([n, width]), `${name}: batch ${n} gave dims ${dims}`);
  }
  const { data } = await run(session, holdout.rows, ROW_SHAPE[name]);
  let score;
  if (config.labels) {
    let hits = 0;
    holdout.targets.forEach((target, i) => {
      const p = Array.from(data.slice(i * width, (i + 1) * width));
      check(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-5, `${name}: row ${i} probabilities do not sum to 1`);
      if (config.labels[p.indexOf(Math.max(...p))] === target) hits++;
    });
    score = hits / holdout.targets.length;
  } else {
    const t = holdout.targets;
    const mean = t.reduce((a, b) => a + b, 0) / t.length;
    const residual = t.reduce((s, v, i) => s + (v - data[i]) ** 2, 0);
    score = 1 - residual / t.reduce((s, v) => s + (v - mean) ** 2, 0);
  }
  check(
    Math.abs(score - card.holdout_score) < 1e-4,
    `${name}: onnxruntime scores ${score}, card says ${card.holdout_score}`,
  );
  check(holdout.rows.length === card.holdout_rows, `${name}: holdout rows`);
  if (name === 'iris') {
    const { data: p } = await run(session, [[5.1, 3.5, 1.4, 0.2]], [4]);
    check(p[0] > p[1] && p[0] > p[2], 'iris: [5.1,3.5,1.4,0.2] is not setosa');
  }
  console.log(
    `${name.padEnd(14)} onnxruntime ${config.card.metric} ${score.toFixed(6)} = card, batch 1 and 7 ok, shapes ${JSON.stringify(input.shape)} -> ${JSON.stringify(output.shape)}`,
  );
  return session;
}

async function timeHeavy() {
  const file = path.join(ROOT, 'test', 'fixtures', 'onnx', 'heavy.onnx');
  const session = await ort.InferenceSession.create(file, one);
  check(session.inputNames[0] === 'input' && session.outputNames[0] === 'output', 'heavy: tensor names');
  check(JSON.stringify(session.inputMetadata[0].shape) === '["batch",1024]', 'heavy: input shape');
  check(JSON.stringify(session.outputMetadata[0].shape) === '["batch",1024]', 'heavy: output shape');
  const row = Array.from({ length: 1024 }, (_, i) => Math.cos(i));
  const times = {};
  for (const n of [1, 7]) {
    const rows = Array.from({ length: n }, () => row);
    const warm = await run(session, rows, [1024]);
    check(
      JSON.stringify(warm.dims) === JSON.stringify([n, 1024]) && warm.data.every(Number.isFinite),
      `heavy: batch ${n}`,
    );
    const repeats = n === 1 ? 10 : 3;
    const start = process.hrtime.bigint();
    for (let r = 0; r < repeats; r++) await run(session, rows, [1024]);
    times[n] = Number(process.hrtime.bigint() - start) / 1e6 / repeats / n;
  }
  console.log(
    `heavy          ${fs.statSync(file).size} bytes, one thread: ${times[1].toFixed(1)} ms per row at batch 1, ${times[7].toFixed(1)} ms per row at batch 7`,
  );
}

(async () => {
  for (const name of MODELS) await verifyModel(name);
  await timeHeavy();
})().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
