import compress from '@fastify/compress';
import { bodyBytes, requestDecompression } from '../body-encoding.js';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ServiceError } from '../../errors.js';
import { routingHeaderOf } from '../routing-key.js';
import { versionOfPath } from '../version-param.js';
import { inferCodec } from './infer-codec.js';
import { encodeInferResponse, inferJson } from './infer-encode.js';
import { modelMetadata, serverMetadata } from './metadata.js';
import type { DescribedRoutes } from '../openapi/describe-only.js';
import {
  inferRoute,
  modelMetadataRoute,
  modelReadyRoute,
  serverLiveRoute,
  serverMetadataRoute,
  serverReadyRoute,
} from './route-schemas.js';

interface ModelParams {
  model: string;
  version?: string;
}

/**
 * The Open Inference Protocol v2 over REST (KServe v2, Triton, MLServer): server and model
 * metadata, health, model readiness and inference, with the binary tensor data and
 * classification extensions. A thin adapter: decode into named tensors, call the data plane,
 * encode. Request bodies may be gzip or deflate (bounded by BODY_LIMIT_BYTES once inflated), and
 * answers are compressed when the client accepts it, as Triton does.
 */
const v2: FastifyPluginAsync<{ controlApi: boolean }> = async (app, { controlApi }) => {
  await app.register(compress, {
    global: true,
    encodings: ['gzip', 'deflate'],
    threshold: 1024,
    ...requestDecompression,
  });
  // Every body is read as bytes, whatever its Content-Type, or with none (Triton's client sends none):
  // Inference-Header-Content-Length, not the content type, says whether binary data follows the JSON.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, bodyBytes(app));

  const oip = app.withTypeProvider<DescribedRoutes>();
  oip.get('/v2', { schema: serverMetadataRoute }, async () => serverMetadata(controlApi));
  oip.get('/v2/health/live', { schema: serverLiveRoute }, async () => ({ live: true as const }));
  oip.get('/v2/health/ready', { schema: serverReadyRoute }, async (_request, reply) => {
    const { ready } = app.readiness();
    return reply.status(ready ? 200 : 503).send({ ready });
  });

  const metadata = async (request: FastifyRequest<{ Params: ModelParams }>) => {
    const { model } = request.params;
    const version = versionOfPath(request.params.version);
    // Without a version: the default one, whatever the traffic split
    const { runner } = app.router.resolve(model, version);
    return modelMetadata(
      runner!,
      app.router.entries(model).map((e) => e.version),
    );
  };
  oip.get('/v2/models/:model', { schema: modelMetadataRoute(false) }, metadata);
  oip.get('/v2/models/:model/versions/:version', { schema: modelMetadataRoute(true) }, metadata);

  const ready = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const { model } = request.params;
    const version = versionOfPath(request.params.version);
    try {
      const entry = app.router.resolve(model, version);
      return { name: model, version: entry.version, ready: true as const };
    } catch (err) {
      if (!(err instanceof ServiceError) || err.statusCode === 404) throw err;
      return reply
        .status(503)
        .send({ name: model, ...(version ? { version } : {}), ready: false, error: err.message, code: err.code });
    }
  };
  oip.get('/v2/models/:model/ready', { schema: modelReadyRoute(false) }, ready);
  oip.get('/v2/models/:model/versions/:version/ready', { schema: modelReadyRoute(true) }, ready);

  /** Decode (inline or on a decode worker: request-decoder.ts), the data plane, encode. */
  const infer = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const head = {
      params: request.params,
      query: undefined,
      binary: false,
      headerLength: request.headers['inference-header-content-length'],
      routingHeader: routingHeaderOf(request),
    };
    const body = Buffer.isBuffer(request.body) ? request.body : undefined;
    const { envelope, target, decode, options } = await app.requestDecoder.decode(inferCodec, body, head);
    const result = await app.dataPlane.infer(target, decode, { ...options, trace: request.trace });
    const answer = encodeInferResponse(result, envelope.request);
    if (answer.binary.length === 0) return reply.type('application/json; charset=utf-8').send(inferJson(answer));
    const json = Buffer.from(inferJson(answer));
    reply.header('inference-header-content-length', json.length).type('application/octet-stream');
    return reply.send(Buffer.concat([json, ...answer.binary]));
  };
  oip.post('/v2/models/:model/infer', { schema: inferRoute(false) }, infer);
  oip.post('/v2/models/:model/versions/:version/infer', { schema: inferRoute(true) }, infer);
};

export default v2;
