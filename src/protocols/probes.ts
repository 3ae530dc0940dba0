import type { FastifyPluginAsync } from 'fastify';

/**
 * What Kubernetes and Prometheus read. Kubernetes reads status codes: /health is liveness,
 * /ready is readiness (503 until warmed, and from SIGTERM on). /metrics is Prometheus text.
 */
const probes: FastifyPluginAsync = async (app) => {
  app.get('/health', async () => ({ status: 'ok', uptime_seconds: Math.round(process.uptime()) }));

  app.get('/ready', async (_request, reply) => {
    const { ready, status } = app.readiness();
    const models = app.models.all().map(({ name, version, state, reason }) => ({ name, version, state, ...(reason ? { reason } : {}) }));
    return reply.status(ready ? 200 : 503).send({ ready, status, ...(app.models.error ? { error: app.models.error } : {}), models });
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', app.metrics.contentType);
    return app.metrics.render();
  });
};

export default probes;
