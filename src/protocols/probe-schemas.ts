import { z } from 'zod';
import { ANY_REQUEST, errorResponses } from './openapi/error-responses.js';

/** What Kubernetes and Prometheus read: /health, /ready, /metrics. */
const tags = ['probes'];

export const healthRoute = {
  tags,
  summary: 'Liveness',
  response: {
    200: z.object({ status: z.literal('ok'), uptime_seconds: z.number().int() }),
    ...errorResponses(ANY_REQUEST),
  },
};

const readiness = z.object({
  ready: z.boolean(),
  status: z.enum(['loading', 'ready', 'draining', 'not_ready']),
  error: z.string().optional().describe('why the model repository could not be read'),
  models: z.array(
    z.object({
      name: z.string(),
      version: z.string(),
      state: z.enum(['loading', 'ready', 'unsupported', 'failed']),
      reason: z.string().optional(),
    }),
  ),
});

export const readyRoute = {
  tags,
  summary: 'Readiness: 503 until the models are warmed, and from SIGTERM on',
  response: {
    200: readiness,
    ...errorResponses(ANY_REQUEST),
    503: readiness.describe('not ready: loading, draining, or a model failed'),
  },
};

export const metricsRoute = {
  tags,
  summary: 'Prometheus metrics, text exposition format',
  response: {
    200: { description: 'every metric (docs/monitoring.md)', content: { 'text/plain': { schema: z.string() } } },
    ...errorResponses(ANY_REQUEST),
  },
};
