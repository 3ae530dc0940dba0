import type { FastifyPluginAsync } from 'fastify';
import type { DescribedRoutes } from './openapi/describe-only.js';
import { healthRoute, metricsRoute, readyRoute } from './probe-schemas.js';

/**
 * What Kubernetes and Prometheus read. Kubernetes reads status codes: /health is liveness,
 * /ready is readiness (503 until warmed, and from SIGTERM on). /metrics is Prometheus text.
 */
const probes: FastifyPluginAsync = async (app) => {
  const routes = app.withTypeProvider<DescribedRoutes>();
  routes.get('/health', { schema: healthRoute }, async () => ({
    status: 'ok' as const,
    uptime_seconds: Math.round(process.uptime()),
  }));

  routes.get('/ready', { schema: readyRoute }, async (_request, reply) => {
    const { ready, status } = app.readiness();
    const models = app.router
      .all()
      .map(({ name, version, state, reason }) => ({ name, version, state, ...(reason ? { reason } : {}) }));
    return reply
      .status(ready ? 200 : 503)
      .send({ ready, status, ...(app.router.error ? { error: app.router.error } : {}), models });
  });

  routes.get('/metrics', { schema: metricsRoute }, async (_request, reply) => {
    reply.header('content-type', app.metrics.contentType);
    return app.metrics.render();
  });
};

export default probes;
