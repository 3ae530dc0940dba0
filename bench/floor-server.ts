/**
 * The floor of real work per tabular request: what any server that checks its input and runs the
 * model must do, and nothing else. The /predict envelope and the row checked by the service's own
 * zod schemas, rows codec and input checks, one session.run per request on the event loop, and an answer of the same
 * shape. No batching, metrics, monitoring, cache, ids from a store or access log. Set beside the
 * HTTP ceiling it shows how much of the gap any model server pays, and how much is the service's.
 */
import Fastify from 'fastify';
import ort from 'onnxruntime-node';
import { predictRequestSchema } from '../src/protocols/v1/predict-request.js';
import { INSTANCES } from '../src/protocols/v1/rows-places.js';
import { newPredictionId } from '../src/core/monitoring/prediction-id.js';
import { bundledModel } from './bundled-model.js';

const { spec, runner, codec, path } = await bundledModel(process.env.FLOOR_MODEL ?? 'breast_cancer');
const session = await ort.InferenceSession.create(path, {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
});
const input = session.inputNames[0]!;
const output = session.outputNames[0]!;
const labels = spec.labels ?? [];

const app = Fastify({ logger: false });
app.get('/health', async () => ({ status: 'ok' }));
app.post('/predict', async (request, reply) => {
  const parsed = predictRequestSchema.safeParse(request.body);
  if (!parsed.success || !parsed.data.instances) return reply.status(400).send({ error: 'invalid request' });
  const decoded = codec.decode(parsed.data.instances, INSTANCES, 'strict');
  const checked = runner.checks.check({ [input]: decoded.tensor }, 'strict', decoded.locator);
  const tensor = checked.tensors[input]!;
  const result = await session.run({ [input]: new ort.Tensor('float32', tensor.data as Float32Array, tensor.shape) });
  const p = result[output]!.data as Float32Array;
  const width = p.length / checked.rows;
  const predictions = Array.from({ length: checked.rows }, (_, r) => {
    const row = Array.from(p.subarray(r * width, (r + 1) * width));
    const best = row.indexOf(Math.max(...row));
    return {
      label: labels[best] ?? String(best),
      confidence: row[best],
      probabilities: Object.fromEntries(row.map((v, i) => [labels[i] ?? String(i), v])),
    };
  });
  return { id: newPredictionId(), model: spec.name, version: spec.version, cached: false, predictions };
});
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
