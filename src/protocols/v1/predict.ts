import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { routingKeyOf } from '../routing-key.js';
import { rawRows } from '../../core/codec/output-codec.js';
import { formatPath, unravel, type Locator } from '../../core/tensors/paths.js';
import type { DecodedInputs, InferResult } from '../../core/serving/data-plane.js';
import type { AnomalyKind } from '../../core/codec/input-checks.js';
import type { ModelRunner } from '../../core/serving/model-runner.js';
import { isDType } from '../../core/tensors/dtypes.js';
import { tensorFromBytes } from '../../core/tensors/binary.js';
import { invalidAt } from '../../core/tensors/tensor-errors.js';
import { ServiceError } from '../../errors.js';
import { inflateRequestBodies } from '../body-encoding.js';
import { parseEnvelope } from '../envelope.js';
import { predictRequestSchema, tensorQuerySchema, type PredictRequest } from './predict-request.js';
import type { DescribedRoutes } from '../openapi/describe-only.js';
import { predictRouteSchema } from './route-schemas.js';
import { FEATURES, INSTANCES } from './rows-places.js';
import { serviceError, type DecodeResult, type PredictEnvelope } from '../offload/decode-tasks.js';
import { parseJson as parseBody } from '../json-body.js';
import { LargeBody } from '../../core/serving/large-body.js';
import { offloadRouting } from '../offload/offload-routing.js';

/** Binary input names positions as tensor[row][...] and the tensor as a whole by its shape. */
const binaryLocator: Locator = {
  element: (_input, flat, shape) => formatPath(['tensor', ...unravel(flat, shape)]),
  tensor: () => 'shape',
};

/**
 * /predict's rows as a request declares them (`instances`' length, a binary body's batch dim), held
 * to the row caps before any row is decoded.
 */
const declaring = (rows: number, path: string) => () => ({ rows, path });

/** /predict feeds one input with rows; other models are served over the Open Inference Protocol. */
function rowsInput(runner: ModelRunner) {
  if ('refusal' in runner.rowInput) {
    const { name } = runner.spec;
    throw new ServiceError(
      'UNSUPPORTED_MODEL',
      `model ${runner.spec.key} cannot be fed rows by /predict: ${runner.rowInput.refusal}; call POST /v2/models/${name}/infer`,
      [{ path: 'model', message: `use POST /v2/models/${name}/infer (Open Inference Protocol)` }],
    );
  }
  return runner.rowInput;
}

/** The /predict answer: the id, and per row the label and probabilities, the values, or the raw outputs. */
function answer(result: InferResult, single: boolean) {
  const { spec } = result.runner;
  const predictions =
    result.predictions ??
    rawRows(
      result.outputs,
      spec.outputs.map((o) => o.name),
      result.rows,
    );
  const head = {
    id: result.id,
    model: spec.name,
    version: spec.version,
    ...(result.variant !== undefined ? { variant: result.variant } : {}),
    cached: result.cached,
  };
  const warnings = result.warnings.length > 0 ? { warnings: result.warnings } : {};
  return single ? { ...head, ...predictions[0], ...warnings } : { ...head, predictions, ...warnings };
}

/** The outputs /predict answers with: the task's output, or every tensor output of a raw model. */
function outputsOf(runner: ModelRunner): string[] | undefined {
  return runner.spec.taskOutput ? [runner.spec.taskOutput] : undefined;
}

/**
 * POST /predict, the friendly API for models with named features. JSON: one `features` object
 * or an `instances` list of rows. application/octet-stream: the body is a raw little-endian
 * tensor, described by the query string (?model=digits&dtype=float32&shape=4,1,8,8).
 */
