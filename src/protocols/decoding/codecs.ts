import type { ProtocolCodec } from '../codec.js';
import { predictCodec } from '../v1/predict-codec.js';
import { inferCodec } from '../v2/infer-codec.js';
import { grpcInferCodec } from '../grpc/infer-codec.js';

/** The protocols' decoders by name, as a decode worker finds the one a task names. */
export const CODECS: Record<string, ProtocolCodec<unknown, unknown>> = {
  [predictCodec.name]: predictCodec,
  [inferCodec.name]: inferCodec,
  [grpcInferCodec.name]: grpcInferCodec,
};
