import { ServiceError } from '../../errors.js';
import { invalidAt } from '../../core/tensors/tensor-errors.js';
import { parseEnvelope } from '../envelope.js';
import type { InferBody } from '../v2/infer-decode.js';
import { dtypeOf } from '../v2/datatypes.js';
import { inferRequestSchema } from '../v2/infer-request.js';
import { messages, numberOf, plainParameters, type InferParameterMessage, type Int64 } from './proto.js';
import { contentsBytes, type TensorContentsMessage } from './tensor-contents.js';

/** ModelInferRequest as protobufjs decodes it (unsent scalars read their defaults: '' and []). */
interface InferRequestMessage {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, InferParameterMessage>;
  inputs: {
    name: string;
    datatype: string;
    shape: Int64[];
    parameters: Record<string, InferParameterMessage>;
    contents?: TensorContentsMessage | null;
  }[];
  outputs: { name: string; parameters: Record<string, InferParameterMessage> }[];
  raw_input_contents: Uint8Array[];
}

/** A ModelInferRequest read: the model it names, and the request as OIP REST's decoder takes it. */
export interface GrpcInferBody extends InferBody {
  model: string;
  /** The version asked for; none: the server's choice. */
  version?: string;
}

/**
 * A ModelInferRequest's bytes to the same request OIP REST decodes, so both share every later check
 * and message: parameters as plain values, each input's values as its binary data (raw_input_contents
 * as sent, typed contents laid out the same way) with parameters.binary_data_size saying how much.
 * The envelope goes through OIP's own schema (names, shapes, the known parameters).
 */
export function parseInferMessage(bytes: Uint8Array): GrpcInferBody {
  let message: InferRequestMessage;
  try {
    message = messages.inferRequest.decode(bytes) as unknown as InferRequestMessage;
  } catch (err) {
    throw new ServiceError('INVALID_REQUEST', `not a ModelInferRequest: ${(err as Error).message}`, [
      { path: '(message)', message: `${bytes.length} bytes that do not decode as inference.ModelInferRequest` },
    ]);
  }
  if (!message.model_name)
    throw new ServiceError('INVALID_REQUEST', 'model_name is empty', [
      { path: 'model_name', message: 'the name of the model to run' },
    ]);
  const raw = message.raw_input_contents;
  if (raw.length > 0 && raw.length !== message.inputs.length)
    throw new ServiceError(
      'INVALID_REQUEST',
      `raw_input_contents has ${raw.length} entries for ${message.inputs.length} inputs`,
      [{ path: 'raw_input_contents', message: 'one entry per input, in the order of inputs' }],
    );
  const parts: Uint8Array[] = [];
  const inputs = message.inputs.map((input, i) => {
    const where = `inputs.${input.name}`;
    let part = raw[i];
    if (part && hasValues(input.contents))
      throw invalidAt(`${where}.contents`, 'send the values in raw_input_contents or in contents, not both');
    if (!part) {
      const dtype = dtypeOf(input.datatype);
      // An unknown datatype is named by the decoder, as over REST
      part = dtype && input.contents ? contentsBytes(input.contents, dtype, input.datatype, where) : new Uint8Array(0);
    }
    parts.push(part);
    return {
      name: input.name,
      datatype: input.datatype,
      shape: input.shape.map(numberOf),
      parameters: { ...plainParameters(input.parameters), binary_data_size: part.length },
    };
  });
  const request = parseEnvelope(
    inferRequestSchema,
    {
      ...(message.id ? { id: message.id } : {}),
      ...(Object.keys(message.parameters).length > 0 ? { parameters: plainParameters(message.parameters) } : {}),
      inputs,
      ...(message.outputs.length > 0
        ? { outputs: message.outputs.map((o) => ({ name: o.name, parameters: plainParameters(o.parameters) })) }
        : {}),
    },
    '',
  );
  const binary =
    parts.length === 1 ? Buffer.from(parts[0]!.buffer, parts[0]!.byteOffset, parts[0]!.length) : Buffer.concat(parts);
  return {
    request,
    binary,
    bytes: bytes.length,
    model: message.model_name,
    ...(message.model_version ? { version: message.model_version } : {}),
  };
}

function hasValues(contents: TensorContentsMessage | null | undefined): boolean {
  return !!contents && Object.values(contents).some((v) => Array.isArray(v) && v.length > 0);
}
