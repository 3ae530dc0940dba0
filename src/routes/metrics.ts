import type { FastifyPluginAsync } from 'fastify';

/** GET /metrics in Prometheus text format. */
const metrics: FastifyPluginAsync = async (app) => {
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', app.metrics.contentType);
    return app.metrics.render();
  });
};

export default metrics;
