/**
 * The Open Inference Protocol over gRPC, as a typed client (`import { OnnxServeGrpcClient } from
 * 'onnx-serve/grpc'`): the sibling of OnnxServeClient's infer() for callers that want one HTTP/2
 * connection, raw tensors in protobuf, and ModelStreamInfer. Built on @grpc/grpc-js with the
 * server's own .proto and tensor codecs. Errors are OnnxServeGrpcErrors: the service's stable code
 * (from the `error-code` trailer) and the gRPC status.
 */
import {
  Client,
  credentials,
  Metadata,
  status,
  type CallOptions,
  type ClientDuplexStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { lengthPrefixed, tensorFromBytes, tensorToBytes } from '../core/tensors/binary.js';
import type { Tensor } from '../core/tensors/tensor.js';
import { errorStatus, type ErrorCode, type ErrorDetail } from '../errors.js';
import {
  messageType,
  numberOf,
  parameterMessages,
  plainParameters,
  type InferParameterMessage,
  type Int64,
} from '../protocols/grpc/proto.js';
import { dtypeOf, OIP_DATATYPE } from '../protocols/v2/datatypes.js';
import { OnnxServeError, type InferInput, type InferResult } from './index.js';

export type { InferInput, InferResult, Tensor };

const SERVICE = '/inference.GRPCInferenceService/';

/** A failed call: the service's code and details where the server sent them, and the gRPC status. */
export class OnnxServeGrpcError extends OnnxServeError {
  constructor(
    /** The gRPC status (3 INVALID_ARGUMENT, 5 NOT_FOUND, 14 UNAVAILABLE...). */
    readonly grpcCode: status,
    code: ErrorCode | 'GRPC_ERROR',
    message: string,
    details: ErrorDetail[] = [],
  ) {
    super(
      code === 'GRPC_ERROR' ? 500 : errorStatus[code],
      code === 'GRPC_ERROR' ? 'HTTP_ERROR' : code,
      message,
      details,
    );
    this.name = 'OnnxServeGrpcError';
  }
}

export interface GrpcClientOptions {
  /** Sent with every call (an API gateway's key, traceparent). */
  metadata?: Record<string, string>;
  /** Each call's deadline (grpc-timeout); the server stops waiting for it too. */
  timeoutMs?: number;
  /** @grpc/grpc-js channel options ('grpc.max_receive_message_length', ...). */
  channelOptions?: Record<string, string | number>;
}

/** Inputs as OnnxServeClient takes them; a BYTES tensor's elements may also be Uint8Arrays (raw bytes). */
export interface GrpcInferOptions {
  version?: string;
  id?: string;
  /** Outputs wanted (default: all), each optionally with its top K classes (classification). */
  outputs?: (string | { name: string; classification?: number })[];
  parameters?: Record<string, string | number | boolean>;
  /** Send values in the typed `contents` fields instead of raw_input_contents (FP16 has none). */
  typed?: boolean;
  /** Keeps this caller on one variant of a traffic split (parameters.routing_key). */
  routingKey?: string;
}

type Answer<T> = (err: ServiceError | null, value?: T) => void;

export class OnnxServeGrpcClient {
  private readonly client: Client;

  /** `address`: host:port, as 127.0.0.1:8001. Insecure (plaintext) channel, as inside a cluster. */
  constructor(
    address: string,
    private readonly options: GrpcClientOptions = {},
  ) {
    this.client = new Client(address, credentials.createInsecure(), options.channelOptions);
  }

  async live(): Promise<boolean> {
    return (await this.call<{ live: boolean }>('ServerLive', 'ServerLiveRequest', 'ServerLiveResponse', {})).live;
  }

  async ready(): Promise<boolean> {
    return (await this.call<{ ready: boolean }>('ServerReady', 'ServerReadyRequest', 'ServerReadyResponse', {})).ready;
  }

  async modelReady(name: string, version?: string): Promise<boolean> {
    const request = { name, version: version ?? '' };
    return (await this.call<{ ready: boolean }>('ModelReady', 'ModelReadyRequest', 'ModelReadyResponse', request))
      .ready;
  }

  serverMetadata(): Promise<{ name: string; version: string; extensions: string[] }> {
    return this.call('ServerMetadata', 'ServerMetadataRequest', 'ServerMetadataResponse', {});
  }

  async modelMetadata(name: string, version?: string) {
    const answer = await this.call<{
      name: string;
      versions: string[];
      platform: string;
      inputs: { name: string; datatype: string; shape: Int64[] }[];
      outputs: { name: string; datatype: string; shape: Int64[] }[];
    }>('ModelMetadata', 'ModelMetadataRequest', 'ModelMetadataResponse', { name, version: version ?? '' });
    const tensors = (list: typeof answer.inputs) => list.map((t) => ({ ...t, shape: t.shape.map(numberOf) }));
    return { ...answer, inputs: tensors(answer.inputs), outputs: tensors(answer.outputs) };
  }

  /** ModelInfer: raw tensors both ways by default. */
  async infer(model: string, inputs: InferInput[], options: GrpcInferOptions = {}): Promise<InferResult> {
    const answer = await new Promise<Uint8Array>((resolve, reject) =>
      this.client.makeUnaryRequest(
        `${SERVICE}ModelInfer`,
        (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
        (b: Buffer) => b,
        inferRequestBytes(model, inputs, options),
        this.metadata(),
        this.callOptions(),
        settle(resolve, reject),
      ),
    );
    return inferResult(messageType('ModelInferResponse').decode(answer) as unknown as ResponseMessage);
  }

  /**
   * One ModelStreamInfer call: infer() sends a request on it and resolves with its answer (matched
   * by id; one is assigned when the request names none). close() ends the stream once answered.
   */
  stream(): GrpcInferStream {
    return new GrpcInferStream(
      this.client.makeBidiStreamRequest(
        `${SERVICE}ModelStreamInfer`,
        (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
        (b: Buffer) => b,
        this.metadata(),
        {},
      ),
    );
  }

  close(): void {
    this.client.close();
  }

  private call<T>(method: string, requestType: string, responseType: string, request: object): Promise<T> {
    const req = messageType(requestType);
    const res = messageType(responseType);
    return new Promise<T>((resolve, reject) =>
      this.client.makeUnaryRequest(
        `${SERVICE}${method}`,
        (value: object) => Buffer.from(req.encode(req.fromObject(value)).finish()),
        (b: Buffer) => res.toObject(res.decode(b), { defaults: true, arrays: true }) as T,
        request,
        this.metadata(),
        this.callOptions(),
        settle(resolve, reject),
      ),
    );
  }

  private metadata(): Metadata {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(this.options.metadata ?? {})) metadata.set(key, value);
    return metadata;
  }

  private callOptions(): CallOptions {
    return this.options.timeoutMs ? { deadline: Date.now() + this.options.timeoutMs } : {};
  }
}

/** Requests and answers on one ModelStreamInfer call. */
export class GrpcInferStream {
  private readonly waiting = new Map<string, { resolve: (r: InferResult) => void; reject: (e: Error) => void }>();
  private next = 0;

  constructor(private readonly call: ClientDuplexStream<Uint8Array, Buffer>) {
    call.on('data', (bytes: Buffer) => {
      const message = messageType('ModelStreamInferResponse').decode(bytes) as unknown as {
        error_message: string;
        infer_response?: ResponseMessage;
      };
      const id = message.infer_response?.id ?? '';
      const waiter = this.waiting.get(id);
      if (!waiter) return;
      this.waiting.delete(id);
      if (message.error_message) waiter.reject(streamError(message.error_message));
      else waiter.resolve(inferResult(message.infer_response!));
    });
    call.on('error', (err: ServiceError) => {
      for (const waiter of this.waiting.values()) waiter.reject(grpcErrorOf(err));
      this.waiting.clear();
    });
  }

  infer(model: string, inputs: InferInput[], options: GrpcInferOptions = {}): Promise<InferResult> {
    const id = options.id ?? `stream-${this.next++}`;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.call.write(inferRequestBytes(model, inputs, { ...options, id }));
    });
  }

  /** Ends the sending side; the call ends when the server has answered every request. */
  close(): void {
    this.call.end();
  }
}

