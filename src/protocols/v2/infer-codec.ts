import { declaredRows } from '../../core/serving/admission.js';
import type { ProtocolCodec } from '../codec.js';
import { versionOfPath } from '../version-param.js';
import { decodeInputs, inputsByName, oipLocator, parseInferBody, type InferBody } from './infer-decode.js';
import type { InferRequest } from './infer-request.js';

/**
 * An OIP request as the answer needs it: the JSON header (its inputs' data left out when it crossed
 * threads), and the URL's version.
 */
export interface InferEnvelope {
  request: InferRequest;
  version?: string;
}

/**
 * POST /v2/models/{model}[/versions/{version}]/infer's decoder: the JSON body, or a JSON header and
 * binary data (Inference-Header-Content-Length), to named tensors checked against the declared
 * datatypes.
 */
export const inferCodec: ProtocolCodec<InferEnvelope, InferBody> = {
  name: 'infer',
  offloads: () => true,

  parse(body, head, maxDepth) {
    const version = versionOfPath(head.params.version);
    const data = parseInferBody(body ?? Buffer.alloc(0), head.headerLength, maxDepth);
    return { envelope: { request: data.request, ...(version !== undefined ? { version } : {}) }, data };
  },

  target: (envelope, head) => ({
    model: head.params.model!,
    version: envelope.version,
    routingKey: envelope.request.parameters?.routing_key,
  }),

  options({ request: { parameters } }) {
    const timeout = parameters?.timeout;
    return {
      validation: parameters?.validation,
      timeoutMs: timeout === undefined ? undefined : Math.max(1, Math.ceil(timeout / 1000)),
    };
  },

  declared: (envelope, model) => declaredRows(model.plan?.inputs, inputsByName(envelope.request), oipLocator),
  decode: (_envelope, data, model) => decodeInputs(data, model.spec.inputs, model.images, model.texts),
  locate: () => oipLocator,

  // The answer needs the request's id, parameters and outputs, never its data.
  portable: ({ request, ...rest }) => ({
    ...rest,
    request: { ...request, inputs: request.inputs.map(({ data: _data, ...input }) => input) },
  }),
};
