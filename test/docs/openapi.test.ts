import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { errorStatus, type ErrorCode } from '../../src/errors.js';
import { predictRouteSchema, feedbackRouteSchema } from '../../src/protocols/v1/route-schemas.js';
import { inferRoute } from '../../src/protocols/v2/route-schemas.js';
import { appFor, postJson } from '../helpers/app.js';
import { openApiPath, routesOf, undocumented } from './routes.js';

/** A route's response schema for one status, as the document was built from it. */
const responseOf = (route: { response: object }, status: number) =>
  (route.response as Record<number, z.ZodType>)[status]!;

const iris = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };

interface Operation {
  summary?: string;
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}
type Schema = { properties?: { code?: { enum?: string[] }; ready?: unknown } };
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { responses: Record<string, Operation['responses'][string]> };
};

/**
 * Each documented error code, with the status it is documented under. A model-ready 503 is not an
 * error body: its `code` says why the model is not ready (MODEL_FAILED is a 503, UNSUPPORTED_MODEL a 400).
 */
function documentedCodes(doc: Document): { status: string; code: string; where: string }[] {
  const found: { status: string; code: string; where: string }[] = [];
  const collect = (where: string, status: string, response: Operation['responses'][string]) => {
    const schema = response.content?.['application/json']?.schema;
    if (schema?.properties?.ready) return;
    for (const code of schema?.properties?.code?.enum ?? []) found.push({ status, code, where });
  };
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      for (const [status, response] of Object.entries(operation.responses))
        collect(`${method} ${path}`, status, response);
    }
  }
  collect('components', '404', doc.components.responses.RouteNotFound!);
  return found;
}

