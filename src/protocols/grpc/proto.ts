import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/**
 * The Open Inference Protocol's gRPC definition (proto/grpc_predict_v2.proto: KServe's messages and
 * Triton's stream), from src/ and from dist/ alike.
 */
export const PROTO_PATH = fileURLToPath(new URL('../../../proto/grpc_predict_v2.proto', import.meta.url));

/** The protobuf messages read and written here, field names as in the .proto (snake_case). Worker-safe. */
const root = new protobuf.Root().loadSync(PROTO_PATH, { keepCase: true });

export const messages = {
  inferRequest: root.lookupType('inference.ModelInferRequest'),
  inferResponse: root.lookupType('inference.ModelInferResponse'),
  streamResponse: root.lookupType('inference.ModelStreamInferResponse'),
};

/** An int64 or uint64 field as protobufjs decodes it: a number, or a Long when long.js is loaded. */
export type Int64 = number | { low: number; high: number; unsigned: boolean };

/** An int64/uint64 field's exact value. */
export function bigIntOf(value: Int64): bigint {
  if (typeof value === 'number') return BigInt(value);
  const bits = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
  return value.unsigned ? bits : BigInt.asIntN(64, bits);
}

/** An int64 field as a number: exact up to 2^53, beyond which every check here refuses it anyway. */
export function numberOf(value: Int64): number {
  return typeof value === 'number' ? value : Number(bigIntOf(value));
}

/** An InferParameter's value, whichever of its oneof is set. */
export interface InferParameterMessage {
  bool_param?: boolean;
  int64_param?: Int64;
  string_param?: string;
  double_param?: number;
  uint64_param?: Int64;
}

/** An InferParameter's value, whichever member of its oneof is set (none: undefined). */
export function parameterValue(p: InferParameterMessage): boolean | number | string | undefined {
  if (Object.hasOwn(p, 'bool_param')) return p.bool_param;
  if (Object.hasOwn(p, 'string_param')) return p.string_param;
  if (Object.hasOwn(p, 'int64_param')) return numberOf(p.int64_param!);
  if (Object.hasOwn(p, 'uint64_param')) return numberOf(p.uint64_param!);
  if (Object.hasOwn(p, 'double_param')) return p.double_param;
  return undefined;
}

/** An InferParameter map (a request's, an input's, an answer's) as plain values. */
export function plainParameters(parameters: Record<string, InferParameterMessage>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parameters)) out[key] = parameterValue(value);
  return out;
}

/** Plain values as InferParameters: text, flags, integers (int64 up to 2^53), other numbers as doubles. */
export function parameterMessages(values: Record<string, unknown>): Record<string, InferParameterMessage> {
  const out: Record<string, InferParameterMessage> = {};
  for (const [key, value] of Object.entries(values)) {
    if (typeof value === 'string') out[key] = { string_param: value };
    else if (typeof value === 'boolean') out[key] = { bool_param: value };
    else if (typeof value === 'number')
      out[key] = Number.isSafeInteger(value) ? { int64_param: value } : { double_param: value };
  }
  return out;
}

/** Any message type of the .proto by its name in package `inference` (the client's, the tests'). */
export function messageType(name: string): protobuf.Type {
  return root.lookupType(`inference.${name}`);
}
