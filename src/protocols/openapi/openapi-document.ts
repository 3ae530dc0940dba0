import swagger, { type SwaggerTransform } from '@fastify/swagger';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { describeOnlySerializer, describeOnlyValidator } from './describe-only.js';
import { errorBodySchema } from './error-responses.js';
import { serverMetadata } from '../v2/metadata.js';

/**
 * fastify-type-provider-zod's transform, plus what it leaves out: a body with one schema per
 * content type (/predict and OIP infer take JSON or bytes), each converted as it converts a body.
 */
const transform: SwaggerTransform = (route) => {
  const body = route.schema?.body as { content?: Record<string, { schema: z.ZodType }> } | undefined;
  if (!body?.content) return jsonSchemaTransform(route);
  const converted = (schema: z.ZodType) =>
    (jsonSchemaTransform({ ...route, schema: { body: schema } }).schema as { body: unknown }).body;
  const { schema, url } = jsonSchemaTransform({ ...route, schema: { ...route.schema, body: undefined } });
  const content = Object.fromEntries(
    Object.entries(body.content).map(([type, media]) => [type, { schema: converted(media.schema) }]),
  );
  return { schema: { ...schema, body: { content } }, url };
};

/** The answer for any method and path that is no route, in the same error body. */
const { $schema: _, ...routeNotFound } = z.toJSONSchema(errorBodySchema(['ROUTE_NOT_FOUND']), {
  target: 'openapi-3.0',
});

/**
 * Collects every route's zod schemas into the OpenAPI document (`app.swagger()`, served by
 * protocols/docs.ts), and sets the compilers that make those schemas describe without validating
 * (protocols/openapi/describe-only.ts). Registered before the routes, so its onRoute hook sees them all.
 */
export default fp(
  async (app) => {
    app.setValidatorCompiler(describeOnlyValidator);
    app.setSerializerCompiler(describeOnlySerializer);
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: serverMetadata().name,
          version: serverMetadata().version,
          description:
            'A model server for ONNX models: the Open Inference Protocol v2 (KServe, Triton) and a friendly /predict. ' +
            'Every error answers `{error, code, details?}` with a stable `code` (docs/api.md).',
        },
        tags: [
          { name: 'predict', description: '/predict and /feedback' },
          {
            name: 'Open Inference Protocol v2',
            description: 'KServe v2 / Triton REST, with the binary tensor data and classification extensions',
          },
          { name: 'models', description: 'what is served' },
          { name: 'probes', description: 'Kubernetes and Prometheus' },
          { name: 'docs', description: 'this document' },
        ],
        components: {
          responses: {
            RouteNotFound: {
              description: 'Not Found: any method and path that is not a route here',
              content: { 'application/json': { schema: routeNotFound as object } },
            },
          },
        },
      },
      transform,
      transformObject: jsonSchemaTransformObject,
    });
  },
  { name: 'openapi' },
);
