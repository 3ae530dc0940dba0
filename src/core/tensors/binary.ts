import { endianness } from 'node:os';
import { dtypes, type DType, type TypedArray } from './dtypes.js';
import { formatPath, unravel } from './paths.js';
import { elementCount, type Tensor } from './tensor.js';
import { invalidAt } from './tensor-errors.js';

const LITTLE_ENDIAN = endianness() === 'LE';
const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/**
 * Raw bytes into a tensor, as the binary tensor data extension lays them out: little-endian,
 * row-major, no padding; BOOL one byte (0 or 1); BYTES each element a 4-byte little-endian
 * length then the bytes (UTF-8 text: onnxruntime-node's string tensors hold JS strings).
 * On a little-endian host, bytes that are a whole buffer of their own (a raw tensor body) become
 * the tensor without a copy: nothing else holds that memory, and it can move to a worker thread.
 * Bytes inside a larger buffer (one of several tensors in a body, a pooled small Buffer) are copied,
 * so the tensor never keeps the rest alive nor drags it along to a worker. `where` names the tensor
 * in messages.
 */
export function tensorFromBytes(bytes: Uint8Array, dtype: DType, shape: number[], where: string): Tensor {
  const count = elementCount(shape);
  if (dtype === 'string') return { dtype, shape, data: stringsFromBytes(bytes, count, where) };
  const width = dtypes[dtype].bytes;
  if (bytes.byteLength !== count * width) {
    throw invalidAt(
      where,
      `shape [${shape.join(',')}] of ${dtype} needs ${count * width} bytes, got ${bytes.byteLength}`,
    );
  }
  let data: TypedArray;
  if (LITTLE_ENDIAN && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) {
    const Constructor = (dtypes[dtype].create(0) as TypedArray).constructor as new (
      buffer: ArrayBufferLike,
      offset: number,
      length: number,
    ) => TypedArray;
    data = new Constructor(bytes.buffer, bytes.byteOffset, count);
  } else {
    data = dtypes[dtype].create(count);
    const view = new Uint8Array(data.buffer);
    view.set(bytes);
    if (!LITTLE_ENDIAN && width > 1) swapBytes(view, width);
  }
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (dtype === 'bool') {
    const bad = view.findIndex((b) => b > 1);
    if (bad >= 0)
      throw invalidAt(
        formatPath([where, ...unravel(bad, shape)]),
        `a BOOL element is one byte, 0 or 1; got ${view[bad]}`,
      );
  }
  return { dtype, shape, data };
}

function stringsFromBytes(bytes: Uint8Array, count: number, where: string): string[] {
  return bytesItems(bytes, count, where).map((item, i) => {
    try {
      return utf8.decode(item);
    } catch {
      throw invalidAt(`${where}[${i}]`, 'not valid UTF-8 (onnxruntime-node string tensors hold text)');
    }
  });
}

/** BYTES elements as binary data holds them (a 4-byte little-endian length, then the bytes), each as a view. */
export function bytesItems(bytes: Uint8Array, count: number, where: string): Uint8Array[] {
  if (count * 4 > bytes.byteLength)
    throw invalidAt(where, `${count} BYTES elements take at least ${count * 4} bytes, got ${bytes.byteLength}`);
  const out = new Array<Uint8Array>(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.byteLength) throw invalidAt(where, `the bytes end at element ${i} of ${count}`);
    const length = view.getUint32(at, true);
    at += 4;
    if (at + length > bytes.byteLength)
      throw invalidAt(`${where}[${i}]`, `element ${i} says ${length} bytes, ${bytes.byteLength - at} are left`);
    out[i] = bytes.subarray(at, at + length);
    at += length;
  }
  if (at !== bytes.byteLength) throw invalidAt(where, `${count} elements take ${at} bytes, got ${bytes.byteLength}`);
  return out;
}

/** A tensor's values as binary data, the inverse of tensorFromBytes. No copy on little-endian hosts. */
export function tensorToBytes(tensor: Tensor): Uint8Array {
  if (Array.isArray(tensor.data)) return lengthPrefixed(tensor.data.map((s) => encoder.encode(s)));
  const data = tensor.data;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN || dtypes[tensor.dtype].bytes === 1) return bytes;
  const copy = bytes.slice();
  swapBytes(copy, dtypes[tensor.dtype].bytes);
  return copy;
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/** BYTES elements as binary data carries them: each a 4-byte little-endian length, then its bytes. */
export function lengthPrefixed(items: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(items.reduce((n, item) => n + 4 + item.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const item of items) {
    view.setUint32(at, item.length, true);
    out.set(item, at + 4);
    at += 4 + item.length;
  }
  return out;
}
