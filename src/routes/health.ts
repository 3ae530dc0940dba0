import type { FastifyPluginAsync } from 'fastify';

/** Kubernetes reads status codes: /health is liveness, /ready is readiness (503 until warmed, and from SIGTERM on). */
const health: FastifyPluginAsync = async (app) => {
  app.get('/health', async () => ({ status: 'ok', uptime_seconds: Math.round(process.uptime()) }));

  app.get('/ready', async (_request, reply) => {
    const { ready, status } = app.readiness();
    const models = app.models.all().map(({ name, version, state, reason }) => ({ name, version, state, ...(reason ? { reason } : {}) }));
    return reply.status(ready ? 200 : 503).send({ ready, status, ...(app.models.error ? { error: app.models.error } : {}), models });
  });
};

export default health;
