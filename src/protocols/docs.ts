import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { DescribedRoutes } from './openapi/describe-only.js';
import { ANY_REQUEST, errorResponses } from './openapi/error-responses.js';

/** GET /openapi.json, the document built from the routes' zod schemas, and /docs, Swagger UI served from the package (no CDN). */
const docs: FastifyPluginAsync = async (app) => {
  app.withTypeProvider<DescribedRoutes>().get(
    '/openapi.json',
    { schema: { tags: ['docs'], summary: 'This document: OpenAPI 3.0, generated from the routes\' zod schemas', response: { 200: z.looseObject({ openapi: z.string() }), ...errorResponses(ANY_REQUEST) } } },
    async () => app.swagger() as { openapi: string },
  );
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true, docExpansion: 'list' } });
};

export default docs;
