/**
 * The server a user would write first: one session.run per request, on the main thread, no
 * batching, no validation beyond parsing. Same model and thread budget as the service.
 */
import Fastify from 'fastify';
import ort from 'onnxruntime-node';

const model = process.env.NAIVE_MODEL!;
const threads = Number(process.env.NAIVE_THREADS ?? 2);
const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
});
const input = session.inputNames[0]!;
const meta = session.inputMetadata[0] as { readonly shape: readonly (number | string)[] };
const rowShape = meta.shape.slice(1) as number[];
const rowSize = rowShape.reduce((a, b) => a * b, 1);

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.get('/health', async () => ({ status: 'ok' }));
app.post('/predict', async (request) => {
  const body = request.body as Buffer;
  const data = new Float32Array(body.byteLength / 4);
  new Uint8Array(data.buffer).set(body);
  const rows = data.length / rowSize;
  const out = await session.run({ [input]: new ort.Tensor('float32', data, [rows, ...rowShape]) });
  const probs = out[session.outputNames[0]!]!.data as Float32Array;
  const width = probs.length / rows;
  return {
    predictions: Array.from({ length: rows }, (_, r) => {
      const p = Array.from(probs.subarray(r * width, (r + 1) * width));
      const best = p.indexOf(Math.max(...p));
      return { label: String(best), confidence: p[best], probabilities: p };
    }),
  };
});
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
