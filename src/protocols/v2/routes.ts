import compress from '@fastify/compress';
import { requestDecompression } from '../body-encoding.js';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ServiceError } from '../../errors.js';
import type { ModelRunner } from '../../core/serving/model-runner.js';
import { serviceError } from '../offload/decode-tasks.js';
import { routingKeyOf } from '../routing-key.js';
import { versionOfPath } from '../version-param.js';
import { offloadRouting } from '../offload/offload-routing.js';
import { declaredRows } from '../../core/serving/admission.js';
import { decodeInputs, inputsByName, oipLocator, parseInferBody, type InferBody } from './infer-decode.js';
import type { InferRequest } from './infer-request.js';
import { encodeInferResponse } from './infer-encode.js';
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
const v2: FastifyPluginAsync<{ maxJsonDepth: number; controlApi: boolean }> = async (
  app,
  { maxJsonDepth, controlApi },
) => {
  await app.register(compress, {
    global: true,
    encodings: ['gzip', 'deflate'],
    threshold: 1024,
    ...requestDecompression,
  });
  // Every body is read as bytes, whatever its Content-Type, or with none (Triton's client sends none):
  // Inference-Header-Content-Length, not the content type, says whether binary data follows the JSON.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

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

  /**
   * The request, decoded here or, when large, on a decode worker (see offload/json-offload.ts). A
   * large body is decoded for the version it will run on: for a model with a traffic split and no
   * version named, the worker chooses the variant by the body's parameters.routing_key or the
   * header's (offload-routing.ts), and the data plane is then held to it.
   */
  const decode = async (
    request: FastifyRequest<{ Params: ModelParams }>,
    version: string | undefined,
    bytes: Buffer,
  ) => {
    const { model } = request.params;
    const headerLength = request.headers['inference-header-content-length'];
    const onThisThread = (body: InferBody) => (runner: ModelRunner) => decodeInputs(body, runner.spec.inputs);
    if (app.jsonOffload.wants(bytes.length)) {
      // 404 or 503 before the body is parsed; the split's variant is the worker's to choose
      const { runner } = app.router.resolve(model, version);
      const routing =
        version === undefined
          ? offloadRouting([model], (m) => app.router.liveVariants(m), routingKeyOf(request))
          : undefined;
      const decoded = await app.jsonOffload.decode({
        kind: 'infer',
        key: runner!.spec.key,
        body: bytes,
        headerLength,
        ...(routing ? { routing } : {}),
      });
      if (decoded.kind === 'error' && decoded.stage === 'envelope') throw serviceError(decoded.error);
      if (decoded.kind === 'infer') {
        const { tensors, outputs, key } = decoded;
        // The variant stops being ready between the decode and the run: decoded again here, for the version that runs.
        // No tensors: the shapes are past the row caps, and the data plane refuses them before it calls this.
        const decodeFor = (runner: ModelRunner) =>
          runner.spec.key === key && tensors
            ? { tensors, outputs, locator: oipLocator }
            : onThisThread(parseInferBody(bytes, headerLength, maxJsonDepth))(runner);
        return { request: decoded.request, variant: decoded.variant, decode: decodeFor };
      }
      if (decoded.kind === 'error') {
        const error = serviceError(decoded.error);
        // the envelope was good: the prediction is counted as refused, and answered without its id
        return {
          request: { inputs: [] } as InferRequest,
          variant: decoded.variant,
          decode: () => {
            throw error;
          },
        };
      }
    }
    const body = parseInferBody(bytes, headerLength, maxJsonDepth);
    return { request: body.request, variant: undefined, decode: onThisThread(body) };
  };

  const infer = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const { model } = request.params;
    const version = versionOfPath(request.params.version);
    const bytes = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const { request: inferRequest, variant, decode: decodeTensors } = await decode(request, version, bytes);
    const parameters = inferRequest.parameters;
    const routingKey = routingKeyOf(request, parameters?.routing_key);
    const result = await app.dataPlane.infer(
      { model, version, routingKey, ...(variant !== undefined ? { variant } : {}) },
      decodeTensors,
      {
        declared: (runner) => declaredRows(runner.plan?.inputs, inputsByName(inferRequest), oipLocator),
        validation: parameters?.validation,
        timeoutMs: parameters?.timeout === undefined ? undefined : Math.max(1, Math.ceil(parameters.timeout / 1000)),
        trace: request.trace,
      },
    );
    const answer = encodeInferResponse(result, inferRequest);
    if (answer.binary.length === 0) return answer.header;
    const json = Buffer.from(JSON.stringify(answer.header));
    reply.header('inference-header-content-length', json.length).type('application/octet-stream');
    return reply.send(Buffer.concat([json, ...answer.binary]));
  };
  oip.post('/v2/models/:model/infer', { schema: inferRoute(false) }, infer);
  oip.post('/v2/models/:model/versions/:version/infer', { schema: inferRoute(true) }, infer);
};

export default v2;
