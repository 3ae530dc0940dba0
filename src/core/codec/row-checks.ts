import { dtypes, type DType } from '../tensors/dtypes.js';
import { describeValue } from '../tensors/tensor-errors.js';
import type { FeatureConfig } from '../models/model-config.js';
import type { ValidationLevel } from './input-checks.js';

/** One problem in a row: where, relative to the row, and what. */
export interface RowIssue {
  path: (string | number)[];
  message: string;
}

/** Checks one JSON row, pushing what is wrong with it; pushes nothing for a good row. */
export type RowCheck = (row: unknown, issues: RowIssue[]) => void;

const NUMERIC_STRING = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/**
 * The type check of one value in a JSON row (ranges are the input checks' job, for every
 * protocol alike). strict: a finite number, an integer for integer dtypes. permissive: also a
 * numeric string, which the codec reads as its number and reports as a warning.
 * Returns the message, or undefined when the value is good.
 */
export function compileElementCheck(dtype: DType, level: ValidationLevel): (value: unknown) => string | undefined {
  const kind = dtypes[dtype].kind;
  const integer = kind === 'int' || kind === 'bigint' || kind === 'bool';
  if (level === 'strict') {
    return (value) => {
      if (typeof value !== 'number' || !Number.isFinite(value))
        return `expected a finite number, got ${describeValue(value)}`;
      if (integer && !Number.isSafeInteger(value)) return `expected an integer for ${dtype}`;
      return undefined;
    };
  }
  const fits = (n: number) => Number.isFinite(n) && (!integer || Number.isSafeInteger(n));
  return (value) => {
    if (
      typeof value === 'number'
        ? fits(value)
        : typeof value === 'string' && NUMERIC_STRING.test(value) && fits(Number(value))
    )
      return undefined;
    return `expected a finite number or numeric string, got ${describeValue(value)}`;
  };
}

/**
 * A row of named features: each feature's value checked in feature order (a missing one reads as
 * undefined), then, in strict mode, any name the model does not take.
 */
export function compileNamedRowCheck(dtype: DType, features: FeatureConfig[], level: ValidationLevel): RowCheck {
  const element = compileElementCheck(dtype, level);
  const names = features.map((f) => f.name);
  const known = new Set(names);
  const takes = names.join(', ');
  return (row, issues) => {
    const object = row as Record<string, unknown>;
    for (const name of names) {
      const message = element(Object.hasOwn(object, name) ? object[name] : undefined);
      if (message) issues.push({ path: [name], message });
    }
    if (level !== 'strict') return;
    let unknown: string[] | undefined;
    for (const key in object) if (Object.hasOwn(object, key) && !known.has(key)) (unknown ??= []).push(key);
    if (unknown)
      issues.push({
        path: [],
        message: `unknown feature ${unknown.map((k) => JSON.stringify(k)).join(', ')}; the model takes ${takes}`,
      });
  };
}

/**
 * A row as an array shaped like the model's input without its batch dim (sizes null where the
 * model leaves a dim open). With named features and one dim, the row holds one value per feature.
 * An array longer than its dim is reported alone; a shorter one after its values. The recursion
 * goes as deep as the model's rank, never as deep as the client's nesting.
 */
export function compileArrayRowCheck(
  dtype: DType,
  rowShape: (number | null)[],
  features: FeatureConfig[] | undefined,
  level: ValidationLevel,
): RowCheck {
  const element = compileElementCheck(dtype, level);
  const shapeText = `[${rowShape.map((d) => d ?? '?').join(',')}]`;
  const lengthMessage =
    rowShape.length <= 1 && features
      ? () => `expected ${features.length} values (${features.map((f) => f.name).join(', ')})`
      : (size: number) => `expected ${size} values at this level of shape ${shapeText}`;
  const sizes = rowShape.length <= 1 && features ? [features.length] : rowShape;
  const path: (string | number)[] = [];
  const visit = (value: unknown, depth: number, issues: RowIssue[]): void => {
    if (depth === sizes.length) {
      const message = element(value);
      if (message) issues.push({ path: path.slice(), message });
      return;
    }
    if (!Array.isArray(value)) {
      issues.push({ path: path.slice(), message: `expected an array, got ${describeValue(value)}` });
      return;
    }
    const size = sizes[depth];
    if (size !== null && size !== undefined && value.length > size) {
      issues.push({ path: path.slice(), message: lengthMessage(size) });
      return;
    }
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      visit(value[i], depth + 1, issues);
      path.pop();
    }
    if (size !== null && size !== undefined && value.length < size)
      issues.push({ path: path.slice(), message: lengthMessage(size) });
  };
  return (row, issues) => visit(row, 0, issues);
}
