import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { DestinationStream } from 'pino';
import type { Config } from './config.js';
import type { ModelRuntime } from './core/serving/model-runtime.js';
import { ServiceError } from './errors.js';
import { answerClientError, answerOutsideRoutes } from './protocols/client-errors.js';
import { installRequestHooks } from './protocols/request-hooks.js';
import { toServiceError } from './protocols/http-errors.js';
import { loggerOptions } from './logger.js';
import { httpServerOptions } from './http-timeouts.js';
import cachePlugin from './plugins/cache.js';
import drainPlugin from './plugins/drain.js';
import experimentsPlugin from './plugins/experiments.js';
import metricsPlugin, { requestId } from './plugins/metrics.js';
import inflightPlugin from './plugins/inflight.js';
import requestDecodingPlugin from './protocols/decoding/decode-pool.js';
import grpcPlugin from './protocols/grpc/grpc-server.js';
import inferenceLogPlugin from './plugins/inference-log.js';
import modelsPlugin from './plugins/models.js';
import openapiPlugin from './protocols/openapi/openapi-document.js';
import tracingPlugin from './plugins/tracing.js';
import docs from './protocols/docs.js';
import experimentRoutes from './protocols/experiments/routes.js';
import probes from './protocols/probes.js';
import feedbackRoutes from './protocols/v1/feedback.js';
import modelsRoutes from './protocols/v1/models.js';
import predictRoutes from './protocols/v1/predict.js';
import openInference from './protocols/v2/routes.js';
import modelRepository from './protocols/v2/repository.js';
import trafficControl from './protocols/v2/traffic.js';
import { OnnxRuntime } from './runtime/onnx-runtime.js';

export interface AppDeps {
  /** Defaults to onnxruntime-node on worker threads sized from the config. */
  runtime?: ModelRuntime;
  /** Where log lines go; stdout by default. */
  logStream?: DestinationStream;
}

/** Builds the whole service without listening: server.ts listens, tests use app.inject. */
export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const server = httpServerOptions(config);
  const app = Fastify({
    logger: { ...loggerOptions(config), ...(deps.logStream ? { stream: deps.logStream } : {}) },
    bodyLimit: config.BODY_LIMIT_BYTES,
    // One access-log line per request comes from the metrics plugin, not fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (req) => requestId(req.headers['x-request-id']),
    ...server,
    // Node's and fastify's own refusals answer in our error shape too (see protocols/client-errors.ts).
    clientErrorHandler: answerClientError,
    // sendError has sent the answer; fastify ignores what frameworkErrors returns, so the reply (thenable) is dropped.
    frameworkErrors: (error, request, reply) => void sendError(error, request, reply),
  });
  // JSON only: any other content type answers 415 instead of reaching the handler as a string.
  app.removeContentTypeParser('text/plain');

  const sendError = (err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const error = toServiceError(err);
    if (error.statusCode === 500)
      request.log.error(
        { err: error.cause ?? err, code: error.code, trace_id: request.trace?.traceId },
        'request failed',
      );
    app.metrics.http.error(error.statusCode, error.code);
    request.trace?.fail(error.code, error.message);
    if (error.statusCode === 503) reply.header('retry-after', '1');
    const body = error.toBody();
    body.error = app.models.redact(body.error); // onnxruntime's messages may name a model file by its absolute path
    return reply.status(error.statusCode).send(body);
  };
  app.setErrorHandler(sendError);
  app.setNotFoundHandler((request, reply) => {
    const error = new ServiceError('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
    app.metrics.http.error(error.statusCode, error.code);
    request.trace?.fail(error.code, error.message);
    return reply.status(404).send(error.toBody());
  });

  const runtime =
    deps.runtime ??
    new OnnxRuntime({
      workers: config.INFERENCE_WORKERS,
      intraOpThreads: config.ORT_INTRA_OP_THREADS,
      interOpThreads: config.ORT_INTER_OP_THREADS,
      inlineMaxRowMicros: config.INLINE_MAX_ROW_MICROS,
      nice: config.WORKER_NICE,
      memory: { cpuArena: config.ORT_CPU_MEM_ARENA, memPattern: config.ORT_MEM_PATTERN },
      idleRecycleS: config.INFERENCE_IDLE_RECYCLE_S,
      onRecycled: ({ rssBefore, rssAfter, seconds }) =>
        app.log.info({ rssBefore, rssAfter, seconds }, 'inference workers recycled after idle'),
      onRecycleError: (err) => app.log.warn({ err }, 'recycling the inference workers failed; the old ones serve on'),
    });
  await app.register(tracingPlugin, { config });
  await app.register(drainPlugin);
  await app.register(metricsPlugin);
  await app.register(inflightPlugin, { config });
  await app.register(cachePlugin, { config });
  await app.register(experimentsPlugin);
  await app.register(inferenceLogPlugin, { config });
  await app.register(modelsPlugin, { config, runtime });
  await app.register(requestDecodingPlugin, { config });
  await app.register(grpcPlugin, { config }); // bound by server.ts (GRPC_PORT), not here
  await app.register(openapiPlugin); // before the routes: it collects their schemas
  installRequestHooks(app); // every request's own work, in one onRequest and one onResponse hook

  await app.register(probes);
  await app.register(predictRoutes);
  await app.register(feedbackRoutes, { maxJsonDepth: config.MAX_JSON_DEPTH });
  await app.register(modelsRoutes);
  await app.register(experimentRoutes);
  await app.register(openInference, { controlApi: config.ADMIN_TOKEN !== undefined });
  // The control API exists only with a token: without one there is no code path to probe, and
  // /openapi.json does not list it.
  if (config.ADMIN_TOKEN) {
    const control = { adminToken: config.ADMIN_TOKEN, maxJsonDepth: config.MAX_JSON_DEPTH };
    await app.register(modelRepository, control);
    await app.register(trafficControl, control);
  }
  await app.register(docs);
  answerOutsideRoutes(app);
  return app;
}
