import { declaredRows } from '../../core/serving/admission.js';
import type { ProtocolCodec } from '../codec.js';
import { versionOfPath } from '../version-param.js';
import { decodeInputs, inputsByName, oipLocator, type InferBody } from '../v2/infer-decode.js';
import type { InferEnvelope } from '../v2/infer-codec.js';
import { inferCodec } from '../v2/infer-codec.js';
import { parseInferMessage } from './infer-message.js';

/** A ModelInferRequest as its answer needs it: OIP's envelope, and the model the message names. */
export interface GrpcInferEnvelope extends InferEnvelope {
  model: string;
}

/**
 * ModelInfer's decoder (and each message of ModelStreamInfer): protobuf bytes to the request OIP
 * REST decodes (infer-message.ts), then OIP's own decoder, checks and locator. Worker-safe, like the
 * REST codecs: a large message is decoded on a decode worker.
 */
export const grpcInferCodec: ProtocolCodec<GrpcInferEnvelope, InferBody> = {
  name: 'grpc-infer',
  offloads: () => true,

  parse(body) {
    const data = parseInferMessage(body ?? new Uint8Array(0));
    const version = versionOfPath(data.version);
    return {
      envelope: { request: data.request, model: data.model, ...(version !== undefined ? { version } : {}) },
      data,
    };
  },

  target: (envelope) => ({
    model: envelope.model,
    version: envelope.version,
    routingKey: envelope.request.parameters?.routing_key,
  }),

  options: (envelope) => inferCodec.options(envelope),
  declared: (envelope, model) => declaredRows(model.plan?.inputs, inputsByName(envelope.request), oipLocator),
  decode: (_envelope, data, model) => decodeInputs(data, model.spec.inputs, model.images, model.texts),
  locate: () => oipLocator,
  portable: (envelope) => ({ ...(inferCodec.portable!(envelope) as GrpcInferEnvelope), model: envelope.model }),
};
