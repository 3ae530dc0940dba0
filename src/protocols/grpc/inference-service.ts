import type {
  Metadata,
  sendUnaryData,
  ServerDuplexStream,
  ServerUnaryCall,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import type { ServerSpan } from '../../adapters/tracing/otel-tracing.js';
import { ServiceError } from '../../errors.js';
import { toServiceError } from '../http-errors.js';
import { modelMetadata, serverMetadata } from '../v2/metadata.js';
import { versionOfPath } from '../version-param.js';
import { inferResponseBytes, streamResponseBytes } from './infer-answer.js';
import { grpcInferCodec } from './infer-codec.js';
import { errorMessage, grpcError, grpcStatusOf } from './status.js';

export const SERVICE = 'inference.GRPCInferenceService';

/** Requests one ModelStreamInfer call runs at once; past it, its messages wait unread (HTTP/2 flow control). */
export const STREAM_MAX_IN_FLIGHT = 64;

interface CallFacts {
  method: string;
  metadata: Metadata;
  peer: string;
  deadline: Deadline;
}

/** The client's deadline (grpc-timeout) as grpc-js gives it: a Date, or epoch ms; none: Infinity. */
type Deadline = Date | number;

/**
 * inference.GRPCInferenceService on the HTTP side's app: the same router, readiness, decoder (inline
 * or on a decode worker), data plane, in-flight caps, tracing and error codes. ModelInfer and
 * ModelStreamInfer carry protobuf bytes both ways (grpc-server.ts): the codec decodes them as OIP
 * REST's decoder would, and the answer is encoded here.
 */
export function inferenceService(app: FastifyInstance, controlApi: boolean): UntypedServiceImplementation {
  const unary =
    <Req, Res>(method: string, answer: (request: Req) => Res | Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      const done = app.metrics.grpc.call(SERVICE, method, false);
      Promise.resolve()
        .then(() => answer(call.request))
        .then(
          (response) => {
            done('OK');
            callback(null, response);
          },
          (err: unknown) => {
            const error = toServiceError(err);
            done(status[grpcStatusOf(error.code)]);
            callback(grpcError(error));
          },
        );
    };

  /**
   * One inference from a ModelInferRequest's bytes to a ModelInferResponse's. `named` gets the model
   * once the message names it, for the log line of a call that fails after that.
   */
  const infer = async (bytes: Buffer, facts: CallFacts, trace: ServerSpan | null, named: { model?: string } = {}) => {
    const release = app.inflight.take('bytes', bytes.length);
    try {
      const head = {
        params: {},
        query: undefined,
        binary: false,
        routingHeader: header(facts.metadata, 'x-routing-key'),
      };
      const { envelope, target, decode, options } = await app.requestDecoder.decode(grpcInferCodec, bytes, head);
      named.model = envelope.model;
      const at = epochMs(facts.deadline);
      const timeoutMs = Number.isFinite(at)
        ? Math.min(options.timeoutMs ?? Infinity, Math.max(1, at - Date.now()))
        : options.timeoutMs;
      const result = await app.dataPlane.infer(target, decode, { ...options, timeoutMs, trace });
      return { result, envelope };
    } finally {
      release();
    }
  };

  const failed = (err: unknown, trace: ServerSpan | null) => {
    const error = toServiceError(err);
    if (error.statusCode === 500)
      app.log.error({ err: error.cause ?? err, code: error.code, trace_id: trace?.traceId }, 'gRPC call failed');
    trace?.fail(error.code, error.message);
    return error;
  };

  const startSpan = (facts: CallFacts): ServerSpan | null => {
    if (!app.tracing) return null;
    const path = `/${SERVICE}/${facts.method}`;
    const headers = {
      traceparent: header(facts.metadata, 'traceparent'),
      tracestate: header(facts.metadata, 'tracestate'),
      'user-agent': header(facts.metadata, 'user-agent'),
    };
    return (
      app.tracing.startRequest({
        method: 'POST',
        route: path,
        path,
        headers,
        httpVersion: '2',
        clientAddress: facts.peer,
      }) ?? null
    );
  };

  const log = (facts: CallFacts, code: string, started: number, trace: ServerSpan | null, model?: string) =>
    app.log.info(
      {
        grpc: facts.method,
        model,
        code,
        ms: Math.round((performance.now() - started) * 100) / 100,
        peer: facts.peer,
        trace_id: trace?.traceId,
      },
      'grpc call',
    );

  return {
    ServerLive: unary('ServerLive', () => ({ live: true })),
    ServerReady: unary('ServerReady', () => ({ ready: app.readiness().ready })),
    ServerMetadata: unary('ServerMetadata', () => serverMetadata(controlApi)),

    ModelReady: unary('ModelReady', ({ name, version }: { name: string; version: string }) => {
      try {
        app.router.resolve(name, versionOf(version));
        return { ready: true };
      } catch (err) {
        // An unknown model is an error; one loading, failed or draining is a plain "not ready"
        if (err instanceof ServiceError && err.statusCode === 503) return { ready: false };
        throw err;
      }
    }),

    ModelMetadata: unary('ModelMetadata', ({ name, version }: { name: string; version: string }) => {
      const { runner } = app.router.resolve(name, versionOf(version));
      return modelMetadata(
        runner!,
        app.router.entries(name).map((e) => e.version),
      );
    }),

    ModelInfer: (call: ServerUnaryCall<Buffer, Uint8Array>, callback: sendUnaryData<Uint8Array>) => {
      const started = performance.now();
      const done = app.metrics.grpc.call(SERVICE, 'ModelInfer', false);
      const facts = factsOf('ModelInfer', call);
      const trace = startSpan(facts);
      const named: { model?: string } = {};
      infer(call.request, facts, trace, named).then(
        ({ result, envelope }) => {
          // Answered after the client gave up (grpc-js has already ended the call): logged as it ended.
          const gone = call.cancelled ? 'CANCELLED' : pastDeadline(facts.deadline) ? 'DEADLINE_EXCEEDED' : null;
          if (gone) {
            done(gone);
            trace?.finish(gone === 'CANCELLED' ? 499 : 504);
            return log(facts, gone, started, trace, envelope.model);
          }
          let bytes: Uint8Array;
          try {
            bytes = inferResponseBytes(result, envelope.request);
          } catch (err) {
            return answerError(failed(err, trace));
          }
          done('OK');
          trace?.finish(200);
          log(facts, 'OK', started, trace, envelope.model);
          callback(null, bytes);
        },
        (err: unknown) => answerError(failed(err, trace)),
      );
      function answerError(error: ServiceError) {
        const code = call.cancelled ? 'CANCELLED' : status[grpcStatusOf(error.code)];
        done(code);
        trace?.finish(error.statusCode);
        log(facts, code, started, trace, named.model);
        callback(grpcError(redacted(app, error)));
      }
    },

    ModelStreamInfer: (call: ServerDuplexStream<Buffer, Uint8Array>) => {
      const started = performance.now();
      const done = app.metrics.grpc.call(SERVICE, 'ModelStreamInfer', true);
      const facts = factsOf('ModelStreamInfer', call);
      let inFlight = 0;
      let ended = false;
      const finish = () => {
        if (!ended || inFlight > 0) return;
        done(call.cancelled ? 'CANCELLED' : 'OK');
        log(facts, call.cancelled ? 'CANCELLED' : 'OK', started, null);
        if (!call.cancelled) call.end();
      };
      const send = (bytes: Uint8Array) => {
        if (call.cancelled) return;
        app.metrics.grpc.message(SERVICE, 'ModelStreamInfer', 'sent');
        call.write(bytes);
      };
      call.on('data', (bytes: Buffer) => {
        app.metrics.grpc.message(SERVICE, 'ModelStreamInfer', 'received');
        if (++inFlight >= STREAM_MAX_IN_FLIGHT) call.pause();
        const trace = startSpan(facts);
        infer(bytes, facts, trace)
          .then(
            ({ result, envelope }) => {
              send(streamResponseBytes({ result, request: envelope.request }));
              trace?.finish(200);
            },
            (err: unknown) => {
              const error = redacted(app, failed(err, trace));
              trace?.finish(error.statusCode);
              send(streamResponseBytes({ error: errorMessage(error), ...idOf(bytes) }));
            },
          )
          .finally(() => {
            if (inFlight-- === STREAM_MAX_IN_FLIGHT) call.resume();
            finish();
          });
      });
      call.on('end', () => {
        ended = true;
        finish();
      });
      call.on('error', () => {
        ended = true;
        finish();
      });
    },
  };
}

function factsOf(method: string, call: ServerUnaryCall<Buffer, Uint8Array> | ServerDuplexStream<Buffer, Uint8Array>) {
  return { method, metadata: call.metadata, peer: call.getPeer(), deadline: call.getDeadline() } satisfies CallFacts;
}

const epochMs = (deadline: Deadline) => (typeof deadline === 'number' ? deadline : deadline.getTime());

function pastDeadline(deadline: Deadline): boolean {
  const at = epochMs(deadline);
  return Number.isFinite(at) && Date.now() >= at;
}

function header(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
}

/** An empty version field means none; digits otherwise (400 INVALID_ARGUMENT for `1.0`). */
function versionOf(version: string): string | undefined {
  return version ? versionOfPath(version) : undefined;
}

/** onnxruntime's messages may name a model file by its absolute path: never sent to a client. */
function redacted(app: FastifyInstance, error: ServiceError): ServiceError {
  const message = app.models.redact(error.message);
  return message === error.message
    ? error
    : new ServiceError(error.code, message, error.details, { cause: error.cause });
}

/** A failed stream request's id and model, for the client to match the error with, when its bytes say. */
function idOf(bytes: Buffer): { id?: string; model?: string } {
  try {
    const { envelope } = grpcInferCodec.parse(bytes, { params: {}, query: undefined, binary: false }, 64);
    return { id: envelope.request.id, model: envelope.model };
  } catch {
    return {};
  }
}
