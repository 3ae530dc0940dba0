/**
 * The HTTP ceiling: a bare Fastify route that takes the same body as /predict and answers a
 * response of the same size (BARE_RESPONSE, JSON), doing nothing else. Accepts JSON and raw bytes.
 */
import Fastify from 'fastify';

const response = process.env.BARE_RESPONSE ?? '{}';
const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.get('/health', async () => ({ status: 'ok' }));
app.post('/predict', async (_request, reply) => reply.header('content-type', 'application/json').send(response));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
