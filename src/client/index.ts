/**
 * A typed client for onnx-serve, exported from the package (`import { OnnxServeClient } from
 * 'onnx-serve'`): /predict (JSON rows or a raw tensor), the Open Inference Protocol's infer (JSON,
 * or binary tensor data both ways), /feedback and the probes. Every error answer becomes an
 * OnnxServeError carrying the service's stable code, so a client branches on `err.code`.
 * Runs on Node (20+, its global fetch); tensors use the server's own binary and JSON codecs.
 */
import { tensorFromBytes, tensorToBytes } from '../core/tensors/binary.js';
import type { DType, TensorData } from '../core/tensors/dtypes.js';
import { tensorFromJson, tensorToJson } from '../core/tensors/json-data.js';
import type { Tensor } from '../core/tensors/tensor.js';
import type { ErrorBody, ErrorCode, ErrorDetail } from '../errors.js';
import { ROUTING_KEY_HEADER } from '../protocols/routing-key.js';
import { dtypeOf, OIP_DATATYPE } from '../protocols/v2/datatypes.js';
import type { PredictResponse } from '../protocols/v1/predict-response.js';
import type { ExperimentAnswer } from '../protocols/experiments/schemas.js';

export type { ErrorCode, ErrorDetail, DType, Tensor, TensorData, PredictResponse, ExperimentAnswer };

/** An error answer of the service: its HTTP status, stable code, message and the fields that were wrong. */
export class OnnxServeError extends Error {
  constructor(
    readonly status: number,
    /** One of the service's codes (docs/api.md), or HTTP_ERROR for an answer not in its shape (a proxy's). */
    readonly code: ErrorCode | 'HTTP_ERROR',
    message: string,
    readonly details: ErrorDetail[] = [],
    /** Seconds to wait before retrying, from Retry-After (503s). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'OnnxServeError';
  }
}

export interface ClientOptions {
  /** Sent with every request (an API gateway's key, a tracing header). */
  headers?: Record<string, string>;
  /** Per request; the request is aborted past it. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface PredictOptions {
  version?: string | number;
  validation?: 'strict' | 'permissive';
  /** The prediction's own deadline on the server (504 past it). */
  timeoutMs?: number;
  /**
   * Keeps this caller (a user id) on one variant of the model's traffic split; sent as
   * X-Routing-Key. The answer's `variant` says which served.
   */
  routingKey?: string;
}

export interface InferInput {
  name: string;
  /** A tensor: dtype, shape and flat row-major data (float16 as its bits in a Uint16Array). */
  tensor: Tensor;
}

export interface InferOptions {
  version?: string;
  /** Send the inputs as binary tensor data (default) or as JSON `data`. */
  binary?: boolean;
  /** The outputs wanted (default: all), and whether each comes back as binary data (default: as the inputs). */
  outputs?: string[];
  id?: string;
  parameters?: Record<string, unknown>;
  /** Keeps this caller (a user id) on one variant of the model's traffic split; sent as X-Routing-Key. */
  routingKey?: string;
}

/**
 * The answer's parameters: what /feedback joins by, the traffic split's variant that served,
 * whether it came from the cache.
 */
export interface InferResultParameters {
  prediction_id?: string;
  /** Set when the model has a traffic split and the request named no version. */
  variant?: string;
  cached?: boolean;
  [name: string]: unknown;
}

export interface InferResult {
  id?: string;
  model_name: string;
  model_version?: string;
  parameters?: InferResultParameters;
  /** Each output decoded into a tensor, whether it came as JSON or binary data. */
  outputs: Record<string, Tensor>;
}

/** The service's answer to one OIP output in JSON form. */
interface OipOutput {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: { binary_data_size?: number };
}

export class OnnxServeClient {
  private readonly base: string;
  private readonly fetch: typeof fetch;

