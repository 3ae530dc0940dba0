import { dtypes, fromHalf, getElement, setElement, type DType, type TypedArray } from './dtypes.js';
import { formatPath, unravel } from './paths.js';
import { elementCount, type Tensor } from './tensor.js';
import { describeValue, invalidAt } from './tensor-errors.js';
import { JsonNumbers } from './json-numbers.js';
import { checkDims, tensorFromNumbers } from './json-numbers-fill.js';

/**
 * A tensor's values sent as JSON, flat or nested (row-major either way), written straight into
 * its typed array. Nested arrays are walked with an explicit stack, never by recursion, so no
 * depth of nesting can overflow the call stack. The element count must match the shape.
 * Numbers must fit the type exactly (integers) or finitely (floats; JSON's 1e999, which parses to
 * Infinity, is left for the finite check to name); BOOL takes true/false, BYTES strings.
 * `where` names the tensor in messages, and `${where}[i][j]` an element by its position in the shape.
 * No more than `maxElements` are allocated: a shape cannot ask for more than the body could hold.
 * Numbers read from the body's bytes (JsonNumbers) are filled in by json-numbers-fill.ts; where it
 * refuses them, they are read as JSON arrays and refused below, in the same words.
 */
export function tensorFromJson(
  json: unknown,
  dtype: DType,
  shape: number[],
  where: string,
  maxElements = Infinity,
): Tensor {
  if (json instanceof JsonNumbers) {
    const tensor = tensorFromNumbers(json, dtype, shape, where, maxElements);
    if (tensor) return tensor;
  }
  const value = json instanceof JsonNumbers ? json.materialize() : json;
  const count = elementCount(shape);
  if (count > maxElements)
    throw invalidAt(where, `shape [${shape.join(',')}] holds ${count} elements, more than the body could carry`);
  const data = dtypes[dtype].create(count);
  const write = writerOf(dtype, data, (i) => formatPath([where, ...unravel(i, shape)]));
  let written = 0;
  forEachLeaf(value, (item) => {
    if (written >= count)
      throw invalidAt(where, `shape [${shape.join(',')}] holds ${count} elements; the data has more`);
    write(item, written++);
  });
  if (written !== count)
    throw invalidAt(where, `shape [${shape.join(',')}] holds ${count} elements; the data has ${written}`);
  if (Array.isArray(value) && Array.isArray(value[0])) checkDims(nesting(value), shape, where);
  return { dtype, shape, data };
}

/** The dims of nested arrays, when every array at a depth has one length and leaves are all at the bottom. */
function nesting(value: unknown[]): number[] | undefined {
  const dims: number[] = [];
  for (let v: unknown = value; Array.isArray(v); v = v[0]) dims.push(v.length);
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (!Array.isArray(v)) {
      if (depth !== dims.length) return undefined;
    } else if (depth >= dims.length || v.length !== dims[depth]) return undefined;
    else for (const item of v) stack.push([item, depth + 1]);
  }
  return dims;
}

/** A tensor's values as flat, row-major JSON: numbers (float16 decoded), true/false for BOOL, strings for BYTES. */
export function tensorToJson(tensor: Tensor): unknown[] {
  if (Array.isArray(tensor.data)) return tensor.data;
  if (tensor.dtype === 'bool') return Array.from(tensor.data as Uint8Array, (b) => b !== 0);
  return Array.from({ length: tensor.data.length }, (_, i) => getElement(tensor.data, tensor.dtype, i));
}

/**
 * A tensor's values as the text inside a flat JSON array, written from the typed array itself:
 * numbers as JSON.stringify writes them (the shortest text that reads back as the same double, so
 * an FP32 value's text reads back as the same float32), INT64 and UINT64 in all their digits,
 * float16 decoded, BOOL as true/false, BYTES as JSON strings. Non-finite floats are the caller's
 * to refuse (JSON has no text for them).
 */
export function tensorToJsonText(tensor: Tensor): string {
  const { data, dtype } = tensor;
  if (Array.isArray(data)) return JSON.stringify(data).slice(1, -1);
  if (dtype === 'bool') return Array.from(data as Uint8Array, (b) => (b !== 0 ? 'true' : 'false')).join(',');
  if (dtype === 'float16') return Float64Array.from(data as Uint16Array, fromHalf).join(',');
  return data.join(',');
}

/** Every non-array value inside nested arrays, in row-major order, walked with an explicit stack. */
export function forEachLeaf(value: unknown, visit: (leaf: unknown) => void): void {
  if (!Array.isArray(value)) return visit(value);
  const stack: { items: unknown[]; next: number }[] = [{ items: value, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next === top.items.length) {
      stack.pop();
      continue;
    }
    const item = top.items[top.next++];
    if (Array.isArray(item)) stack.push({ items: item, next: 0 });
    else visit(item);
  }
}

type Writer = (value: unknown, index: number) => void;

function writerOf(dtype: DType, data: Tensor['data'], pathOf: (index: number) => string): Writer {
  const info = dtypes[dtype];
  const fail = (index: number, message: string): never => {
    throw invalidAt(pathOf(index), message);
  };
  switch (info.kind) {
    case 'string':
      return (value, i) => {
        if (typeof value !== 'string') fail(i, `expected a string for ${dtype}, got ${describeValue(value)}`);
        (data as string[])[i] = value as string;
      };
    case 'bool':
      return (value, i) => {
        if (typeof value !== 'boolean') fail(i, `expected true or false, got ${describeValue(value)}`);
        (data as Uint8Array)[i] = value ? 1 : 0;
      };
    default: {
      const integer = info.kind === 'int' || info.kind === 'bigint';
      const array = data as TypedArray;
      return (value, i) => {
        if (typeof value !== 'number') fail(i, `expected a number for ${dtype}, got ${describeValue(value)}`);
        const n = value as number;
        if (integer && !Number.isInteger(n)) fail(i, `expected an integer for ${dtype}, got ${n}`);
        if (Number.isFinite(n) && (n < info.min || n > info.max))
          fail(i, `${n} is outside the range of ${dtype} (${info.min} to ${info.max})`);
        setElement(array, dtype, i, n);
      };
    }
  }
}
