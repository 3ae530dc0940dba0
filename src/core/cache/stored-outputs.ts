import { fromHalf, isFloating, type TypedArray } from '../tensors/dtypes.js';
import { tensorToBytes } from '../tensors/binary.js';
import { tensorBytes, type NamedTensors, type Tensor } from '../tensors/tensor.js';
import { readOutputs, type ExpectedOutputs } from './expected-outputs.js';
import type { Unsigned, ValueSigner } from './value-signer.js';

/** Version 3 is signed (version 2 echoed the key instead); a value of another version is a plain miss. */
const STORED_VERSION = 3;

/** How a value read back from Redis counts when it is not used. */
export type Refusal = { result: 'miss' | 'corrupt' | 'rejected'; why: string };

const UNSIGNED: Record<Unsigned, Refusal> = {
  version: { result: 'miss', why: 'another format version' },
  format: { result: 'corrupt', why: 'not a cache entry' },
  signature: { result: 'rejected', why: 'signature does not match' },
  // A planted value of megabytes would otherwise cost an HMAC over all of it (~3 ms for 4 MB).
  length: { result: 'rejected', why: "longer than the model's outputs can be" },
};

/**
 * What the cache writes to Redis: plain JSON, never a code-executing format, signed (value-signer.ts):
 * `{"v":3,"mac":…,"outputs":{name:{dtype,shape,data}}}`. Numeric tensors as base64 of their
 * little-endian bytes (exact for every dtype, int64 and float16 included), strings as a JSON array.
 */
export function encodeStored(signer: ValueSigner, key: string, outputs: NamedTensors): string {
  const encoded = Object.fromEntries(
    Object.entries(outputs).map(([name, t]) => [
      name,
      {
        dtype: t.dtype,
        shape: t.shape,
        data: Array.isArray(t.data) ? t.data : Buffer.from(tensorToBytes(t)).toString('base64'),
      },
    ]),
  );
  return signer.sign(key, STORED_VERSION, { outputs: encoded });
}

/** The outputs in a value read back for `key`, signed and fitting the model's outputs; else how it counts and why. */
export function decodeStored(
  signer: ValueSigner,
  key: string,
  text: string,
  expected: ExpectedOutputs,
): { outputs: NamedTensors } | Refusal {
  const verified = signer.verify(key, STORED_VERSION, text, expected.maxChars);
  if ('unsigned' in verified) return UNSIGNED[verified.unsigned];
  const outputs = readOutputs(verified.fields, expected);
  if (typeof outputs === 'string') return { result: 'rejected', why: outputs };
  return allFinite(outputs) ? { outputs } : { result: 'rejected', why: 'a non-finite value' };
}

/** No NaN or Infinity in any floating output: such results are never cached. */
export function allFinite(outputs: NamedTensors): boolean {
  return Object.values(outputs).every((t) => !isFloating(t.dtype) || finite(t));
}

function finite(tensor: Tensor): boolean {
  const data = tensor.data as TypedArray;
  const half = tensor.dtype === 'float16';
  for (let i = 0; i < data.length; i++)
    if (!Number.isFinite(half ? fromHalf(data[i] as number) : data[i])) return false;
  return true;
}

/** Bytes a row's outputs hold in memory, roughly: what the L1 byte bound counts. */
export function storedBytes(outputs: NamedTensors): number {
  let bytes = 64;
  for (const [name, t] of Object.entries(outputs)) bytes += name.length * 2 + t.shape.length * 8 + tensorBytes(t) + 64;
  return bytes;
}