interface ResponseMessage {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, InferParameterMessage>;
  outputs: { name: string; datatype: string; shape: Int64[] }[];
  raw_output_contents: Uint8Array[];
}

/** A ModelInferRequest's bytes: raw_input_contents, or the typed contents field of each datatype. */
export function inferRequestBytes(model: string, inputs: InferInput[], options: GrpcInferOptions = {}): Uint8Array {
  const parameters = { ...options.parameters, ...(options.routingKey ? { routing_key: options.routingKey } : {}) };
  const request = {
    model_name: model,
    model_version: options.version ?? '',
    ...(options.id ? { id: options.id } : {}),
    parameters: parameterMessages(parameters),
    inputs: inputs.map(({ name, tensor }) => ({
      name,
      datatype: OIP_DATATYPE[tensor.dtype],
      shape: tensor.shape,
      ...(options.typed ? { contents: typedContents(tensor) } : {}),
    })),
    outputs: (options.outputs ?? []).map((o) =>
      typeof o === 'string'
        ? { name: o }
        : { name: o.name, parameters: o.classification ? { classification: { int64_param: o.classification } } : {} },
    ),
    raw_input_contents: options.typed ? [] : inputs.map(({ tensor }) => rawBytes(tensor)),
  };
  return messageType('ModelInferRequest').encode(request).finish();
}

