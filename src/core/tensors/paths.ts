/** rows[0].sepal_length, rows[2][0][3] */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, part) => {
    if (typeof part === 'number') return `${out}[${part}]`;
    const name = String(part);
    return out === ''
      ? name
      : /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
        ? `${out}.${name}`
        : `${out}[${JSON.stringify(name)}]`;
  }, '');
}

/** The position of a flat (row-major) index in a tensor of this shape. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  let rest = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = rest % shape[d]!;
    rest = Math.floor(rest / shape[d]!);
  }
  return index;
}

/** How a protocol names the places in its request that the core finds wrong. */
export interface Locator {
  /** One value: the flat (row-major) index into the input's data, and the input's shape. */
  element(input: string, flat: number, shape: readonly number[]): string;
  /** The input as a whole (its presence, element type or shape). */
  tensor(input: string): string;
}

/** The core's own names: `ids[1][3]`, `ids`. */
export const tensorLocator: Locator = {
  element: (input, flat, shape) => formatPath([input, ...unravel(flat, shape)]),
  tensor: (input) => input,
};