describe('/openapi.json', () => {
  const app = appFor({ ADMIN_TOKEN: 'openapi-test-admin-token' }); // the control API's routes exist only with a token
  const document = async () => (await app().inject('/openapi.json')).json<Document>();

  it('is a valid OpenAPI 3.0 document', async () => {
    const doc = await document();
    expect(doc.openapi).toBe('3.0.3');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('the validator refuses a broken document (the check can fail)', async () => {
    const doc = structuredClone(await document());
    delete (doc.paths['/predict']!.post as Partial<Operation>).responses;
    expect((await new Validator().validate(doc as never)).valid).toBe(false);
  });

  it('describes every route fastify has, with a summary and its error responses', async () => {
    const routes = routesOf(app().printRoutes({ commonPrefix: false }));
    expect(routes).toContainEqual({ method: 'POST', path: '/v2/models/:model/versions/:version/infer' });
    expect(routes.length).toBeGreaterThan(20);
    const doc = await document();
    expect(undocumented(routes, doc)).toEqual([]);
    // the same check catches a route missing from the document, and one added without our schemas
    const mutated = structuredClone(doc);
    delete mutated.paths['/feedback'];
    delete mutated.paths[openApiPath('/v2/models/:model/ready')]!.get!.responses['500'];
    expect(undocumented(routes, mutated)).toEqual(['POST /feedback', 'GET /v2/models/:model/ready']);
  });

  it('documents every error code, each under its status', async () => {
    const found = documentedCodes(await document());
    for (const { status, code, where } of found)
      expect(`${where}: ${code} ${errorStatus[code as ErrorCode]}`).toBe(`${where}: ${code} ${status}`);
    expect(Object.keys(errorStatus).filter((code) => !found.some((f) => f.code === code))).toEqual([]);
  });

  it('documents what each route can refuse', async () => {
    const doc = await document();
    const codes = (path: string, method: string, status: string) =>
      doc.paths[path]![method]!.responses[status]!.content!['application/json']!.schema.properties!.code!.enum;
    expect(codes('/predict', 'post', '400')).toEqual(
      expect.arrayContaining(['INVALID_JSON', 'INVALID_REQUEST', 'INVALID_INPUT', 'UNSUPPORTED_MODEL']),
    );
    expect(codes('/predict', 'post', '503')).toEqual(
      expect.arrayContaining(['MODEL_NOT_READY', 'QUEUE_FULL', 'SERVER_BUSY']),
    );
    expect(codes('/predict', 'post', '413')).toEqual(
      expect.arrayContaining(['PAYLOAD_TOO_LARGE', 'TOO_MANY_ROWS', 'LARGER_THAN_QUEUE']),
    );
    expect(codes('/feedback', 'post', '409')).toEqual(['DUPLICATE_FEEDBACK']);
    expect(codes('/v2/models/{model}/infer', 'post', '404')).toEqual(['MODEL_NOT_FOUND', 'VERSION_NOT_FOUND']);
    expect(codes('/v2/models/{model}/ready', 'get', '503')).toEqual([
      'MODEL_NOT_READY',
      'MODEL_FAILED',
      'UNSUPPORTED_MODEL',
    ]);
    expect(doc.paths['/health']!.get!.responses['400']).toBeDefined(); // a request without Host, on any route
    expect(doc.paths['/health']!.get!.responses['404']).toBeUndefined();
  });

  it('describes the binary bodies and /metrics as text', async () => {
    const doc = (await document()) as unknown as {
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: { content: Record<string, unknown> };
            parameters?: { name: string; in: string }[];
            responses: Record<string, { content?: Record<string, unknown> }>;
          }
        >
      >;
    };
    expect(Object.keys(doc.paths['/predict']!.post!.requestBody!.content)).toEqual([
      'application/json',
      'application/octet-stream',
      'image/jpeg',
      'image/png',
      'image/webp',
      'image/gif',
      'text/plain',
      'multipart/form-data',
    ]);
    expect(doc.paths['/predict']!.post!.requestBody!.content['application/octet-stream']).toMatchObject({
      schema: { type: 'string', format: 'binary' },
    });
    expect(doc.paths['/predict']!.post!.parameters!.map((p) => `${p.in} ${p.name}`)).toEqual(
      expect.arrayContaining(['query model', 'query dtype', 'query shape']),
    );
    const infer = doc.paths['/v2/models/{model}/versions/{version}/infer']!.post!;
    expect(Object.keys(infer.requestBody!.content)).toEqual(['application/json', 'application/octet-stream']);
    expect(infer.parameters!.map((p) => `${p.in} ${p.name}`)).toEqual(
      expect.arrayContaining(['path model', 'path version', 'header Inference-Header-Content-Length']),
    );
    expect(Object.keys(infer.responses['200']!.content!)).toEqual(['application/json', 'application/octet-stream']);
    expect(Object.keys(doc.paths['/metrics']!.get!.responses['200']!.content!)).toEqual(['text/plain']);
  });

  it('real answers parse with the schemas the document was built from', async () => {
    const ok = await postJson(app(), '/predict', { model: 'iris', features: iris });
    expect(ok.status).toBe(200);
    responseOf(predictRouteSchema, 200).parse(ok.body);
    const bad = await postJson(app(), '/predict', { model: 'iris', features: { ...iris, sepal_length: 'x' } });
    expect(bad.status).toBe(400);
    responseOf(predictRouteSchema, 400).parse(bad.body);
    const unknown = await postJson(app(), '/feedback', { id: 'never-made', label: 'setosa' });
    expect(unknown.status).toBe(404);
    responseOf(feedbackRouteSchema, 404).parse(unknown.body);
    const missing = await postJson(app(), '/v2/models/nope/infer', {
      inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: Object.values(iris) }],
    });
    expect(missing.status).toBe(404);
    responseOf(inferRoute(false), 404).parse(missing.body);
    // an error body whose code the status does not carry is refused
    expect(() => responseOf(feedbackRouteSchema, 404).parse({ ...unknown.body, code: 'DUPLICATE_FEEDBACK' })).toThrow();
  });

  it('serves Swagger UI at /docs from the package', async () => {
    const page = await app().inject('/docs/');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('swagger-ui');
    const bundle = await app().inject('/docs/static/swagger-ui-bundle.js');
    expect(bundle.statusCode).toBe(200);
    expect(bundle.body.length).toBeGreaterThan(100_000);
  });
});
