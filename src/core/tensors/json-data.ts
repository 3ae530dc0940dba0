import { dtypes, getElement, setElement, type DType, type TypedArray } from './dtypes.js';
import { formatPath, unravel } from './paths.js';
import { elementCount, type Tensor } from './tensor.js';
import { describeValue, invalidAt } from './tensor-errors.js';

/**
 * A tensor's values sent as JSON, flat or nested (row-major either way), written straight into
 * its typed array. Nested arrays are walked with an explicit stack, never by recursion, so no
 * depth of nesting can overflow the call stack. The element count must match the shape.
 * Numbers must fit the type exactly (integers) or finitely (floats; JSON's 1e999, which parses to
 * Infinity, is left for the finite check to name); BOOL takes true/false, BYTES strings.
 * `where` names the tensor in messages, and `${where}[i][j]` an element by its position in the shape.
 * No more than `maxElements` are allocated: a shape cannot ask for more than the body could hold.
 */
export function tensorFromJson(
  value: unknown,
  dtype: DType,
  shape: number[],
  where: string,
  maxElements = Infinity,
): Tensor {
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
  return { dtype, shape, data };
}

/** A tensor's values as flat, row-major JSON: numbers (float16 decoded), true/false for BOOL, strings for BYTES. */
export function tensorToJson(tensor: Tensor): unknown[] {
  if (Array.isArray(tensor.data)) return tensor.data;
  if (tensor.dtype === 'bool') return Array.from(tensor.data as Uint8Array, (b) => b !== 0);
  return Array.from({ length: tensor.data.length }, (_, i) => getElement(tensor.data, tensor.dtype, i));
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
