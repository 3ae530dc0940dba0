import { gzipSync, deflateSync, gunzipSync, inflateSync } from 'node:zlib';

/**
 * A small Open Inference Protocol client for the binary tensor data extension, written from the
 * spec (Triton's extension_binary_data and KServe's page), not from the server's code: tensors
 * are little-endian, row-major; BOOL one byte; BYTES a 4-byte little-endian length then the bytes.
 * The JSON header comes first, its length in Inference-Header-Content-Length. Like Triton's
 * Python client it sends no Content-Type.
 */
export type Datatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BYTES';
export type Values = number[] | bigint[] | boolean[] | string[];

export interface ClientTensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** Flat, row-major. FP16 values are numbers, converted to half precision here. */
  data: Values;
}

export interface RequestedOutput {
  name: string;
  binary?: boolean;
  classification?: number;
}

export interface InferOptions {
  /** JSON `data` for these inputs instead of binary. */
  jsonInputs?: string[];
  outputs?: RequestedOutput[];
  /** Request-level binary_data_output. */
  binaryOutputs?: boolean;
  id?: string;
  parameters?: Record<string, unknown>;
  version?: string;
  /** Compress the body, and ask for a compressed answer. */
  compress?: 'gzip' | 'deflate';
}

export interface InferReply {
  status: number;
  headers: Headers;
  /** The JSON header (or the whole JSON body). */
  json: Record<string, unknown> & {
    outputs?: {
      name: string;
      datatype: Datatype;
      shape: number[];
      data?: unknown[];
      parameters?: Record<string, unknown>;
    }[];
  };
  /** Each output's values, decoded from JSON or from binary data. */
  outputs: Record<string, { datatype: Datatype; shape: number[]; data: Values }>;
}

const WIDTH: Record<Exclude<Datatype, 'BYTES'>, number> = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  FP16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
};

export function encodeBinary(t: ClientTensor): Buffer {
  if (t.datatype === 'BYTES') {
    return Buffer.concat(
      (t.data as string[]).flatMap((s) => {
        const bytes = Buffer.from(s, 'utf8');
        const length = Buffer.alloc(4);
        length.writeUInt32LE(bytes.length);
        return [length, bytes];
      }),
    );
  }
  const width = WIDTH[t.datatype];
  const out = Buffer.alloc(t.data.length * width);
  (t.data as unknown[]).forEach((v, i) => {
    const at = i * width;
    switch (t.datatype) {
      case 'BOOL':
        return out.writeUInt8(v ? 1 : 0, at);
      case 'UINT8':
        return out.writeUInt8(v as number, at);
      case 'INT8':
        return out.writeInt8(v as number, at);
      case 'UINT16':
        return out.writeUInt16LE(v as number, at);
      case 'INT16':
        return out.writeInt16LE(v as number, at);
      case 'FP16':
        return out.writeUInt16LE(halfBits(v as number), at);
      case 'UINT32':
        return out.writeUInt32LE(v as number, at);
      case 'INT32':
        return out.writeInt32LE(v as number, at);
      case 'FP32':
        return out.writeFloatLE(v as number, at);
      case 'UINT64':
        return out.writeBigUInt64LE(BigInt(v as number), at);
      case 'INT64':
        return out.writeBigInt64LE(BigInt(v as number), at);
      case 'FP64':
        return out.writeDoubleLE(v as number, at);
    }
  });
  return out;
}

export function decodeBinary(datatype: Datatype, bytes: Buffer): Values {
  if (datatype === 'BYTES') {
    const out: string[] = [];
    for (let at = 0; at < bytes.length;) {
      const length = bytes.readUInt32LE(at);
      out.push(bytes.subarray(at + 4, at + 4 + length).toString('utf8'));
      at += 4 + length;
    }
    return out;
  }
  const width = WIDTH[datatype];
  const count = bytes.length / width;
  const read = (i: number): number | bigint | boolean => {
    const at = i * width;
    switch (datatype) {
      case 'BOOL':
        return bytes.readUInt8(at) !== 0;
      case 'UINT8':
        return bytes.readUInt8(at);
      case 'INT8':
        return bytes.readInt8(at);
      case 'UINT16':
        return bytes.readUInt16LE(at);
      case 'INT16':
        return bytes.readInt16LE(at);
      case 'FP16':
        return halfValue(bytes.readUInt16LE(at));
      case 'UINT32':
        return bytes.readUInt32LE(at);
      case 'INT32':
        return bytes.readInt32LE(at);
      case 'FP32':
        return bytes.readFloatLE(at);
      case 'UINT64':
        return bytes.readBigUInt64LE(at);
      case 'INT64':
        return bytes.readBigInt64LE(at);
      case 'FP64':
        return bytes.readDoubleLE(at);
    }
  };
  return Array.from({ length: count }, (_, i) => read(i)) as Values;
}

