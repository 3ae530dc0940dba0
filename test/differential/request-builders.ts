import { gzipSync } from 'node:zlib';
import { buildRequest, type ClientTensor, type InferOptions } from '../helpers/oip-client.js';
import type { Repository } from './models.js';

/**
 * JSON bodies from this size on are decoded on a decode worker (both servers get this
 * JSON_OFFLOAD_BYTES), so a few KB of rows exercise that path without megabytes of answers.
 */
export const JSON_OFFLOAD_BYTES = 4096;

export type Route = 'predict json' | 'predict binary' | 'oip json' | 'oip binary' | 'oip metadata';

/** One request of the list, as bytes: sent as is to both builds. */
export interface DifferentialRequest {
  /** Unique; the answer's key in the golden file. */
  name: string;
  repository: Repository;
  /** The model it is about, for the per-model count (undefined for an unknown model). */
  model?: string;
  route: Route;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** A body at least JSON_OFFLOAD_BYTES long, parsed on a decode worker (JSON and OIP bodies, uncompressed). */
  offloaded?: boolean;
}

/** The server a request goes to, and the model it is about. */
export type Target = { repository: Repository; model?: string };

const offloadable = (body: Buffer) => ({ offloaded: body.length >= JSON_OFFLOAD_BYTES });

export function getRequest(name: string, target: Target, path: string): DifferentialRequest {
  return { name, ...target, route: 'oip metadata', method: 'GET', path, headers: {} };
}

/** POST /predict with a JSON body: an object, or bytes as they are (bad JSON). */
export function predictJson(
  name: string,
  target: Target,
  body: unknown,
  headers: Record<string, string> = {},
): DifferentialRequest {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  return {
    name,
    ...target,
    route: 'predict json',
    method: 'POST',
    path: '/predict',
    headers: { 'content-type': 'application/json', ...headers },
    body: bytes,
    ...offloadable(bytes),
  };
}

/** POST /predict?model=&dtype=&shape= with a raw little-endian tensor. */
export function predictBinary(
  name: string,
  target: Target,
  query: Record<string, string>,
  body: Buffer,
): DifferentialRequest {
  return {
    name,
    ...target,
    route: 'predict binary',
    method: 'POST',
    path: `/predict?${new URLSearchParams(query).toString()}`,
    headers: { 'content-type': 'application/octet-stream' },
    body,
  };
}

/** Flat row-major data nested by shape, as a client may send OIP data. */
export function nest(data: unknown[], shape: number[]): unknown[] {
  if (shape.length <= 1) return data;
  const inner = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0]! }, (_, i) => nest(data.slice(i * inner, (i + 1) * inner), shape.slice(1)));
}

export interface OipOptions extends InferOptions {
  /** Every input as binary data after the JSON header (Inference-Header-Content-Length). */
  binary?: boolean;
  /** JSON data nested by shape instead of flat. */
  nested?: boolean;
  gzip?: boolean;
}

/** POST /v2/models/<m>[/versions/<v>]/infer, as JSON or with the binary tensor data extension. */
export function oipInfer(name: string, target: Target, inputs: ClientTensor[], options: OipOptions = {}) {
  const path = `/v2/models/${target.model}${options.version ? `/versions/${options.version}` : ''}/infer`;
  if (options.binary) {
    const { body, headerLength } = buildRequest(inputs, options);
    return oipRaw(name, target, path, body, { 'inference-header-content-length': String(headerLength) });
  }
  const { body } = buildRequest(inputs, { ...options, jsonInputs: inputs.map((t) => t.name) });
  if (!options.nested && !options.gzip) return oipRaw(name, target, path, body);
  const header = JSON.parse(body.toString('utf8')) as { inputs: { shape: number[]; data: unknown[] }[] };
  if (options.nested) for (const input of header.inputs) input.data = nest(input.data, input.shape);
  const json = Buffer.from(JSON.stringify(header));
  // Judged on the inflated body, as the server judges it
  if (options.gzip)
    return { ...oipRaw(name, target, path, gzipSync(json), { 'content-encoding': 'gzip' }), ...offloadable(json) };
  return oipRaw(name, target, path, json);
}

/** An infer request of these bytes (Triton's client sends no Content-Type). */
export function oipRaw(
  name: string,
  target: Target,
  path: string,
  body: Buffer,
  headers: Record<string, string> = {},
): DifferentialRequest {
  const route = headers['inference-header-content-length'] === undefined ? 'oip json' : 'oip binary';
  return { name, ...target, route, method: 'POST', path, headers, body, ...offloadable(body) };
}

/** The rows it takes for `bodyOf(rows)` to cross JSON_OFFLOAD_BYTES (a decode worker's body). */
export function rowsToOffload(bodyOf: (rows: number) => Buffer | undefined): number {
  let rows = 1;
  while ((bodyOf(rows)?.length ?? 0) < JSON_OFFLOAD_BYTES) rows = Math.ceil(rows * 1.5);
  return rows;
}
