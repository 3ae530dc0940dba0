import { z } from 'zod';

/** One row's output tensors (batch dim removed), the unit the cache stores. */
export type RowOutputs = Record<string, { dims: number[]; data: number[] }>;

const tensorSchema = z
  .object({ dims: z.array(z.number().int().min(0)).max(8), data: z.array(z.number()) })
  .refine((t) => t.data.length === t.dims.reduce((a, b) => a * b, 1), { message: 'data length does not match dims' });

/**
 * What the cache writes to Redis: plain JSON, never a code-executing format. The key is echoed
 * inside, so a value written under a key by anything else is recognised as foreign.
 */
const storedSchema = z.object({ v: z.literal(1), key: z.string(), outputs: z.record(z.string(), tensorSchema) });

export function encodeStored(key: string, outputs: RowOutputs): string {
  return JSON.stringify({ v: 1, key, outputs });
}

/** The row outputs in a stored value, or undefined when it is corrupt, foreign or not finite. */
export function decodeStored(key: string, text: string): RowOutputs | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = storedSchema.safeParse(json);
  if (!parsed.success || parsed.data.key !== key || !allFinite(parsed.data.outputs)) return undefined;
  return parsed.data.outputs;
}

export function allFinite(outputs: RowOutputs): boolean {
  return Object.values(outputs).every((t) => t.data.every(Number.isFinite));
}

/** Splits batch output tensors into one RowOutputs per row. */
export function splitRows(outputs: Record<string, { data: ArrayLike<number | bigint>; dims: number[] }>, rows: number): RowOutputs[] {
  const result: RowOutputs[] = Array.from({ length: rows }, () => ({}));
  for (const [name, tensor] of Object.entries(outputs)) {
    const size = tensor.data.length / rows;
    if (tensor.dims[0] !== rows || !Number.isInteger(size)) {
      throw new Error(`output "${name}" has shape [${tensor.dims}] for ${rows} rows`);
    }
    const dims = tensor.dims.slice(1);
    for (let r = 0; r < rows; r++) {
      const data = new Array<number>(size);
      for (let i = 0; i < size; i++) data[i] = Number(tensor.data[r * size + i]);
      result[r]![name] = { dims, data };
    }
  }
  return result;
}

/** Bytes a row's outputs hold in memory, roughly: what the L1 byte bound counts. */
export function rowBytes(outputs: RowOutputs): number {
  let bytes = 64;
  for (const [name, t] of Object.entries(outputs)) bytes += name.length * 2 + t.dims.length * 8 + t.data.length * 8 + 64;
  return bytes;
}
