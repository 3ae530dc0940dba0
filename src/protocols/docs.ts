import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { DescribedRoutes } from './openapi/describe-only.js';
import { ANY_REQUEST, errorResponses } from './openapi/error-responses.js';

/**
 * GET /openapi.json, the document built from the routes' zod schemas, and /docs, Swagger UI served
 * from the package (no CDN).
 */
const docs: FastifyPluginAsync = async (app) => {
  // Serialized once: 125 KB took 4.4 ms of event loop a request, which a client pipelining GETs
  // could make the server repeat at will.
  let document: string | undefined;
  app.withTypeProvider<DescribedRoutes>().get(
    '/openapi.json',
    {
      schema: {
        tags: ['docs'],
        summary: "This document: OpenAPI 3.0, generated from the routes' zod schemas",
        response: { 200: z.looseObject({ openapi: z.string() }), ...errorResponses(ANY_REQUEST) },
      },
    },
    // A string is sent as it is, past the schema's serializer (hence the untyped reply).
    async (_request, reply) =>
      (reply as FastifyReply)
        .type('application/json; charset=utf-8')
        .send((document ??= JSON.stringify(app.swagger()))),
  );
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true, docExpansion: 'list' } });
};

export default docs;