  constructor(
    baseUrl: string,
    private readonly options: ClientOptions = {},
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** GET /ready: true when the service takes traffic (200), false while loading or draining (503). */
  async ready(): Promise<boolean> {
    const response = await this.request('/ready', { method: 'GET' });
    await response.body?.cancel();
    if (response.status === 200 || response.status === 503) return response.status === 200;
    throw await errorOf(response);
  }

  /**
   * POST /predict with one row of named features (`{sepal_length: 5.1, ...}`); a row as an array of
   * values goes through predictMany([row]).
   */
  predict(model: string, features: Record<string, number>, options: PredictOptions = {}): Promise<PredictResponse> {
    return this.json<PredictResponse>(
      '/predict',
      { model, features, ...predictFields(options) },
      routingHeader(options),
    );
  }

  /** POST /predict with several rows; the answer has `predictions`, one per row, in order. */
  predictMany(
    model: string,
    instances: (Record<string, number> | number[])[],
    options: PredictOptions = {},
  ): Promise<PredictResponse> {
    return this.json<PredictResponse>(
      '/predict',
      { model, instances, ...predictFields(options) },
      routingHeader(options),
    );
  }

  /** POST /predict with a raw little-endian tensor as the body (application/octet-stream). */
  async predictTensor(model: string, tensor: Tensor, options: PredictOptions = {}): Promise<PredictResponse> {
    const query = new URLSearchParams({ model, dtype: tensor.dtype, shape: tensor.shape.join(',') });
    if (options.version !== undefined) query.set('version', String(options.version));
    if (options.validation) query.set('validation', options.validation);
    if (options.timeoutMs !== undefined) query.set('timeout_ms', String(options.timeoutMs));
    return this.parse<PredictResponse>(
      await this.request(`/predict?${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', ...routingHeader(options) },
        body: tensorToBytes(tensor) as Uint8Array<ArrayBuffer>,
      }),
    );
  }

  /** POST /v2/models/{model}[/versions/{v}]/infer: binary tensor data by default, JSON with `binary: false`. */
  async infer(model: string, inputs: InferInput[], options: InferOptions = {}): Promise<InferResult> {
    const binary = options.binary ?? true;
    const path = `/v2/models/${encodeURIComponent(model)}${options.version ? `/versions/${encodeURIComponent(options.version)}` : ''}/infer`;
    const blobs: Uint8Array[] = [];
    const header = {
      ...(options.id ? { id: options.id } : {}),
      ...(options.parameters ? { parameters: options.parameters } : {}),
      inputs: inputs.map(({ name, tensor }) => {
        const described = { name, datatype: OIP_DATATYPE[tensor.dtype], shape: tensor.shape };
        if (!binary) return { ...described, data: tensorToJson(tensor) };
        const bytes = tensorToBytes(tensor);
        blobs.push(bytes);
        return { ...described, parameters: { binary_data_size: bytes.byteLength } };
      }),
      ...(options.outputs
        ? { outputs: options.outputs.map((name) => ({ name, parameters: { binary_data: binary } })) }
        : binary
          ? { parameters: { ...options.parameters, binary_data_output: true } }
          : {}),
    };
    const text = new TextEncoder().encode(JSON.stringify(header));
    const body = binary ? concat([text, ...blobs]) : text;
    const headers: Record<string, string> = {
      ...(binary
        ? { 'inference-header-content-length': String(text.byteLength), 'content-type': 'application/octet-stream' }
        : { 'content-type': 'application/json' }),
      ...routingHeader(options),
    };
    const response = await this.request(path, { method: 'POST', headers, body: body as Uint8Array<ArrayBuffer> });
    if (!response.ok) throw await errorOf(response);
    return decodeInferAnswer(response);
  }

  /** POST /feedback: the ground truth for a prediction id (a label for classifiers, a value for regressors). */
  feedback(
    id: string,
    truth: { label: string } | { value: number },
  ): Promise<{ id: string; correct?: boolean; absolute_error?: number }> {
    return this.json('/feedback', { id, ...truth });
  }

  /**
   * GET /experiments/{model}: the traffic split's results per variant, each candidate tested
   * against the control (docs/experiments.md).
   */
  experiment(model: string): Promise<ExperimentAnswer> {
    return this.get<ExperimentAnswer>(`/experiments/${encodeURIComponent(model)}`);
  }

  private async get<T>(path: string): Promise<T> {
    return this.parse<T>(await this.request(path, { method: 'GET' }));
  }

  private async json<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
    return this.parse<T>(
      await this.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      }),
    );
  }

  private async parse<T>(response: Response): Promise<T> {
    if (!response.ok) throw await errorOf(response);
    return (await response.json()) as T;
  }

  private request(path: string, init: RequestInit): Promise<Response> {
    const signal = this.options.timeoutMs !== undefined ? AbortSignal.timeout(this.options.timeoutMs) : undefined;
    return this.fetch(`${this.base}${path}`, {
      ...init,
      headers: { ...this.options.headers, ...(init.headers as Record<string, string>) },
      signal,
    });
  }
}

function predictFields(options: PredictOptions) {
  return {
    ...(options.version !== undefined ? { version: options.version } : {}),
    ...(options.validation ? { validation: options.validation } : {}),
    ...(options.timeoutMs !== undefined ? { timeout_ms: options.timeoutMs } : {}),
  };
}

/**
 * The header a routing key travels in (the server's ROUTING_KEY_HEADER); the body's `routing_key`
 * field would take precedence, and this client never sets it.
 * Sent as its UTF-8 bytes (fetch takes a header value as Latin-1 characters, one per byte), which
 * the server reads back as UTF-8: any key works, `usér-42` included.
 */
function routingHeader(options: { routingKey?: string }): Record<string, string> {
  return options.routingKey !== undefined
    ? { [ROUTING_KEY_HEADER]: Buffer.from(options.routingKey, 'utf8').toString('latin1') }
    : {};
}

/** An error answer as an OnnxServeError: the service's code when the body is ours, HTTP_ERROR when not. */
async function errorOf(response: Response): Promise<OnnxServeError> {
  const text = await response.text();
  const retry = Number(response.headers.get('retry-after'));
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : undefined;
  try {
    const body = JSON.parse(text) as Partial<ErrorBody>;
    if (typeof body.code === 'string' && typeof body.error === 'string')
      return new OnnxServeError(response.status, body.code, body.error, body.details ?? [], retryAfter);
  } catch {
    // not JSON: a proxy's page, an empty body
  }
  return new OnnxServeError(
    response.status,
    'HTTP_ERROR',
    `HTTP ${response.status}: ${text.slice(0, 200)}`,
    [],
    retryAfter,
  );
}

async function decodeInferAnswer(response: Response): Promise<InferResult> {
  const bytes = new Uint8Array(await response.arrayBuffer());
  const headerLength = Number(response.headers.get('inference-header-content-length') ?? bytes.byteLength);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(0, headerLength))) as Omit<
    InferResult,
    'outputs'
  > & { outputs: OipOutput[] };
  let offset = headerLength;
  const outputs: Record<string, Tensor> = {};
  for (const output of header.outputs) {
    const dtype = dtypeOf(output.datatype);
    if (!dtype)
      throw new OnnxServeError(
        response.status,
        'HTTP_ERROR',
        `output ${output.name}: unknown datatype ${output.datatype}`,
      );
    const size = output.parameters?.binary_data_size;
    if (size !== undefined) {
      outputs[output.name] = tensorFromBytes(bytes.slice(offset, offset + size), dtype, output.shape, output.name);
      offset += size;
    } else {
      outputs[output.name] = tensorFromJson(output.data ?? [], dtype, output.shape, output.name);
    }
  }
  return { ...header, outputs };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