const predict: FastifyPluginAsync<{ maxJsonDepth: number }> = async (app, { maxJsonDepth }) => {
  await inflateRequestBodies(app);
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );
  // JSON parsed as a decode worker parses it (secure-json-parse, as fastify does, with the parser's
  // reason in the message), except bodies large enough to be parsed on a decode worker instead.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body: Buffer, done) => {
    if (app.jsonOffload.wants(body.length)) return done(null, new LargeBody(body));
    try {
      done(null, parseBody(body, maxJsonDepth));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  /** Rows already decoded into a tensor (by a decode worker), checked and run. */
  const inferDecoded = (
    envelope: PredictEnvelope,
    decoded: Extract<DecodeResult, { kind: 'predict' | 'error' }>,
    bytes: Buffer,
    request: FastifyRequest,
  ) =>
    app.dataPlane.infer(
      {
        model: envelope.model,
        version: envelope.version?.toString(),
        routingKey: routingKeyOf(request, envelope.routing_key),
        ...(decoded.variant !== undefined ? { variant: decoded.variant } : {}),
      },
      (runner) => {
        const { input, codec } = rowsInput(runner);
        for (const [kind, count] of Object.entries(decoded.anomalies ?? {}))
          app.metrics.monitoring.featureAnomaly(runner.spec.name, runner.spec.version, kind as AnomalyKind, count);
        if (decoded.kind === 'error') throw serviceError(decoded.error);
        if (decoded.key !== runner.spec.key || !decoded.tensor)
          return decodeRows(runner, parseEnvelope(predictRequestSchema, parseBody(bytes, maxJsonDepth), ''));
        const place = envelope.single ? FEATURES : INSTANCES;
        return {
          tensors: { [input]: decoded.tensor },
          outputs: outputsOf(runner),
          warnings: decoded.warnings,
          locator: codec.locatorOf(place, decoded.kinds!, decoded.tensor.shape.slice(1)),
        };
      },
      {
        declared: declaring(envelope.rows, INSTANCES.whole),
        validation: envelope.validation,
        timeoutMs: envelope.timeout_ms,
        trace: request.trace,
      },
    );

  app.withTypeProvider<DescribedRoutes>().post('/predict', { schema: predictRouteSchema }, async (request) => {
    if (Buffer.isBuffer(request.body)) {
      const query = parseEnvelope(tensorQuerySchema, request.query, 'query');
      const body = request.body;
      const result = await app.dataPlane.infer(
        { model: query.model, version: query.version, routingKey: routingKeyOf(request, query.routing_key) },
        (runner) => {
          const { input } = rowsInput(runner);
          const dtype = runner.spec.inputs[0]!.dtype;
          if (!isDType(query.dtype)) throw invalidAt('dtype', `unknown dtype "${query.dtype}"`);
          if (query.dtype !== dtype)
            throw invalidAt('dtype', `the model input is ${dtype}, the body says ${query.dtype}`);
          return {
            tensors: { [input]: tensorFromBytes(body, dtype, query.shape, 'body') },
            outputs: outputsOf(runner),
            locator: binaryLocator,
          };
        },
        {
          declared: declaring(query.shape[0]!, binaryLocator.tensor('')),
          validation: query.validation,
          timeoutMs: query.timeout_ms,
          trace: request.trace,
        },
      );
      return answer(result, false);
    }
    if (request.body instanceof LargeBody) {
      const bytes = request.body.bytes;
      // The body names its model: the worker gets every split, to decode for the variant the request will run on.
      const routing = offloadRouting(
        app.router.traffic.all().map((t) => t.model),
        (model) => app.router.liveVariants(model),
        routingKeyOf(request),
      );
      const decoded = await app.jsonOffload.decode({ kind: 'predict', body: bytes, routing });
      if (decoded.kind === 'error' && decoded.stage === 'envelope') throw serviceError(decoded.error);
      if (decoded.kind !== 'predict' && decoded.kind !== 'error')
        throw new Error(`unexpected decode result ${decoded.kind}`);
      const envelope = decoded.envelope!;
      return answer(await inferDecoded(envelope, decoded, bytes, request), envelope.single);
    }
    const envelope: PredictRequest = parseEnvelope(predictRequestSchema, request.body, '');
    const target = {
      model: envelope.model,
      version: envelope.version?.toString(),
      routingKey: routingKeyOf(request, envelope.routing_key),
    };
    const result = await app.dataPlane.infer(target, (runner) => decodeRows(runner, envelope), {
      declared: declaring(envelope.instances?.length ?? 1, INSTANCES.whole),
      validation: envelope.validation,
      timeoutMs: envelope.timeout_ms,
      trace: request.trace,
    });
    return answer(result, envelope.features !== undefined);
  });
};

/** JSON rows decoded on this thread by the model's rows codec. */
function decodeRows(runner: ModelRunner, envelope: PredictRequest): DecodedInputs {
  const { input, codec } = rowsInput(runner);
  const level = envelope.validation ?? runner.spec.validation;
  const decoded =
    envelope.features !== undefined
      ? codec.decode([envelope.features], FEATURES, level)
      : codec.decode(envelope.instances!, INSTANCES, level);
  return {
    tensors: { [input]: decoded.tensor },
    outputs: outputsOf(runner),
    warnings: decoded.warnings,
    locator: decoded.locator,
  };
}

export default predict;
