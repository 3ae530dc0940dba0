import { z } from 'zod';
import { dtypes, fromHalf, isDType, isFloating, type TypedArray } from '../tensors/dtypes.js';
import { tensorFromBytes, tensorToBytes } from '../tensors/binary.js';
import { elementCount, tensorBytes, type NamedTensors, type Tensor } from '../tensors/tensor.js';

/**
 * What the cache writes to Redis: plain JSON, never a code-executing format. Numeric tensors as
 * base64 of their little-endian bytes (exact for every dtype, int64 and float16 included),
 * strings as a JSON array. The key is echoed inside, so a value written under a key by anything
 * else is recognised as foreign.
 */
const tensorSchema = z.object({
  dtype: z.string().refine(isDType, 'an element type'),
  shape: z.array(z.number().int().min(0)).max(16),
  data: z.union([z.string(), z.array(z.string())]),
});
const storedSchema = z.object({ v: z.literal(2), key: z.string(), outputs: z.record(z.string(), tensorSchema) });

export function encodeStored(key: string, outputs: NamedTensors): string {
  const encoded = Object.fromEntries(
    Object.entries(outputs).map(([name, t]) => [
      name,
      { dtype: t.dtype, shape: t.shape, data: Array.isArray(t.data) ? t.data : Buffer.from(tensorToBytes(t)).toString('base64') },
    ]),
  );
  return JSON.stringify({ v: 2, key, outputs: encoded });
}

/** The outputs in a stored value, or undefined when it is corrupt, foreign or not finite. */
export function decodeStored(key: string, text: string): NamedTensors | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = storedSchema.safeParse(json);
  if (!parsed.success || parsed.data.key !== key) return undefined;
  const outputs: NamedTensors = {};
  try {
    for (const [name, stored] of Object.entries(parsed.data.outputs)) {
      const dtype = stored.dtype as keyof typeof dtypes;
      if (Array.isArray(stored.data) !== (dtype === 'string')) return undefined;
      outputs[name] = Array.isArray(stored.data)
        ? { dtype, shape: stored.shape, data: stored.data }
        : tensorFromBytes(Buffer.from(stored.data, 'base64'), dtype, stored.shape, name);
      if (outputs[name]!.data.length !== elementCount(stored.shape)) return undefined;
    }
  } catch {
    return undefined;
  }
  return allFinite(outputs) ? outputs : undefined;
}

/** No NaN or Infinity in any floating output: such results are never cached. */
export function allFinite(outputs: NamedTensors): boolean {
  return Object.values(outputs).every((t) => !isFloating(t.dtype) || finite(t));
}

function finite(tensor: Tensor): boolean {
  const data = tensor.data as TypedArray;
  const half = tensor.dtype === 'float16';
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(half ? fromHalf(data[i] as number) : (data[i] as number))) return false;
  return true;
}

/** Bytes a row's outputs hold in memory, roughly: what the L1 byte bound counts. */
export function storedBytes(outputs: NamedTensors): number {
  let bytes = 64;
  for (const [name, t] of Object.entries(outputs)) bytes += name.length * 2 + t.shape.length * 8 + tensorBytes(t) + 64;
  return bytes;
}