/**
 * A BYTES element is a string (sent as UTF-8) or raw bytes (an encoded image, a serialized record):
 * Uint8Array elements pass as they are.
 */
type BytesElement = string | Uint8Array;

const utf8 = (element: BytesElement) => (typeof element === 'string' ? new TextEncoder().encode(element) : element);

function rawBytes(tensor: Tensor): Uint8Array {
  if (tensor.dtype !== 'string') return tensorToBytes(tensor);
  return lengthPrefixed((tensor.data as unknown as BytesElement[]).map(utf8));
}

function typedContents(tensor: Tensor): Record<string, unknown[]> {
  const values = Array.from(tensor.data as ArrayLike<unknown>);
  switch (tensor.dtype) {
    case 'bool':
      return { bool_contents: values.map(Boolean) };
    case 'int8':
    case 'int16':
    case 'int32':
      return { int_contents: values };
    case 'uint8':
    case 'uint16':
    case 'uint32':
      return { uint_contents: values };
    case 'int64':
      return { int64_contents: values.map(String) };
    case 'uint64':
      return { uint64_contents: values.map(String) };
    case 'float32':
      return { fp32_contents: values };
    case 'float64':
      return { fp64_contents: values };
    case 'string':
      return { bytes_contents: (values as BytesElement[]).map(utf8) };
    default:
      throw new Error(`${tensor.dtype} has no typed contents field: send it raw`);
  }
}

function inferResult(message: ResponseMessage): InferResult {
  const outputs: Record<string, Tensor> = {};
  message.outputs.forEach((o, i) => {
    const dtype = dtypeOf(o.datatype);
    if (!dtype) throw new Error(`output "${o.name}": unknown datatype ${o.datatype}`);
    outputs[o.name] = tensorFromBytes(
      message.raw_output_contents[i] ?? new Uint8Array(0),
      dtype,
      o.shape.map(numberOf),
      o.name,
    );
  });
  return {
    ...(message.id ? { id: message.id } : {}),
    model_name: message.model_name,
    ...(message.model_version ? { model_version: message.model_version } : {}),
    parameters: plainParameters(message.parameters),
    outputs,
  };
}

function settle<T>(resolve: (v: T) => void, reject: (e: Error) => void): Answer<T> {
  return (err, value) => (err ? reject(grpcErrorOf(err)) : resolve(value as T));
}

function grpcErrorOf(err: ServiceError): OnnxServeGrpcError {
  const code = err.metadata?.get('error-code')[0];
  const details = err.metadata?.get('error-details-bin')[0];
  const known = typeof code === 'string' && Object.hasOwn(errorStatus, code);
  return new OnnxServeGrpcError(
    err.code,
    known ? (code as ErrorCode) : 'GRPC_ERROR',
    err.details || err.message,
    Buffer.isBuffer(details) ? (JSON.parse(details.toString('utf8')) as ErrorDetail[]) : [],
  );
}

/** A stream answer's error_message, `CODE: message (at path: detail)`, as an error with its code. */
function streamError(message: string): OnnxServeGrpcError {
  const code = /^([A-Z_]+): /.exec(message)?.[1];
  const known = code !== undefined && Object.hasOwn(errorStatus, code);
  return new OnnxServeGrpcError(status.UNKNOWN, known ? (code as ErrorCode) : 'GRPC_ERROR', message);
}