/** The request body: the JSON header, then every binary input's bytes in input order. */
export function buildRequest(
  inputs: ClientTensor[],
  options: InferOptions = {},
): { body: Buffer; headerLength: number } {
  const binary: Buffer[] = [];
  const header = {
    ...(options.id !== undefined ? { id: options.id } : {}),
    ...(options.binaryOutputs !== undefined || options.parameters
      ? {
          parameters: {
            ...options.parameters,
            ...(options.binaryOutputs !== undefined ? { binary_data_output: options.binaryOutputs } : {}),
          },
        }
      : {}),
    inputs: inputs.map((t) => {
      if (options.jsonInputs?.includes(t.name))
        return {
          name: t.name,
          datatype: t.datatype,
          shape: t.shape,
          data: t.data.map((v) => (typeof v === 'bigint' ? Number(v) : v)),
        };
      const bytes = encodeBinary(t);
      binary.push(bytes);
      return { name: t.name, datatype: t.datatype, shape: t.shape, parameters: { binary_data_size: bytes.length } };
    }),
    ...(options.outputs
      ? {
          outputs: options.outputs.map((o) => ({
            name: o.name,
            parameters: {
              ...(o.binary !== undefined ? { binary_data: o.binary } : {}),
              ...(o.classification ? { classification: o.classification } : {}),
            },
          })),
        }
      : {}),
  };
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...binary]), headerLength: json.length };
}

/** Splits an answer into its JSON header and each output's values. */
export function parseReply(status: number, headers: Headers, raw: Buffer): InferReply {
  const headerLength = headers.get('inference-header-content-length');
  const jsonBytes = headerLength === null ? raw.length : Number(headerLength);
  const json = JSON.parse(raw.subarray(0, jsonBytes).toString('utf8')) as InferReply['json'];
  const outputs: InferReply['outputs'] = {};
  let at = jsonBytes;
  for (const o of json.outputs ?? []) {
    const size = o.parameters?.binary_data_size as number | undefined;
    if (size !== undefined) {
      outputs[o.name] = {
        datatype: o.datatype,
        shape: o.shape,
        data: decodeBinary(o.datatype, raw.subarray(at, at + size)),
      };
      at += size;
    } else {
      outputs[o.name] = { datatype: o.datatype, shape: o.shape, data: o.data as Values };
    }
  }
  if (at !== raw.length) throw new Error(`the answer has ${raw.length - at} bytes no output accounts for`);
  return { status, headers, json, outputs };
}

export async function infer(
  baseUrl: string,
  model: string,
  inputs: ClientTensor[],
  options: InferOptions = {},
): Promise<InferReply> {
  const { body, headerLength } = buildRequest(inputs, options);
  const binary = body.length > headerLength;
  const headers: Record<string, string> = binary ? { 'inference-header-content-length': String(headerLength) } : {};
  let payload: Buffer = body;
  if (options.compress) {
    payload = options.compress === 'gzip' ? gzipSync(body) : deflateSync(body);
    headers['content-encoding'] = options.compress;
    headers['accept-encoding'] = options.compress;
  } else {
    headers['accept-encoding'] = 'identity';
  }
  const url = `${baseUrl}/v2/models/${model}${options.version ? `/versions/${options.version}` : ''}/infer`;
  // undici's fetch would inflate the answer itself; node:http hands over the bytes as they came.
  const { status, headers: answerHeaders, raw } = await post(url, payload, headers);
  const encoding = answerHeaders.get('content-encoding');
  const plain = encoding === 'gzip' ? gunzipSync(raw) : encoding === 'deflate' ? inflateSync(raw) : raw;
  if (status !== 200) return { status, headers: answerHeaders, json: JSON.parse(plain.toString('utf8')), outputs: {} };
  return parseReply(status, answerHeaders, plain);
}

async function post(
  url: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Headers; raw: Buffer }> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(response.headers)) if (typeof v === 'string') h.set(k, v);
          resolve({ status: response.statusCode!, headers: h, raw: Buffer.concat(chunks) });
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** IEEE half-precision bits (round to nearest even), and back: the spec's FP16. */
export function halfBits(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 112;
  const mant = x & 0x7fffff;
  if (((x >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mant ? 1 : 0);
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = (mant | 0x800000) >> (1 - exp);
    return sign | ((m >> 13) + ((m >> 12) & 1 && m & 0x2fff ? 1 : 0));
  }
  const half = (exp << 10) | (mant >> 13);
  const round = mant & 0x1fff;
  return sign | (half + (round > 0x1000 || (round === 0x1000 && half & 1) ? 1 : 0));
}

export function halfValue(bits: number): number {
  const exp = (bits >> 10) & 0x1f;
  const mant = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? Number.NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * An OIP body with one BYTES input of shape [N] over the binary tensor data extension: each item as a
 * 4-byte little-endian length, then its bytes (whole image files, UTF-8 texts).
 */
export function binaryBytesInput(name: string, items: Buffer[]): { body: Buffer; headerLength: number } {
  const data = Buffer.concat(
    items.flatMap((item) => {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(item.length);
      return [length, item];
    }),
  );
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name, datatype: 'BYTES', shape: [items.length], parameters: { binary_data_size: data.length } }],
    }),
  );
  return { body: Buffer.concat([header, data]), headerLength: header.length };
}
