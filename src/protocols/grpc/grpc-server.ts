import { Server, ServerCredentials, loadPackageDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import fp from 'fastify-plugin';
import { HealthImplementation, protoPath as healthProto, type ServingStatus } from 'grpc-health-check';
import type { Config } from '../../config.js';
import { inferenceService, SERVICE } from './inference-service.js';
import { PROTO_PATH } from './proto.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The gRPC side: listen() binds it (server.ts, tests); app.close() drains it. */
    grpc: GrpcServer;
  }
}

export interface GrpcServer {
  /** Binds host:port (0: any free port) and resolves with the port bound. */
  listen(host: string, port: number): Promise<number>;
}

type GrpcConfig = Pick<
  Config,
  | 'BODY_LIMIT_BYTES'
  | 'GRPC_MAX_MESSAGE_BYTES'
  | 'GRPC_KEEPALIVE_TIME_MS'
  | 'GRPC_KEEPALIVE_TIMEOUT_MS'
  | 'GRPC_MAX_CONNECTION_AGE_MS'
  | 'GRPC_MAX_CONNECTION_AGE_GRACE_MS'
  | 'SHUTDOWN_TIMEOUT_MS'
  | 'ADMIN_TOKEN'
>;

/** How often the health service's statuses follow readiness (a Kubernetes probe runs every few seconds). */
const HEALTH_POLL_MS = 250;

/**
 * The Open Inference Protocol over gRPC, beside the HTTP server and on its app: the inference
 * service (inference-service.ts), the standard grpc.health.v1.Health service (Kubernetes' `grpc:`
 * probes; "" and inference.GRPCInferenceService are SERVING while /ready answers 200, "live" while
 * the process serves at all), and server reflection (grpcurl lists and calls it with no .proto).
 * Message size, keepalive and connection age come from the config. On app.close() the calls in
 * flight finish, up to SHUTDOWN_TIMEOUT_MS, then the rest are cancelled.
 */
export default fp<{ config: GrpcConfig }>(
  async (app, { config }) => {
    const definition = loadSync(PROTO_PATH, {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const loaded = loadPackageDefinition(definition) as unknown as {
      inference: { GRPCInferenceService: { service: ServiceDefinition } };
    };
    const service = loaded.inference.GRPCInferenceService.service;
    // Inference messages are decoded and encoded by our codec, so the bytes pass through untouched
    const bytes = {
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    };
    const definitionWithBytes = {
      ...service,
      ModelInfer: { ...service.ModelInfer!, ...bytes },
      ModelStreamInfer: { ...service.ModelStreamInfer!, ...bytes },
    } as ServiceDefinition;

    const maxMessage = config.GRPC_MAX_MESSAGE_BYTES ?? config.BODY_LIMIT_BYTES;
    const server = new Server({
      'grpc.max_receive_message_length': maxMessage,
      'grpc.max_send_message_length': -1,
      'grpc.keepalive_time_ms': config.GRPC_KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': config.GRPC_KEEPALIVE_TIMEOUT_MS,
      ...(config.GRPC_MAX_CONNECTION_AGE_MS > 0
        ? {
            'grpc.max_connection_age_ms': config.GRPC_MAX_CONNECTION_AGE_MS,
            'grpc.max_connection_age_grace_ms': config.GRPC_MAX_CONNECTION_AGE_GRACE_MS,
          }
        : {}),
    });
    server.addService(definitionWithBytes, inferenceService(app, config.ADMIN_TOKEN !== undefined));

    const health = new HealthImplementation({ '': 'NOT_SERVING', [SERVICE]: 'NOT_SERVING', live: 'SERVING' });
    health.addToServer(server);
    // Reflection describes both services: grpcurl lists and calls either without a .proto
    new ReflectionService({ ...definition, ...loadSync(healthProto, { keepCase: true }) }).addToServer(server);

    let last: ServingStatus | undefined;
    const follow = () => {
      const now: ServingStatus = app.readiness().ready ? 'SERVING' : 'NOT_SERVING';
      if (now === last) return;
      last = now;
      health.setStatus('', now);
      health.setStatus(SERVICE, now);
    };
    let poll: NodeJS.Timeout | undefined;
    let bound = false;

    app.decorate('grpc', {
      listen: (host: string, port: number) =>
        new Promise<number>((resolve, reject) => {
          server.bindAsync(
            `${host.includes(':') ? `[${host}]` : host}:${port}`,
            ServerCredentials.createInsecure(),
            (err, actual) => {
              if (err) return reject(new Error(`gRPC could not listen on ${host}:${port}: ${err.message}`));
              bound = true;
              follow();
              poll = setInterval(follow, HEALTH_POLL_MS).unref();
              app.log.info(
                { port: actual },
                'gRPC listening (inference.GRPCInferenceService, grpc.health.v1, reflection)',
              );
              resolve(actual);
            },
          );
        }),
    });

    // Drained while the HTTP side closes: no new calls, calls in flight finish (then are cancelled)
    let drained: Promise<void> = Promise.resolve();
    app.addHook('preClose', async () => {
      clearInterval(poll);
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(SERVICE, 'NOT_SERVING');
      health.setStatus('live', 'NOT_SERVING');
      if (!bound) return server.forceShutdown();
      drained = new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          app.log.warn('shutdown grace over: cancelling the gRPC calls still open');
          server.forceShutdown();
          resolve();
        }, config.SHUTDOWN_TIMEOUT_MS).unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    });
    app.addHook('onClose', () => drained);
  },
  { name: 'grpc', dependencies: ['metrics', 'inflight', 'tracing'] },
);
